//! When access keys were last used: `access_keys.last_used_at`, only ever moved forward.
//!
//! The gateway reports use in batches through the events stream (ADR 009); REST callers that
//! authenticate with a key touch it one at a time. Both are idempotent: applying the same
//! report twice, or an older one after a newer one, changes nothing. A time in the future
//! (a gateway's clock ahead of the database's) is clamped to now.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, TenantId};

/// One key's latest use, as a gateway saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub tenant_id: TenantId,
    pub access_key_id: String,
    pub used_at: DateTime<Utc>,
}

impl Store {
    /// Records that the tenant's key was used at `used_at`; `false` if the tenant has no such
    /// (live) key.
    pub async fn touch_access_key(
        &self,
        tenant_id: TenantId,
        access_key_id: &str,
        used_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE access_keys
             SET last_used_at = GREATEST(last_used_at, LEAST($3, now()))
             WHERE tenant_id = $1 AND access_key_id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant_id.0)
        .bind(access_key_id)
        .bind(used_at)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Applies a batch of uses in one statement, each scoped by its own tenant (a key id
    /// reported under the wrong tenant matches nothing). Returns how many keys it found.
    pub async fn record_key_usage(&self, uses: &[KeyUse]) -> StoreResult<u64> {
        if uses.is_empty() {
            return Ok(0);
        }
        let tenants: Vec<uuid::Uuid> = uses.iter().map(|key_use| key_use.tenant_id.0).collect();
        let keys: Vec<&str> = uses
            .iter()
            .map(|key_use| key_use.access_key_id.as_str())
            .collect();
        let times: Vec<DateTime<Utc>> = uses.iter().map(|key_use| key_use.used_at).collect();
        let updated = sqlx::query(
            "UPDATE access_keys AS k
             SET last_used_at = GREATEST(k.last_used_at, LEAST(u.used_at, now()))
             FROM (SELECT tenant_id, access_key_id, max(used_at) AS used_at
                   FROM unnest($1::uuid[], $2::text[], $3::timestamptz[])
                        AS t(tenant_id, access_key_id, used_at)
                   GROUP BY tenant_id, access_key_id) AS u
             WHERE k.tenant_id = u.tenant_id
               AND k.access_key_id = u.access_key_id
               AND k.deleted_at IS NULL",
        )
        .bind(&tenants)
        .bind(&keys)
        .bind(&times)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected())
    }
}
