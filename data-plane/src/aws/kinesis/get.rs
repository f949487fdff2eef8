//! GetShardIterator and GetRecords.
//!
//! Records a GetRecords call returns, their data bytes and its `MillisBehindLatest` are
//! counted for the stream's metrics (ADR 013).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::hash_key::{parse_shard_id, shard_id};
use fjord_common::sequence::SequenceNumber;
use fjord_common::stream_ref::Validation;
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use super::put::now_ms;
use super::{Caller, parse};
use crate::gateway::{Gateway, ReadFrom};
use crate::iterator::{IteratorError, Position, ShardIterator};
use fjord_common::records::decode;

const ITERATOR_TYPES: &[&str] = &[
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
];
/// Most data one GetRecords call returns, as on AWS: 10 MiB.
const MAX_GET_RECORDS_BYTES: usize = 10 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetShardIteratorInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    starting_sequence_number: Option<String>,
    timestamp: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetShardIteratorOutput {
    shard_iterator: String,
}

pub(super) async fn get_shard_iterator(
    gateway: &Gateway,
    caller: &Caller,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let input: GetShardIteratorInput = parse(body)?;
    let mut validation = Validation::new();
    match &input.shard_id {
        None => validation.fail("null", "shardId", "Member must not be null"),
        Some(id) => validation.length(id, "shardId", 1, 128),
    }
    match &input.shard_iterator_type {
        None => validation.fail("null", "shardIteratorType", "Member must not be null"),
        Some(kind) if !ITERATOR_TYPES.contains(&kind.as_str()) => validation.fail(
            kind,
            "shardIteratorType",
            &format!(
                "Member must satisfy enum value set: [{}]",
                ITERATOR_TYPES.join(", ")
            ),
        ),
        Some(_) => {}
    }
    if let Some(number) = &input.starting_sequence_number
        && !(number == "0"
            || (!number.is_empty()
                && number.len() <= 129
                && !number.starts_with('0')
                && number.bytes().all(|b| b.is_ascii_digit())))
    {
        validation.fail(
            number,
            "startingSequenceNumber",
            "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
        );
    }
    let stream = gateway
        .active_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
            validation,
        )
        .await?;
    let requested_shard = input.shard_id.unwrap_or_default();
    let shard = parse_shard_id(&requested_shard)
        .and_then(|index| stream.spec.shards.iter().find(|shard| shard.index == index))
        .ok_or_else(|| {
            AwsError::not_found(format!(
                "Shard {requested_shard} in stream {} under account {} does not exist",
                stream.spec.name, caller.account_id
            ))
        })?;
    let shard_index = shard.index;
    let kind = input.shard_iterator_type.unwrap_or_default();
    let position = match kind.as_str() {
        "TRIM_HORIZON" => Position::Sequence(0, 0),
        "LATEST" => {
            let (_, last) = gateway
                .shard_bounds(stream.spec.stream_id, shard_index)
                .await?;
            Position::Sequence(last + 1, 0)
        }
        "AT_TIMESTAMP" => {
            let Some(seconds) = input.timestamp else {
                return Err(AwsError::invalid_argument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
                ));
            };
            Position::Timestamp((seconds * 1000.0) as i64)
        }
        _ => {
            let Some(text) = &input.starting_sequence_number else {
                return Err(AwsError::invalid_argument(format!(
                    "Must specify startingSequenceNumber for iterator of type {kind}."
                )));
            };
            let number = SequenceNumber::parse(text).ok_or_else(|| {
                AwsError::invalid_argument(format!(
                    "StartingSequenceNumber {text} used in GetShardIterator on shard {} in stream {} under account {} is invalid.",
                    shard_id(shard_index), stream.spec.name, caller.account_id
                ))
            })?;
            if number.shard_index != shard_index {
                return Err(AwsError::invalid_argument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                    shard_id(number.shard_index),
                    shard_id(shard_index)
                )));
            }
            let skip = u32::from(kind == "AFTER_SEQUENCE_NUMBER");
            Position::Sequence(number.message_sequence, number.record_index + skip)
        }
    };
    let iterator = ShardIterator {
        tenant_id: caller.tenant_id,
        stream_id: stream.spec.stream_id,
        stream_name: stream.spec.name.clone(),
        shard_index,
        position,
        issued_ms: now_ms() as i64,
    };
    let output = GetShardIteratorOutput {
        shard_iterator: iterator.encode(&gateway.iterators),
    };
    Ok(serde_json::to_vec(&output).unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsInput {
    shard_iterator: Option<String>,
    limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// One record on the wire; `Data` is base64 encoded while serializing.
struct RecordJson<'a> {
    sequence_number: String,
    arrival_seconds: f64,
    data: &'a [u8],
    partition_key: &'a str,
}

impl Serialize for RecordJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut record = serializer.serialize_struct("Record", 4)?;
        record.serialize_field("SequenceNumber", &self.sequence_number)?;
        record.serialize_field("ApproximateArrivalTimestamp", &self.arrival_seconds)?;
        record.serialize_field("Data", &BASE64.encode(self.data))?;
        record.serialize_field("PartitionKey", self.partition_key)?;
        record.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsOutput<'a> {
    records: Vec<RecordJson<'a>>,
    next_shard_iterator: String,
    millis_behind_latest: i64,
}

