//! A stream's retention and tags, and the tenant's quotas.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use fjord_common::stream_ref::Validation;

use super::dto::{LimitsView, RetentionRequest, StreamView, TagsRequest, TagsView};
use super::{
    account_id, audit, find_stream, invalid, printable, store_problem, validate_tags, view,
};
use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::extract::ApiJson;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::kinesis::streams::{MAX_RETENTION_HOURS, MIN_RETENTION_HOURS};
use crate::store::StoreError;
use crate::store::streams::{MAX_TAGS_PER_STREAM, RetentionChange, RetentionError};

/// Change how long a stream keeps records, up or down.
#[utoipa::path(
    put,
    path = "/api/v1/streams/{name}/retention",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The stream's name")),
    request_body = RetentionRequest,
    responses(
        (status = 200, description = "The stream, UPDATING until the change is applied", body = StreamView),
        (status = 400, description = "Retention outside 24-8760 hours", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The stream is not ACTIVE", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn set_retention(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<RetentionRequest>,
) -> Result<Json<StreamView>, Problem> {
    let result = retention(&state, &context, &name, request.retention_hours).await;
    let details = serde_json::json!({"retention_hours": request.retention_hours});
    audit(
        &state,
        &context,
        &origin,
        "SetRetention",
        &name,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(Json)
}

async fn retention(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
    hours: i64,
) -> Result<StreamView, Problem> {
    context.require(Action::ManageStreams)?;
    let mut validation = Validation::new();
    validation.range(
        hours,
        "retention_hours",
        MIN_RETENTION_HOURS,
        MAX_RETENTION_HOURS,
    );
    invalid(validation)?;
    let stream = find_stream(state, context, name).await?;
    let account_id = account_id(state, context).await?;
    let requested = i32::try_from(hours).unwrap_or(i32::MAX);
    let change = if requested >= stream.retention_hours {
        RetentionChange::Increase
    } else {
        RetentionChange::Decrease
    };
    match state
        .store
        .change_retention(context.tenant_id, &stream.name, requested, change)
        .await
    {
        Ok(()) => {}
        Err(RetentionError::Store(error)) => return Err(store_problem(error, &account_id)),
        Err(RetentionError::WrongDirection { .. }) => {
            return Err(Problem::conflict(
                "the stream's retention changed meanwhile; try again",
            ));
        }
    }
    tracing::info!(stream = %stream.name, hours, "stream retention changed");
    let stream = find_stream(state, context, name).await?;
    view(state, context, stream, &account_id).await
}

/// Add tags to a stream or overwrite their values.
#[utoipa::path(
    put,
    path = "/api/v1/streams/{name}/tags",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The stream's name")),
    request_body = TagsRequest,
    responses(
        (status = 200, description = "The stream's tags", body = TagsView),
        (status = 400, description = "Invalid tags, or more than 50 in all", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn add_tags(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<TagsRequest>,
) -> Result<Json<TagsView>, Problem> {
    let keys: Vec<String> = request.tags.keys().map(|key| printable(key)).collect();
    let details = serde_json::json!({"keys": keys});
    let result = tag(&state, &context, &name, request.tags.clone()).await;
    audit(
        &state,
        &context,
        &origin,
        "AddTags",
        &name,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(Json)
}

async fn tag(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
    tags: BTreeMap<String, String>,
) -> Result<TagsView, Problem> {
    context.require(Action::ManageStreams)?;
    let tags: Vec<(String, String)> = tags.into_iter().collect();
    let mut validation = Validation::new();
    if tags.is_empty() {
        validation.fail("{}", "tags", "Member must have at least 1 entry");
    }
    if tags.len() > MAX_TAGS_PER_STREAM {
        validation.fail(
            tags.len(),
            "tags",
            &format!("Member must have at most {MAX_TAGS_PER_STREAM} entries"),
        );
    }
    validate_tags(&mut validation, &tags);
    invalid(validation)?;
    let stream = find_stream(state, context, name).await?;
    match state
        .store
        .add_tags(context.tenant_id, stream.id, tags)
        .await
    {
        Ok(()) => {}
        Err(StoreError::QuotaExceeded(_)) => {
            return Err(Problem::bad_request(format!(
                "a stream may have at most {MAX_TAGS_PER_STREAM} tags"
            )));
        }
        // The stream can vanish between lookup and insert (deleted meanwhile): a 404, not a 500.
        Err(error) => return Err(store_problem(error, &account_id(state, context).await?)),
    }
    let tags = state.store.tags(context.tenant_id, stream.id).await?;
    Ok(TagsView {
        tags: tags.into_iter().collect(),
    })
}

/// Remove a tag from a stream (removing an absent tag succeeds).
#[utoipa::path(
    delete,
    path = "/api/v1/streams/{name}/tags/{key}",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(
        ("name" = String, Path, description = "The stream's name"),
        ("key" = String, Path, description = "The tag's key"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid tag key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn remove_tag(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path((name, key)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let result = untag(&state, &context, &name, key.clone()).await;
    let details = serde_json::json!({"key": printable(&key)});
    audit(
        &state,
        &context,
        &origin,
        "RemoveTag",
        &name,
        result.as_ref().err(),
        details,
    )
    .await;
    result
}

async fn untag(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
    key: String,
) -> Result<StatusCode, Problem> {
    context.require(Action::ManageStreams)?;
    let mut validation = Validation::new();
    validation.length(&key, "key", 1, 128);
    if key.contains('\0') {
        validation.fail(printable(&key), "key", "Member must not contain NUL");
    }
    invalid(validation)?;
    let stream = find_stream(state, context, name).await?;
    state
        .store
        .remove_tags(context.tenant_id, stream.id, &[key])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's quotas and usage
///
/// Every count quota with its usage, and the write throughput quotas.
#[utoipa::path(
    get,
    path = "/api/v1/limits",
    tag = "streams",
    security(("bearer" = []), ("sigv4" = [])),
    responses(
        (status = 200, description = "Quotas and usage", body = LimitsView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn describe_limits(
    State(state): State<ApiState>,
    context: AuthContext,
) -> Result<Json<LimitsView>, Problem> {
    context.require(Action::ReadStreams)?;
    let tenant = state.store.tenant(context.tenant_id).await?;
    let usage = state.store.usage(context.tenant_id).await?;
    Ok(Json(LimitsView {
        stream_limit: tenant.stream_limit,
        stream_count: usage.stream_count,
        shard_limit: tenant.shard_limit,
        open_shard_count: usage.open_shard_count,
        on_demand_stream_limit: tenant.on_demand_stream_limit,
        on_demand_stream_count: usage.on_demand_stream_count,
        delivery_stream_limit: tenant.delivery_stream_limit,
        delivery_stream_count: usage.delivery_stream_count,
        app_limit: tenant.app_limit,
        app_count: usage.app_count,
        write_records_per_second: tenant.write_records_per_second,
        write_bytes_per_second: tenant.write_bytes_per_second,
    }))
}
