//! Moving access-key secrets to the current master key after a master key rotation
//! (`fjord admin reseal-secrets`, `docs/operations.md`).

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
}
