//! Tenants and their access keys.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError, StoreResult, TenantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub account_id: String,
    pub shard_limit: i32,
    pub on_demand_stream_limit: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessKeyRow {
    pub access_key_id: String,
    pub tenant_id: Uuid,
    pub account_id: String,
    pub sealed_secret: String,
    pub enabled: bool,
    pub role: String,
    /// A deleted key: to be purged from the config bucket, then its row dropped.
    pub deleted: bool,
    pub generation: i64,
}

impl Store {
    /// Creates a tenant with a fresh 12-digit account id (retrying on the rare collision).
    pub async fn create_tenant(
        &self,
        name: &str,
        shard_limit: u32,
        on_demand_stream_limit: u32,
        mut next_account_id: impl FnMut() -> String,
    ) -> StoreResult<TenantRow> {
        for _ in 0..5 {
            let account_id = next_account_id();
            let result = sqlx::query_as::<_, TenantRow>(
                "INSERT INTO tenants (id, name, account_id, shard_limit, on_demand_stream_limit)
                 VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, name, account_id, shard_limit, on_demand_stream_limit, created_at",
            )
            .bind(Uuid::now_v7())
            .bind(name)
            .bind(&account_id)
            .bind(i32::try_from(shard_limit).unwrap_or(i32::MAX))
            .bind(i32::try_from(on_demand_stream_limit).unwrap_or(i32::MAX))
            .fetch_one(&self.pool)
            .await;
            match result {
                Ok(row) => return Ok(row),
                Err(error) => {
                    let error = StoreError::from(error);
                    if !matches!(error, StoreError::AlreadyExists) {
                        return Err(error);
                    }
                    // Either the name or the account id is taken; only the name is final.
                    if self.tenant_by_name(name).await?.is_some() {
                        return Err(StoreError::AlreadyExists);
                    }
                }
            }
        }
        Err(StoreError::AlreadyExists)
    }

    pub async fn tenant_by_name(&self, name: &str) -> StoreResult<Option<TenantRow>> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, account_id, shard_limit, on_demand_stream_limit, created_at
             FROM tenants WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn tenant(&self, tenant_id: TenantId) -> StoreResult<TenantRow> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, account_id, shard_limit, on_demand_stream_limit, created_at
             FROM tenants WHERE id = $1",
        )
        .bind(tenant_id.0)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Keys whose desired state differs from what the config bucket holds.
    pub async fn unpublished_access_keys(&self) -> StoreResult<Vec<AccessKeyRow>> {
        Ok(sqlx::query_as::<_, AccessKeyRow>(
            "SELECT k.access_key_id, k.tenant_id, t.account_id, k.sealed_secret, k.enabled, k.role,
                    k.deleted_at IS NOT NULL AS deleted, k.generation
             FROM access_keys k JOIN tenants t ON t.id = k.tenant_id
             WHERE k.generation <> k.published_generation
             LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn mark_access_key_published(
        &self,
        access_key_id: &str,
        generation: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE access_keys SET published_generation = $2
             WHERE access_key_id = $1 AND generation = $2",
        )
        .bind(access_key_id)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Store {
    /// The tenant's enabled owner access keys (ids and sealed secrets), oldest first.
    pub async fn access_keys_of(&self, tenant_id: TenantId) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as::<_, (String, String)>(
            "SELECT access_key_id, sealed_secret FROM access_keys
             WHERE tenant_id = $1 AND enabled AND role = 'owner'
             ORDER BY created_at, access_key_id",
        )
        .bind(tenant_id.0)
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Store {
    /// Whether the config bucket holds the current generation of this access key.
    pub async fn access_key_published(&self, access_key_id: &str) -> StoreResult<bool> {
        Ok(sqlx::query_scalar::<_, bool>(
            "SELECT generation = published_generation FROM access_keys WHERE access_key_id = $1",
        )
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(false))
    }
}
