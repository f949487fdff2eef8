//! The Firehose actions (`Firehose_20150804.*`). Record actions are served here into
//! JetStream; delivery stream administration is forwarded to the control plane.

mod put;

use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::firehose::{ADMIN_ACTIONS, RECORD_ACTIONS, delivery_stream_arn};
use fjord_common::kinesis::parse_input as parse;
use fjord_common::permissions::{allows, firehose_action};

use crate::aws::kinesis::{Answer, Caller, access_denied};
use crate::gateway::Gateway;

/// The path segment of the control plane's internal API for these actions.
const SERVICE_PATH: &str = "firehose";

/// Whether `action` is one this front serves.
pub(crate) fn is_known_action(action: &str) -> bool {
    ADMIN_ACTIONS.contains(&action) || RECORD_ACTIONS.contains(&action)
}

/// Whether the caller's role allows `action`; refused calls get AWS's `AccessDeniedException`
/// naming `firehose:<Action>` and the delivery stream. `body` only names the resource.
pub(crate) fn authorize(
    caller: &Caller,
    action: &str,
    region: &str,
    body: &[u8],
) -> Result<(), AwsError> {
    if firehose_action(action).is_some_and(|needed| allows(caller.role, needed)) {
        return Ok(());
    }
    Err(access_denied(
        caller,
        "firehose",
        action,
        &resource_arn(caller, region, body),
    ))
}

/// The delivery stream the request names, as an ARN, or every delivery stream of the account.
pub(crate) fn resource_arn(caller: &Caller, region: &str, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Target {
        #[serde(rename = "DeliveryStreamName")]
        delivery_stream_name: Option<String>,
    }
    let name = serde_json::from_slice::<Target>(body)
        .ok()
        .and_then(|target| target.delivery_stream_name)
        .filter(|name| name.len() <= 64 && name.bytes().all(|b| b.is_ascii_graphic()));
    delivery_stream_arn(region, &caller.account_id, name.as_deref().unwrap_or("*"))
}

/// Runs `action` for an authenticated caller.
pub(crate) async fn dispatch(
    gateway: &Gateway,
    caller: &Caller,
    action: &str,
    body: bytes::Bytes,
) -> Result<Answer, AwsError> {
    let ok = |body: Vec<u8>| Ok((200, bytes::Bytes::from(body)));
    match action {
        "PutRecord" => ok(put::put_record(gateway, caller, &body).await?),
        "PutRecordBatch" => ok(put::put_record_batch(gateway, caller, &body).await?),
        admin if ADMIN_ACTIONS.contains(&admin) => {
            // Refuse malformed JSON here, so nothing malformed crosses to the control plane.
            parse::<serde_json::Value>(&body)?;
            gateway
                .forwarder
                .forward(caller, SERVICE_PATH, admin, body)
                .await
        }
        other => Err(AwsError::new(
            AwsErrorKind::UnknownOperationException,
            format!("Unknown operation {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use fjord_common::permissions::Role;
    use uuid::Uuid;

    use super::*;
    use crate::aws::kinesis::Origin;

    fn caller(role: Role) -> Caller {
        Caller {
            tenant_id: Uuid::nil(),
            account_id: "123456789012".to_owned(),
            access_key_id: "AKIAVIEWER0000000000".to_owned(),
            role,
            origin: Origin::default(),
        }
    }

    #[test]
    fn viewers_describe_and_are_refused_puts_naming_the_delivery_stream() {
        let viewer = caller(Role::Viewer);
        for action in [
            "DescribeDeliveryStream",
            "ListDeliveryStreams",
            "ListTagsForDeliveryStream",
        ] {
            assert!(authorize(&viewer, action, "us-east-1", b"{}").is_ok());
        }
        let error = authorize(
            &viewer,
            "PutRecordBatch",
            "us-east-1",
            br#"{"DeliveryStreamName":"events"}"#,
        )
        .unwrap_err();
        assert_eq!(error.kind, AwsErrorKind::AccessDeniedException);
        assert_eq!(
            error.message,
            "User: AKIAVIEWER0000000000 is not authorized to perform: firehose:PutRecordBatch on resource: arn:aws:firehose:us-east-1:123456789012:deliverystream/events"
        );
        let error = authorize(&viewer, "CreateDeliveryStream", "us-east-1", b"nope").unwrap_err();
        assert!(
            error.message.ends_with("deliverystream/*"),
            "{}",
            error.message
        );
    }

    #[test]
    fn developers_may_do_everything_served_and_nothing_else() {
        for role in [Role::Developer, Role::Admin, Role::Owner] {
            for action in ADMIN_ACTIONS.iter().chain(RECORD_ACTIONS) {
                assert!(authorize(&caller(role), action, "us-east-1", b"{}").is_ok());
            }
        }
        assert!(!is_known_action("PutRecords"));
        assert!(
            authorize(
                &caller(Role::Owner),
                "StartDeliveryStreamEncryption",
                "us-east-1",
                b"{}"
            )
            .is_err()
        );
    }
}
