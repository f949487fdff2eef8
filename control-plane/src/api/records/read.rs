//! `GET /api/v1/streams/{name}/shards/{shard_id}/records`: one page of a shard's records.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};

use super::dto::{ReadFrom, ReadRecordsQuery, RecordPage};
use super::{
    Position, collect, decode_cursor, encode_cursor, find_shard, now_ms, require_serving,
    shard_problem, shards, start_position,
};
use crate::api::ApiState;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;

pub const DEFAULT_READ_LIMIT: u32 = 100;
pub const MAX_READ_LIMIT: u32 = 1000;
/// Most data one page returns, as GetRecords: 10 MiB.
const MAX_READ_BYTES: usize = 10 * 1024 * 1024;

/// Read records
///
/// One page of a shard's records from a position; `next_cursor` continues.
#[utoipa::path(
    get,
    path = "/api/v1/streams/{name}/shards/{shard_id}/records",
    tag = "records",
    security(("bearer" = []), ("sigv4" = [])),
    params(
        ("name" = String, Path, description = "The stream's name"),
        ("shard_id" = String, Path, description = "The shard, as `shardId-000000000000`"),
        ReadRecordsQuery,
    ),
    responses(
        (status = 200, description = "A page of records", body = RecordPage),
        (status = 400, description = "Invalid query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream or shard", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The stream is not ACTIVE", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn read_records(
    State(state): State<ApiState>,
    context: AuthContext,
    Path((name, shard_id)): Path<(String, String)>,
    query: Result<Query<ReadRecordsQuery>, QueryRejection>,
) -> Result<Json<RecordPage>, Problem> {
    context.require(Action::ReadRecords)?;
    let (stream, shard) = find_shard(&state, &context, &name, &shard_id).await?;
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let limit = crate::api::page_limit(query.limit, DEFAULT_READ_LIMIT, MAX_READ_LIMIT)?;
    let shard_index = u32::try_from(shard.shard_index).unwrap_or_default();
    let shards = shards(&state)?;
    let start = match &query.cursor {
        Some(cursor) => decode_cursor(&state, &context, &stream, shard_index, cursor)?,
        None => {
            require_serving(&stream)?;
            start_position(
                shards,
                &stream,
                shard_index,
                query.from.unwrap_or(ReadFrom::TrimHorizon),
                query.sequence.as_deref(),
                query.timestamp.as_deref(),
            )
            .await?
        }
    };
    require_serving(&stream)?;
    let reader = shards
        .open(stream.id, shard_index, start.read_from())
        .await
        .map_err(shard_problem)?;
    let messages = reader
        .next_batch(limit as usize, MAX_READ_BYTES, None)
        .await
        .map_err(shard_problem)?;
    drop(reader);
    let mut page = collect(
        &messages,
        start,
        shard_index,
        limit as usize,
        MAX_READ_BYTES,
        now_ms(),
    );
    super::count_traffic(&state.store, context.tenant_id, stream.id, page.traffic()).await;
    if let Position::Timestamp(_) = page.next {
        // Nothing at or after the timestamp yet: continue from the shard's tip.
        let (_, last) = shards
            .bounds(stream.id, shard_index)
            .await
            .map_err(shard_problem)?;
        page.next = Position::Record {
            message: last + 1,
            index: 0,
        };
    }
    Ok(Json(RecordPage {
        next_cursor: encode_cursor(&state, &context, &stream, shard_index, page.next),
        records: page.records,
        millis_behind_latest: page.behind_ms,
    }))
}
