//! Access keys as a tenant's managed resource: create (optionally under an idempotency key),
//! list, disable, enable, rotate and delete.
//!
//! Every change bumps the key's `generation` and nudges the reconciler, which publishes the
//! key to the config bucket (or, for a deleted key, purges it there and then drops the row).
//! A deleted key is a tombstone (`deleted_at`) until then and is invisible here. Secrets are
//! stored sealed; this module never sees them in the clear.

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::idempotency::IdempotencyKey;
use super::idempotency::{Claim, IdempotencyTable, claim};
use super::users::UserId;
use super::{Store, StoreError, StoreResult, TenantId, notify_reconciler};
use crate::auth::permissions::Role;

/// An access key as its tenant sees it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub name: String,
    pub role: Role,
    pub enabled: bool,
    /// The user the key belongs to; `None` for a tenant service-account key.
    pub user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key to store; its secret is already sealed.
#[derive(Clone)]
pub struct NewAccessKeyRecord {
    pub access_key_id: String,
    pub sealed_secret: String,
    pub name: String,
    pub role: Role,
    pub user_id: Option<UserId>,
}

impl std::fmt::Debug for NewAccessKeyRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NewAccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("sealed_secret", &"<redacted>")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish()
    }
}

/// What verifying a SigV4-signed REST call needs of a live (enabled, not deleted) key: its
/// tenant, its role and its sealed secret.
#[derive(Clone)]
pub struct SigningKeyRecord {
    pub tenant_id: TenantId,
    pub role: Role,
    pub sealed_secret: String,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SigningKeyRecord")
            .field("tenant_id", &self.tenant_id)
            .field("role", &self.role)
            .field("sealed_secret", &"<redacted>")
            .finish()
    }
}

/// What creating a key led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    Created(AccessKeyRecord),
    /// The idempotency key was used for the same request within the window: the key created
    /// then (`None` if it was deleted since). Nothing new was stored.
    Replayed(Option<AccessKeyRecord>),
    /// The idempotency key was used for a different request within the window.
    Conflict,
}

/// Where a page of keys starts: after this (created_at, access_key_id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPosition {
    pub created_at: DateTime<Utc>,
    pub access_key_id: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    access_key_id: String,
    description: String,
    role: String,
    enabled: bool,
    user_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "access_key_id, description, role, enabled, user_id, created_at, last_used_at";

impl TryFrom<Row> for AccessKeyRecord {
    type Error = StoreError;

