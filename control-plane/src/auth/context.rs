//! The authenticated caller of a REST request.
//!
//! A caller is a signed-in user (`Authorization: Bearer <jwt>`) or an app with an access key
//! (`Authorization: AWS4-HMAC-SHA256 ...`, verified by [`crate::auth::sigv4`] before the
//! handler runs; the key's tenant and role are read from Postgres on every call).
//! Handlers that take an [`AuthContext`] only run for an authenticated caller; everything they
//! touch is scoped by its `tenant_id`, and [`AuthContext::require`] is their one permission
//! check.
//!
//! A bearer token names the user and tenant; the role is read from the membership on every
//! request, so a changed role, a removed member or a changed password takes effect on the next
//! call rather than when the 15-minute token expires.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::api::ApiState;
use crate::api::problem::Problem;
use crate::auth::permissions::{Action, Role, allows};
use crate::auth::session::Claims;
use crate::auth::sigv4::SignedAccessKey;
use crate::store::TenantId;
use crate::store::audit::{ActorType, AuditEntry};
use crate::store::users::UserId;

/// Who a caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in person.
    User(UserId),
    /// An app signing with an access key; the key's id.
    AccessKey(String),
}

/// Who is calling, in which tenant, with which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub tenant_id: TenantId,
    pub principal: Principal,
    pub role: Role,
}

impl AuthContext {
    /// A 403 problem unless the caller's role allows `action`.
    pub fn require(&self, action: Action) -> Result<(), Problem> {
        if allows(self.role, action) {
            Ok(())
        } else {
            Err(Problem::forbidden("your role does not allow this action"))
        }
    }

    /// The signed-in user; a 403 problem for an access key (the endpoint is for people).
    pub fn user_id(&self) -> Result<UserId, Problem> {
        match &self.principal {
            Principal::User(user_id) => Ok(*user_id),
            Principal::AccessKey(_) => Err(people_only()),
        }
    }

    /// An audit entry of `action` on `resource` with this caller as the actor.
    pub fn audit_entry(&self, action: String, resource: String) -> AuditEntry {
        let (actor_type, actor_id) = match &self.principal {
            Principal::User(user_id) => (ActorType::User, user_id.0.to_string()),
            Principal::AccessKey(key_id) => (ActorType::AccessKey, key_id.clone()),
        };
        AuditEntry::new(actor_type, actor_id, action, resource)
    }
}

/// The 403 problem of an access key calling an endpoint for people.
fn people_only() -> Problem {
    Problem::forbidden("this endpoint is for signed-in users, not access keys")
}

/// The claims of the caller's bearer token, for handlers that open a new session from the
/// caller's (they need its session epoch). Take it after [`AuthContext`], which has checked
/// the claims against the store; an access key gets the 403 of endpoints for people.
#[derive(Debug, Clone)]
pub struct BearerClaims(pub Claims);

impl FromRequestParts<ApiState> for BearerClaims {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        if parts.extensions.get::<SignedAccessKey>().is_some() {
            return Err(people_only());
        }
        bearer_token(parts)
            .and_then(|token| state.sessions.verify(token))
            .map(Self)
            .ok_or_else(Problem::invalid_token)
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

impl FromRequestParts<ApiState> for AuthContext {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(key) = parts.extensions.get::<SignedAccessKey>() {
            return Ok(Self {
                tenant_id: key.tenant_id,
                principal: Principal::AccessKey(key.access_key_id.clone()),
                role: key.role,
            });
        }
        let claims = bearer_token(parts)
            .and_then(|token| state.sessions.verify(token))
            .ok_or_else(Problem::invalid_token)?;
        let tenant_id = TenantId(claims.tid);
        let user_id = UserId(claims.sub);
        // The current role, not the one the token was issued with: a removed member, a
        // disabled user or a token from before a password change is refused now.
        let role = state
            .store
            .session_role(tenant_id, user_id, claims.sep)
            .await?
            .ok_or_else(Problem::invalid_token)?;
        Ok(Self {
            tenant_id,
            principal: Principal::User(user_id),
            role,
        })
    }
}
