//! A tenant's members under `/api/v1/users`: list, change a member's role, remove a member
//! (or leave). Listing and changing others need `ManageUsers` (admins and owners); any member
//! may remove themselves.
//!
//! The rules ([`crate::auth::members`]): nobody grants a role above their own, only an owner
//! changes or removes an owner, and the tenant keeps at least one owner (409 otherwise, checked
//! under a lock so concurrent demotions cannot both pass). A user id that is not a member of
//! the caller's tenant is a 404 like one that never existed. A change takes effect on the
//! member's next request: the role is read from the membership on every call. Demoting a
//! member caps their personal access keys at the new role; removing one also revokes their
//! refresh tokens in the tenant and deletes the access keys they own there.
//!
//! Every change is recorded in the audit log (`users:ChangeRole`, `users:Remove`,
//! `users:Leave`) with the member's email as the resource, refused ones with their problem kind.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::audit::RequestOrigin;
use crate::api::extract::ApiJson;
use crate::api::problem::Problem;
use crate::api::{ApiState, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::auth::context::AuthContext;
use crate::auth::members::Refusal;
use crate::auth::permissions::{Action, Role};
use crate::store::members::{MemberPosition, MemberRecord, Removal, RoleChange};
use crate::store::users::UserId;

/// A member of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    #[schema(example = "ada@example.com")]
    pub email: String,
    pub role: Role,
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    pub items: Vec<MemberView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    /// The member's new role; at most the caller's own.
    pub role: Role,
}

/// `limit` and `cursor` of the member and invitation lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Entries per page, 1-200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What a member or invitation list cursor carries, under the member cursor MAC: which list,
/// the tenant, and the last entry's (time, id).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(rename = "l")]
    list: String,
    #[serde(rename = "t")]
    tenant_id: Uuid,
    #[serde(rename = "c")]
    at_micros: i64,
    #[serde(rename = "i")]
    id: Uuid,
}

/// The last entry of a page: its time and id.
pub(crate) type ListPosition = (DateTime<Utc>, Uuid);

