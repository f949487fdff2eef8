//! The Kinesis Data Streams API surface both planes share: which actions exist and who serves
//! them, and how an action's JSON input is parsed.

use serde::de::DeserializeOwned;

use crate::aws_error::{AwsError, AwsErrorKind};

/// Stream administration: served by the control plane, forwarded by the gateway.
pub const ADMIN_ACTIONS: &[&str] = &[
    "CreateStream",
    "DeleteStream",
    "DescribeStream",
    "DescribeStreamSummary",
    "ListStreams",
    "ListShards",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "AddTagsToStream",
    "RemoveTagsFromStream",
    "ListTagsForStream",
    "DescribeLimits",
];

/// Record actions: served by the gateway from JetStream.
pub const RECORD_ACTIONS: &[&str] = &["PutRecord", "PutRecords", "GetShardIterator", "GetRecords"];

/// Parses an action's input; a body that is not the expected JSON is a `SerializationException`.
/// An empty body reads as `{}`.
pub fn parse_input<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|error| {
        AwsError::new(
            AwsErrorKind::SerializationException,
            format!("Unable to parse the request: {error}"),
        )
    })
}
