//! Sign-in, token refresh, sign-out and `GET /api/v1/me`.
//!
//! Wrong password, unknown email and disabled user get the same 401 in about the same time.
//! Passwords and tokens are never logged.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::ApiState;
use crate::api::extract::{ApiJson, ClientAddress};
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::password::MAX_PASSWORD_BYTES;
use crate::auth::permissions::Role;
use crate::auth::session::{self, MAX_REFRESH_TOKEN_LENGTH};
use crate::auth::{MAX_EMAIL_LENGTH, normalize_email};
use crate::store::sessions::Rotation;
use crate::store::users::{Membership, UserId};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    pub password: String,
    /// The tenant to sign in to: its 12-digit account id or its name. Defaults to the
    /// user's first tenant by name.
    #[serde(default)]
    pub tenant: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    #[schema(example = "123456789012")]
    pub account_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MembershipView {
    pub tenant: TenantView,
    pub role: Role,
}

/// A new session: an access token and the refresh token to renew it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: each refresh returns a new one.
    pub refresh_token: String,
    /// The tenant the session is bound to.
    pub tenant: TenantView,
    pub role: Role,
    /// Every tenant the user belongs to, by name.
    pub memberships: Vec<MembershipView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub is_operator: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub tenant: TenantView,
    pub role: Role,
    pub memberships: Vec<MembershipView>,
}

impl From<&Membership> for MembershipView {
    fn from(membership: &Membership) -> Self {
        Self {
            tenant: TenantView {
                id: membership.tenant_id.0,
                account_id: membership.account_id.clone(),
                name: membership.tenant_name.clone(),
            },
            role: membership.role,
        }
    }
}

/// Issues and stores a session for a member whose memberships are already loaded.
async fn open_session(
    state: &ApiState,
    user_id: UserId,
    chosen: &Membership,
    memberships: &[Membership],
) -> Result<SessionResponse, Problem> {
    let now = Utc::now();
    let access = state
        .sessions
        .issue(user_id, chosen.tenant_id, chosen.role, now)
        .map_err(|error| Problem::internal(&error))?;
    let refresh = session::new_refresh_token(now).map_err(|error| Problem::internal(&error))?;
    state
        .store
        .insert_refresh_token(chosen.tenant_id, user_id, refresh.record)
        .await?;
    Ok(session_response(access, refresh.token, chosen, memberships))
}

fn session_response(
    access: session::AccessToken,
    refresh_token: String,
    chosen: &Membership,
    memberships: &[Membership],
) -> SessionResponse {
    let chosen = MembershipView::from(chosen);
    SessionResponse {
        access_token: access.token,
        token_type: "Bearer".to_owned(),
        expires_in: access.expires_in_seconds,
        refresh_token,
        tenant: chosen.tenant,
        role: chosen.role,
        memberships: memberships.iter().map(MembershipView::from).collect(),
    }
}

/// Sign in with email and password.
#[utoipa::path(
    post,
    path = "/api/v1/auth/sign-in",
    tag = "auth",
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionResponse),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid email or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the requested tenant", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn sign_in(
    State(state): State<ApiState>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<Json<SessionResponse>, Problem> {
    let email = normalize_email(&request.email);
    if email.len() > MAX_EMAIL_LENGTH {
        return Err(Problem::bad_request("email must be at most 254 characters"));
    }
    if request.password.len() > MAX_PASSWORD_BYTES {
        return Err(Problem::bad_request("password must be at most 1024 bytes"));
    }
    if let Some(wait) = state.sign_in_limiter.check(&email, address).await? {
        tracing::info!(
            client_address = address.map(tracing::field::display),
            "sign-in rate limited"
        );
        return Err(Problem::too_many_requests(wait.as_secs()));
    }
    let user = state.store.user_by_email(&email).await?;
    let stored_hash = user
        .as_ref()
        .filter(|user| !user.disabled)
        .map(|user| user.password_hash.clone());
    let verified = state.passwords.verify(request.password, stored_hash).await;
    let Some(user) = user.filter(|_| verified) else {
        state
            .sign_in_limiter
            .record_failure(&email, address)
            .await?;
        tracing::info!(
            client_address = address.map(tracing::field::display),
            "sign-in refused"
        );
        return Err(Problem::invalid_credentials());
    };
    state.sign_in_limiter.clear_account(&email).await?;
    let user_id = UserId(user.id);
    let memberships = state.store.memberships_of(user_id).await?;
    let chosen = match request.tenant.as_deref() {
        Some(wanted) => memberships
            .iter()
            .find(|membership| membership.account_id == wanted || membership.tenant_name == wanted)
            .ok_or_else(|| Problem::forbidden("you are not a member of the requested tenant"))?,
        None => memberships
            .first()
            .ok_or_else(|| Problem::forbidden("you are not a member of any tenant"))?,
    };
    let response = open_session(&state, user_id, chosen, &memberships).await?;
    tracing::info!(user_id = %user.id, tenant_id = %chosen.tenant_id.0, "signed in");
    Ok(Json(response))
}

