//! Signed-in members for API tests. The REST API reads a caller's role from their membership
//! on every request, so a test's bearer token must belong to a real user with a real
//! membership.

use chrono::Utc;
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, TenantId};

/// Creates a user with `role` in `tenant` and returns a bearer token for them.
pub(crate) async fn member_token(
    store: &Store,
    session_key: [u8; 32],
    tenant: TenantId,
    role: Role,
) -> String {
    let email = format!("{}@example.com", uuid::Uuid::now_v7());
    // Never verified: these members only use bearer tokens.
    let user = store
        .create_user(&email, "$argon2id$unused", false)
        .await
        .expect("the user is created");
    store
        .put_membership(tenant, UserId(user.id), role)
        .await
        .expect("the membership is created");
    SessionKeys::new(session_key)
        .issue(UserId(user.id), tenant, role, Utc::now())
        .expect("a token is issued")
        .token
}
