//! Invitations under `/api/v1/invitations` and their acceptance at
//! `POST /api/v1/auth/accept-invitation`.
//!
//! There is no mail server: creating an invitation (`ManageUsers`, a role at most the
//! caller's) answers with a random one-time token, once, and an `accept_path` for the console;
//! the admin hands it over. Only the token's SHA-256 is stored. An invitation lives 7 days.
//!
//! Accepting needs no session: the token is the proof. For an email without an account it
//! creates the user with the given password (the password policy of
//! [`crate::auth::password::check_new_password`]); for an existing account the password must be
//! that account's current one, so a token alone cannot take an account over. An unknown,
//! expired, used or revoked token gets one and the same 400 problem. Failed accepts count
//! against the sign-in limiter (the address for bad tokens, the account and address for wrong
//! passwords).
//!
//! `Idempotency-Key` on create works as on `POST /api/v1/keys`: a repeat within 24 hours
//! creates nothing and answers 200 with the invitation, without its token.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use fjord_common::secret::random_bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::auth::{SessionResponse, open_session};
use crate::api::extract::{ApiJson, ClientAddress};
use crate::api::idempotency::{idempotency_key, replayed, reused_key};
use crate::api::problem::Problem;
use crate::api::users::{PageQuery, audit, next_cursor, page_position, refused};
use crate::auth::context::AuthContext;
use crate::auth::members::{self, Refusal};
use crate::auth::password::{MAX_PASSWORD_BYTES, check_new_password};
use crate::auth::permissions::{Action, Role};
use crate::auth::{MAX_EMAIL_LENGTH, is_valid_email, normalize_email};
use crate::store::StoreError;
use crate::store::audit::{ActorType, AuditEntry};
use crate::store::invitations::{
    Acceptance, InvitationCreation, InvitationPosition, InvitationRecord, InvitationStatus,
    Invitee, NewInvitation,
};
use crate::store::users::UserId;

/// How long an invitation can be accepted.
pub const INVITATION_LIFETIME: chrono::Duration = chrono::Duration::days(7);
/// Longest token worth hashing; real ones are 43 characters.
const MAX_TOKEN_LENGTH: usize = 64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[schema(example = "grace@example.com")]
    pub email: String,
    /// The role the invitee gets; at most the caller's own.
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation.
    pub token: String,
    /// For a new account, its password (at least 12 characters); for an existing account,
    /// its current password.
    pub password: String,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Expired,
    Accepted,
    Revoked,
}

/// An invitation as listed: never its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub status: InvitationState,
    /// The user who invited.
    pub invited_by: Option<Uuid>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
}

/// A new invitation with its token: answered once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// Shown once: hand it to the invitee. Accept with `POST /api/v1/auth/accept-invitation`.
    pub token: String,
    /// Where the console accepts it; the token is in the fragment, which browsers never send
    /// to a server.
    #[schema(example = "/accept-invitation#token=...")]
    pub accept_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPage {
    pub items: Vec<InvitationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<InvitationRecord> for InvitationView {
    fn from(invitation: InvitationRecord) -> Self {
        Self {
            id: invitation.id,
            email: invitation.email,
            role: invitation.role,
            status: match invitation.status {
                InvitationStatus::Pending => InvitationState::Pending,
                InvitationStatus::Expired => InvitationState::Expired,
                InvitationStatus::Accepted => InvitationState::Accepted,
                InvitationStatus::Revoked => InvitationState::Revoked,
            },
            invited_by: invitation.invited_by.map(|user_id| user_id.0),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        }
    }
}

/// The one answer for an unknown, expired, used or revoked token.
fn invalid_invitation() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-invitation",
        "Invalid invitation",
        Some("the invitation is invalid, expired or already used".to_owned()),
    )
}

