//! Moving access-key secrets (and delivery streams' HTTP endpoint access keys) to the current
//! master key after a master key rotation (`fjord admin reseal-secrets`, `docs/operations.md`).

use super::{Store, StoreResult, TenantId, notify_reconciler};
use futures::FutureExt as _;

/// One access key's sealed secret, as stored.
#[derive(Debug, Clone)]
pub struct SealedKey {
    pub access_key_id: String,
    pub tenant_id: TenantId,
    pub sealed_secret: String,
}

impl Store {
    /// Every access key of every tenant, deleted ones included (their tombstones still hold a
    /// sealed secret until the reconciler drops the row).
    pub async fn sealed_access_keys(&self) -> StoreResult<Vec<SealedKey>> {
        let rows = sqlx::query_as::<_, (String, uuid::Uuid, String)>(
            "SELECT access_key_id, tenant_id, sealed_secret FROM access_keys
             ORDER BY access_key_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(access_key_id, tenant_id, sealed_secret)| SealedKey {
                access_key_id,
                tenant_id: TenantId(tenant_id),
                sealed_secret,
            })
            .collect())
    }

    /// Replaces the key's sealed secret with `resealed` if it is still `sealed` (a rotation of
    /// the key meanwhile wins), and republishes the key to the config bucket; whether it did.
    pub async fn reseal_access_key(&self, key: &SealedKey, resealed: String) -> StoreResult<bool> {
        let key = key.clone();
        self.transaction(move |connection| {
            async move {
                let updated = sqlx::query(
                    "UPDATE access_keys SET sealed_secret = $4, generation = generation + 1
                     WHERE tenant_id = $1 AND access_key_id = $2 AND sealed_secret = $3",
                )
                .bind(key.tenant_id.0)
                .bind(&key.access_key_id)
                .bind(&key.sealed_secret)
                .bind(&resealed)
                .execute(&mut *connection)
                .await?;
                if updated.rows_affected() == 1 {
                    notify_reconciler(connection).await?;
                }
                Ok(updated.rows_affected() == 1)
            }
            .boxed()
        })
        .await
    }

    /// Every delivery stream whose HTTP endpoint has a sealed access key, deleting ones
    /// included: `(id, tenant, name, sealed key)`.
    pub async fn sealed_endpoint_keys(
        &self,
    ) -> StoreResult<Vec<(uuid::Uuid, TenantId, String, String)>> {
        let rows = sqlx::query_as::<_, (uuid::Uuid, uuid::Uuid, String, String)>(
            "SELECT id, tenant_id, name, destination_spec -> 'target' ->> 'sealed_access_key'
             FROM delivery_streams
             WHERE destination_spec -> 'target' ->> 'sealed_access_key' IS NOT NULL
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, tenant_id, name, sealed)| (id, TenantId(tenant_id), name, sealed))
            .collect())
    }

    /// Replaces a delivery stream's sealed endpoint key with `resealed` if it is still
    /// `sealed` (a destination update meanwhile wins), and republishes it; whether it did.
    pub async fn reseal_endpoint_key(
        &self,
        id: uuid::Uuid,
        sealed: &str,
        resealed: String,
    ) -> StoreResult<bool> {
        let sealed = sealed.to_owned();
        self.transaction(move |connection| {
            async move {
                let updated = sqlx::query(
                    "UPDATE delivery_streams
                     SET destination_spec = jsonb_set(destination_spec,
                             '{target,sealed_access_key}', to_jsonb($3::text)),
                         generation = generation + 1
                     WHERE id = $1 AND destination_spec -> 'target' ->> 'sealed_access_key' = $2",
                )
                .bind(id)
                .bind(&sealed)
                .bind(&resealed)
                .execute(&mut *connection)
                .await?;
                if updated.rows_affected() == 1 {
                    notify_reconciler(connection).await?;
                }
                Ok(updated.rows_affected() == 1)
            }
            .boxed()
        })
        .await
    }
}
