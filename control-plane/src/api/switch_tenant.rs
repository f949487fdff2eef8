//! `POST /api/v1/auth/switch-tenant`: a signed-in member of several tenants opens a session
//! in another of them (or a fresh one in the same) without typing their password again.
//!
//! Only a person's bearer token will do; an access key gets the 403 of endpoints for people.
//! The target is named as in sign-in's `tenant` (12-digit account id or name). A tenant the
//! caller is not a member of is a 404 whether it exists or not, so tenant names do not leak.
//! The new session keeps the caller's session epoch, and its refresh token is stored only
//! while that session is still good (the user enabled, a member of the target, no password
//! change since), see [`crate::store::Store::insert_refresh_token_if_current`]. The caller's
//! old refresh token stays valid; the client may end it with sign-out.
//!
//! Audited as `auth:SwitchTenant` in the target tenant; a refused switch in the caller's
//! current tenant, with the requested tenant as given. Tokens are never logged.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::auth::{
    SessionResponse, auth_event, find_membership, problem_kind, session_response,
};
use crate::api::extract::ApiJson;
use crate::api::problem::Problem;
use crate::auth::context::{AuthContext, BearerClaims};
use crate::auth::session;
use crate::store::StoreError;
use crate::store::users::Membership;

/// Longest tenant reference worth looking up: tenant names are 1-128 characters.
const MAX_TENANT_REFERENCE_CHARS: usize = 128;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchTenantRequest {
    /// The tenant to switch to: its 12-digit account id or its name. The current tenant is
    /// allowed (a fresh session).
    #[schema(example = "123456789012")]
    pub tenant: String,
}

/// Open a session in another of your tenants without signing in again.
#[utoipa::path(
    post,
    path = "/api/v1/auth/switch-tenant",
    tag = "auth",
    security(("bearer" = [])),
    request_body = SwitchTenantRequest,
    responses(
        (status = 200, description = "A new session bound to the requested tenant; the caller's session stays valid", body = SessionResponse),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token, or the session ended (password changed, user disabled)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Called with an access key: the endpoint is for signed-in users", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No tenant of that account id or name that the caller is a member of", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn switch_tenant(
    State(state): State<ApiState>,
    context: AuthContext,
    BearerClaims(claims): BearerClaims,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<SwitchTenantRequest>,
) -> Result<Json<SessionResponse>, Problem> {
    let user_id = context.user_id()?;
    debug_assert_eq!(
        user_id.0, claims.sub,
        "the context comes from the same token"
    );
    let wanted = request.tenant;
    if wanted.is_empty()
        || wanted.chars().count() > MAX_TENANT_REFERENCE_CHARS
        || wanted.chars().any(char::is_control)
    {
        return Err(Problem::bad_request(
            "tenant must be a 12-digit account id or a tenant name of 1-128 printable characters",
        ));
    }
    let user = state
        .store
        .user(user_id)
        .await
        .map_err(|error| match error {
            StoreError::NotFound => Problem::invalid_token(),
            other => Problem::from(other),
        })?;
    let memberships = state.store.memberships_of(user_id).await?;
    let Some(target) = find_membership(&memberships, &wanted) else {
        let problem = Problem::not_found();
        let entry = auth_event(user_id, "SwitchTenant", &user.email, &origin)
            .failed(problem_kind(&problem))
            .with_details(serde_json::json!({ "requested_tenant": wanted }));
        state.store.record_audit(context.tenant_id, entry).await;
        tracing::info!(user_id = %user_id.0, "tenant switch refused: not a member");
        return Err(problem);
    };
    let now = Utc::now();
    let refresh = session::new_refresh_token(now).map_err(|error| Problem::internal(&error))?;
    // The role as locked with the stored token: the membership may have changed since the
    // list was read.
    let Some(role) = state
        .store
        .insert_refresh_token_if_current(target.tenant_id, user_id, claims.sep, refresh.record)
        .await?
    else {
        tracing::info!(user_id = %user_id.0, "tenant switch refused: the session ended");
        return Err(Problem::invalid_token());
    };
    let target = Membership {
        role,
        ..target.clone()
    };
    let access = state
        .sessions
        .issue(user_id, target.tenant_id, role, claims.sep, now)
        .map_err(|error| Problem::internal(&error))?;
    let response = session_response(access, refresh.token, &target, &memberships);
    // Like sign-in's entry: the target's admins learn nothing of the caller's other tenants.
    let entry = auth_event(user_id, "SwitchTenant", &user.email, &origin)
        .with_details(serde_json::json!({ "role": role }));
    state.store.record_audit(target.tenant_id, entry).await;
    tracing::info!(
        user_id = %user_id.0,
        to_tenant_id = %target.tenant_id.0,
        "switched tenant"
    );
    Ok(Json(response))
}
