//! Tenant quotas ([ADR 010](../../../docs/adr/010-tenant-quotas.md)): the limits on a tenant's
//! row, the usage they bound, and the one check every create calls inside its transaction.
//!
//! [`reserve`] locks the tenant's row (`SELECT ... FOR UPDATE`) before counting, so the checks
//! of concurrent creates in one tenant run one after another and cannot pass a limit together.
//! Lowering a quota below current usage is allowed: nothing is removed, new creates are refused.

use fjord_common::config::ControlPlaneConfig;
use fjord_common::throughput::WriteRate;
use futures::FutureExt as _;

use super::tenants::{TENANT_COLUMNS, TenantRow};
use super::{Store, StoreError, StoreResult, TenantId, notify_reconciler};

/// A tenant's quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TenantQuotas {
    pub stream_limit: u32,
    pub shard_limit: u32,
    pub on_demand_stream_limit: u32,
    pub delivery_stream_limit: u32,
    pub app_limit: u32,
    /// Per gateway process; `None` is unlimited.
    pub write_records_per_second: Option<u64>,
    pub write_bytes_per_second: Option<u64>,
}

impl TenantQuotas {
    /// The defaults a new tenant gets (`control_plane.*` settings; a throughput of 0 there is
    /// unlimited).
    pub fn from_config(config: &ControlPlaneConfig) -> Self {
        let rate = |value: u64| (value > 0).then_some(value);
        Self {
            stream_limit: config.stream_limit,
            shard_limit: config.shard_limit,
            on_demand_stream_limit: config.on_demand_stream_limit,
            delivery_stream_limit: config.delivery_stream_limit,
            app_limit: config.app_limit,
            write_records_per_second: rate(config.write_records_per_second),
            write_bytes_per_second: rate(config.write_bytes_per_second),
        }
    }

    /// These quotas with `change` applied.
    pub fn with(mut self, change: &QuotaChange) -> Self {
        let set = |target: &mut u32, value: Option<u32>| {
            if let Some(value) = value {
                *target = value;
            }
        };
        set(&mut self.stream_limit, change.streams);
        set(&mut self.shard_limit, change.shards);
        set(&mut self.on_demand_stream_limit, change.on_demand_streams);
        set(&mut self.delivery_stream_limit, change.delivery_streams);
        set(&mut self.app_limit, change.apps);
        if let Some(rate) = change.write_records_per_second {
            self.write_records_per_second = rate;
        }
        if let Some(rate) = change.write_bytes_per_second {
            self.write_bytes_per_second = rate;
        }
        self
    }

    pub fn write_rate(&self) -> WriteRate {
        WriteRate {
            records_per_second: self.write_records_per_second,
            bytes_per_second: self.write_bytes_per_second,
        }
    }
}

impl Default for TenantQuotas {
    fn default() -> Self {
        Self::from_config(&fjord_common::config::FjordConfig::default().control_plane)
    }
}

/// A change of quotas; `None` leaves that quota as it is. For throughput, `Some(None)` makes
/// it unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QuotaChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_streams: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_streams: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_records_per_second: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_bytes_per_second: Option<Option<u64>>,
}

impl QuotaChange {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Streams of any mode and state (a `DELETING` stream counts until it is gone).
    Streams,
    /// Open shards.
    Shards,
    OnDemandStreams,
    DeliveryStreams,
    Apps,
}

/// A tenant's counts that quotas bound.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct TenantUsage {
    pub stream_count: i64,
    pub open_shard_count: i64,
    pub on_demand_stream_count: i64,
    /// Delivery streams of any state (a `DELETING` one counts until it is gone).
    pub delivery_stream_count: i64,
    /// Always 0 until analytics apps exist.
    pub app_count: i64,
}

