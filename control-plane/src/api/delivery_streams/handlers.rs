//! Create, list, describe, change the destination of, tag and delete delivery streams.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fjord_common::stream_ref::stream_arn;
use serde_json::json;

use super::dto::{
    CreateDeliveryStreamRequest, DeliverySourceKind, DeliveryStreamPage, DeliveryStreamView,
    ListDeliveryStreamsQuery, UpdateDestinationRequest,
};
use super::{
    admin, audit, aws_problem, caller, destination_input, find_delivery_stream, printable, run,
    tags_input, view, view_with_tags,
};
use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::extract::ApiJson;
use crate::api::idempotency::{idempotency_key, replayed, reused_key};
use crate::api::problem::Problem;
use crate::api::streams::{TagsRequest, TagsView};
use crate::api::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::firehose::create::{CreateInput, create_error, plan};
use crate::firehose::destination::DESTINATION_ID;
use crate::store::StoreError;
use crate::store::delivery_streams::DeliveryStreamCreation;

/// Create a delivery stream; it is `CREATING` until its storage exists.
#[utoipa::path(
    post,
    path = "/api/v1/delivery-streams",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    request_body = CreateDeliveryStreamRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats of the same request within 24 h create nothing: 200 with the delivery stream")),
    responses(
        (status = 201, description = "Created", body = DeliveryStreamView),
        (status = 200, description = "Idempotent replay: the delivery stream created before", body = DeliveryStreamView),
        (status = 400, description = "Invalid request, an option Fjord does not support yet, or a source stream that does not exist; the detail says which", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer; or the delivery stream quota would be exceeded (type `urn:fjord:problem:quota-exceeded`), nothing created", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken, the source stream is not ACTIVE, or the Idempotency-Key was used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn create_delivery_stream(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateDeliveryStreamRequest>,
) -> Result<Response, Problem> {
    let name = request.name.clone();
    let result = create(&state, &context, &headers, request).await;
    let replayed = result
        .as_ref()
        .is_ok_and(|response| response.status() == StatusCode::OK);
    audit(
        &state,
        &context,
        &origin,
        "Create",
        &name,
        result.as_ref().err(),
        json!({"replayed": replayed}),
    )
    .await;
    result
}

async fn create(
    state: &ApiState,
    context: &AuthContext,
    headers: &HeaderMap,
    request: CreateDeliveryStreamRequest,
) -> Result<Response, Problem> {
    context.require(Action::ManageStreams)?;
    let fingerprint = json!({
        "name": request.name,
        "source": request.source,
        "source_stream": request.source_stream,
        "destination": request.destination,
        "tags": request.tags,
    });
    let idempotency = idempotency_key(headers, &fingerprint)?;
    let caller = caller(state, context).await?;
    let role = format!("arn:aws:iam::{}:role/fjord-delivery", caller.account_id);
    let (member, destination) = destination_input(&request.destination, Some(role.clone()), false);
    let mut input = json!({ "DeliveryStreamName": request.name });
    input[member] = destination;
    if let Some(tags) = request.tags.filter(|tags| !tags.is_empty()) {
        input["Tags"] = tags_input(&tags);
    }
    match (
        request.source.unwrap_or(DeliverySourceKind::DirectPut),
        request.source_stream,
    ) {
        (DeliverySourceKind::DirectPut, None) => input["DeliveryStreamType"] = json!("DirectPut"),
        (DeliverySourceKind::DirectPut, Some(_)) => {
            return Err(Problem::bad_request(
                "source_stream is only valid with source kinesis_stream",
            ));
        }
        (DeliverySourceKind::KinesisStream, None) => {
            return Err(Problem::bad_request(
                "source_stream is required with source kinesis_stream",
            ));
        }
        (DeliverySourceKind::KinesisStream, Some(stream)) => {
            input["DeliveryStreamType"] = json!("KinesisStreamAsSource");
            input["KinesisStreamSourceConfiguration"] = json!({
                "KinesisStreamARN": stream_arn(&state.region, &caller.account_id, &stream),
                "RoleARN": role,
            });
        }
    }
    let input: CreateInput = serde_json::from_value(input)
        .map_err(|error| Problem::bad_request(format!("invalid request: {error}")))?;
    let new_stream = plan(&admin(state), &caller, input)
        .await
        .map_err(aws_problem)?;
    let name = new_stream.name.clone();
    let creation = state
        .store
        .create_delivery_stream(context.tenant_id, new_stream, idempotency)
        .await
        .map_err(|error| match error {
            StoreError::AlreadyExists => {
                Problem::conflict("a delivery stream with this name already exists in the tenant")
            }
            error => aws_problem(create_error(error, &name, &caller.account_id)),
        })?;
    match creation {
        DeliveryStreamCreation::Created(row) => {
            tracing::info!(delivery_stream = %row.name, "delivery stream created");
            let view = view(state, &caller, row).await?;
            Ok((StatusCode::CREATED, Json(view)).into_response())
        }
        DeliveryStreamCreation::Replayed(Some(row)) => {
            Ok(replayed(Json(view(state, &caller, row).await?)))
        }
        DeliveryStreamCreation::Replayed(None) => Err(Problem::conflict(
            "the delivery stream created with this Idempotency-Key has since been deleted",
        )),
        DeliveryStreamCreation::Conflict => Err(reused_key()),
    }
}

/// List the tenant's delivery streams by name.
#[utoipa::path(
    get,
    path = "/api/v1/delivery-streams",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(ListDeliveryStreamsQuery),
    responses(
        (status = 200, description = "A page of delivery streams", body = DeliveryStreamPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn list_delivery_streams(
    State(state): State<ApiState>,
    context: AuthContext,
    query: Result<Query<ListDeliveryStreamsQuery>, QueryRejection>,
) -> Result<Json<DeliveryStreamPage>, Problem> {
    context.require(Action::ReadStreams)?;
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let limit = crate::api::page_limit(query.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let after = crate::api::name_after(&state, context.tenant_id, query.cursor.as_deref())?;
    let mut rows = state
        .store
        .list_delivery_streams(
            context.tenant_id,
            None,
            after.as_deref(),
            i64::from(limit) + 1,
        )
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let last = rows.last().map(|last| last.name.as_str());
    let next_cursor = crate::api::cursor_after(&state, context.tenant_id, last, more);
    let caller = caller(&state, &context).await?;
    let ids: Vec<_> = rows.iter().map(|row| row.id).collect();
    let mut tags = state
        .store
        .tags_of_delivery_streams(context.tenant_id, &ids)
        .await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let tags = tags.remove(&row.id).unwrap_or_default();
            view_with_tags(&state, &caller, row, tags)
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    Ok(Json(DeliveryStreamPage { items, next_cursor }))
}

/// Describe a delivery stream.
#[utoipa::path(
    get,
    path = "/api/v1/delivery-streams/{name}",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The delivery stream's name")),
    responses(
        (status = 200, description = "The delivery stream", body = DeliveryStreamView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn describe_delivery_stream(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
) -> Result<Json<DeliveryStreamView>, Problem> {
    context.require(Action::ReadStreams)?;
    let row = find_delivery_stream(&state, &context, &name).await?;
    let caller = caller(&state, &context).await?;
    view(&state, &caller, row).await.map(Json)
}

/// Delete a delivery stream: it is `DELETING` until its storage is gone. Records not yet
/// delivered are dropped.
#[utoipa::path(
    delete,
    path = "/api/v1/delivery-streams/{name}",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The delivery stream's name")),
    responses(
        (status = 202, description = "Deletion started", body = DeliveryStreamView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream in the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery stream is still CREATING", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn delete_delivery_stream(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let result = async {
        context.require(Action::ManageStreams)?;
        let row = find_delivery_stream(&state, &context, &name).await?;
        let caller = caller(&state, &context).await?;
        run(
            &state,
            &caller,
            "DeleteDeliveryStream",
            json!({"DeliveryStreamName": row.name}),
        )
        .await?;
        let row = find_delivery_stream(&state, &context, &name).await?;
        view(&state, &caller, row).await
    }
    .await;
    audit(
        &state,
        &context,
        &origin,
        "Delete",
        &name,
        result.as_ref().err(),
        json!({}),
    )
    .await;
    result.map(|view| (StatusCode::ACCEPTED, Json(view)).into_response())
}

/// Change the destination: the fields given change, the version goes up by one.
#[utoipa::path(
    put,
    path = "/api/v1/delivery-streams/{name}/destination",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The delivery stream's name")),
    request_body = UpdateDestinationRequest,
    responses(
        (status = 200, description = "The delivery stream after the change", body = DeliveryStreamView),
        (status = 400, description = "Invalid destination, or an option Fjord does not support yet", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream in the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery stream is not ACTIVE, or `version_id` is not the current version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn update_destination(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<UpdateDestinationRequest>,
) -> Result<Json<DeliveryStreamView>, Problem> {
    let details = json!({"version_id": request.version_id});
    let result = async {
        context.require(Action::ManageStreams)?;
        let row = find_delivery_stream(&state, &context, &name).await?;
        let caller = caller(&state, &context).await?;
        let (member, destination) = destination_input(&request.destination, None, true);
        let mut input = json!({
            "DeliveryStreamName": row.name,
            "CurrentDeliveryStreamVersionId": request.version_id.to_string(),
            "DestinationId": DESTINATION_ID,
        });
        input[member] = destination;
        run(&state, &caller, "UpdateDestination", input).await?;
        let row = find_delivery_stream(&state, &context, &name).await?;
        view(&state, &caller, row).await
    }
    .await;
    audit(
        &state,
        &context,
        &origin,
        "UpdateDestination",
        &name,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(Json)
}

/// Add tags to a delivery stream or overwrite their values.
#[utoipa::path(
    put,
    path = "/api/v1/delivery-streams/{name}/tags",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The delivery stream's name")),
    request_body = TagsRequest,
    responses(
        (status = 200, description = "The delivery stream's tags", body = TagsView),
        (status = 400, description = "Invalid tags, or more than 50 in all", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn add_delivery_stream_tags(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<TagsRequest>,
) -> Result<Json<TagsView>, Problem> {
    let keys: Vec<String> = request.tags.keys().map(|key| printable(key)).collect();
    let result = async {
        context.require(Action::ManageStreams)?;
        let row = find_delivery_stream(&state, &context, &name).await?;
        let caller = caller(&state, &context).await?;
        run(
            &state,
            &caller,
            "TagDeliveryStream",
            json!({"DeliveryStreamName": row.name, "Tags": tags_input(&request.tags)}),
        )
        .await
        .map_err(|problem| {
            // Too many tags is the request's fault here, not a tenant quota.
            if problem.status_code() == StatusCode::FORBIDDEN {
                Problem::bad_request(problem.detail.clone().unwrap_or_default())
            } else {
                problem
            }
        })?;
        let tags = state
            .store
            .delivery_stream_tags(context.tenant_id, row.id)
            .await?;
        Ok(TagsView {
            tags: tags.into_iter().collect(),
        })
    }
    .await;
    audit(
        &state,
        &context,
        &origin,
        "AddTags",
        &name,
        result.as_ref().err(),
        json!({"keys": keys}),
    )
    .await;
    result.map(Json)
}

/// Remove a tag from a delivery stream (removing an absent tag succeeds).
#[utoipa::path(
    delete,
    path = "/api/v1/delivery-streams/{name}/tags/{key}",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(
        ("name" = String, Path, description = "The delivery stream's name"),
        ("key" = String, Path, description = "The tag's key"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid tag key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn remove_delivery_stream_tag(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path((name, key)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let result = async {
        context.require(Action::ManageStreams)?;
        let row = find_delivery_stream(&state, &context, &name).await?;
        let caller = caller(&state, &context).await?;
        run(
            &state,
            &caller,
            "UntagDeliveryStream",
            json!({"DeliveryStreamName": row.name, "TagKeys": [key]}),
        )
        .await
    }
    .await;
    audit(
        &state,
        &context,
        &origin,
        "RemoveTag",
        &name,
        result.as_ref().err(),
        json!({"key": printable(&key)}),
    )
    .await;
    result.map(|()| StatusCode::NO_CONTENT)
}