/// Exchange a refresh token for a new session; the presented token stops working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token and refresh token", body = SessionResponse),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<SessionResponse>, Problem> {
    if request.refresh_token.len() > MAX_REFRESH_TOKEN_LENGTH {
        return Err(Problem::invalid_refresh_token());
    }
    let now = Utc::now();
    let next = session::new_refresh_token(now).map_err(|error| Problem::internal(&error))?;
    let presented = session::hash_refresh_token(&request.refresh_token);
    let (tenant_id, user_id, role) = match state
        .store
        .rotate_refresh_token(presented, next.record)
        .await?
    {
        Rotation::Rotated {
            tenant_id,
            user_id,
            role,
        } => (tenant_id, user_id, role),
        Rotation::Reused { tenant_id, user_id } => {
            tracing::warn!(user_id = %user_id.0, tenant_id = %tenant_id.0, "refresh token reused; revoked the user's sessions in the tenant");
            return Err(Problem::invalid_refresh_token());
        }
        Rotation::Refused => return Err(Problem::invalid_refresh_token()),
    };
    let access = state
        .sessions
        .issue(user_id, tenant_id, role, now)
        .map_err(|error| Problem::internal(&error))?;
    let memberships = state.store.memberships_of(user_id).await?;
    let Some(chosen) = memberships
        .iter()
        .find(|membership| membership.tenant_id == tenant_id)
    else {
        return Err(Problem::invalid_refresh_token());
    };
    Ok(Json(session_response(
        access,
        next.token,
        chosen,
        &memberships,
    )))
}

/// Revoke a refresh token. Access tokens already issued expire on their own (15 minutes).
#[utoipa::path(
    post,
    path = "/api/v1/auth/sign-out",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Signed out (also when the token was unknown or already revoked)"),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn sign_out(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<StatusCode, Problem> {
    if request.refresh_token.len() <= MAX_REFRESH_TOKEN_LENGTH {
        let hash = session::hash_refresh_token(&request.refresh_token);
        state.store.revoke_refresh_token(hash).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user, the session's tenant and role, and every membership.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn me(
    State(state): State<ApiState>,
    context: AuthContext,
) -> Result<Json<MeResponse>, Problem> {
    let user = state
        .store
        .user(context.user_id)
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound => Problem::invalid_token(),
            other => Problem::from(other),
        })?;
    let memberships = state.store.memberships_of(context.user_id).await?;
    let current = memberships
        .iter()
        .find(|membership| membership.tenant_id == context.tenant_id)
        .filter(|_| !user.disabled)
        .ok_or_else(Problem::invalid_token)?;
    let current = MembershipView::from(current);
    Ok(Json(MeResponse {
        user: UserView {
            id: user.id,
            email: user.email,
            is_operator: user.is_operator,
        },
        tenant: current.tenant,
        role: current.role,
        memberships: memberships.iter().map(MembershipView::from).collect(),
    }))
}
