//! The Kinesis Data Streams actions. Record actions are served here from JetStream; stream
//! administration is forwarded to the control plane.

mod get;
mod put;

use fjord_common::aws_error::{AwsError, AwsErrorKind};
pub(crate) use fjord_common::kinesis::parse_input as parse;
use fjord_common::kinesis::{ADMIN_ACTIONS, RECORD_ACTIONS};
use fjord_common::permissions::{Role, allows, kinesis_action};
use uuid::Uuid;

use crate::gateway::Gateway;

pub(crate) use put::MAX_PUT_RECORDS_BYTES;

/// The caller as its signature established it.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) tenant_id: Uuid,
    pub(crate) account_id: String,
    pub(crate) access_key_id: String,
    pub(crate) role: Role,
    /// Where the call came from, for the control plane's audit log.
    pub(crate) origin: Origin,
}

/// Where a call came from: the peer address, the client's `User-Agent` and the request id
/// the gateway answers with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub(crate) source_ip: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) request_id: Option<String>,
}

/// An action's answer: HTTP status and AWS JSON body.
pub(crate) type Answer = (u16, bytes::Bytes);

/// Whether `action` is one this front serves.
pub(crate) fn is_known_action(action: &str) -> bool {
    ADMIN_ACTIONS.contains(&action) || RECORD_ACTIONS.contains(&action)
}

/// Whether the caller's role allows `action`; refused calls get AWS's `AccessDeniedException`.
/// `body` only names the resource in the message.
pub(crate) fn authorize(
    caller: &Caller,
    action: &str,
    region: &str,
    body: &[u8],
) -> Result<(), AwsError> {
    if kinesis_action(action).is_some_and(|needed| allows(caller.role, needed)) {
        return Ok(());
    }
    Err(access_denied(
        caller,
        "kinesis",
        action,
        &resource_arn(caller, region, body),
    ))
}

/// AWS's `AccessDeniedException` for `caller` calling `<service>:<action>` on `resource`
/// (logged, without secrets).
pub(crate) fn access_denied(
    caller: &Caller,
    service: &str,
    action: &str,
    resource: &str,
) -> AwsError {
    tracing::info!(
        access_key_id = %caller.access_key_id,
        role = %caller.role,
        service,
        action,
        "access denied"
    );
    AwsError::new(
        AwsErrorKind::AccessDeniedException,
        format!(
            "User: {} is not authorized to perform: {service}:{action} on resource: {resource}",
            caller.access_key_id
        ),
    )
}

/// The stream the request names, as an ARN, or every stream of the account.
pub(crate) fn resource_arn(caller: &Caller, region: &str, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Target {
        #[serde(rename = "StreamARN")]
        stream_arn: Option<String>,
        #[serde(rename = "StreamName")]
        stream_name: Option<String>,
    }
    let account_arn = |stream: &str| {
        format!(
            "arn:aws:kinesis:{region}:{}:stream/{stream}",
            caller.account_id
        )
    };
    let named = |text: &str| text.len() <= 2048 && text.bytes().all(|b| b.is_ascii_graphic());
    match serde_json::from_slice::<Target>(body) {
        Ok(Target {
            stream_arn: Some(arn),
            ..
        }) if named(&arn) => arn,
        Ok(Target {
            stream_name: Some(name),
            ..
        }) if named(&name) => account_arn(&name),
        _ => account_arn("*"),
    }
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
        "PutRecords" => ok(put::put_records(gateway, caller, &body).await?),
        "GetShardIterator" => ok(get::get_shard_iterator(gateway, caller, &body).await?),
        "GetRecords" => ok(get::get_records(gateway, caller, &body).await?),
        admin if ADMIN_ACTIONS.contains(&admin) => {
            // Refuse malformed JSON here, so nothing malformed crosses to the control plane.
            parse::<serde_json::Value>(&body)?;
            gateway
                .forwarder
                .forward(caller, "kinesis", admin, body)
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
    use super::*;

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
    fn viewers_read_and_are_refused_writes_like_aws() {
        let viewer = caller(Role::Viewer);
        for action in [
            "ListStreams",
            "DescribeStreamSummary",
            "GetRecords",
            "GetShardIterator",
        ] {
            assert!(
                authorize(&viewer, action, "us-east-1", b"{}").is_ok(),
                "{action}"
            );
        }
        let error = authorize(
            &viewer,
            "PutRecord",
            "us-east-1",
            br#"{"StreamName":"clicks"}"#,
        )
        .unwrap_err();
        assert_eq!(error.kind, AwsErrorKind::AccessDeniedException);
        assert_eq!(error.kind.http_status(), 400);
        assert_eq!(
            error.message,
            "User: AKIAVIEWER0000000000 is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
        );
        let error = authorize(&viewer, "CreateStream", "us-east-1", b"not json").unwrap_err();
        assert!(error.message.ends_with("stream/*"), "{}", error.message);
        let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/x";
        let body = serde_json::to_vec(&serde_json::json!({"StreamARN": arn})).unwrap();
        let error = authorize(&viewer, "PutRecords", "us-east-1", &body).unwrap_err();
        assert!(error.message.ends_with(arn), "{}", error.message);
    }

    #[test]
    fn developers_and_up_may_do_everything_served() {
        for role in [Role::Developer, Role::Admin, Role::Owner] {
            for action in ADMIN_ACTIONS.iter().chain(RECORD_ACTIONS) {
                assert!(authorize(&caller(role), action, "us-east-1", b"{}").is_ok());
            }
        }
        // Nothing unmapped slips through, whatever the role.
        assert!(authorize(&caller(Role::Owner), "MergeShards", "us-east-1", b"{}").is_err());
    }
}
