//! Signed-in members for API tests. The REST API reads a caller's role from their membership
//! on every request, so a test's bearer token must belong to a real user with a real
//! membership.

#![allow(dead_code)] // Each test file uses part of it.

use chrono::Utc;
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, TenantId};

/// Creates a user with `role` in `tenant`; their id and a bearer token.
pub(crate) async fn member(
    store: &Store,
    session_key: [u8; 32],
    tenant: TenantId,
    role: Role,
) -> (UserId, String) {
    let email = format!("{}@example.com", uuid::Uuid::now_v7());
    // Never verified: these members only use bearer tokens.
    let user = store
        .create_user(&email, "$argon2id$unused", false)
        .await
        .expect("the user is created");
    let user_id = UserId(user.id);
    store
        .put_membership(tenant, user_id, role)
        .await
        .expect("the membership is created");
    let token = SessionKeys::new(session_key)
        .issue(user_id, tenant, role, 0, Utc::now())
        .expect("a token is issued")
        .token;
    (user_id, token)
}

/// A bearer token for a new member of `tenant` with `role`.
pub(crate) async fn member_token(
    store: &Store,
    session_key: [u8; 32],
    tenant: TenantId,
    role: Role,
) -> String {
    member(store, session_key, tenant, role).await.1
}
