//! `POST /api/v1/streams/{name}/records`: validate, route by MD5, store each shard's records
//! as one JetStream message, answer once JetStream acknowledged every message.

use axum::Json;
use axum::extract::{Path, State};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fjord_common::hash_key::shard_id;
use fjord_common::records::{RecordIn, chunk_by_bytes, encode, encoded_length};
use fjord_common::routing::{Route, RoutingTable, hash_key, parse_explicit_hash_key};
use fjord_common::sequence::SequenceNumber;

use super::dto::{
    PutRecordEntry, PutRecordResult, PutRecordsRequest, PutRecordsResponse, compact_json,
};
use super::{require_serving, shard_problem, shards};
use crate::api::ApiState;
use crate::api::extract::ApiJson;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::store::metrics::Traffic;

/// Largest record (partition key plus data), as PutRecords allows: 1 MiB.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Largest call (partition keys plus data), as PutRecords allows: 5 MiB.
pub const MAX_PUT_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_PUT_RECORDS: usize = 500;
/// Largest request body: 5 MiB of data as base64, with room for keys and JSON.
pub const MAX_PUT_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A record that passed validation.
struct Accepted {
    partition_key: String,
    data: Vec<u8>,
    hash_key: u128,
}

/// Put records
///
/// Stores 1 to 500 records; answers only after JetStream acknowledged them. Records read back
/// identically through the AWS GetRecords action.
#[utoipa::path(
    post,
    path = "/api/v1/streams/{name}/records",
    tag = "records",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The stream's name")),
    request_body = PutRecordsRequest,
    responses(
        (status = 200, description = "Stored; each record's shard and sequence number, in request order", body = PutRecordsResponse),
        (status = 400, description = "Invalid request; the detail names the failing record", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The stream is not ACTIVE", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 10 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The tenant's write throughput quota is used up for now (type `urn:fjord:problem:throughput-exceeded`); nothing was stored, retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the call would fit"))),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn put_records(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<PutRecordsRequest, MAX_PUT_BODY_BYTES>,
) -> Result<Json<PutRecordsResponse>, Problem> {
    context.require(Action::WriteRecords)?;
    let stream = crate::api::streams::find_stream(&state, &context, &name).await?;
    let accepted = validate(request)?;
    require_serving(&stream)?;
    let shards = shards(&state)?;
    admit(&state, &context, &name, &accepted).await?;
    let open_shards = state.store.shards(context.tenant_id, stream.id).await?;
    let routes = RoutingTable::from_routes(
        open_shards
            .iter()
            .filter(|shard| shard.ending_sequence_number.is_none())
            .filter_map(|shard| {
                Some(Route {
                    starting_hash_key: shard.starting_hash_key.parse().ok()?,
                    ending_hash_key: shard.ending_hash_key.parse().ok()?,
                    shard_index: u32::try_from(shard.shard_index).ok()?,
                })
            })
            .collect(),
    );

    // Group by shard, keeping request order within each shard.
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    for (position, record) in accepted.iter().enumerate() {
        let Some(shard_index) = routes.shard_for(record.hash_key) else {
            return Err(Problem::internal(&"no open shard owns a hash key"));
        };
        match groups.iter_mut().find(|(index, _)| *index == shard_index) {
            Some((_, members)) => members.push(position),
            None => groups.push((shard_index, vec![position])),
        }
    }

    let arrival_ms = u64::try_from(super::now_ms()).unwrap_or_default();
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
            shards.max_message_bytes,
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
            let stream_id = stream.id;
            publishes.push(async move {
                (
                    shard_index,
                    chunk,
                    shards.publish(stream_id, shard_index, message).await,
                )
            });
        }
    }
    let mut results: Vec<Option<PutRecordResult>> = Vec::new();
    results.resize_with(accepted.len(), || None);
    for (shard_index, chunk, outcome) in futures::future::join_all(publishes).await {
        let message_sequence = outcome.map_err(shard_problem)?;
        for (record_index, &position) in chunk.iter().enumerate() {
            results[position] = Some(PutRecordResult {
                shard_id: shard_id(shard_index),
                sequence_number: SequenceNumber {
                    message_sequence,
                    shard_index,
                    record_index: record_index as u32,
                }
                .to_string(),
            });
        }
    }
    let traffic = Traffic {
        incoming_records: accepted.len() as i64,
        incoming_bytes: accepted.iter().map(|record| record.data.len() as i64).sum(),
        ..Traffic::default()
    };
    super::count_traffic(&state.store, context.tenant_id, stream.id, traffic).await;
    Ok(Json(PutRecordsResponse {
        records: results.into_iter().flatten().collect(),
    }))
}

