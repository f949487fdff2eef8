//! Tenants and their access keys.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::quotas::{TenantQuotas, to_i32, to_i64};
use super::{Store, StoreError, StoreResult, TenantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub account_id: String,
    pub shard_limit: i32,
    pub on_demand_stream_limit: i32,
    pub stream_limit: i32,
    pub delivery_stream_limit: i32,
    pub app_limit: i32,
    /// `None` is unlimited.
    pub write_records_per_second: Option<i64>,
    pub write_bytes_per_second: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// Bumped on every quota change; the config bucket holds `published_generation`.
    pub generation: i64,
}

pub(crate) const TENANT_COLUMNS: &str = "id, name, account_id, shard_limit, on_demand_stream_limit, stream_limit, delivery_stream_limit, app_limit, write_records_per_second, write_bytes_per_second, created_at, generation";

impl TenantRow {
    pub fn quotas(&self) -> TenantQuotas {
        let count = |value: i32| u32::try_from(value).unwrap_or_default();
        let rate = |value: Option<i64>| value.and_then(|value| u64::try_from(value).ok());
        TenantQuotas {
            stream_limit: count(self.stream_limit),
            shard_limit: count(self.shard_limit),
            on_demand_stream_limit: count(self.on_demand_stream_limit),
            delivery_stream_limit: count(self.delivery_stream_limit),
            app_limit: count(self.app_limit),
            write_records_per_second: rate(self.write_records_per_second),
            write_bytes_per_second: rate(self.write_bytes_per_second),
        }
    }
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
    /// Creates a tenant with these shard and on-demand stream quotas and the default others.
    pub async fn create_tenant(
        &self,
        name: &str,
        shard_limit: u32,
        on_demand_stream_limit: u32,
        next_account_id: impl FnMut() -> String,
    ) -> StoreResult<TenantRow> {
        let quotas = TenantQuotas {
            shard_limit,
            on_demand_stream_limit,
            ..TenantQuotas::default()
        };
        self.create_tenant_with_quotas(name, &quotas, next_account_id)
            .await
    }

    /// Creates a tenant with a fresh 12-digit account id (retrying on the rare collision).
    pub async fn create_tenant_with_quotas(
        &self,
        name: &str,
        quotas: &TenantQuotas,
        mut next_account_id: impl FnMut() -> String,
    ) -> StoreResult<TenantRow> {
        for _ in 0..5 {
            let account_id = next_account_id();
            let result = sqlx::query_as::<_, TenantRow>(&format!(
                "INSERT INTO tenants (id, name, account_id, shard_limit, on_demand_stream_limit,
                                      stream_limit, delivery_stream_limit, app_limit,
                                      write_records_per_second, write_bytes_per_second)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 RETURNING {TENANT_COLUMNS}"
            ))
            .bind(Uuid::now_v7())
            .bind(name)
            .bind(&account_id)
            .bind(to_i32(quotas.shard_limit))
            .bind(to_i32(quotas.on_demand_stream_limit))
            .bind(to_i32(quotas.stream_limit))
            .bind(to_i32(quotas.delivery_stream_limit))
            .bind(to_i32(quotas.app_limit))
            .bind(to_i64(quotas.write_records_per_second))
            .bind(to_i64(quotas.write_bytes_per_second))
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
        Ok(sqlx::query_as::<_, TenantRow>(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn tenant(&self, tenant_id: TenantId) -> StoreResult<TenantRow> {
        Ok(sqlx::query_as::<_, TenantRow>(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
        ))
        .bind(tenant_id.0)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The tenant named `name_or_account_id`, or else the one with that 12-digit account id.
    pub async fn tenant_by_name_or_account(
        &self,
        name_or_account_id: &str,
    ) -> StoreResult<Option<TenantRow>> {
        if let Some(tenant) = self.tenant_by_name(name_or_account_id).await? {
            return Ok(Some(tenant));
        }
        if name_or_account_id.len() != 12 || !name_or_account_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, TenantRow>(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE account_id = $1"
        ))
        .bind(name_or_account_id)
        .fetch_optional(&self.pool)
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