    fn try_from(row: Row) -> StoreResult<Self> {
        Ok(Self {
            access_key_id: row.access_key_id,
            name: row.description,
            // The CHECK constraint admits only the four role names.
            role: row.role.parse().map_err(|_| StoreError::Invalid)?,
            enabled: row.enabled,
            user_id: row.user_id.map(UserId),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
    }
}

async fn insert(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    key: &NewAccessKeyRecord,
) -> StoreResult<AccessKeyRecord> {
    let row = sqlx::query_as::<_, Row>(&format!(
        "INSERT INTO access_keys (access_key_id, tenant_id, sealed_secret, description, role, user_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING {COLUMNS}"
    ))
    .bind(&key.access_key_id)
    .bind(tenant_id.0)
    .bind(&key.sealed_secret)
    .bind(&key.name)
    .bind(key.role.as_str())
    .bind(key.user_id.map(|user_id| user_id.0))
    .fetch_one(&mut *connection)
    .await?;
    notify_reconciler(connection).await?;
    row.try_into()
}

async fn live_key(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    access_key_id: &str,
) -> StoreResult<Option<AccessKeyRecord>> {
    sqlx::query_as::<_, Row>(&format!(
        "SELECT {COLUMNS} FROM access_keys
         WHERE tenant_id = $1 AND access_key_id = $2 AND deleted_at IS NULL"
    ))
    .bind(tenant_id.0)
    .bind(access_key_id)
    .fetch_optional(connection)
    .await?
    .map(AccessKeyRecord::try_from)
    .transpose()
}

impl Store {
    /// Stores a new key and nudges the reconciler to publish it. With an idempotency key,
    /// a repeat within the idempotency window stores nothing and says what happened.
    pub async fn create_access_key(
        &self,
        tenant_id: TenantId,
        key: NewAccessKeyRecord,
        idempotency: Option<IdempotencyKey>,
    ) -> StoreResult<Creation> {
        self.transaction(move |connection| {
            async move {
                let Some(idempotency) = idempotency else {
                    return Ok(Creation::Created(
                        insert(connection, tenant_id, &key).await?,
                    ));
                };
                let claimed = claim(
                    connection,
                    IdempotencyTable::AccessKeys,
                    tenant_id,
                    &idempotency,
                    key.access_key_id.clone(),
                )
                .await?;
                Ok(match claimed {
                    Claim::Claimed => Creation::Created(insert(connection, tenant_id, &key).await?),
                    Claim::Replay(access_key_id) => {
                        Creation::Replayed(live_key(connection, tenant_id, &access_key_id).await?)
                    }
                    Claim::Conflict => Creation::Conflict,
                })
            }
            .boxed()
        })
        .await
    }

    /// One of the tenant's keys; `NotFound` if it is not the tenant's or was deleted.
    pub async fn access_key(
        &self,
        tenant_id: TenantId,
        access_key_id: &str,
    ) -> StoreResult<AccessKeyRecord> {
        let mut connection = self.pool.acquire().await?;
        live_key(&mut connection, tenant_id, access_key_id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The live key `access_key_id` of any tenant, for SigV4 verification of a REST call;
    /// `None` if it is unknown, disabled or deleted. Not scoped by tenant: the key id is what
    /// selects the tenant (as on the AWS endpoint). Read on every call, never cached, so
    /// disabling or deleting a key takes effect on the next request.
    pub async fn signing_key(&self, access_key_id: &str) -> StoreResult<Option<SigningKeyRecord>> {
        let row = sqlx::query_as::<_, (Uuid, String, String)>(
            "SELECT tenant_id, role, sealed_secret FROM access_keys
             WHERE access_key_id = $1 AND enabled AND deleted_at IS NULL",
        )
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(tenant_id, role, sealed_secret)| {
            Ok(SigningKeyRecord {
                tenant_id: TenantId(tenant_id),
                role: role.parse().map_err(|_| StoreError::Invalid)?,
                sealed_secret,
            })
        })
        .transpose()
    }

    /// Up to `limit` of the tenant's keys (only `owner`'s, if given), oldest first, after
    /// `after`.
    pub async fn list_access_keys(
        &self,
        tenant_id: TenantId,
        owner: Option<UserId>,
        after: Option<&KeyPosition>,
        limit: i64,
    ) -> StoreResult<Vec<AccessKeyRecord>> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM access_keys
             WHERE tenant_id = $1 AND deleted_at IS NULL
               AND ($2::timestamptz IS NULL OR (created_at, access_key_id) > ($2, $3))
               AND ($5::uuid IS NULL OR user_id = $5)
             ORDER BY created_at, access_key_id
             LIMIT $4"
        ))
        .bind(tenant_id.0)
        .bind(after.map(|position| position.created_at))
        .bind(after.map(|position| position.access_key_id.as_str()))
        .bind(limit)
        .bind(owner.map(|user_id| user_id.0))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AccessKeyRecord::try_from).collect()
    }

    /// Enables or disables a key; the gateway follows within the reconciler's latency.
    pub async fn set_access_key_enabled(
        &self,
        tenant_id: TenantId,
        access_key_id: &str,
        enabled: bool,
    ) -> StoreResult<AccessKeyRecord> {
        self.update_live_key(
            tenant_id,
            access_key_id,
            "enabled = $3",
            UpdateValue::Enabled(enabled),
        )
        .await
    }

    /// Replaces a key's (sealed) secret; the old secret stops working once published.
    pub async fn rotate_access_key_secret(
        &self,
        tenant_id: TenantId,
        access_key_id: &str,
        sealed_secret: String,
    ) -> StoreResult<AccessKeyRecord> {
        self.update_live_key(
            tenant_id,
            access_key_id,
            "sealed_secret = $3",
            UpdateValue::SealedSecret(sealed_secret),
        )
        .await
    }

    /// Deletes a key: it becomes a disabled tombstone at once (invisible to the tenant);
    /// the reconciler purges it from the config bucket and then drops the row.
    pub async fn delete_access_key(
        &self,
        tenant_id: TenantId,
        access_key_id: &str,
    ) -> StoreResult<()> {
        self.update_live_key(
            tenant_id,
            access_key_id,
            "deleted_at = now(), enabled = $3",
            UpdateValue::Enabled(false),
        )
        .await
        .map(|_| ())
    }

    async fn update_live_key(
        &self,
        tenant_id: TenantId,
        access_key_id: &str,
        assignments: &'static str,
        value: UpdateValue,
    ) -> StoreResult<AccessKeyRecord> {
        let access_key_id = access_key_id.to_owned();
        self.transaction(move |connection| {
            async move {
                let query = format!(
                    "UPDATE access_keys SET {assignments}, generation = generation + 1
                     WHERE tenant_id = $1 AND access_key_id = $2 AND deleted_at IS NULL
                     RETURNING {COLUMNS}"
                );
                let query = sqlx::query_as::<_, Row>(&query)
                    .bind(tenant_id.0)
                    .bind(&access_key_id);
                let query = match value {
                    UpdateValue::Enabled(enabled) => query.bind(enabled),
                    UpdateValue::SealedSecret(sealed) => query.bind(sealed),
                };
                let row = query
                    .fetch_optional(&mut *connection)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                notify_reconciler(connection).await?;
                row.try_into()
            }
            .boxed()
        })
        .await
    }

    /// Drops a deleted key's row once its purge from the config bucket is done, unless it
    /// changed since.
    pub async fn remove_deleted_access_key(
        &self,
        access_key_id: &str,
        generation: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM access_keys
             WHERE access_key_id = $1 AND generation = $2 AND deleted_at IS NOT NULL",
        )
        .bind(access_key_id)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

enum UpdateValue {
    Enabled(bool),
    SealedSecret(String),
}
