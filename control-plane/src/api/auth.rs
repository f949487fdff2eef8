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
use crate::api::audit::RequestOrigin;
use crate::api::extract::{ApiJson, ClientAddress};
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::password::MAX_PASSWORD_BYTES;
use crate::auth::permissions::Role;
use crate::auth::session::{self, MAX_REFRESH_TOKEN_LENGTH};
use crate::auth::{MAX_EMAIL_LENGTH, normalize_email};
use crate::store::TenantId;
use crate::store::audit::{ActorType, AuditEntry};
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
pub(crate) async fn open_session(
    state: &ApiState,
    user_id: UserId,
    chosen: &Membership,
    memberships: &[Membership],
) -> Result<SessionResponse, Problem> {
    let now = Utc::now();
    let session_epoch = state.store.session_epoch(user_id).await?;
    let access = state
        .sessions
        .issue(user_id, chosen.tenant_id, chosen.role, session_epoch, now)
        .map_err(|error| Problem::internal(&error))?;
    let refresh = session::new_refresh_token(now).map_err(|error| Problem::internal(&error))?;
    state
        .store
        .insert_refresh_token(chosen.tenant_id, user_id, refresh.record)
        .await?;
    Ok(session_response(access, refresh.token, chosen, memberships))
}

pub(crate) fn session_response(
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

/// The membership in the tenant `wanted` names: its 12-digit account id or its name.
pub(crate) fn find_membership<'a>(
    memberships: &'a [Membership],
    wanted: &str,
) -> Option<&'a Membership> {
    memberships
        .iter()
        .find(|membership| membership.account_id == wanted || membership.tenant_name == wanted)
}

/// An audit entry of an auth event by `user_id` about `email`.
pub(crate) fn auth_event(
    user_id: UserId,
    action: &str,
    email: &str,
    origin: &RequestOrigin,
) -> AuditEntry {
    AuditEntry::new(
        ActorType::User,
        user_id.0.to_string(),
        format!("auth:{action}"),
        email,
    )
    .from_address(origin.source_ip.clone(), origin.user_agent.clone())
}

/// The kind of a problem (`invalid-credentials`), as the audit log's error code.
pub(crate) fn problem_kind(problem: &Problem) -> &str {
    problem.problem_type.rsplit(':').next().unwrap_or_default()
}

/// Records a refused sign-in of a known user under their first tenant (by name), if any.
/// Spawned, so that a known email is not answered measurably slower than an unknown one.
fn record_refused_sign_in(state: &ApiState, user_id: UserId, entry: AuditEntry) {
    let store = state.store.clone();
    tokio::spawn(async move {
        match store.memberships_of(user_id).await {
            Ok(memberships) => {
                if let Some(first) = memberships.first() {
                    store.record_audit(first.tenant_id, entry).await;
                }
            }
            Err(error) => {
                tracing::error!(%error, "failed to audit a refused sign-in");
            }
        }
    });
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
    origin: RequestOrigin,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<Json<SessionResponse>, Problem> {
    let email = normalize_email(&request.email);
    if email.len() > MAX_EMAIL_LENGTH {
        return Err(Problem::bad_request("email must be at most 254 characters"));
    }
    if request.password.len() > MAX_PASSWORD_BYTES {
        return Err(Problem::bad_request("password must be at most 1024 bytes"));
    }
    // No stored email has control characters (Postgres text cannot even hold NUL): answer
    // like an unknown email without touching the store.
    if email.chars().any(char::is_control) {
        return Err(Problem::invalid_credentials());
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
    let known_user = user.as_ref().map(|user| UserId(user.id));
    let Some(user) = user.filter(|_| verified) else {
        if let Some(user_id) = known_user {
            let problem = Problem::invalid_credentials();
            let entry =
                auth_event(user_id, "SignIn", &email, &origin).failed(problem_kind(&problem));
            record_refused_sign_in(&state, user_id, entry);
        }
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
        Some(wanted) => find_membership(&memberships, wanted)
            .ok_or_else(|| Problem::forbidden("you are not a member of the requested tenant")),
        None => memberships
            .first()
            .ok_or_else(|| Problem::forbidden("you are not a member of any tenant")),
    };
    let chosen = match chosen {
        Ok(chosen) => chosen,
        Err(problem) => {
            if let Some(first) = memberships.first() {
                let entry = auth_event(user_id, "SignIn", &email, &origin)
                    .failed(problem_kind(&problem))
                    .with_details(serde_json::json!({ "requested_tenant": request.tenant }));
                state.store.record_audit(first.tenant_id, entry).await;
            }
            return Err(problem);
        }
    };
    let response = open_session(&state, user_id, chosen, &memberships).await?;
    let entry = auth_event(user_id, "SignIn", &email, &origin)
        .with_details(serde_json::json!({ "role": chosen.role }));
    state.store.record_audit(chosen.tenant_id, entry).await;
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
    origin: RequestOrigin,
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
            let problem = Problem::invalid_refresh_token();
            record_user_event(
                &state,
                tenant_id,
                user_id,
                "RefreshTokenReuse",
                &origin,
                Some(&problem),
            )
            .await;
            return Err(problem);
        }
        Rotation::Refused => return Err(Problem::invalid_refresh_token()),
    };
    let session_epoch = state.store.session_epoch(user_id).await?;
    let access = state
        .sessions
        .issue(user_id, tenant_id, role, session_epoch, now)
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
    origin: RequestOrigin,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<StatusCode, Problem> {
    if request.refresh_token.len() <= MAX_REFRESH_TOKEN_LENGTH {
        let hash = session::hash_refresh_token(&request.refresh_token);
        if let Some((tenant_id, user_id)) = state.store.revoke_refresh_token(hash).await? {
            record_user_event(&state, tenant_id, user_id, "SignOut", &origin, None).await;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Records an auth event of a user whose email is looked up (the refresh and sign-out calls
/// carry only a token); `problem` marks it a failure.
async fn record_user_event(
    state: &ApiState,
    tenant_id: TenantId,
    user_id: UserId,
    action: &str,
    origin: &RequestOrigin,
    problem: Option<&Problem>,
) {
    let email = match state.store.user(user_id).await {
        Ok(user) => user.email,
        Err(error) => {
            tracing::warn!(%error, "cannot name the user of an audited auth event");
            String::new()
        }
    };
    let mut entry = auth_event(user_id, action, &email, origin);
    if let Some(problem) = problem {
        entry = entry.failed(problem_kind(problem));
    }
    state.store.record_audit(tenant_id, entry).await;
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
        (status = 403, description = "Called with an access key: the endpoint is for signed-in users", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn me(
    State(state): State<ApiState>,
    context: AuthContext,
) -> Result<Json<MeResponse>, Problem> {
    let user_id = context.user_id()?;
    let user = state
        .store
        .user(user_id)
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound => Problem::invalid_token(),
            other => Problem::from(other),
        })?;
    let memberships = state.store.memberships_of(user_id).await?;
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