pub(super) async fn get_records(
    gateway: &Gateway,
    caller: &Caller,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let input: GetRecordsInput = parse(body)?;
    let mut validation = Validation::new();
    match &input.shard_iterator {
        None => validation.fail("null", "shardIterator", "Member must not be null"),
        Some(token) => validation.length(token, "shardIterator", 1, 512),
    }
    if let Some(limit) = input.limit {
        validation.range(limit, "limit", 1, 10_000);
    }
    if let Some(arn) = &input.stream_arn {
        validation.stream_arn(arn, "streamARN");
    }
    validation.finish()?;
    let token = input.shard_iterator.unwrap_or_default();
    let now = now_ms() as i64;
    let iterator = match ShardIterator::decode(
        &gateway.iterators,
        &token,
        caller.tenant_id,
        now,
        gateway.iterator_lifetime_ms,
    ) {
        Ok(iterator) => iterator,
        Err(IteratorError::Invalid) => {
            return Err(AwsError::invalid_argument("Invalid ShardIterator."));
        }
        Err(IteratorError::Expired { issued_ms }) => {
            return Err(AwsError::new(
                AwsErrorKind::ExpiredIteratorException,
                format!(
                    "Iterator expired. The iterator was created at time {issued_ms} while right now it is {now} which is further in the future than the tolerated delay of {} milliseconds.",
                    gateway.iterator_lifetime_ms
                ),
            ));
        }
    };
    if let Some(arn) = &input.stream_arn
        && fjord_common::stream_ref::parse_stream_arn(arn).map(|(_, name)| name)
            != Some(iterator.stream_name.as_str())
    {
        return Err(AwsError::invalid_argument(
            "StreamARN does not match the ShardIterator.",
        ));
    }
    let stream = gateway.stream_named(caller, &iterator.stream_name).await?;
    if stream.spec.stream_id != iterator.stream_id
        || !stream
            .spec
            .shards
            .iter()
            .any(|shard| shard.index == iterator.shard_index)
    {
        return Err(AwsError::not_found(format!(
            "Shard {} in stream {} under account {} does not exist",
            shard_id(iterator.shard_index),
            iterator.stream_name,
            caller.account_id
        )));
    }
    let limit = usize::try_from(input.limit.unwrap_or(10_000)).unwrap_or(10_000);
    let (from, skip_in_first) = match iterator.position {
        Position::Sequence(message, record) => {
            (ReadFrom::Sequence(message), Some((message, record)))
        }
        Position::Timestamp(ms) => (ReadFrom::Time(ms), None),
    };
    let messages = gateway
        .read_shard(
            iterator.stream_id,
            iterator.shard_index,
            from,
            limit,
            MAX_GET_RECORDS_BYTES,
        )
        .await?;

    let mut records = Vec::new();
    let mut bytes = 0usize;
    let mut data_bytes = 0u64;
    let mut next = iterator.position;
    let mut behind_ms = 0i64;
    'messages: for message in &messages {
        let Ok(batch) = decode(&message.payload) else {
            tracing::error!(
                sequence = message.sequence,
                "skipping a malformed shard message"
            );
            next = Position::Sequence(message.sequence + 1, 0);
            continue;
        };
        // JetStream found the start by its own clock; the records carry the gateway's arrival
        // time, which is what AT_TIMESTAMP promises: skip anything stamped earlier.
        if let Position::Timestamp(at_ms) = iterator.position
            && (batch.arrival_ms as i64) < at_ms
        {
            next = Position::Sequence(message.sequence + 1, 0);
            continue;
        }
        let first_index = match skip_in_first {
            Some((start_message, start_record)) if start_message == message.sequence => {
                start_record as usize
            }
            _ => 0,
        };
        for (index, record) in batch.records.iter().enumerate().skip(first_index) {
            if records.len() >= limit
                || (bytes + record.data.len() > MAX_GET_RECORDS_BYTES && !records.is_empty())
            {
                break 'messages;
            }
            bytes += record.data.len() + record.partition_key.len();
            data_bytes += record.data.len() as u64;
            records.push(RecordJson {
                sequence_number: SequenceNumber {
                    message_sequence: message.sequence,
                    shard_index: iterator.shard_index,
                    record_index: index as u32,
                }
                .to_string(),
                arrival_seconds: batch.arrival_ms as f64 / 1000.0,
                data: record.data,
                partition_key: record.partition_key,
            });
            next = Position::Sequence(message.sequence, index as u32 + 1);
            behind_ms = if message.pending == 0 && index + 1 == batch.records.len() {
                0
            } else {
                (now - batch.arrival_ms as i64).max(0)
            };
        }
        next = match next {
            Position::Sequence(sequence, record)
                if sequence == message.sequence && record as usize >= batch.records.len() =>
            {
                Position::Sequence(message.sequence + 1, 0)
            }
            other => other,
        };
    }
    if messages.is_empty()
        && let Position::Timestamp(_) = iterator.position
    {
        // Nothing at or after the timestamp yet: continue from the shard's tip.
        let (_, last) = gateway
            .shard_bounds(iterator.stream_id, iterator.shard_index)
            .await?;
        next = Position::Sequence(last + 1, 0);
    }
    gateway.events.traffic.outgoing(
        caller.tenant_id,
        iterator.stream_id,
        records.len() as u64,
        data_bytes,
        behind_ms,
    );
    let next_iterator = ShardIterator {
        position: next,
        issued_ms: now,
        ..iterator
    };
    let output = GetRecordsOutput {
        records,
        next_shard_iterator: next_iterator.encode(&gateway.iterators),
        millis_behind_latest: behind_ms,
    };
    Ok(serde_json::to_vec(&output).unwrap_or_default())
}
