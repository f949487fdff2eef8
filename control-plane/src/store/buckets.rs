//! A tenant's registered buckets (see `fjord_common::buckets`). A change to a registration
//! bumps the generation of every delivery stream naming the bucket, so the reconciler
//! republishes their specs with the new location; a bucket a live delivery stream names
//! cannot be deleted.

use chrono::{DateTime, Utc};
use fjord_common::buckets::{BucketLocation, RegisteredBucket};
use futures::FutureExt as _;
use uuid::Uuid;

use super::{Store, StoreError, StoreResult, TenantId, notify_reconciler};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BucketRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub kind: String,
    /// [`BucketLocation`] as JSON text (secrets sealed).
    pub location: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BucketRow {
    /// The registration as the data plane receives it; `None` only if the row was written by
    /// something else.
    pub fn registered(&self) -> Option<RegisteredBucket> {
        Some(RegisteredBucket {
            id: self.id,
            location: serde_json::from_str(&self.location).ok()?,
        })
    }
}

const COLUMNS: &str =
    "id, tenant_id, name, kind, location::text AS location, created_at, updated_at";

/// The `kind` column of a location.
pub fn kind_of(location: &BucketLocation) -> &'static str {
    match location {
        BucketLocation::S3(_) => "s3",
        BucketLocation::Gcs(_) => "gcs",
        BucketLocation::Azure(_) => "azure",
    }
}

fn location_text(location: &BucketLocation) -> StoreResult<String> {
    serde_json::to_string(location).map_err(|_| StoreError::Invalid)
}

/// Nudges the delivery streams naming `name` (not being deleted) to be republished.
async fn republish_users(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    name: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE delivery_streams SET generation = generation + 1, updated_at = now()
         WHERE tenant_id = $1 AND COALESCE(destination_spec -> 'target' ->> 'bucket',
                                  destination_spec -> 'target' -> 'backup' ->> 'bucket') = $2
           AND status IN ('CREATING', 'ACTIVE')",
    )
    .bind(tenant_id.0)
    .bind(name)
    .execute(&mut *connection)
    .await?;
    notify_reconciler(connection).await
}

impl Store {
    /// Registers a bucket under `id` (its secrets were sealed for that id).
    pub async fn create_bucket(
        &self,
        tenant_id: TenantId,
        id: Uuid,
        name: &str,
        location: &BucketLocation,
    ) -> StoreResult<BucketRow> {
        let name = name.to_owned();
        let kind = kind_of(location);
        let location = location_text(location)?;
        self.transaction(move |connection| {
            async move {
                let row = sqlx::query_as::<_, BucketRow>(&format!(
                    "INSERT INTO buckets (id, tenant_id, name, kind, location)
                     VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING {COLUMNS}"
                ))
                .bind(id)
                .bind(tenant_id.0)
                .bind(&name)
                .bind(kind)
                .bind(&location)
                .fetch_one(&mut *connection)
                .await?;
                // Delivery streams that named the bucket before it was registered move to it.
                republish_users(connection, tenant_id, &name).await?;
                Ok(row)
            }
            .boxed()
        })
        .await
    }

    pub async fn bucket_by_name(
        &self,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<Option<BucketRow>> {
        Ok(sqlx::query_as::<_, BucketRow>(&format!(
            "SELECT {COLUMNS} FROM buckets WHERE tenant_id = $1 AND name = $2"
        ))
        .bind(tenant_id.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The tenant's buckets by name.
    pub async fn list_buckets(&self, tenant_id: TenantId) -> StoreResult<Vec<BucketRow>> {
        Ok(sqlx::query_as::<_, BucketRow>(&format!(
            "SELECT {COLUMNS} FROM buckets WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant_id.0)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a bucket's location; the delivery streams naming it are republished.
    pub async fn replace_bucket(
        &self,
        tenant_id: TenantId,
        name: &str,
        location: &BucketLocation,
    ) -> StoreResult<BucketRow> {
        let name = name.to_owned();
        let kind = kind_of(location);
        let location = location_text(location)?;
        self.transaction(move |connection| {
            async move {
                let row = sqlx::query_as::<_, BucketRow>(&format!(
                    "UPDATE buckets SET kind = $3, location = $4::jsonb, updated_at = now()
                     WHERE tenant_id = $1 AND name = $2 RETURNING {COLUMNS}"
                ))
                .bind(tenant_id.0)
                .bind(&name)
                .bind(kind)
                .bind(&location)
                .fetch_optional(&mut *connection)
                .await?
                .ok_or(StoreError::NotFound)?;
                republish_users(connection, tenant_id, &name).await?;
                Ok(row)
            }
            .boxed()
        })
        .await
    }

    /// Every tenant's registrations (for resealing their secrets).
    pub async fn all_buckets(&self) -> StoreResult<Vec<BucketRow>> {
        Ok(sqlx::query_as::<_, BucketRow>(&format!(
            "SELECT {COLUMNS} FROM buckets ORDER BY tenant_id, name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a registration's location with `resealed` if it is still what `row` read (a
    /// change meanwhile wins), republishing the delivery streams naming it; whether it did.
    pub async fn reseal_bucket(
        &self,
        row: &BucketRow,
        resealed: &BucketLocation,
    ) -> StoreResult<bool> {
        let row = row.clone();
        let resealed = location_text(resealed)?;
        self.transaction(move |connection| {
            async move {
                let updated = sqlx::query(
                    "UPDATE buckets SET location = $4::jsonb
                     WHERE tenant_id = $1 AND id = $2 AND location = $3::jsonb",
                )
                .bind(row.tenant_id)
                .bind(row.id)
                .bind(&row.location)
                .bind(&resealed)
                .execute(&mut *connection)
                .await?;
                if updated.rows_affected() == 1 {
                    republish_users(connection, TenantId(row.tenant_id), &row.name).await?;
                }
                Ok(updated.rows_affected() == 1)
            }
            .boxed()
        })
        .await
    }

    /// Removes a registration; [`StoreError::InUse`] (naming one) while a delivery stream that
    /// is not being deleted names the bucket.
    pub async fn delete_bucket(&self, tenant_id: TenantId, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.transaction(move |connection| {
            async move {
                let user: Option<String> = sqlx::query_scalar(
                    "SELECT name FROM delivery_streams
                     WHERE tenant_id = $1 AND COALESCE(destination_spec -> 'target' ->> 'bucket',
                                  destination_spec -> 'target' -> 'backup' ->> 'bucket') = $2
                       AND status <> 'DELETING'
                     ORDER BY name LIMIT 1",
                )
                .bind(tenant_id.0)
                .bind(&name)
                .fetch_optional(&mut *connection)
                .await?;
                if let Some(user) = user {
                    return Err(StoreError::InUse(user));
                }
                let deleted = sqlx::query("DELETE FROM buckets WHERE tenant_id = $1 AND name = $2")
                    .bind(tenant_id.0)
                    .bind(&name)
                    .execute(&mut *connection)
                    .await?;
                if deleted.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }
            .boxed()
        })
        .await
    }
}