/// The SHA-256 under which an invitation token is stored.
fn hash_token(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

/// A normalized, acceptable email; a 400 problem else.
fn invitee_email(email: &str) -> Result<String, Problem> {
    let email = normalize_email(email);
    if email.chars().any(char::is_control) || !is_valid_email(&email) {
        return Err(Problem::bad_request(format!(
            "email must be an email address of at most {MAX_EMAIL_LENGTH} characters"
        )));
    }
    Ok(email)
}

/// Invite someone to the tenant; the token is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/invitations",
    tag = "users",
    security(("bearer" = [])),
    request_body = CreateInvitationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats within 24 h create nothing: 200 with the invitation, without its token")),
    responses(
        (status = 201, description = "Created; the token is shown once", body = CreatedInvitation),
        (status = 200, description = "Idempotent replay: the invitation created before, without its token", body = InvitationView),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin, or the role is above the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member, or the idempotency key was used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn create_invitation(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateInvitationRequest>,
) -> Result<Response, Problem> {
    let role = request.role;
    let resource = normalize_email(&request.email);
    let result = create(&state, &context, &headers, request).await;
    let details = match &result {
        Ok((id, response)) => serde_json::json!({
            "invitation_id": id, "role": role,
            "replayed": response.status() == StatusCode::OK,
        }),
        Err(_) => serde_json::json!({"role": role}),
    };
    audit(
        &state,
        &context,
        &origin,
        "Invite",
        &resource,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(|(_, response)| response)
}

async fn create(
    state: &ApiState,
    context: &AuthContext,
    headers: &HeaderMap,
    request: CreateInvitationRequest,
) -> Result<(Uuid, Response), Problem> {
    context.require(Action::ManageUsers)?;
    let invited_by = context.user_id()?;
    let email = invitee_email(&request.email)?;
    members::may_invite(context.role, request.role).map_err(refused)?;
    let fingerprint = serde_json::json!({"email": email, "role": request.role});
    let idempotency = idempotency_key(headers, &fingerprint)?;
    let token = BASE64URL.encode(random_bytes::<32>().map_err(|error| Problem::internal(&error))?);
    let invitation = NewInvitation {
        id: Uuid::now_v7(),
        email,
        role: request.role,
        token_hash: hash_token(&token),
        invited_by,
        expires_at: Utc::now() + INVITATION_LIFETIME,
    };
    match state
        .store
        .create_invitation(context.tenant_id, invitation, idempotency)
        .await
    {
        Ok(InvitationCreation::Created(invitation)) => {
            tracing::info!(invitation_id = %invitation.id, role = %invitation.role, "invitation created");
            let id = invitation.id;
            let body = CreatedInvitation {
                invitation: InvitationView::from(invitation),
                accept_path: format!("/accept-invitation#token={token}"),
                token,
            };
            Ok((id, (StatusCode::CREATED, Json(body)).into_response()))
        }
        Ok(InvitationCreation::Replayed(invitation)) => {
            let id = invitation.id;
            Ok((id, replayed(Json(InvitationView::from(invitation)))))
        }
        Ok(InvitationCreation::Conflict) => Err(reused_key()),
        Err(StoreError::AlreadyExists) => Err(Problem::conflict("this email is already a member")),
        Err(error) => Err(error.into()),
    }
}

/// List the tenant's open invitations (pending or expired), oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/invitations",
    tag = "users",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of invitations", body = InvitationPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin; access keys are refused (people only)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn list_invitations(
    State(state): State<ApiState>,
    context: AuthContext,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<InvitationPage>, Problem> {
    // Managing people is for people: access keys get a 403 (ADR 007).
    context.user_id()?;
    context.require(Action::ManageUsers)?;
    let (limit, after) = page_position(&state, &context, "invitations", query)?;
    let after = after.map(|(created_at, id)| InvitationPosition { created_at, id });
    let mut invitations = state
        .store
        .list_invitations(context.tenant_id, after, i64::from(limit) + 1)
        .await?;
    let more = invitations.len() > limit as usize;
    invitations.truncate(limit as usize);
    let next_cursor = invitations
        .last()
        .filter(|_| more)
        .map(|last| next_cursor(&state, &context, "invitations", last.created_at, last.id));
    Ok(Json(InvitationPage {
        items: invitations.into_iter().map(InvitationView::from).collect(),
        next_cursor,
    }))
}

/// Revoke an open invitation: its token stops working.
#[utoipa::path(
    delete,
    path = "/api/v1/invitations/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The invitation id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin, or the invitation's role is above the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open invitation in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn revoke_invitation(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let result = revoke(&state, &context, &id).await;
    let (resource, details) = match &result {
        Ok(invitation) => (
            invitation.email.clone(),
            serde_json::json!({"invitation_id": invitation.id, "role": invitation.role}),
        ),
        Err(_) => (id.clone(), serde_json::json!({})),
    };
    audit(
        &state,
        &context,
        &origin,
        "RevokeInvitation",
        &resource,
        result.as_ref().err(),
        details,
    )
    .await;
    result.map(|_| StatusCode::NO_CONTENT)
}

async fn revoke(
    state: &ApiState,
    context: &AuthContext,
    id: &str,
) -> Result<InvitationRecord, Problem> {
    context.user_id()?;
    context.require(Action::ManageUsers)?;
    let id = Uuid::parse_str(id).map_err(|_| Problem::not_found())?;
    let not_found = |error| match error {
        StoreError::NotFound => Problem::not_found(),
        other => Problem::from(other),
    };
    let invitation = state
        .store
        .open_invitation(context.tenant_id, id)
        .await
        .map_err(not_found)?;
    if invitation.role > context.role {
        return Err(refused(Refusal::AboveOwnRole));
    }
    let invitation = state
        .store
        .revoke_invitation(context.tenant_id, id)
        .await
        .map_err(not_found)?;
    tracing::info!(invitation_id = %invitation.id, "invitation revoked");
    Ok(invitation)
}

/// Records an acceptance event in the invitation's tenant.
async fn audit_acceptance(
    state: &ApiState,
    invitation: &InvitationRecord,
    actor_id: String,
    origin: &RequestOrigin,
    failure: Option<&Problem>,
    details: serde_json::Value,
) {
    let mut entry = AuditEntry::new(
        ActorType::User,
        actor_id,
        "users:AcceptInvitation",
        invitation.email.clone(),
    )
    .from_address(origin.source_ip.clone(), origin.user_agent.clone())
    .with_details(details);
    if let Some(problem) = failure {
        let kind = problem.problem_type.rsplit(':').next().unwrap_or_default();
        entry = entry.failed(kind);
    }
    state.store.record_audit(invitation.tenant_id, entry).await;
}

/// Accept an invitation: join its tenant (creating the account if the email has none) and
/// sign in to it.
#[utoipa::path(
    post,
    path = "/api/v1/auth/accept-invitation",
    tag = "auth",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Joined and signed in to the invitation's tenant", body = SessionResponse),
        (status = 400, description = "Malformed request, a password that breaks the policy, or an invalid, expired or used invitation", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The account exists and the password is not its password", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account was created concurrently; try again", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn accept_invitation(
    State(state): State<ApiState>,
    ClientAddress(address): ClientAddress,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<AcceptInvitationRequest>,
) -> Result<Json<SessionResponse>, Problem> {
    if request.password.len() > MAX_PASSWORD_BYTES {
        return Err(Problem::bad_request("password must be at most 1024 bytes"));
    }
    if let Some(wait) = state.sign_in_limiter.check_address(address).await? {
        return Err(Problem::too_many_requests(wait.as_secs()));
    }
    let token_hash = hash_token(&request.token);
    let invitation = if request.token.len() <= MAX_TOKEN_LENGTH {
        state.store.invitation_by_token(token_hash).await?
    } else {
        None
    };
    let Some(invitation) = invitation.filter(|inv| inv.status == InvitationStatus::Pending) else {
        state
            .sign_in_limiter
            .record_address_failure(address)
            .await?;
        tracing::info!(
            client_address = address.map(tracing::field::display),
            "invitation refused"
        );
        return Err(invalid_invitation());
    };
    let email = invitation.email.clone();
    if let Some(wait) = state.sign_in_limiter.check(&email, address).await? {
        return Err(Problem::too_many_requests(wait.as_secs()));
    }
    let existing = state.store.user_by_email(&email).await?;
    let invitee = match &existing {
        Some(user) => {
            let stored = (!user.disabled).then(|| user.password_hash.clone());
            if !state.passwords.verify(request.password, stored).await {
                let problem = Problem::invalid_credentials();
                audit_acceptance(
                    &state,
                    &invitation,
                    user.id.to_string(),
                    &origin,
                    Some(&problem),
                    serde_json::json!({"invitation_id": invitation.id}),
                )
                .await;
                state
                    .sign_in_limiter
                    .record_failure(&email, address)
                    .await?;
                return Err(problem);
            }
            Invitee::Existing(UserId(user.id))
        }
        None => {
            check_new_password(&request.password).map_err(Problem::bad_request)?;
            let password_hash = state
                .passwords
                .hash(request.password)
                .await
                .map_err(|error| Problem::internal(&error))?;
            Invitee::New { password_hash }
        }
    };
    let new_user = existing.is_none();
    let user_id = match state.store.accept_invitation(token_hash, invitee).await {
        Ok(Acceptance::Accepted { user_id, .. }) => user_id,
        Ok(Acceptance::Unusable) => return Err(invalid_invitation()),
        Err(StoreError::AlreadyExists) => {
            return Err(Problem::conflict(
                "the account was created meanwhile; try again",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    if !new_user {
        state.sign_in_limiter.clear_account(&email).await?;
    }
    let memberships = state.store.memberships_of(user_id).await?;
    let chosen = memberships
        .iter()
        .find(|membership| membership.tenant_id == invitation.tenant_id)
        .ok_or_else(|| Problem::internal(&"an accepted invitation left no membership"))?;
    let response = open_session(&state, user_id, chosen, &memberships).await?;
    audit_acceptance(
        &state,
        &invitation,
        user_id.0.to_string(),
        &origin,
        None,
        serde_json::json!({
            "invitation_id": invitation.id, "role": chosen.role, "new_user": new_user,
        }),
    )
    .await;
    tracing::info!(user_id = %user_id.0, tenant_id = %invitation.tenant_id.0, new_user, "invitation accepted");
    Ok(Json(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitee_emails_are_normalized_and_checked() {
        assert_eq!(
            invitee_email(" Grace@Example.COM ").unwrap(),
            "grace@example.com"
        );
        for bad in [
            "",
            "grace",
            "a@b@c",
            "nul\u{0}@example.com",
            "x'; DROP TABLE users; --",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            assert!(invitee_email(bad).is_err(), "{bad:?}");
        }
    }
}
