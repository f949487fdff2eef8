//! Wire types of the record endpoints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

/// Records to store: 1 to 500, at most 1 MiB each (partition key plus data) and 5 MiB in all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRecordsRequest {
    pub records: Vec<PutRecordEntry>,
}

/// One record: exactly one of `data_base64` and `data`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRecordEntry {
    /// 1 to 256 characters; its MD5 picks the shard unless `explicit_hash_key` is given.
    pub partition_key: String,
    /// The record's bytes, base64 encoded (standard alphabet, padded).
    #[serde(default)]
    pub data_base64: Option<String>,
    /// Any JSON value, stored as its compact UTF-8 serialization (members keep their order).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Box<RawValue>>,
    /// A decimal in 0..2^128-1 that picks the shard instead of the partition key's hash.
    #[serde(default)]
    pub explicit_hash_key: Option<String>,
}

/// `data: null` is the JSON value `null`, not an absent field.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

/// The JSON text without the whitespace between its tokens (strings are kept as written).
pub(crate) fn compact_json(json: &str) -> Vec<u8> {
    let mut compact = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        if in_string {
            compact.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = byte == b'"';
            compact.push(byte);
        }
    }
    compact
}

/// Where each record went, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PutRecordsResponse {
    pub records: Vec<PutRecordResult>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PutRecordResult {
    #[schema(example = "shardId-000000000000")]
    pub shard_id: String,
    pub sequence_number: String,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// The oldest record the shard holds.
    TrimHorizon,
    /// Just after the newest record: only records written from now on.
    Latest,
    /// At the record `sequence` names.
    AtSequence,
    /// Just after the record `sequence` names.
    AfterSequence,
    /// The first record that arrived at or after `timestamp`.
    AtTimestamp,
}

/// Where to read from and how much.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadRecordsQuery {
    /// Where to start (default `trim_horizon`); ignored when `cursor` is given.
    pub from: Option<ReadFrom>,
    /// The sequence number `at_sequence` and `after_sequence` start at.
    pub sequence: Option<String>,
    /// The RFC 3339 time `at_timestamp` starts at.
    pub timestamp: Option<String>,
    /// Records per page, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of an earlier page: continue after it.
    pub cursor: Option<String>,
}

/// Where a tail starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TailQuery {
    /// Where to start (default `latest`); a `Last-Event-ID` header overrides it.
    pub from: Option<ReadFrom>,
    /// The sequence number `at_sequence` and `after_sequence` start at.
    pub sequence: Option<String>,
    /// The RFC 3339 time `at_timestamp` starts at.
    pub timestamp: Option<String>,
    /// A `next_cursor` of the records endpoint: continue after it.
    pub cursor: Option<String>,
}

/// One stored record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordView {
    pub sequence_number: String,
    pub partition_key: String,
    /// When the record was stored.
    #[schema(value_type = String, format = DateTime)]
    pub arrival_time: DateTime<Utc>,
    pub data_base64: String,
    /// The data as text, when it is valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_text: Option<String>,
    /// The data as JSON, when it parses as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data_json: Option<serde_json::Value>,
}

/// A page of a shard's records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    /// Pass as `cursor` to read on from here; bound to this tenant, stream and shard.
    pub next_cursor: String,
    /// How far the last record returned is behind the shard's newest, in milliseconds.
    pub millis_behind_latest: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_stored_compact_in_their_own_order() {
        let entry: PutRecordEntry = serde_json::from_str(
            r#"{"partition_key": "k", "data": { "b" : [1, 2],  "a": "x y\\\" z" }}"#,
        )
        .unwrap();
        let data = entry.data.unwrap();
        assert_eq!(
            String::from_utf8(compact_json(data.get())).unwrap(),
            r#"{"b":[1,2],"a":"x y\\\" z"}"#
        );
        let entry: PutRecordEntry =
            serde_json::from_str(r#"{"partition_key": "k", "data": null}"#).unwrap();
        assert_eq!(entry.data.unwrap().get(), "null");
    }
}
