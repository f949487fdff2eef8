//! The Kinesis Data Streams actions. Record actions are served here from JetStream; stream
//! administration is forwarded to the control plane.

mod get;
mod put;

use fjord_common::aws_error::{AwsError, AwsErrorKind};
pub(crate) use fjord_common::kinesis::parse_input as parse;
use fjord_common::kinesis::{ADMIN_ACTIONS, RECORD_ACTIONS};
use uuid::Uuid;

use crate::gateway::Gateway;

pub(crate) use put::MAX_PUT_RECORDS_BYTES;

/// The caller as its signature established it.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) tenant_id: Uuid,
    pub(crate) account_id: String,
}

/// An action's answer: HTTP status and AWS JSON body.
pub(crate) type Answer = (u16, bytes::Bytes);

/// Whether `action` is one this front serves.
pub(crate) fn is_known_action(action: &str) -> bool {
    ADMIN_ACTIONS.contains(&action) || RECORD_ACTIONS.contains(&action)
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
            gateway.forwarder.forward(caller, admin, body).await
        }
        other => Err(AwsError::new(
            AwsErrorKind::UnknownOperationException,
            format!("Unknown operation {other}"),
        )),
    }
}
