//! `PUT /api/v1/me/password`: a signed-in user changes their own password.
//!
//! The current password is required (a stolen access token alone cannot lock the owner out),
//! and wrong guesses count against the sign-in limiter like failed sign-ins. The new password
//! follows [`crate::auth::password::check_new_password`]. Every refresh token of the user (in
//! every tenant) is revoked, and the answer is a fresh session in the caller's tenant, so the
//! caller carries on while other sessions end: their refresh tokens are revoked and their
//! access tokens carry the previous session epoch, which `AuthContext` refuses from the next
//! request on. Audited as `auth:ChangePassword`;
//! passwords are never logged or recorded.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::auth::{SessionResponse, open_session};
use crate::api::extract::{ApiJson, ClientAddress};
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::password::{MAX_PASSWORD_BYTES, check_new_password};
use crate::store::users::UserId;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// At least 12 characters, at most 1024 bytes.
    pub new_password: String,
}

/// Change your password; every other session ends at its next refresh.
#[utoipa::path(
    put,
    path = "/api/v1/me/password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Changed; a new session replaces the caller's", body = SessionResponse),
        (status = 400, description = "Malformed request, or the new password breaks the policy", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token, or the current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a signed-in user (an access key)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn change_password(
    State(state): State<ApiState>,
    context: AuthContext,
    ClientAddress(address): ClientAddress,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> Result<Json<SessionResponse>, Problem> {
    let result = change(&state, &context, address, request).await;
    let (resource, failure) = match &result {
        Ok((email, _)) => (email.clone(), None),
        Err(problem) => (String::new(), Some(problem)),
    };
    let mut entry = context
        .audit_entry("auth:ChangePassword".to_owned(), resource)
        .from_address(origin.source_ip.clone(), origin.user_agent.clone());
    if let Some(problem) = failure {
        let kind = problem.problem_type.rsplit(':').next().unwrap_or_default();
        entry = entry.failed(kind);
    }
    state.store.record_audit(context.tenant_id, entry).await;
    result.map(|(_, session)| Json(session))
}

/// Changes the password; the user's email and the new session.
async fn change(
    state: &ApiState,
    context: &AuthContext,
    address: Option<std::net::IpAddr>,
    request: ChangePasswordRequest,
) -> Result<(String, SessionResponse), Problem> {
    let user_id: UserId = context.user_id()?;
    if request.current_password.len() > MAX_PASSWORD_BYTES {
        return Err(Problem::bad_request("password must be at most 1024 bytes"));
    }
    check_new_password(&request.new_password).map_err(Problem::bad_request)?;
    let user = state.store.user(user_id).await?;
    if let Some(wait) = state.sign_in_limiter.check(&user.email, address).await? {
        return Err(Problem::too_many_requests(wait.as_secs()));
    }
    let stored = (!user.disabled).then(|| user.password_hash.clone());
    if !state
        .passwords
        .verify(request.current_password, stored)
        .await
    {
        state
            .sign_in_limiter
            .record_failure(&user.email, address)
            .await?;
        return Err(Problem::invalid_credentials());
    }
    let hash = state
        .passwords
        .hash(request.new_password)
        .await
        .map_err(|error| Problem::internal(&error))?;
    state.store.reset_password(user_id, hash).await?;
    state.sign_in_limiter.clear_account(&user.email).await?;
    let memberships = state.store.memberships_of(user_id).await?;
    let current = memberships
        .iter()
        .find(|membership| membership.tenant_id == context.tenant_id)
        .ok_or_else(Problem::invalid_token)?;
    let session = open_session(state, user_id, current, &memberships).await?;
    tracing::info!(user_id = %user_id.0, "password changed");
    Ok((user.email, session))
}
