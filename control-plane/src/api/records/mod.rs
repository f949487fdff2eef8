//! Records over REST under `/api/v1/streams/{name}`: put records, read a shard page by page,
//! and tail a shard as server-sent events. For the console and for apps without an AWS SDK;
//! high-volume producers keep using the Kinesis endpoint
//! ([ADR 006](../../../../docs/adr/006-records-over-rest.md)).
//!
//! Writing needs `WriteRecords` (developers and up), reading and tailing `ReadRecords`
//! (viewers and up). Records are stored exactly as the gateway stores them (one JetStream
//! message per shard group, `fjord_common::records`), routed by the same MD5 table
//! (`fjord_common::routing`) and numbered by the same sequence numbers. Record writes are not
//! audited (ADR 004). A stream of another tenant is a 404 like one that never existed.
//!
//! Records put, read and tailed here count in the stream's metrics like the gateway's
//! (ADR 013), written straight to the table ([`count_traffic`]).

mod dto;
mod put;
mod read;
mod tail;

pub use dto::*;
pub use put::*;
pub use read::*;
pub use tail::*;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::DateTime;
use fjord_common::hash_key::parse_shard_id;
use fjord_common::records::decode;
use fjord_common::sequence::SequenceNumber;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ApiState;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::shards::{ReadFrom as ShardFrom, ShardError, ShardMessage, Shards};
use crate::store::metrics::Traffic;
use crate::store::streams::{ShardRow, StreamRow};
use crate::store::{Store, TenantId};

/// Adds traffic served here to the stream's metrics (ADR 013), best effort: the records are
/// already stored or read, so a failed write is logged and the call goes on.
async fn count_traffic(store: &Store, tenant_id: TenantId, stream_id: Uuid, traffic: Traffic) {
    if traffic == Traffic::default() {
        return;
    }
    if let Err(error) = store
        .add_stream_traffic(tenant_id, stream_id, traffic)
        .await
    {
        tracing::warn!(%error, %stream_id, "cannot count record traffic");
    }
}

/// The JetStream side of the record endpoints, or a 503 when the API runs without it.
fn shards(state: &ApiState) -> Result<&Shards, Problem> {
    state.shards.as_ref().ok_or_else(|| {
        Problem::unavailable(&"the REST API was started without a JetStream connection")
    })
}

fn shard_problem(error: ShardError) -> Problem {
    Problem::unavailable(&error)
}

/// The caller's stream `name` and its shard `shard_id`; 404 for either unknown.
async fn find_shard(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
    shard_id: &str,
) -> Result<(StreamRow, ShardRow), Problem> {
    let stream = crate::api::streams::find_stream(state, context, name).await?;
    let index = parse_shard_id(shard_id).ok_or_else(Problem::not_found)?;
    let shard = state
        .store
        .shards(context.tenant_id, stream.id)
        .await?
        .into_iter()
        .find(|shard| u32::try_from(shard.shard_index).ok() == Some(index))
        .ok_or_else(Problem::not_found)?;
    Ok((stream, shard))
}

/// A 409 unless the stream serves records (`ACTIVE` or `UPDATING`).
fn require_serving(stream: &StreamRow) -> Result<(), Problem> {
    if matches!(stream.status.as_str(), "ACTIVE" | "UPDATING") {
        Ok(())
    } else {
        Err(Problem::conflict(format!(
            "the stream is {}; records can be written and read when it is ACTIVE",
            stream.status
        )))
    }
}

/// A position in a shard: a record (message sequence, index in message) or an arrival time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Record { message: u64, index: u32 },
    Timestamp(i64),
}

impl Position {
    fn read_from(self) -> ShardFrom {
        match self {
            Position::Record { message, .. } => ShardFrom::Sequence(message),
            Position::Timestamp(ms) => ShardFrom::Time(ms),
        }
    }

    fn after(sequence: SequenceNumber) -> Self {
        Position::Record {
            message: sequence.message_sequence,
            index: sequence.record_index + 1,
        }
    }
}

/// The MAC'd payload of a `next_cursor`: the position and what it is bound to.
#[derive(Debug, Serialize, Deserialize)]
struct CursorPayload {
    #[serde(rename = "t")]
    tenant_id: Uuid,
    #[serde(rename = "s")]
    stream_id: Uuid,
    #[serde(rename = "h")]
    shard_index: u32,
    #[serde(rename = "m")]
    message: u64,
    #[serde(rename = "r")]
    index: u32,
}

