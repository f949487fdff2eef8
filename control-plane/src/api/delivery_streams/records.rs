//! `POST /api/v1/delivery-streams/{name}/records`: validate as `PutRecordBatch` does, store
//! one JetStream message per record on the delivery stream's subject (the gateway's layout),
//! answer once JetStream acknowledged every message.

use axum::Json;
use axum::extract::{Path, State};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use fjord_common::firehose::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES, record_id};

use super::dto::{PutDeliveryRecordsRequest, PutDeliveryRecordsResponse};
use super::find_delivery_stream;
use crate::api::ApiState;
use crate::api::extract::ApiJson;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;

/// Largest request body: 4 MiB of records as base64, with room for the JSON around them.
pub const MAX_DELIVERY_PUT_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Put records into a delivery stream
///
/// Stores 1 to 500 records for delivery; answers only after JetStream acknowledged them.
#[utoipa::path(
    post,
    path = "/api/v1/delivery-streams/{name}/records",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The delivery stream's name")),
    request_body = PutDeliveryRecordsRequest,
    responses(
        (status = 200, description = "Stored; each record's id, in request order", body = PutDeliveryRecordsResponse),
        (status = 400, description = "Invalid request; the detail names the failing record", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery stream is not ACTIVE, or reads from a stream (puts go to the stream)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 6 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The tenant's write throughput quota is used up for now (type `urn:fjord:problem:throughput-exceeded`); nothing was stored, retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the call would fit"))),
        (status = 503, description = "JetStream is unavailable; nothing is known to be stored", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn put_delivery_records(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<PutDeliveryRecordsRequest, MAX_DELIVERY_PUT_BODY_BYTES>,
) -> Result<Json<PutDeliveryRecordsResponse>, Problem> {
    context.require(Action::WriteRecords)?;
    let row = find_delivery_stream(&state, &context, &name).await?;
    let records = validate(request)?;
    if row.status != "ACTIVE" {
        return Err(Problem::conflict(format!(
            "the delivery stream is {}; records can be put when it is ACTIVE",
            row.status
        )));
    }
    if row.delivery_stream_type != "DirectPut" {
        return Err(Problem::conflict(
            "the delivery stream reads from a stream; put records into that stream",
        ));
    }
    admit(&state, &context, &name, &records).await?;
    let shards = state.shards.as_ref().ok_or_else(|| {
        Problem::unavailable(&"the REST API was started without a JetStream connection")
    })?;
    let sequences = shards
        .publish_delivery_records(row.id, records)
        .await
        .map_err(|error| Problem::unavailable(&error))?;
    Ok(Json(PutDeliveryRecordsResponse {
        record_ids: sequences.into_iter().map(record_id).collect(),
    }))
}

/// Charges the whole call to the tenant's write buckets (ADR 010), as record puts on streams
/// are, or refuses it with a 429 saying when it would fit.
async fn admit(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
    records: &[Bytes],
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
    let bytes: usize = records.iter().map(Bytes::len).sum();
    match state.write_limiter.admit_all(
        context.tenant_id.0,
        rate,
        records.len() as u64,
        bytes as u64,
    ) {
        Ok(()) => Ok(()),
        Err(wait) => Err(Problem::throughput_exceeded(
            format!(
                "rate exceeded for delivery stream {name}: the tenant's write throughput quota is used up; nothing was stored"
            ),
            wait.as_secs_f64().ceil() as u64,
        )),
    }
}

/// The records' bytes, or a 400 naming the first record that breaks a `PutRecordBatch` limit.
fn validate(request: PutDeliveryRecordsRequest) -> Result<Vec<Bytes>, Problem> {
    let count = request.records.len();
    if count == 0 || count > MAX_BATCH_RECORDS {
        return Err(Problem::bad_request(format!(
            "records must hold 1 to {MAX_BATCH_RECORDS} records, not {count}"
        )));
    }
    let mut total = 0;
    let mut records = Vec::with_capacity(count);
    for (index, record) in request.records.into_iter().enumerate() {
        let data = BASE64.decode(record.data.as_bytes()).map_err(|_| {
            Problem::bad_request(format!("records[{index}].data is not valid base64"))
        })?;
        if data.len() > MAX_RECORD_BYTES {
            return Err(Problem::bad_request(format!(
                "records[{index}].data is {} bytes; a record may hold at most {MAX_RECORD_BYTES}",
                data.len()
            )));
        }
        total += data.len();
        records.push(Bytes::from(data));
    }
    if total > MAX_BATCH_BYTES {
        return Err(Problem::bad_request(format!(
            "the records hold {total} bytes; a call may hold at most {MAX_BATCH_BYTES}"
        )));
    }
    Ok(records)
}
