//! Users and their memberships in tenants.
//!
//! A user exists once per installation; what they can reach is their memberships, each
//! giving one role in one tenant. Password hashes are stored, never passwords.

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::{Store, StoreError, StoreResult, TenantId};
use crate::auth::permissions::Role;

/// A user's id. Typed so that it cannot be confused with a tenant id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub Uuid);

#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub is_operator: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("UserRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("is_operator", &self.is_operator)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// One membership, with the tenant's public names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub account_id: String,
    pub tenant_name: String,
    pub role: Role,
}

const USER_COLUMNS: &str =
    "id, email, password_hash, is_operator, disabled, created_at, password_changed_at";

fn role_from_row(text: &str) -> StoreResult<Role> {
    // The CHECK constraint admits only the four role names.
    text.parse().map_err(|_| StoreError::Invalid)
}

impl Store {
    /// Creates a user; `email` must already be normalized (lower-cased).
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_operator: bool,
    ) -> StoreResult<UserRow> {
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "INSERT INTO users (id, email, password_hash, is_operator) VALUES ($1, $2, $3, $4)
             RETURNING {USER_COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(email)
        .bind(password_hash)
        .bind(is_operator)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn user(&self, user_id: UserId) -> StoreResult<UserRow> {
        Ok(
            sqlx::query_as::<_, UserRow>(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
            ))
            .bind(user_id.0)
            .fetch_one(&self.pool)
            .await?,
        )
    }

    pub async fn set_operator(&self, user_id: UserId, is_operator: bool) -> StoreResult<()> {
        sqlx::query("UPDATE users SET is_operator = $2 WHERE id = $1")
            .bind(user_id.0)
            .bind(is_operator)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives the user `role` in the tenant, replacing any role they had there.
    pub async fn put_membership(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = EXCLUDED.role",
        )
        .bind(tenant_id.0)
        .bind(user_id.0)
        .bind(role.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's role in the tenant, if they are an enabled member of it and `session_epoch`
    /// is still their session epoch (no password change since the token was issued).
    pub async fn session_role(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        session_epoch: i32,
    ) -> StoreResult<Option<Role>> {
        let role = sqlx::query_scalar::<_, String>(
            "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = $1 AND m.user_id = $2 AND NOT u.disabled
               AND u.session_epoch = $3",
        )
        .bind(tenant_id.0)
        .bind(user_id.0)
        .bind(session_epoch)
        .fetch_optional(&self.pool)
        .await?;
        role.as_deref().map(role_from_row).transpose()
    }

    /// The user's current session epoch, for the access tokens issued to them.
    pub async fn session_epoch(&self, user_id: UserId) -> StoreResult<i32> {
        Ok(
            sqlx::query_scalar::<_, i32>("SELECT session_epoch FROM users WHERE id = $1")
                .bind(user_id.0)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Every tenant the user belongs to, ordered by tenant name.
    pub async fn memberships_of(&self, user_id: UserId) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query_as::<_, (Uuid, String, String, String)>(
            "SELECT t.id, t.account_id, t.name, m.role
             FROM memberships m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.user_id = $1 ORDER BY t.name",
        )
        .bind(user_id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(tenant_id, account_id, tenant_name, role)| {
                Ok(Membership {
                    tenant_id: TenantId(tenant_id),
                    account_id,
                    tenant_name,
                    role: role_from_row(&role)?,
                })
            })
            .collect()
    }

    /// Replaces the user's password hash and revokes every refresh token they hold.
    pub async fn reset_password(&self, user_id: UserId, password_hash: String) -> StoreResult<()> {
        self.transaction(move |connection| {
            async move {
                let updated = sqlx::query(
                    "UPDATE users SET password_hash = $2, password_changed_at = now(),
                                      session_epoch = session_epoch + 1
                     WHERE id = $1",
                )
                .bind(user_id.0)
                .bind(&password_hash)
                .execute(&mut *connection)
                .await?;
                if updated.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = now()
                     WHERE user_id = $1 AND revoked_at IS NULL",
                )
                .bind(user_id.0)
                .execute(&mut *connection)
                .await?;
                Ok(())
            }
            .boxed()
        })
        .await
    }
}
