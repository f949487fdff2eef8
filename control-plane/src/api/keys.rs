//! Access keys under `/api/v1/keys`: create (the secret is shown once), list, disable,
//! enable, rotate and delete. Tenant keys need `ManageKeys` (admins and owners). A personal key
//! (`"owner": "self"`) belongs to the member who created it; every member may create them
//! (`ManageOwnKeys`) and manage their own, and a member without `ManageKeys` sees and touches
//! only their own keys. Removing a member deletes their keys; demoting one caps their keys'
//! roles at the new role.
//!
//! A caller never mints, rotates or changes a key whose role is above their own. A key of
//! another tenant, or a deleted one, is a 404 like a key that never existed. Secrets are
//! returned once and never logged; the store only sees them sealed.
//!
//! `Idempotency-Key` on `POST /api/v1/keys`: a repeat of the same request within 24 hours
//! creates nothing and answers 200 with the key's metadata, without the secret (which was
//! shown once) and with `Idempotent-Replayed: true`.
//!
//! Every call but the listing is recorded in the audit log (`keys:<Action>`), refused ones
//! with their problem kind. The same idempotency key with a different
//! request, or for a key deleted since, is a 409 problem.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::admin::{self, MAX_KEY_NAME_CHARS};
use crate::api::audit::RequestOrigin;
use crate::api::extract::ApiJson;
use crate::api::idempotency::{idempotency_key, replayed, reused_key};
use crate::api::problem::Problem;
use crate::api::{ApiState, KeyMaterial};
use crate::auth::context::{AuthContext, Principal};
use crate::auth::permissions::{Action, Role, allows};
use crate::store::StoreError;
use crate::store::access_keys::{AccessKeyRecord, Creation, KeyPosition, NewAccessKeyRecord};

pub use crate::api::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// What the key is for: 1-128 printable characters.
    #[schema(example = "orders ingest")]
    pub name: String,
    /// The key's role; at most the caller's own. Defaults to `developer` (or the caller's
    /// role, if lower).
    #[serde(default)]
    pub role: Option<Role>,
    /// Who the key belongs to: the tenant (the default; needs admin) or the caller (`self`:
    /// a personal key, for any member).
    #[serde(default)]
    pub owner: Option<KeyOwner>,
}

/// Who an access key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub enum KeyOwner {
    /// A service-account key of the tenant.
    #[default]
    #[serde(rename = "tenant")]
    Tenant,
    /// A personal key of the calling member.
    #[serde(rename = "self")]
    Caller,
}

/// A key with its secret: answered once, on create and on rotate.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[schema(example = "AKIAABCDEFGHIJKLMNOP")]
    pub access_key_id: String,
    /// Shown once: store it now.
    pub secret_access_key: String,
    pub name: String,
    pub role: Role,
    /// The member a personal key belongs to; null for a tenant key.
    pub user_id: Option<Uuid>,
    pub enabled: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// A key as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub access_key_id: String,
    pub name: String,
    pub role: Role,
    /// The member a personal key belongs to; null for a tenant key.
    pub user_id: Option<Uuid>,
    pub enabled: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When the key last authenticated a call (Kinesis endpoint or REST), to within the
    /// gateway's usage flush interval (10 s by default); null if never used.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPage {
    pub items: Vec<KeyView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListKeysQuery {
    /// Keys per page, 1-200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What a cursor carries, under the REST cursor MAC: the tenant it belongs to and the last
/// key of the page.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "t")]
    tenant_id: Uuid,
    #[serde(rename = "c")]
    created_at_micros: i64,
    #[serde(rename = "k")]
    access_key_id: String,
}

