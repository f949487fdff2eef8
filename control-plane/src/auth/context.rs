//! The authenticated caller of a REST request, taken from `Authorization: Bearer <jwt>`.
//!
//! Handlers that take an [`AuthContext`] only run for a valid access token; everything they
//! touch is scoped by its `tenant_id`, and [`AuthContext::require`] is their one permission
//! check.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::api::problem::Problem;
use crate::auth::permissions::{Action, Role, allows};
use crate::auth::session::SessionKeys;
use crate::store::TenantId;
use crate::store::users::UserId;

/// Who is calling, in which tenant, with which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthContext {
    pub tenant_id: TenantId,
    pub user_id: UserId,
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

impl<S> FromRequestParts<S> for AuthContext
where
    SessionKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = SessionKeys::from_ref(state);
        let claims = bearer_token(parts)
            .and_then(|token| keys.verify(token))
            .ok_or_else(Problem::invalid_token)?;
        Ok(Self {
            tenant_id: TenantId(claims.tid),
            user_id: UserId(claims.sub),
            role: claims.role,
        })
    }
}
