//! Create, list, describe and delete streams.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fjord_common::stream_ref::Validation;

use super::dto::{
    CreateStreamRequest, ListStreamsQuery, StreamMode, StreamPage, StreamSummary, StreamView,
};
use super::{account_id, audit, find_stream, invalid, store_problem, summary, validate_tags, view};
use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::extract::ApiJson;
use crate::api::idempotency::{idempotency_key, replayed, reused_key};
use crate::api::problem::Problem;
use crate::api::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::kinesis::streams::{
    MAX_RETENTION_HOURS, MIN_RETENTION_HOURS, ON_DEMAND_INITIAL_SHARDS, new_stream,
};
use crate::store::streams::{MAX_TAGS_PER_STREAM, StreamCreation};

/// Most shards one request may ask for, as CreateStream allows.
const MAX_SHARD_COUNT: i64 = 100_000;

/// Create a stream; it is `CREATING` until its shards exist.
#[utoipa::path(
    post,
    path = "/api/v1/streams",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    request_body = CreateStreamRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats of the same request within 24 h create nothing: 200 with the stream")),
    responses(
        (status = 201, description = "Created", body = StreamView),
        (status = 200, description = "Idempotent replay: the stream created before", body = StreamView),
        (status = 400, description = "Invalid request; the detail names the failing fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer; or a stream, shard or on-demand stream quota would be exceeded (type `urn:fjord:problem:quota-exceeded`), nothing created", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken, or the Idempotency-Key was used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn create_stream(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateStreamRequest>,
) -> Result<Response, Problem> {
    let name = request.name.clone();
    let result = create(&state, &context, &headers, request).await;
    let replayed = result
        .as_ref()
        .is_ok_and(|response| response.status() == StatusCode::OK);
    let details = serde_json::json!({"replayed": replayed});
    audit(
        &state,
        &context,
        &origin,
        "Create",
        &name,
        result.as_ref().err(),
        details,
    )
    .await;
    result
}

async fn create(
    state: &ApiState,
    context: &AuthContext,
    headers: &HeaderMap,
    request: CreateStreamRequest,
) -> Result<Response, Problem> {
    context.require(Action::ManageStreams)?;
    let fingerprint = serde_json::json!({
        "name": request.name,
        "mode": request.mode,
        "shard_count": request.shard_count,
        "retention_hours": request.retention_hours,
        "tags": request.tags,
    });
    let idempotency = idempotency_key(headers, &fingerprint)?;
    let mut validation = Validation::new();
    validation.stream_name(&request.name, "name");
    match (request.mode, request.shard_count) {
        (StreamMode::Provisioned, Some(count)) => {
            validation.range(count, "shard_count", 1, MAX_SHARD_COUNT)
        }
        (StreamMode::Provisioned, None) => validation.fail(
            "null",
            "shard_count",
            "Member is required for a provisioned stream",
        ),
        (StreamMode::OnDemand, Some(count)) => validation.fail(
            count,
            "shard_count",
            "Member must not be given for an on_demand stream",
        ),
        (StreamMode::OnDemand, None) => {}
    }
    if let Some(hours) = request.retention_hours {
        validation.range(
            hours,
            "retention_hours",
            MIN_RETENTION_HOURS,
            MAX_RETENTION_HOURS,
        );
    }
    let tags: Vec<(String, String)> = request.tags.unwrap_or_default().into_iter().collect();
    validate_tags(&mut validation, &tags);
    if tags.len() > MAX_TAGS_PER_STREAM {
        validation.fail(
            tags.len(),
            "tags",
            &format!("Member must have at most {MAX_TAGS_PER_STREAM} entries"),
        );
    }
    invalid(validation)?;
    let shard_count = match request.mode {
        StreamMode::OnDemand => ON_DEMAND_INITIAL_SHARDS,
        StreamMode::Provisioned => request
            .shard_count
            .and_then(|count| u32::try_from(count).ok())
            .unwrap_or(1),
    };
    let retention_hours = request
        .retention_hours
        .and_then(|hours| i32::try_from(hours).ok())
        .unwrap_or(crate::DEFAULT_RETENTION_HOURS);
    let account_id = account_id(state, context).await?;
    let stream = new_stream(
        request.name,
        request.mode.as_kinesis().to_owned(),
        shard_count,
        retention_hours,
        tags,
    );
    let creation = match idempotency {
        None => state
            .store
            .create_stream(context.tenant_id, stream)
            .await
            .map(StreamCreation::Created),
        Some(idempotency) => {
            state
                .store
                .create_stream_idempotently(context.tenant_id, stream, idempotency)
                .await
        }
    };
    match creation.map_err(|error| store_problem(error, &account_id))? {
        StreamCreation::Created(created) => {
            tracing::info!(stream = %created.name, "stream created");
            let view = view(state, context, created, &account_id).await?;
            Ok((StatusCode::CREATED, Json(view)).into_response())
        }
        StreamCreation::Replayed(Some(stream)) => {
            let view = view(state, context, stream, &account_id).await?;
            Ok(replayed(Json(view)))
        }
        StreamCreation::Replayed(None) => Err(Problem::conflict(
            "the stream created with this Idempotency-Key has since been deleted",
        )),
        StreamCreation::Conflict => Err(reused_key()),
    }
}

/// List the tenant's streams by name.
#[utoipa::path(
    get,
    path = "/api/v1/streams",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(ListStreamsQuery),
    responses(
        (status = 200, description = "A page of streams", body = StreamPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn list_streams(
    State(state): State<ApiState>,
    context: AuthContext,
    query: Result<Query<ListStreamsQuery>, QueryRejection>,
) -> Result<Json<StreamPage>, Problem> {
    context.require(Action::ReadStreams)?;
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let limit = crate::api::page_limit(query.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let after = crate::api::name_after(&state, context.tenant_id, query.cursor.as_deref())?;
    let mut streams = state
        .store
        .list_streams_with_open_shards(context.tenant_id, after.as_deref(), i64::from(limit) + 1)
        .await?;
    let more = streams.len() > limit as usize;
    streams.truncate(limit as usize);
    let last = streams.last().map(|last| last.stream.name.as_str());
    let next_cursor = crate::api::cursor_after(&state, context.tenant_id, last, more);
    let account_id = account_id(&state, &context).await?;
    Ok(Json(StreamPage {
        items: streams
            .into_iter()
            .map(|listed| {
                summary(
                    listed.stream,
                    listed.open_shard_count,
                    &state.region,
                    &account_id,
                )
            })
            .collect(),
        next_cursor,
    }))
}

/// Describe a stream: its status, shards and tags.
#[utoipa::path(
    get,
    path = "/api/v1/streams/{name}",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The stream's name")),
    responses(
        (status = 200, description = "The stream", body = StreamView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn describe_stream(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
) -> Result<Json<StreamView>, Problem> {
    context.require(Action::ReadStreams)?;
    let stream = find_stream(&state, &context, &name).await?;
    let account_id = account_id(&state, &context).await?;
    view(&state, &context, stream, &account_id).await.map(Json)
}

/// Delete a stream: it is `DELETING` until its shards are gone.
#[utoipa::path(
    delete,
    path = "/api/v1/streams/{name}",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The stream's name")),
    responses(
        (status = 202, description = "Deletion started", body = StreamSummary),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The stream is not ACTIVE", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn delete_stream(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let result = delete(&state, &context, &name).await;
    let details = serde_json::json!({});
    audit(
        &state,
        &context,
        &origin,
        "Delete",
        &name,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(|stream| (StatusCode::ACCEPTED, Json(stream)).into_response())
}

async fn delete(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
) -> Result<StreamSummary, Problem> {
    context.require(Action::ManageStreams)?;
    let stream = find_stream(state, context, name).await?;
    let account_id = account_id(state, context).await?;
    state
        .store
        .mark_stream_deleting(context.tenant_id, &stream.name)
        .await
        .map_err(|error| store_problem(error, &account_id))?;
    tracing::info!(stream = %stream.name, "stream deleting");
    let stream = find_stream(state, context, name).await?;
    let open_shard_count = state
        .store
        .open_shard_count(context.tenant_id, stream.id)
        .await?;
    Ok(summary(
        stream,
        open_shard_count,
        &state.region,
        &account_id,
    ))
}