/// The requested page size and position in `list` (`"users"` or `"invitations"`).
pub(crate) fn page_position(
    state: &ApiState,
    context: &AuthContext,
    list: &str,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<(u32, Option<ListPosition>), Problem> {
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let limit = crate::api::page_limit(query.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let Some(token) = query.cursor.as_deref() else {
        return Ok((limit, None));
    };
    let cursor = state
        .member_cursors
        .verify::<Cursor>(token)
        .filter(|cursor| cursor.tenant_id == context.tenant_id.0 && cursor.list == list)
        .ok_or_else(|| Problem::bad_request("invalid cursor"))?;
    let at = DateTime::<Utc>::from_timestamp_micros(cursor.at_micros)
        .ok_or_else(|| Problem::bad_request("invalid cursor"))?;
    Ok((limit, Some((at, cursor.id))))
}

/// The cursor after `(at, id)`, the last entry of a page.
pub(crate) fn next_cursor(
    state: &ApiState,
    context: &AuthContext,
    list: &str,
    at: DateTime<Utc>,
    id: Uuid,
) -> String {
    state.member_cursors.sign(&Cursor {
        list: list.to_owned(),
        tenant_id: context.tenant_id.0,
        at_micros: at.timestamp_micros(),
        id,
    })
}

impl From<MemberRecord> for MemberView {
    fn from(member: MemberRecord) -> Self {
        Self {
            user_id: member.user_id.0,
            email: member.email,
            role: member.role,
            joined_at: member.joined_at,
        }
    }
}

/// The problem for a refused membership change.
pub(crate) fn refused(refusal: Refusal) -> Problem {
    match refusal {
        Refusal::LastOwner => Problem::conflict(refusal.detail()),
        Refusal::NotAllowed | Refusal::AboveOwnRole | Refusal::TargetIsOwner => {
            Problem::forbidden(refusal.detail())
        }
    }
}

/// Records a user-management call in the audit log with its outcome; never a password or
/// token. `resource` is the member's (or invitee's) email, else the id from the path.
pub(crate) async fn audit(
    state: &ApiState,
    context: &AuthContext,
    origin: &RequestOrigin,
    action: &str,
    resource: &str,
    failure: Option<&Problem>,
    details: serde_json::Value,
) {
    crate::api::audit::record_change(
        state,
        context,
        origin,
        format!("users:{action}"),
        resource,
        failure,
        details,
    )
    .await;
}

/// A user id from the path; anything that is not a UUID names no member.
fn parse_user_id(text: &str) -> Result<UserId, Problem> {
    Uuid::parse_str(text)
        .map(UserId)
        .map_err(|_| Problem::not_found())
}

/// List the tenant's members, oldest membership first.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of members", body = MemberPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin; access keys are refused (people only)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn list_users(
    State(state): State<ApiState>,
    context: AuthContext,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<MemberPage>, Problem> {
    // Managing people is for people: access keys get a 403 (ADR 007).
    context.user_id()?;
    context.require(Action::ManageUsers)?;
    let (limit, after) = page_position(&state, &context, "users", query)?;
    let after = after.map(|(joined_at, user_id)| MemberPosition { joined_at, user_id });
    let mut members = state
        .store
        .list_members(context.tenant_id, after, i64::from(limit) + 1)
        .await?;
    let more = members.len() > limit as usize;
    members.truncate(limit as usize);
    let next_cursor = members
        .last()
        .filter(|_| more)
        .map(|last| next_cursor(&state, &context, "users", last.joined_at, last.user_id.0));
    Ok(Json(MemberPage {
        items: members.into_iter().map(MemberView::from).collect(),
        next_cursor,
    }))
}

/// Change a member's role; it applies from the member's next request.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The member's user id")),
    request_body = ChangeRoleRequest,
    responses(
        (status = 200, description = "The member with the new role", body = MemberView),
        (status = 400, description = "Malformed request or unknown role", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin; the role is above the caller's; or the member is an owner and the caller is not", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member in the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The member is the tenant's last owner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn change_role(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ChangeRoleRequest>,
) -> Result<Json<MemberView>, Problem> {
    let result = change(&state, &context, &id, request.role).await;
    let (resource, details) = match &result {
        Ok((member, previous_role, capped_keys)) => (
            member.email.clone(),
            serde_json::json!({
                "user_id": member.user_id, "role": member.role,
                "previous_role": previous_role, "capped_keys": capped_keys,
            }),
        ),
        Err(_) => (id.clone(), serde_json::json!({"role": request.role})),
    };
    audit(
        &state,
        &context,
        &origin,
        "ChangeRole",
        &resource,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(|(member, _, _)| Json(member))
}

async fn change(
    state: &ApiState,
    context: &AuthContext,
    id: &str,
    role: Role,
) -> Result<(MemberView, Role, Vec<String>), Problem> {
    context.require(Action::ManageUsers)?;
    let caller = context.user_id()?;
    let target = parse_user_id(id)?;
    match state
        .store
        .change_member_role(context.tenant_id, caller, target, role)
        .await?
    {
        RoleChange::Changed {
            member,
            previous_role,
            capped_keys,
        } => {
            tracing::info!(user_id = %member.user_id.0, role = %member.role, %previous_role, capped_keys = capped_keys.len(), "member role changed");
            Ok((MemberView::from(member), previous_role, capped_keys))
        }
        RoleChange::NotFound => Err(Problem::not_found()),
        RoleChange::Refused(refusal) => Err(refused(refusal)),
    }
}

/// Remove a member from the tenant, or leave it (your own user id). Their sessions in the
/// tenant end and the access keys they own there are deleted.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The member's user id (your own to leave)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin (except to leave), or the member is an owner and the caller is not", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member in the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The member is the tenant's last owner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn remove_user(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let leaving = matches!(
        (context.user_id(), parse_user_id(&id)),
        (Ok(caller), Ok(target)) if caller == target
    );
    let result = remove(&state, &context, &id).await;
    let (resource, details) = match &result {
        Ok((member, revoked_sessions, deleted_keys)) => (
            member.email.clone(),
            serde_json::json!({
                "user_id": member.user_id, "role": member.role,
                "revoked_sessions": revoked_sessions, "deleted_keys": deleted_keys,
            }),
        ),
        Err(_) => (id.clone(), serde_json::json!({})),
    };
    let action = if leaving { "Leave" } else { "Remove" };
    audit(
        &state,
        &context,
        &origin,
        action,
        &resource,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(|_| StatusCode::NO_CONTENT)
}

async fn remove(
    state: &ApiState,
    context: &AuthContext,
    id: &str,
) -> Result<(MemberView, u64, Vec<String>), Problem> {
    let caller = context.user_id()?;
    let target = parse_user_id(id)?;
    if caller != target {
        context.require(Action::ManageUsers)?;
    }
    match state
        .store
        .remove_member(context.tenant_id, caller, target)
        .await?
    {
        Removal::Removed {
            member,
            revoked_sessions,
            deleted_keys,
        } => {
            tracing::info!(
                user_id = %member.user_id.0,
                revoked_sessions,
                deleted_keys = deleted_keys.len(),
                "member removed"
            );
            Ok((MemberView::from(member), revoked_sessions, deleted_keys))
        }
        Removal::NotFound => Err(Problem::not_found()),
        Removal::Refused(refusal) => Err(refused(refusal)),
    }
}