fn encode_cursor(
    state: &ApiState,
    context: &AuthContext,
    stream: &StreamRow,
    shard_index: u32,
    position: Position,
) -> String {
    let (message, index) = match position {
        Position::Record { message, index } => (message, index),
        // Only reads that found nothing at a timestamp end there; they continue at the tip.
        Position::Timestamp(_) => (0, 0),
    };
    state.record_cursors.sign(&CursorPayload {
        tenant_id: context.tenant_id.0,
        stream_id: stream.id,
        shard_index,
        message,
        index,
    })
}

fn decode_cursor(
    state: &ApiState,
    context: &AuthContext,
    stream: &StreamRow,
    shard_index: u32,
    cursor: &str,
) -> Result<Position, Problem> {
    state
        .record_cursors
        .verify::<CursorPayload>(cursor)
        .filter(|payload| {
            payload.tenant_id == context.tenant_id.0
                && payload.stream_id == stream.id
                && payload.shard_index == shard_index
        })
        .map(|payload| Position::Record {
            message: payload.message,
            index: payload.index,
        })
        .ok_or_else(|| Problem::bad_request("the cursor is invalid or belongs to another shard"))
}

/// A sequence number of this shard, as `sequence` or `Last-Event-ID` give it.
fn parse_sequence(text: &str, shard_index: u32, field: &str) -> Result<SequenceNumber, Problem> {
    let sequence = SequenceNumber::parse(text)
        .ok_or_else(|| Problem::bad_request(format!("{field} is not a sequence number")))?;
    if sequence.shard_index != shard_index {
        return Err(Problem::bad_request(format!(
            "{field} names a record of another shard"
        )));
    }
    Ok(sequence)
}

/// The start a `from`/`sequence`/`timestamp` triple names.
async fn start_position(
    shards: &Shards,
    stream: &StreamRow,
    shard_index: u32,
    from: dto::ReadFrom,
    sequence: Option<&str>,
    timestamp: Option<&str>,
) -> Result<Position, Problem> {
    match from {
        dto::ReadFrom::TrimHorizon => Ok(Position::Record {
            message: 0,
            index: 0,
        }),
        dto::ReadFrom::Latest => {
            let (_, last) = shards
                .bounds(stream.id, shard_index)
                .await
                .map_err(shard_problem)?;
            Ok(Position::Record {
                message: last + 1,
                index: 0,
            })
        }
        dto::ReadFrom::AtSequence | dto::ReadFrom::AfterSequence => {
            let text = sequence.ok_or_else(|| {
                Problem::bad_request("sequence is required with from=at_sequence or after_sequence")
            })?;
            let number = parse_sequence(text, shard_index, "sequence")?;
            Ok(if from == dto::ReadFrom::AfterSequence {
                Position::after(number)
            } else {
                Position::Record {
                    message: number.message_sequence,
                    index: number.record_index,
                }
            })
        }
        dto::ReadFrom::AtTimestamp => {
            let text = timestamp.ok_or_else(|| {
                Problem::bad_request("timestamp is required with from=at_timestamp")
            })?;
            let time = DateTime::parse_from_rfc3339(text)
                .map_err(|_| Problem::bad_request("timestamp must be an RFC 3339 time"))?;
            Ok(Position::Timestamp(time.timestamp_millis()))
        }
    }
}

/// Records decoded from shard messages, from a position on.
struct Collected {
    records: Vec<RecordView>,
    /// The records' data bytes (without partition keys).
    data_bytes: u64,
    /// Where the next read starts.
    next: Position,
    behind_ms: i64,
}