impl TenantUsage {
    pub fn of(&self, quota: Quota) -> i64 {
        match quota {
            Quota::Streams => self.stream_count,
            Quota::Shards => self.open_shard_count,
            Quota::OnDemandStreams => self.on_demand_stream_count,
            Quota::DeliveryStreams => self.delivery_stream_count,
            Quota::Apps => self.app_count,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Limits {
    stream_limit: i32,
    shard_limit: i32,
    on_demand_stream_limit: i32,
    delivery_stream_limit: i32,
    app_limit: i32,
}

impl Limits {
    fn of(&self, quota: Quota) -> i64 {
        i64::from(match quota {
            Quota::Streams => self.stream_limit,
            Quota::Shards => self.shard_limit,
            Quota::OnDemandStreams => self.on_demand_stream_limit,
            Quota::DeliveryStreams => self.delivery_stream_limit,
            Quota::Apps => self.app_limit,
        })
    }
}

/// The refusal, in AWS's words where AWS has them; `{account}` is filled in by the front.
fn exceeded(quota: Quota, used: i64, limit: i64, adding: i64) -> StoreError {
    StoreError::QuotaExceeded(match quota {
        Quota::Shards => format!(
            "This request would exceed the shard limit for the account {{account}}. Current shard count for the account: {used}. Limit: {limit}. Number of additional shards that would have resulted from this request: {adding}."
        ),
        Quota::OnDemandStreams => format!(
            "This request would exceed the on-demand stream count limit for the account {{account}}. Limit: {limit}."
        ),
        Quota::Streams => format!(
            "This request would exceed the stream count limit for the account {{account}}. Current stream count for the account: {used}. Limit: {limit}."
        ),
        Quota::DeliveryStreams => format!(
            "This request would exceed the delivery stream limit for the account {{account}}. Current delivery stream count for the account: {used}. Limit: {limit}."
        ),
        Quota::Apps => format!(
            "This request would exceed the application limit for the account {{account}}. Current application count for the account: {used}. Limit: {limit}."
        ),
    })
}

/// Inside the caller's transaction: locks the tenant's row, then refuses with
/// [`StoreError::QuotaExceeded`] if adding any of `requests` would pass its quota. Call it
/// before inserting; the lock holds until the transaction ends, so the insert is covered.
pub async fn reserve(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    requests: &[(Quota, i64)],
) -> StoreResult<()> {
    let limits = sqlx::query_as::<_, Limits>(
        "SELECT stream_limit, shard_limit, on_demand_stream_limit, delivery_stream_limit, app_limit
         FROM tenants WHERE id = $1 FOR UPDATE",
    )
    .bind(tenant_id.0)
    .fetch_optional(&mut *connection)
    .await?
    .ok_or(StoreError::NotFound)?;
    let usage = usage(connection, tenant_id).await?;
    for &(quota, adding) in requests {
        if adding > 0 && usage.of(quota) + adding > limits.of(quota) {
            return Err(exceeded(quota, usage.of(quota), limits.of(quota), adding));
        }
    }
    Ok(())
}

pub(crate) async fn usage(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
) -> StoreResult<TenantUsage> {
    Ok(sqlx::query_as::<_, TenantUsage>(
        "SELECT
            (SELECT count(*) FROM streams WHERE tenant_id = $1) AS stream_count,
            (SELECT count(*) FROM shards s JOIN streams st ON st.id = s.stream_id
             WHERE s.tenant_id = $1 AND s.ending_sequence_number IS NULL) AS open_shard_count,
            (SELECT count(*) FROM streams WHERE tenant_id = $1 AND mode = 'ON_DEMAND') AS on_demand_stream_count,
            (SELECT count(*) FROM delivery_streams WHERE tenant_id = $1) AS delivery_stream_count,
            0::bigint AS app_count",
    )
    .bind(tenant_id.0)
    .fetch_one(connection)
    .await?)
}

pub(crate) fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

pub(crate) fn to_i64(value: Option<u64>) -> Option<i64> {
    value.map(|value| i64::try_from(value).unwrap_or(i64::MAX))
}

impl Store {
    pub async fn usage(&self, tenant_id: TenantId) -> StoreResult<TenantUsage> {
        let mut connection = self.pool.acquire().await?;
        usage(&mut connection, tenant_id).await
    }

    /// [`reserve`] in a transaction of its own: whether `adding` more of `quota` would fit now.
    pub async fn check_quota(
        &self,
        tenant_id: TenantId,
        quota: Quota,
        adding: i64,
    ) -> StoreResult<()> {
        self.transaction(move |connection| {
            async move { reserve(connection, tenant_id, &[(quota, adding)]).await }.boxed()
        })
        .await
    }

    /// Applies `change` to the tenant's quotas and bumps its generation, so the reconciler
    /// publishes the new throughput quota to the gateways. Usage above a lowered quota stays.
    pub async fn set_quotas(
        &self,
        tenant_id: TenantId,
        change: QuotaChange,
    ) -> StoreResult<TenantRow> {
        self.transaction(move |connection| {
            async move {
                let current = sqlx::query_as::<_, TenantRow>(&format!(
                    "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1 FOR UPDATE"
                ))
                .bind(tenant_id.0)
                .fetch_optional(&mut *connection)
                .await?
                .ok_or(StoreError::NotFound)?;
                let quotas = current.quotas().with(&change);
                let updated = sqlx::query_as::<_, TenantRow>(&format!(
                    "UPDATE tenants SET stream_limit = $2, shard_limit = $3,
                            on_demand_stream_limit = $4, delivery_stream_limit = $5, app_limit = $6,
                            write_records_per_second = $7, write_bytes_per_second = $8,
                            generation = generation + 1
                     WHERE id = $1 RETURNING {TENANT_COLUMNS}"
                ))
                .bind(tenant_id.0)
                .bind(to_i32(quotas.stream_limit))
                .bind(to_i32(quotas.shard_limit))
                .bind(to_i32(quotas.on_demand_stream_limit))
                .bind(to_i32(quotas.delivery_stream_limit))
                .bind(to_i32(quotas.app_limit))
                .bind(to_i64(quotas.write_records_per_second))
                .bind(to_i64(quotas.write_bytes_per_second))
                .fetch_one(&mut *connection)
                .await?;
                notify_reconciler(connection).await?;
                Ok(updated)
            }
            .boxed()
        })
        .await
    }

    /// Tenants whose quota the config bucket does not hold yet.
    pub async fn unpublished_tenants(&self) -> StoreResult<Vec<TenantRow>> {
        Ok(sqlx::query_as::<_, TenantRow>(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE generation <> published_generation LIMIT 500"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn mark_tenant_published(
        &self,
        tenant_id: TenantId,
        generation: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE tenants SET published_generation = $2 WHERE id = $1 AND generation = $2",
        )
        .bind(tenant_id.0)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether the config bucket holds the tenant's current quotas.
    pub async fn tenant_published(&self, tenant_id: TenantId) -> StoreResult<bool> {
        Ok(sqlx::query_scalar::<_, bool>(
            "SELECT generation = published_generation FROM tenants WHERE id = $1",
        )
        .bind(tenant_id.0)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_config_with_zero_throughput_unlimited() {
        let mut config = fjord_common::config::FjordConfig::default().control_plane;
        let quotas = TenantQuotas::from_config(&config);
        assert_eq!(
            (
                quotas.stream_limit,
                quotas.shard_limit,
                quotas.delivery_stream_limit,
                quotas.app_limit
            ),
            (500, 500, 50, 50)
        );
        assert!(quotas.write_rate().is_unlimited());
        config.write_records_per_second = 100;
        let quotas = TenantQuotas::from_config(&config);
        assert_eq!(quotas.write_records_per_second, Some(100));
        assert_eq!(quotas.write_bytes_per_second, None);
    }

    #[test]
    fn a_change_touches_only_what_it_names() {
        let quotas = TenantQuotas::default().with(&QuotaChange {
            apps: Some(3),
            write_bytes_per_second: Some(Some(1024)),
            ..Default::default()
        });
        assert_eq!(quotas.app_limit, 3);
        assert_eq!(quotas.write_bytes_per_second, Some(1024));
        assert_eq!(quotas.stream_limit, TenantQuotas::default().stream_limit);
        let unlimited = quotas.with(&QuotaChange {
            write_bytes_per_second: Some(None),
            ..Default::default()
        });
        assert!(unlimited.write_rate().is_unlimited());
        assert!(QuotaChange::default().is_empty());
    }
}