/// Charges the whole call to the tenant's write buckets (ADR 010), or refuses it with a 429
/// saying when it would fit. The quota is read with the tenant, so a change applies at once.
async fn admit(
    state: &ApiState,
    context: &AuthContext,
    stream_name: &str,
    accepted: &[Accepted],
) -> Result<(), Problem> {
    let rate = state
        .store
        .tenant(context.tenant_id)
        .await?
        .quotas()
        .write_rate();
    if rate.is_unlimited() {
        return Ok(());
    }
    let bytes: usize = accepted
        .iter()
        .map(|record| record.partition_key.len() + record.data.len())
        .sum();
    let records = accepted.len() as u64;
    match state
        .write_limiter
        .admit_all(context.tenant_id.0, rate, records, bytes as u64)
    {
        Ok(()) => Ok(()),
        Err(wait) => {
            let limit =
                |value: Option<u64>| value.map_or("unlimited".to_owned(), |v| v.to_string());
            Err(Problem::throughput_exceeded(
                format!(
                    "rate exceeded for stream {stream_name}: the tenant may write {} records and {} bytes per second; nothing was stored",
                    limit(rate.records_per_second),
                    limit(rate.bytes_per_second)
                ),
                wait.as_secs_f64().ceil() as u64,
            ))
        }
    }
}

/// Checks the limits PutRecords enforces; a 400 naming the first failing record.
fn validate(request: PutRecordsRequest) -> Result<Vec<Accepted>, Problem> {
    let count = request.records.len();
    if !(1..=MAX_PUT_RECORDS).contains(&count) {
        return Err(Problem::bad_request(format!(
            "records must hold 1 to {MAX_PUT_RECORDS} records, not {count}"
        )));
    }
    let mut accepted = Vec::with_capacity(count);
    let mut total = 0usize;
    for (index, entry) in request.records.into_iter().enumerate() {
        let record = accept(entry)
            .map_err(|detail| Problem::bad_request(format!("records[{index}]: {detail}")))?;
        total += record.partition_key.len() + record.data.len();
        if total > MAX_PUT_BYTES {
            return Err(Problem::bad_request(format!(
                "records[{index}]: the records pass {MAX_PUT_BYTES} bytes in all (partition keys plus data)"
            )));
        }
        accepted.push(record);
    }
    Ok(accepted)
}

fn accept(entry: PutRecordEntry) -> Result<Accepted, String> {
    let key_length = entry.partition_key.chars().count();
    if !(1..=256).contains(&key_length) {
        return Err(format!(
            "partition_key must be 1 to 256 characters, not {key_length}"
        ));
    }
    let data = match (entry.data_base64, entry.data) {
        (Some(text), None) => BASE64
            .decode(text.as_bytes())
            .map_err(|_| "data_base64 is not valid base64".to_owned())?,
        (None, Some(value)) => compact_json(value.get()),
        _ => return Err("exactly one of data_base64 and data is required".to_owned()),
    };
    if entry.partition_key.len() + data.len() > MAX_RECORD_BYTES {
        return Err(format!(
            "the record passes {MAX_RECORD_BYTES} bytes (partition key plus data)"
        ));
    }
    let hash_key = match &entry.explicit_hash_key {
        Some(text) => parse_explicit_hash_key(text)
            .ok_or_else(|| "explicit_hash_key must be a decimal in 0..2^128-1".to_owned())?,
        None => hash_key(&entry.partition_key),
    };
    Ok(Accepted {
        partition_key: entry.partition_key,
        data,
        hash_key,
    })
}
