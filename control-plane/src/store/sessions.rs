//! Refresh tokens (stored as SHA-256 hashes) and the counters behind sign-in rate limiting.
//!
//! Rotation and reuse detection happen in one transaction with the presented token's row
//! locked, so two processes cannot both rotate the same token.

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::users::UserId;
use super::{Store, StoreResult, TenantId};
use crate::auth::permissions::Role;

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live; it is now revoked and replaced by the new one.
    Rotated {
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
    },
    /// The token had already been used (rotated): every live token of that user in that
    /// tenant has been revoked. A token revoked otherwise (sign-out, password change, removal
    /// from the tenant) is only `Refused`, so an old session presenting it cannot end the
    /// sessions opened since.
    Reused {
        tenant_id: TenantId,
        user_id: UserId,
    },
    /// Unknown, expired, or the user lost access.
    Refused,
}

/// A new refresh token to store.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: Uuid,
    pub token_hash: [u8; 32],
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PresentedToken {
    id: Uuid,
    user_id: Uuid,
    tenant_id: Uuid,
    expired: bool,
    revoked: bool,
    rotated: bool,
}

/// A key's failures in its current window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailureWindow {
    pub key: String,
    pub failures: i32,
    /// Seconds until the window ends.
    pub remaining_seconds: f64,
}

async fn insert_refresh_token(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    user_id: UserId,
    token: &NewRefreshToken,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, tenant_id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token.id)
    .bind(tenant_id.0)
    .bind(user_id.0)
    .bind(token.token_hash.as_slice())
    .bind(token.expires_at)
    .execute(connection)
    .await?;
    Ok(())
}

impl Store {
    pub async fn insert_refresh_token(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        token: NewRefreshToken,
    ) -> StoreResult<()> {
        let mut connection = self.pool.acquire().await?;
        insert_refresh_token(&mut connection, tenant_id, user_id, &token).await
    }

    /// Stores `token` for the user in the tenant only if a session of theirs issued under
    /// `session_epoch` is still good there: they are enabled, a member of the tenant, and
    /// their session epoch has not moved on. Their role in the tenant, or `None` (nothing
    /// stored). The user and membership rows are locked while the token is stored, so a
    /// concurrent password change, disable or removal either waits and then revokes the new
    /// token, or happens first and refuses it.
    pub async fn insert_refresh_token_if_current(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        session_epoch: i32,
        token: NewRefreshToken,
    ) -> StoreResult<Option<Role>> {
        self.transaction(move |connection| {
            async move {
                let role = sqlx::query_scalar::<_, String>(
                    "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
                     WHERE m.tenant_id = $1 AND m.user_id = $2 AND NOT u.disabled
                       AND u.session_epoch = $3
                     FOR SHARE",
                )
                .bind(tenant_id.0)
                .bind(user_id.0)
                .bind(session_epoch)
                .fetch_optional(&mut *connection)
                .await?;
                let Some(role) = role.and_then(|role| role.parse::<Role>().ok()) else {
                    return Ok(None);
                };
                insert_refresh_token(connection, tenant_id, user_id, &token).await?;
                Ok(Some(role))
            }
            .boxed()
        })
        .await
    }

    /// Exchanges the token with hash `presented` for `next`, detecting reuse.
    pub async fn rotate_refresh_token(
        &self,
        presented: [u8; 32],
        next: NewRefreshToken,
    ) -> StoreResult<Rotation> {
        self.transaction(move |connection| {
            async move {
                let Some(token) = sqlx::query_as::<_, PresentedToken>(
                    "SELECT id, user_id, tenant_id, expires_at <= now() AS expired,
                            revoked_at IS NOT NULL AS revoked,
                            replaced_by IS NOT NULL AS rotated
                     FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
                )
                .bind(presented.as_slice())
                .fetch_optional(&mut *connection)
                .await?
                else {
                    return Ok(Rotation::Refused);
                };
                let tenant_id = TenantId(token.tenant_id);
                let user_id = UserId(token.user_id);
                if token.revoked && !token.rotated {
                    return Ok(Rotation::Refused);
                }
                if token.revoked {
                    sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = now()
                         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(tenant_id.0)
                    .bind(user_id.0)
                    .execute(&mut *connection)
                    .await?;
                    return Ok(Rotation::Reused { tenant_id, user_id });
                }
                if token.expired {
                    return Ok(Rotation::Refused);
                }
                let role = sqlx::query_scalar::<_, String>(
                    "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
                     WHERE m.tenant_id = $1 AND m.user_id = $2 AND NOT u.disabled",
                )
                .bind(tenant_id.0)
                .bind(user_id.0)
                .fetch_optional(&mut *connection)
                .await?;
                let Some(role) = role.and_then(|role| role.parse::<Role>().ok()) else {
                    sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1")
                        .bind(token.id)
                        .execute(&mut *connection)
                        .await?;
                    return Ok(Rotation::Refused);
                };
                insert_refresh_token(connection, tenant_id, user_id, &next).await?;
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = $2 WHERE id = $1",
                )
                .bind(token.id)
                .bind(next.id)
                .execute(&mut *connection)
                .await?;
                Ok(Rotation::Rotated {
                    tenant_id,
                    user_id,
                    role,
                })
            }
            .boxed()
        })
        .await
    }

    /// Revokes one refresh token (sign-out): whose it was, or `None` if it was unknown or
    /// already revoked.
    pub async fn revoke_refresh_token(
        &self,
        token_hash: [u8; 32],
    ) -> StoreResult<Option<(TenantId, UserId)>> {
        let revoked = sqlx::query_as::<_, (Uuid, Uuid)>(
            "UPDATE refresh_tokens SET revoked_at = now()
             WHERE token_hash = $1 AND revoked_at IS NULL
             RETURNING tenant_id, user_id",
        )
        .bind(token_hash.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        Ok(revoked.map(|(tenant_id, user_id)| (TenantId(tenant_id), UserId(user_id))))
    }

    /// Failure counters of `keys` whose window (of `window_seconds`) is still open.
    pub async fn open_failure_windows(
        &self,
        keys: &[String],
        window_seconds: f64,
    ) -> StoreResult<Vec<FailureWindow>> {
        Ok(sqlx::query_as::<_, FailureWindow>(
            "SELECT key, failures,
                    EXTRACT(EPOCH FROM (window_start + make_interval(secs => $2) - now()))::float8
                        AS remaining_seconds
             FROM sign_in_failures
             WHERE key = ANY($1) AND window_start > now() - make_interval(secs => $2)",
        )
        .bind(keys)
        .bind(window_seconds)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Counts one failure against each key, starting a new window where the old one ended.
    pub async fn record_failure(&self, keys: &[String], window_seconds: f64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sign_in_failures (key, window_start, failures)
             SELECT key, now(), 1 FROM unnest($1::text[]) AS key
             ON CONFLICT (key) DO UPDATE SET
                 failures = CASE
                     WHEN sign_in_failures.window_start <= now() - make_interval(secs => $2) THEN 1
                     ELSE sign_in_failures.failures + 1 END,
                 window_start = CASE
                     WHEN sign_in_failures.window_start <= now() - make_interval(secs => $2)
                         THEN now()
                     ELSE sign_in_failures.window_start END",
        )
        .bind(keys)
        .bind(window_seconds)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