impl From<AccessKeyRecord> for KeyView {
    fn from(key: AccessKeyRecord) -> Self {
        Self {
            access_key_id: key.access_key_id,
            name: key.name,
            role: key.role,
            user_id: key.user_id.map(|user_id| user_id.0),
            enabled: key.enabled,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

fn created(key: AccessKeyRecord, secret_access_key: String) -> CreatedKey {
    CreatedKey {
        access_key_id: key.access_key_id,
        secret_access_key,
        name: key.name,
        role: key.role,
        user_id: key.user_id.map(|user_id| user_id.0),
        enabled: key.enabled,
        created_at: key.created_at,
    }
}

pub(crate) fn key_material(state: &ApiState) -> Result<&KeyMaterial, Problem> {
    state
        .key_material
        .as_ref()
        .ok_or_else(|| Problem::internal(&"the REST API was built without the master key"))
}

fn not_found_or(error: StoreError) -> Problem {
    match error {
        StoreError::NotFound => Problem::not_found(),
        other => Problem::from(other),
    }
}

/// The role of a new key: the one asked for, else `developer` capped at the caller's role.
fn default_role(requested: Option<Role>, caller: Role) -> Role {
    requested.unwrap_or_else(|| Role::default().min(caller))
}

fn above_own_role() -> Problem {
    Problem::forbidden("a key's role cannot be above your own")
}

/// A well-formed access key id; anything else cannot name a key.
fn is_access_key_id(text: &str) -> bool {
    (16..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn validate_name(name: &str) -> Result<(), Problem> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_KEY_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Problem::bad_request(format!(
            "name must be 1-{MAX_KEY_NAME_CHARS} printable characters"
        )));
    }
    Ok(())
}

/// Records a key call in the audit log, with its outcome; never a secret.
async fn audit(
    state: &ApiState,
    context: &AuthContext,
    origin: &RequestOrigin,
    action: &str,
    access_key_id: &str,
    failure: Option<&Problem>,
    details: serde_json::Value,
) {
    crate::api::audit::record_change(
        state,
        context,
        origin,
        format!("keys:{action}"),
        access_key_id,
        failure,
        details,
    )
    .await;
}

/// The tenant's key `access_key_id`, if the caller may manage it (any key with `ManageKeys`,
/// else only their own) and its role is within the caller's.
async fn manageable_key(
    state: &ApiState,
    context: &AuthContext,
    access_key_id: &str,
) -> Result<AccessKeyRecord, Problem> {
    context.require(Action::ManageOwnKeys)?;
    if !is_access_key_id(access_key_id) {
        return Err(Problem::not_found());
    }
    let key = state
        .store
        .access_key(context.tenant_id, access_key_id)
        .await
        .map_err(not_found_or)?;
    if !allows(context.role, Action::ManageKeys) {
        let own =
            matches!(&context.principal, Principal::User(user_id) if key.user_id == Some(*user_id));
        if !own {
            return Err(Problem::forbidden(
                "your role lets you manage only your own keys",
            ));
        }
    }
    if key.role > context.role {
        return Err(above_own_role());
    }
    Ok(key)
}

/// Create an access key for the AWS endpoint; the secret is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "keys",
    security(("bearer" = []), ("sigv4" = [])),
    request_body = CreateKeyRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats within 24 h create nothing: 200 with the key's metadata, without the secret")),
    responses(
        (status = 201, description = "Created; the secret is shown once", body = CreatedKey),
        (status = 200, description = "Idempotent replay: the key created before, without its secret", body = KeyView),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A tenant key needs admin, or the role is above the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency key reused with another request, or its key was deleted", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn create_key(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateKeyRequest>,
) -> Result<Response, Problem> {
    let role = default_role(request.role, context.role);
    let owner = request.owner.unwrap_or_default();
    let result = create(&state, &context, &headers, request).await;
    let access_key_id = result
        .as_ref()
        .map(|(access_key_id, _)| access_key_id.clone())
        .unwrap_or_default();
    let replayed = result
        .as_ref()
        .is_ok_and(|(_, response)| response.status() == StatusCode::OK);
    let details = serde_json::json!({"role": role, "owner": owner, "replayed": replayed});
    audit(
        &state,
        &context,
        &origin,
        "Create",
        &access_key_id,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(|(_, response)| response)
}

/// Creates the key; its id and the answer.
async fn create(
    state: &ApiState,
    context: &AuthContext,
    headers: &HeaderMap,
    request: CreateKeyRequest,
) -> Result<(String, Response), Problem> {
    let owner = request.owner.unwrap_or_default();
    let user_id = match owner {
        KeyOwner::Tenant => {
            context.require(Action::ManageKeys)?;
            None
        }
        KeyOwner::Caller => {
            context.require(Action::ManageOwnKeys)?;
            Some(context.user_id()?)
        }
    };
    validate_name(&request.name)?;
    let role = default_role(request.role, context.role);
    if role > context.role {
        return Err(above_own_role());
    }
    let fingerprint = serde_json::json!({"name": request.name, "role": role, "owner": owner});
    let idempotency = idempotency_key(headers, &fingerprint)?;
    let material = key_material(state)?;
    let (credentials, sealed_secret) = admin::generate_credentials(&material.secret_box)
        .map_err(|error| Problem::internal(&format!("{error:#}")))?;
    let record = NewAccessKeyRecord {
        access_key_id: credentials.access_key_id,
        sealed_secret,
        name: request.name,
        role,
        user_id,
    };
    match state
        .store
        .create_access_key(context.tenant_id, record, idempotency)
        .await?
    {
        Creation::Created(key) => {
            tracing::info!(access_key_id = %key.access_key_id, role = %key.role, "access key created");
            let access_key_id = key.access_key_id.clone();
            let response = (
                StatusCode::CREATED,
                Json(created(key, credentials.secret_access_key)),
            )
                .into_response();
            Ok((access_key_id, response))
        }
        Creation::Replayed(Some(key)) => {
            let access_key_id = key.access_key_id.clone();
            Ok((access_key_id, replayed(Json(KeyView::from(key)))))
        }
        Creation::Replayed(None) => Err(Problem::conflict(
            "the key created with this Idempotency-Key has since been deleted",
        )),
        Creation::Conflict => Err(reused_key()),
    }
}

/// List the tenant's access keys (a member without admin: their own), oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "keys",
    security(("bearer" = []), ("sigv4" = [])),
    params(ListKeysQuery),
    responses(
        (status = 200, description = "A page of keys", body = KeyPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An access key caller without admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn list_keys(
    State(state): State<ApiState>,
    context: AuthContext,
    query: Result<Query<ListKeysQuery>, QueryRejection>,
) -> Result<Json<KeyPage>, Problem> {
    context.require(Action::ManageOwnKeys)?;
    // Without `ManageKeys`, a member sees their own keys only.
    let owner = if allows(context.role, Action::ManageKeys) {
        None
    } else {
        Some(context.user_id()?)
    };
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let limit = crate::api::page_limit(query.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let material = key_material(&state)?;
    let after = match query.cursor.as_deref() {
        None => None,
        Some(token) => {
            let cursor = material
                .cursors
                .verify::<Cursor>(token)
                .filter(|cursor| cursor.tenant_id == context.tenant_id.0)
                .ok_or_else(|| Problem::bad_request("invalid cursor"))?;
            let created_at = DateTime::<Utc>::from_timestamp_micros(cursor.created_at_micros)
                .ok_or_else(|| Problem::bad_request("invalid cursor"))?;
            Some(KeyPosition {
                created_at,
                access_key_id: cursor.access_key_id,
            })
        }
    };
    let mut keys = state
        .store
        .list_access_keys(
            context.tenant_id,
            owner,
            after.as_ref(),
            i64::from(limit) + 1,
        )
        .await?;
    let more = keys.len() > limit as usize;
    keys.truncate(limit as usize);
    let next_cursor = keys.last().filter(|_| more).map(|last| {
        material.cursors.sign(&Cursor {
            tenant_id: context.tenant_id.0,
            created_at_micros: last.created_at.timestamp_micros(),
            access_key_id: last.access_key_id.clone(),
        })
    });
    Ok(Json(KeyPage {
        items: keys.into_iter().map(KeyView::from).collect(),
        next_cursor,
    }))
}

/// Disable a key: the AWS endpoint refuses it within about a second.
#[utoipa::path(
    post,
    path = "/api/v1/keys/{id}/disable",
    tag = "keys",
    security(("bearer" = []), ("sigv4" = [])),
    params(("id" = String, Path, description = "The access key id")),
    responses(
        (status = 200, description = "The key, disabled", body = KeyView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the caller's own key and the caller is not an admin, or the key's role is above the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn disable_key(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(access_key_id): Path<String>,
) -> Result<Json<KeyView>, Problem> {
    let result = set_enabled(&state, &context, &access_key_id, false).await;
    let details = serde_json::json!({});
    audit(
        &state,
        &context,
        &origin,
        "Disable",
        &access_key_id,
        result.as_ref().err(),
        details,
    )
    .await;
    result
}

/// Enable a disabled key again.
#[utoipa::path(
    post,
    path = "/api/v1/keys/{id}/enable",
    tag = "keys",
    security(("bearer" = []), ("sigv4" = [])),
    params(("id" = String, Path, description = "The access key id")),
    responses(
        (status = 200, description = "The key, enabled", body = KeyView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the caller's own key and the caller is not an admin, or the key's role is above the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn enable_key(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(access_key_id): Path<String>,
) -> Result<Json<KeyView>, Problem> {
    let result = set_enabled(&state, &context, &access_key_id, true).await;
    let details = serde_json::json!({});
    audit(
        &state,
        &context,
        &origin,
        "Enable",
        &access_key_id,
        result.as_ref().err(),
        details,
    )
    .await;
    result
}

async fn set_enabled(
    state: &ApiState,
    context: &AuthContext,
    access_key_id: &str,
    enabled: bool,
) -> Result<Json<KeyView>, Problem> {
    manageable_key(state, context, access_key_id).await?;
    let key = state
        .store
        .set_access_key_enabled(context.tenant_id, access_key_id, enabled)
        .await
        .map_err(not_found_or)?;
    tracing::info!(access_key_id, enabled, "access key changed");
    Ok(Json(KeyView::from(key)))
}

/// Give a key a new secret (in this answer only); the old secret stops working within about
/// a second.
#[utoipa::path(
    post,
    path = "/api/v1/keys/{id}/rotate",
    tag = "keys",
    security(("bearer" = []), ("sigv4" = [])),
    params(("id" = String, Path, description = "The access key id")),
    responses(
        (status = 200, description = "The key with its new secret, shown once", body = CreatedKey),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the caller's own key and the caller is not an admin, or the key's role is above the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn rotate_key(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(access_key_id): Path<String>,
) -> Result<Json<CreatedKey>, Problem> {
    let result = rotate(&state, &context, &access_key_id).await;
    let details = serde_json::json!({});
    audit(
        &state,
        &context,
        &origin,
        "Rotate",
        &access_key_id,
        result.as_ref().err(),
        details,
    )
    .await;
    result
}

async fn rotate(
    state: &ApiState,
    context: &AuthContext,
    access_key_id: &str,
) -> Result<Json<CreatedKey>, Problem> {
    manageable_key(state, context, access_key_id).await?;
    let material = key_material(state)?;
    let secret =
        admin::generate_secret().map_err(|error| Problem::internal(&format!("{error:#}")))?;
    let sealed = material
        .secret_box
        .seal(&secret, access_key_id)
        .map_err(|error| Problem::internal(&error))?;
    let key = state
        .store
        .rotate_access_key_secret(context.tenant_id, access_key_id, sealed)
        .await
        .map_err(not_found_or)?;
    tracing::info!(access_key_id, "access key rotated");
    Ok(Json(created(key, secret)))
}

/// Delete a key: the AWS endpoint refuses it within about a second.
#[utoipa::path(
    delete,
    path = "/api/v1/keys/{id}",
    tag = "keys",
    security(("bearer" = []), ("sigv4" = [])),
    params(("id" = String, Path, description = "The access key id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the caller's own key and the caller is not an admin, or the key's role is above the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn delete_key(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(access_key_id): Path<String>,
) -> Result<StatusCode, Problem> {
    let result = delete(&state, &context, &access_key_id).await;
    let details = serde_json::json!({});
    audit(
        &state,
        &context,
        &origin,
        "Delete",
        &access_key_id,
        result.as_ref().err(),
        details,
    )
    .await;
    result
}

async fn delete(
    state: &ApiState,
    context: &AuthContext,
    access_key_id: &str,
) -> Result<StatusCode, Problem> {
    manageable_key(state, context, access_key_id).await?;
    state
        .store
        .delete_access_key(context.tenant_id, access_key_id)
        .await
        .map_err(not_found_or)?;
    tracing::info!(access_key_id, "access key deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_name_keys() {
        assert!(is_access_key_id("AKIAABCDEFGHIJKLMNOP"));
        for text in [
            "",
            "akiaabcdefghijklmnop",
            "AKIA",
            "AKIA'; DROP TABLE x",
            &"A".repeat(129),
        ] {
            assert!(!is_access_key_id(text), "{text}");
        }
    }

    #[test]
    fn names_are_short_and_printable() {
        assert!(validate_name("orders ingest").is_ok());
        assert!(validate_name(&"é".repeat(128)).is_ok());
        for name in ["", "   ", "a\nb", &"x".repeat(129)] {
            assert!(validate_name(name).is_err(), "{name:?}");
        }
    }
}
