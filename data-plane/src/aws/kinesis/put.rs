//! PutRecord and PutRecords: validate, route each record to its shard, store each shard's
//! records as one JetStream message, answer once JetStream has acknowledged.
//!
//! Before anything is stored, the records are charged to the tenant's write throughput quota
//! (ADR 010): PutRecord over it is a `ProvisionedThroughputExceededException`; PutRecords
//! stores the leading records that fit and answers the rest with that error code per record.
//!
//! Stored records and their data bytes are counted for the stream's metrics (ADR 013).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::hash_key::shard_id;
use fjord_common::sequence::SequenceNumber;
use fjord_common::stream_ref::Validation;
use serde::{Deserialize, Serialize};

use super::{Caller, parse};
use crate::gateway::Gateway;
use fjord_common::records::{RecordIn, chunk_by_bytes, encode, encoded_length};
use fjord_common::routing::{hash_key, parse_explicit_hash_key};

/// Largest record (partition key plus data), as on AWS: 1 MiB.
pub(crate) const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Largest PutRecords request (partition keys plus data), as on AWS: 5 MiB.
pub(crate) const MAX_PUT_RECORDS_BYTES: usize = 5 * 1024 * 1024;
pub(crate) const MAX_PUT_RECORDS_COUNT: usize = 500;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordInput {
    data: Option<String>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    data: Option<String>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
    sequence_number_for_ordering: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    records: Option<Vec<RecordInput>>,
}

/// A record that passed validation.
struct Accepted {
    partition_key: String,
    data: Vec<u8>,
    hash_key: u128,
}