/// Decodes `messages` read from `start`, skipping what lies before it, up to `limit` records
/// and about `max_bytes` of data.
fn collect(
    messages: &[ShardMessage],
    start: Position,
    shard_index: u32,
    limit: usize,
    max_bytes: usize,
    now_ms: i64,
) -> Collected {
    let mut records = Vec::new();
    let mut bytes = 0usize;
    let mut data_bytes = 0u64;
    let mut next = start;
    let mut behind_ms = 0i64;
    'messages: for message in messages {
        // Messages before the start (already read) are skipped.
        if let Position::Record { message: at, .. } = start
            && message.sequence < at
        {
            continue;
        }
        let Ok(batch) = decode(&message.payload) else {
            tracing::error!(
                sequence = message.sequence,
                "skipping a malformed shard message"
            );
            next = Position::Record {
                message: message.sequence + 1,
                index: 0,
            };
            continue;
        };
        // JetStream found the start by its own clock; the records carry the writer's arrival
        // time, which is what at_timestamp promises: skip anything stamped earlier.
        if let Position::Timestamp(at_ms) = start
            && (batch.arrival_ms as i64) < at_ms
        {
            next = Position::Record {
                message: message.sequence + 1,
                index: 0,
            };
            continue;
        }
        let first_index = match start {
            Position::Record { message: at, index } if at == message.sequence => index as usize,
            _ => 0,
        };
        for (index, record) in batch.records.iter().enumerate().skip(first_index) {
            if records.len() >= limit
                || (bytes + record.data.len() > max_bytes && !records.is_empty())
            {
                break 'messages;
            }
            bytes += record.data.len() + record.partition_key.len();
            data_bytes += record.data.len() as u64;
            let sequence = SequenceNumber {
                message_sequence: message.sequence,
                shard_index,
                record_index: index as u32,
            };
            records.push(record_view(
                sequence,
                batch.arrival_ms,
                record.partition_key,
                record.data,
            ));
            next = Position::after(sequence);
            behind_ms = if message.pending == 0 && index + 1 == batch.records.len() {
                0
            } else {
                (now_ms - batch.arrival_ms as i64).max(0)
            };
        }
        if let Position::Record { message: at, index } = next
            && at == message.sequence
            && index as usize >= batch.records.len()
        {
            next = Position::Record {
                message: message.sequence + 1,
                index: 0,
            };
        }
    }
    Collected {
        records,
        data_bytes,
        next,
        behind_ms,
    }
}

impl Collected {
    /// What this read counts as in the stream's metrics.
    fn traffic(&self) -> Traffic {
        Traffic {
            outgoing_records: self.records.len() as i64,
            outgoing_bytes: i64::try_from(self.data_bytes).unwrap_or(i64::MAX),
            iterator_age_ms_max: self.behind_ms,
            ..Traffic::default()
        }
    }
}

fn record_view(
    sequence: SequenceNumber,
    arrival_ms: u64,
    partition_key: &str,
    data: &[u8],
) -> RecordView {
    let data_text = std::str::from_utf8(data).ok().map(str::to_owned);
    let data_json = data_text
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok());
    RecordView {
        sequence_number: sequence.to_string(),
        partition_key: partition_key.to_owned(),
        arrival_time: DateTime::from_timestamp_millis(i64::try_from(arrival_ms).unwrap_or(0))
            .unwrap_or_default(),
        data_base64: BASE64.encode(data),
        data_text,
        data_json,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_common::records::{RecordIn, encode};

    fn message(sequence: u64, keys: &[&str]) -> ShardMessage {
        let records: Vec<RecordIn<'_>> = keys
            .iter()
            .map(|key| RecordIn {
                partition_key: key,
                data: key.as_bytes(),
            })
            .collect();
        ShardMessage {
            sequence,
            payload: encode(1_000, &records),
            pending: 0,
        }
    }

    #[test]
    fn collecting_skips_what_lies_before_the_start_and_continues_after_the_last() {
        let messages = [message(3, &["a", "b", "c"]), message(4, &["d"])];
        let start = Position::Record {
            message: 3,
            index: 1,
        };
        let page = collect(&messages, start, 0, 2, usize::MAX, 2_000);
        let keys: Vec<_> = page
            .records
            .iter()
            .map(|r| r.partition_key.as_str())
            .collect();
        assert_eq!(keys, ["b", "c"]);
        assert_eq!(
            page.next,
            Position::Record {
                message: 4,
                index: 0
            }
        );
        let page = collect(&messages, page.next, 0, 10, usize::MAX, 2_000);
        let keys: Vec<_> = page
            .records
            .iter()
            .map(|r| r.partition_key.as_str())
            .collect();
        assert_eq!(keys, ["d"]);
        assert_eq!(page.records[0].data_text.as_deref(), Some("d"));
    }

    #[test]
    fn record_views_show_text_and_json_when_they_fit() {
        let sequence = SequenceNumber::shard_start(0);
        let json = record_view(sequence, 0, "k", br#"{"a":1}"#);
        assert_eq!(json.data_json, Some(serde_json::json!({"a": 1})));
        let text = record_view(sequence, 0, "k", b"plain");
        assert_eq!(text.data_text.as_deref(), Some("plain"));
        assert_eq!(text.data_json, None);
        let binary = record_view(sequence, 0, "k", &[0xff, 0x00]);
        assert_eq!(binary.data_text, None);
        assert_eq!(binary.data_base64, "/wA=");
    }
}