/// Validates one record's members; `prefix` names it in messages (`records.3.member.`).
fn accept(
    record: RecordInput,
    prefix: &str,
    validation: &mut Validation,
) -> Result<Option<Accepted>, AwsError> {
    let data = match record.data {
        None => {
            validation.fail("null", &format!("{prefix}data"), "Member must not be null");
            None
        }
        Some(text) => Some(BASE64.decode(text.as_bytes()).map_err(|_| {
            AwsError::new(
                AwsErrorKind::SerializationException,
                "Data must be a base64-encoded binary value.",
            )
        })?),
    };
    if let Some(data) = &data
        && data.len() > MAX_RECORD_BYTES
    {
        validation.fail(
            "java.nio.HeapByteBuffer",
            &format!("{prefix}data"),
            &format!("Member must have length less than or equal to {MAX_RECORD_BYTES}"),
        );
    }
    match &record.partition_key {
        None => validation.fail(
            "null",
            &format!("{prefix}partitionKey"),
            "Member must not be null",
        ),
        Some(key) => validation.length(key, &format!("{prefix}partitionKey"), 1, 256),
    }
    let explicit_pattern_ok = record.explicit_hash_key.as_deref().is_none_or(|explicit| {
        explicit == "0"
            || (!explicit.is_empty()
                && explicit.len() <= 39
                && !explicit.starts_with('0')
                && explicit.bytes().all(|b| b.is_ascii_digit()))
    });
    if !explicit_pattern_ok && let Some(explicit) = &record.explicit_hash_key {
        validation.fail(
            explicit,
            &format!("{prefix}explicitHashKey"),
            "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
        );
    }
    let (Some(data), Some(partition_key), true) = (data, record.partition_key, explicit_pattern_ok)
    else {
        return Ok(None);
    };
    let hash_key = match &record.explicit_hash_key {
        Some(explicit) => match parse_explicit_hash_key(explicit) {
            Some(value) => value,
            None => {
                return Err(AwsError::invalid_argument(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {explicit}"
                )));
            }
        },
        None => hash_key(&partition_key),
    };
    Ok(Some(Accepted {
        partition_key,
        data,
        hash_key,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordOutput {
    shard_id: String,
    sequence_number: String,
    encryption_type: &'static str,
}

pub(super) async fn put_record(
    gateway: &Gateway,
    caller: &Caller,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let input: PutRecordInput = parse(body)?;
    let mut validation = Validation::new();
    if let Some(ordering) = &input.sequence_number_for_ordering
        && !is_sequence_number_text(ordering)
    {
        validation.fail(
            ordering,
            "sequenceNumberForOrdering",
            "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
        );
    }
    let record = RecordInput {
        data: input.data,
        partition_key: input.partition_key,
        explicit_hash_key: input.explicit_hash_key,
    };
    let accepted = accept(record, "", &mut validation)?;
    let stream = gateway
        .active_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
            validation,
        )
        .await?;
    let Some(accepted) = accepted else {
        return Err(AwsError::internal());
    };
    if accepted.partition_key.len() + accepted.data.len() > MAX_RECORD_BYTES {
        return Err(AwsError::invalid_argument(format!(
            "Record size exceeds the limit of {MAX_RECORD_BYTES} bytes (partition key plus data)."
        )));
    }
    let Some(shard_index) = stream.routes.shard_for(accepted.hash_key) else {
        return Err(AwsError::internal());
    };
    let size = (accepted.partition_key.len() + accepted.data.len()) as u64;
    if gateway
        .catalog
        .admit_writes(caller.tenant_id, &[size])
        .await
        == 0
    {
        return Err(rate_exceeded(gateway, caller, &stream.spec.name));
    }
    let arrival_ms = now_ms();
    let message = encode(
        arrival_ms,
        &[RecordIn {
            partition_key: &accepted.partition_key,
            data: &accepted.data,
        }],
    );
    let message_sequence = gateway
        .publish(stream.spec.stream_id, shard_index, message)
        .await?;
    gateway.events.traffic.incoming(
        caller.tenant_id,
        stream.spec.stream_id,
        1,
        accepted.data.len() as u64,
    );
    let output = PutRecordOutput {
        shard_id: shard_id(shard_index),
        sequence_number: SequenceNumber {
            message_sequence,
            shard_index,
            record_index: 0,
        }
        .to_string(),
        encryption_type: "NONE",
    };
    Ok(serde_json::to_vec(&output).unwrap_or_default())
}

fn is_sequence_number_text(text: &str) -> bool {
    text == "0"
        || (!text.is_empty()
            && text.len() <= 129
            && !text.starts_with('0')
            && text.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsOutput {
    failed_record_count: usize,
    records: Vec<PutRecordsResultEntry>,
    encryption_type: &'static str,
}

#[derive(Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

pub(super) async fn put_records(
    gateway: &Gateway,
    caller: &Caller,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let input: PutRecordsInput = parse(body)?;
    let mut validation = Validation::new();
    let records = match input.records {
        None => {
            validation.fail("null", "records", "Member must not be null");
            Vec::new()
        }
        Some(records) => records,
    };
    if records.is_empty() && validation.is_clean() {
        validation.fail(
            "[]",
            "records",
            "Member must have length greater than or equal to 1",
        );
    }
    if records.len() > MAX_PUT_RECORDS_COUNT {
        validation.fail(
            "[...]",
            "records",
            &format!("Member must have length less than or equal to {MAX_PUT_RECORDS_COUNT}"),
        );
    }
    let mut accepted = Vec::with_capacity(records.len());
    if records.len() <= MAX_PUT_RECORDS_COUNT {
        for (index, record) in records.into_iter().enumerate() {
            accepted.push(accept(
                record,
                &format!("records.{}.member.", index + 1),
                &mut validation,
            )?);
        }
    }
    let stream = gateway
        .active_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
            validation,
        )
        .await?;
    let accepted: Vec<Accepted> = accepted.into_iter().flatten().collect();
    let total: usize = accepted
        .iter()
        .map(|record| record.partition_key.len() + record.data.len())
        .sum();
    if total > MAX_PUT_RECORDS_BYTES {
        return Err(AwsError::invalid_argument(format!(
            "Records size exceeds {MAX_PUT_RECORDS_BYTES} bytes limit (partition keys plus data)."
        )));
    }

    let sizes: Vec<u64> = accepted
        .iter()
        .map(|record| (record.partition_key.len() + record.data.len()) as u64)
        .collect();
    let admitted = gateway.catalog.admit_writes(caller.tenant_id, &sizes).await;

    // Group the admitted records by shard, keeping request order within each shard.
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    for (position, record) in accepted.iter().enumerate().take(admitted) {
        let Some(shard_index) = stream.routes.shard_for(record.hash_key) else {
            return Err(AwsError::internal());
        };
        match groups.iter_mut().find(|(index, _)| *index == shard_index) {
            Some((_, members)) => members.push(position),
            None => groups.push((shard_index, vec![position])),
        }
    }

    let arrival_ms = now_ms();
    let mut results = vec![PutRecordsResultEntry::default(); accepted.len()];
    // One message per shard group, split where a group would exceed the server's payload limit.
    let mut publishes = Vec::new();
    for (shard_index, members) in &groups {
        for chunk in chunk_by_bytes(
            members,
            |position| {
                encoded_length(&RecordIn {
                    partition_key: &accepted[position].partition_key,
                    data: &accepted[position].data,
                })
            },
            gateway.max_message_bytes,
        ) {
            let records: Vec<RecordIn<'_>> = chunk
                .iter()
                .map(|&position| RecordIn {
                    partition_key: &accepted[position].partition_key,
                    data: &accepted[position].data,
                })
                .collect();
            let message = encode(arrival_ms, &records);
            let shard_index = *shard_index;
            let stream_id = stream.spec.stream_id;
            publishes.push(async move {
                (
                    shard_index,
                    chunk,
                    gateway.publish(stream_id, shard_index, message).await,
                )
            });
        }
    }
    let mut failed = 0;
    if admitted < results.len() {
        let refused = rate_exceeded(gateway, caller, &stream.spec.name);
        for result in &mut results[admitted..] {
            failed += 1;
            *result = PutRecordsResultEntry {
                error_code: Some(refused.kind.type_name().to_owned()),
                error_message: Some(refused.message.clone()),
                ..Default::default()
            };
        }
    }
    let (mut stored_records, mut stored_bytes) = (0u64, 0u64);
    for (shard_index, chunk, outcome) in futures::future::join_all(publishes).await {
        if outcome.is_ok() {
            stored_records += chunk.len() as u64;
            stored_bytes += chunk
                .iter()
                .map(|&position| accepted[position].data.len() as u64)
                .sum::<u64>();
        }
        for (record_index, &position) in chunk.iter().enumerate() {
            results[position] = match &outcome {
                Ok(message_sequence) => PutRecordsResultEntry {
                    sequence_number: Some(
                        SequenceNumber {
                            message_sequence: *message_sequence,
                            shard_index,
                            record_index: record_index as u32,
                        }
                        .to_string(),
                    ),
                    shard_id: Some(shard_id(shard_index)),
                    ..Default::default()
                },
                Err(error) => {
                    failed += 1;
                    PutRecordsResultEntry {
                        error_code: Some(error.kind.type_name().to_owned()),
                        error_message: Some(error.message.clone()),
                        ..Default::default()
                    }
                }
            };
        }
    }
    gateway.events.traffic.incoming(
        caller.tenant_id,
        stream.spec.stream_id,
        stored_records,
        stored_bytes,
    );
    let output = PutRecordsOutput {
        failed_record_count: failed,
        records: results,
        encryption_type: "NONE",
    };
    Ok(serde_json::to_vec(&output).unwrap_or_default())
}

/// The tenant's write throughput quota is used up for now: the error Kinesis clients retry
/// with backoff (ADR 010 says why this and not `LimitExceededException`).
fn rate_exceeded(gateway: &Gateway, caller: &Caller, stream_name: &str) -> AwsError {
    let rate = gateway.catalog.write_rate(caller.tenant_id);
    let limit = |value: Option<u64>| value.map_or("unlimited".to_owned(), |v| v.to_string());
    AwsError::new(
        AwsErrorKind::ProvisionedThroughputExceededException,
        format!(
            "Rate exceeded for stream {stream_name} under account {}. The account may write {} records and {} bytes per second.",
            caller.account_id,
            limit(rate.records_per_second),
            limit(rate.bytes_per_second)
        ),
    )
}

pub(crate) fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
}
