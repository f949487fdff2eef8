//! Delivery streams (Firehose) and their tags.
//!
//! A delivery stream's destination is kept twice: as the caller configured it in AWS's shape
//! (`destination_configuration`, so Describe answers what was given) and as Fjord's normalised
//! [`DestinationSpec`] (`destination_spec`, what the data plane acts on). Both are `jsonb`,
//! read and written as text. Every write nudges the reconciler.

use chrono::{DateTime, Utc};
use fjord_common::firehose::{DeliveryStreamStatus, DestinationSpec};
use futures::FutureExt as _;
use uuid::Uuid;

use super::idempotency::{Claim, IdempotencyKey, IdempotencyTable, claim};
use super::quotas::{Quota, reserve};
use super::{Store, StoreError, StoreResult, TenantId, notify_reconciler};

/// The most tags one delivery stream may carry (AWS: 50).
pub const MAX_TAGS_PER_DELIVERY_STREAM: usize = 50;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryStreamRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub status: String,
    /// `DirectPut` or `KinesisStreamAsSource`.
    pub delivery_stream_type: String,
    pub source_stream_id: Option<Uuid>,
    /// `KinesisStreamSourceConfiguration` as given (JSON text).
    pub source_configuration: Option<String>,
    /// The destination in AWS's shape (JSON text), see [`crate::firehose`].
    pub destination_configuration: String,
    /// [`DestinationSpec`] as JSON text.
    pub destination_spec: String,
    pub destination_id: String,
    pub version_id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub generation: i64,
    pub published_generation: i64,
}

impl DeliveryStreamRow {
    pub fn status(&self) -> DeliveryStreamStatus {
        DeliveryStreamStatus::parse(&self.status).unwrap_or(DeliveryStreamStatus::Creating)
    }

    /// The normalised destination; `None` only if the row was written by something else.
    pub fn destination(&self) -> Option<DestinationSpec> {
        serde_json::from_str(&self.destination_spec).ok()
    }

    pub fn destination_configuration(&self) -> serde_json::Value {
        serde_json::from_str(&self.destination_configuration).unwrap_or_default()
    }

    pub fn source_configuration(&self) -> Option<serde_json::Value> {
        self.source_configuration
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
    }
}

/// A delivery stream to create, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewDeliveryStream {
    /// Chosen before it is stored: secrets in its destination are sealed for it.
    pub id: Uuid,
    pub name: String,
    pub delivery_stream_type: String,
    pub source_stream_id: Option<Uuid>,
    pub source_configuration: Option<serde_json::Value>,
    pub destination_configuration: serde_json::Value,
    pub destination_spec: DestinationSpec,
    pub tags: Vec<(String, String)>,
}

/// What creating a delivery stream (possibly under an idempotency key) led to.
#[derive(Debug, Clone)]
pub enum DeliveryStreamCreation {
    Created(DeliveryStreamRow),
    /// The key was used for the same request within the window: the delivery stream created
    /// then (`None` if it is gone since). Nothing new was stored.
    Replayed(Option<DeliveryStreamRow>),
    /// The key was used for a different request within the window.
    Conflict,
}

/// A destination change, checked against the version the caller last saw.
#[derive(Debug, Clone)]
pub struct DestinationChange {
    pub expected_version_id: i64,
    pub destination_id: String,
    pub destination_configuration: serde_json::Value,
    pub destination_spec: DestinationSpec,
}

/// Why a destination change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DestinationChangeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("version {current} is current")]
    VersionMismatch { current: i64 },
    #[error("no destination {0}")]
    UnknownDestination(String),
}

const COLUMNS: &str = "id, tenant_id, name, status, delivery_stream_type, source_stream_id,
    source_configuration::text AS source_configuration,
    destination_configuration::text AS destination_configuration,
    destination_spec::text AS destination_spec, destination_id, version_id, created_at,
    updated_at, generation, published_generation";

fn spec_text(spec: &DestinationSpec) -> StoreResult<String> {
    serde_json::to_string(spec).map_err(|_| StoreError::Invalid)
}

impl Store {
    /// Creates a delivery stream in `CREATING` with its tags, within the tenant's quota; under
    /// an idempotency key a repeat within the window stores nothing and says what happened.
    pub async fn create_delivery_stream(
        &self,
        tenant_id: TenantId,
        new_stream: NewDeliveryStream,
        idempotency: Option<IdempotencyKey>,
    ) -> StoreResult<DeliveryStreamCreation> {
        self.transaction(move |connection| {
            async move {
                let id = new_stream.id;
                if let Some(idempotency) = &idempotency {
                    match claim(
                        connection,
                        IdempotencyTable::DeliveryStreams,
                        tenant_id,
                        idempotency,
                        id,
                    )
                    .await?
                    {
                        Claim::Claimed => {}
                        Claim::Replay(earlier) => {
                            return Ok(DeliveryStreamCreation::Replayed(
                                sqlx::query_as::<_, DeliveryStreamRow>(&format!(
                                    "SELECT {COLUMNS} FROM delivery_streams
                                     WHERE tenant_id = $1 AND id = $2"
                                ))
                                .bind(tenant_id.0)
                                .bind(earlier)
                                .fetch_optional(&mut *connection)
                                .await?,
                            ));
                        }
                        Claim::Conflict => return Ok(DeliveryStreamCreation::Conflict),
                    }
                }
                insert(connection, tenant_id, id, &new_stream)
                    .await
                    .map(DeliveryStreamCreation::Created)
            }
            .boxed()
        })
        .await
    }

    pub async fn delivery_stream_by_name(
        &self,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<Option<DeliveryStreamRow>> {
        Ok(sqlx::query_as::<_, DeliveryStreamRow>(&format!(
            "SELECT {COLUMNS} FROM delivery_streams WHERE tenant_id = $1 AND name = $2"
        ))
        .bind(tenant_id.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Delivery streams ordered by name, strictly after `after_name`, of `delivery_stream_type`
    /// if given.
    pub async fn list_delivery_streams(
        &self,
        tenant_id: TenantId,
        delivery_stream_type: Option<&str>,
        after_name: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryStreamRow>> {
        Ok(sqlx::query_as::<_, DeliveryStreamRow>(&format!(
            "SELECT {COLUMNS} FROM delivery_streams
             WHERE tenant_id = $1 AND ($2::text IS NULL OR delivery_stream_type = $2)
               AND ($3::text IS NULL OR name > $3)
             ORDER BY name LIMIT $4"
        ))
        .bind(tenant_id.0)
        .bind(delivery_stream_type)
        .bind(after_name)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves a delivery stream to `DELETING`; the reconciler removes it. One still `CREATING`
    /// is [`StoreError::InUse`]; one already `DELETING` stays so.
    pub async fn mark_delivery_stream_deleting(
        &self,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<()> {
        let name = name.to_owned();
        self.transaction(move |connection| {
            async move {
                let status: Option<String> = sqlx::query_scalar(
                    "SELECT status FROM delivery_streams WHERE tenant_id = $1 AND name = $2 FOR UPDATE",
                )
                .bind(tenant_id.0)
                .bind(&name)
                .fetch_optional(&mut *connection)
                .await?;
                match status.as_deref() {
                    None => return Err(StoreError::NotFound),
                    Some("CREATING") => return Err(StoreError::InUse("CREATING".to_owned())),
                    Some("DELETING") => return Ok(()),
                    Some(_) => {}
                }
                sqlx::query(
                    "UPDATE delivery_streams
                     SET status = 'DELETING', generation = generation + 1, updated_at = now()
                     WHERE tenant_id = $1 AND name = $2",
                )
                .bind(tenant_id.0)
                .bind(&name)
                .execute(&mut *connection)
                .await?;
                notify_reconciler(connection).await
            }
            .boxed()
        })
        .await
    }

    /// Replaces the destination of an `ACTIVE` delivery stream if its version is still
    /// `expected_version_id`, bumping the version; the reconciler republishes the spec.
    pub async fn change_delivery_destination(
        &self,
        tenant_id: TenantId,
        name: &str,
        change: DestinationChange,
    ) -> Result<DeliveryStreamRow, DestinationChangeError> {
        let mut transaction = self.pool.begin().await.map_err(StoreError::from)?;
        let current: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT status, version_id, destination_id FROM delivery_streams
             WHERE tenant_id = $1 AND name = $2 FOR UPDATE",
        )
        .bind(tenant_id.0)
        .bind(name)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(StoreError::from)?;
        let Some((status, version_id, destination_id)) = current else {
            return Err(StoreError::NotFound.into());
        };
        if status != "ACTIVE" {
            return Err(StoreError::InUse(status).into());
        }
        if version_id != change.expected_version_id {
            return Err(DestinationChangeError::VersionMismatch {
                current: version_id,
            });
        }
        if destination_id != change.destination_id {
            return Err(DestinationChangeError::UnknownDestination(
                change.destination_id,
            ));
        }
        let row = sqlx::query_as::<_, DeliveryStreamRow>(&format!(
            "UPDATE delivery_streams
             SET destination_configuration = $3::jsonb, destination_spec = $4::jsonb,
                 version_id = version_id + 1, generation = generation + 1, updated_at = now()
             WHERE tenant_id = $1 AND name = $2 RETURNING {COLUMNS}"
        ))
        .bind(tenant_id.0)
        .bind(name)
        .bind(change.destination_configuration.to_string())
        .bind(spec_text(&change.destination_spec)?)
        .fetch_one(&mut *transaction)
        .await
        .map_err(StoreError::from)?;
        notify_reconciler(&mut transaction).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(row)
    }

    pub async fn delivery_stream_tags(
        &self,
        tenant_id: TenantId,
        delivery_stream_id: Uuid,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as::<_, (String, String)>(
            "SELECT key, value FROM delivery_stream_tags
             WHERE tenant_id = $1 AND delivery_stream_id = $2 ORDER BY key",
        )
        .bind(tenant_id.0)
        .bind(delivery_stream_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The tags of several delivery streams of the tenant at once, by delivery stream id,
    /// each by key.
    pub async fn tags_of_delivery_streams(
        &self,
        tenant_id: TenantId,
        delivery_stream_ids: &[Uuid],
    ) -> StoreResult<std::collections::HashMap<Uuid, Vec<(String, String)>>> {
        let rows = sqlx::query_as::<_, (Uuid, String, String)>(
            "SELECT delivery_stream_id, key, value FROM delivery_stream_tags
             WHERE tenant_id = $1 AND delivery_stream_id = ANY($2) ORDER BY key",
        )
        .bind(tenant_id.0)
        .bind(delivery_stream_ids)
        .fetch_all(&self.pool)
        .await?;
        let mut tags = std::collections::HashMap::<Uuid, Vec<(String, String)>>::new();
        for (id, key, value) in rows {
            tags.entry(id).or_default().push((key, value));
        }
        Ok(tags)
    }

    /// Adds or overwrites tags, keeping the delivery stream within
    /// [`MAX_TAGS_PER_DELIVERY_STREAM`] (else [`StoreError::QuotaExceeded`], nothing changed).
    pub async fn add_delivery_stream_tags(
        &self,
        tenant_id: TenantId,
        delivery_stream_id: Uuid,
        tags: Vec<(String, String)>,
    ) -> StoreResult<()> {
        self.transaction(move |connection| {
            async move {
                // Locks the delivery stream: tag changes of one stream run one after another.
                let found: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 FROM delivery_streams WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                )
                .bind(tenant_id.0)
                .bind(delivery_stream_id)
                .fetch_optional(&mut *connection)
                .await?;
                if found.is_none() {
                    return Err(StoreError::NotFound);
                }
                let existing: Vec<String> = sqlx::query_scalar(
                    "SELECT key FROM delivery_stream_tags
                     WHERE tenant_id = $1 AND delivery_stream_id = $2",
                )
                .bind(tenant_id.0)
                .bind(delivery_stream_id)
                .fetch_all(&mut *connection)
                .await?;
                let added = tags
                    .iter()
                    .map(|(key, _)| key)
                    .filter(|key| !existing.contains(key))
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                if existing.len() + added > MAX_TAGS_PER_DELIVERY_STREAM {
                    return Err(StoreError::QuotaExceeded(format!(
                        "a delivery stream may have at most {MAX_TAGS_PER_DELIVERY_STREAM} tags"
                    )));
                }
                upsert_tags(connection, tenant_id, delivery_stream_id, &tags).await
            }
            .boxed()
        })
        .await
    }

    pub async fn remove_delivery_stream_tags(
        &self,
        tenant_id: TenantId,
        delivery_stream_id: Uuid,
        keys: &[String],
    ) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM delivery_stream_tags
             WHERE tenant_id = $1 AND delivery_stream_id = $2 AND key = ANY($3)",
        )
        .bind(tenant_id.0)
        .bind(delivery_stream_id)
        .bind(keys)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Delivery streams the reconciler has work for, across tenants (a failed one waits for a
    /// delete, so it is not among them).
    pub async fn delivery_streams_needing_reconcile(&self) -> StoreResult<Vec<DeliveryStreamRow>> {
        Ok(sqlx::query_as::<_, DeliveryStreamRow>(&format!(
            "SELECT {COLUMNS} FROM delivery_streams
             WHERE status IN ('CREATING', 'DELETING') OR generation <> published_generation
             ORDER BY updated_at LIMIT 100"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records that the spec at `generation` is published and settles `CREATING` to `ACTIVE`.
    /// A no-op when the delivery stream changed meanwhile: the reconciler will see it again.
    pub async fn settle_delivery_stream(
        &self,
        delivery_stream_id: Uuid,
        generation: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE delivery_streams
             SET published_generation = $2,
                 status = CASE WHEN status = 'CREATING' THEN 'ACTIVE' ELSE status END,
                 updated_at = now()
             WHERE id = $1 AND generation = $2",
        )
        .bind(delivery_stream_id)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Marks a delivery stream whose provisioning failed for good `CREATING_FAILED`.
    pub async fn fail_delivery_stream_creation(
        &self,
        delivery_stream_id: Uuid,
        generation: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE delivery_streams
             SET status = 'CREATING_FAILED', published_generation = generation, updated_at = now()
             WHERE id = $1 AND generation = $2 AND status = 'CREATING'",
        )
        .bind(delivery_stream_id)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a `DELETING` delivery stream whose JetStream stream and spec are gone.
    pub async fn remove_deleted_delivery_stream(
        &self,
        delivery_stream_id: Uuid,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM delivery_streams WHERE id = $1 AND status = 'DELETING'")
            .bind(delivery_stream_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Inserts a delivery stream with its tags, within the tenant's quota, and nudges the
/// reconciler.
async fn insert(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    id: Uuid,
    new_stream: &NewDeliveryStream,
) -> StoreResult<DeliveryStreamRow> {
    // Locks the tenant's row: quota checks of one tenant run one after another.
    reserve(&mut *connection, tenant_id, &[(Quota::DeliveryStreams, 1)]).await?;
    let row = sqlx::query_as::<_, DeliveryStreamRow>(&format!(
        "INSERT INTO delivery_streams (id, tenant_id, name, status, delivery_stream_type,
             source_stream_id, source_configuration, destination_configuration, destination_spec,
             destination_id)
         VALUES ($1, $2, $3, 'CREATING', $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9)
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(tenant_id.0)
    .bind(&new_stream.name)
    .bind(&new_stream.delivery_stream_type)
    .bind(new_stream.source_stream_id)
    .bind(
        new_stream
            .source_configuration
            .as_ref()
            .map(|value| value.to_string()),
    )
    .bind(new_stream.destination_configuration.to_string())
    .bind(spec_text(&new_stream.destination_spec)?)
    .bind(&new_stream.destination_spec.destination_id)
    .fetch_one(&mut *connection)
    .await?;
    upsert_tags(&mut *connection, tenant_id, row.id, &new_stream.tags).await?;
    notify_reconciler(connection).await?;
    Ok(row)
}

async fn upsert_tags(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    delivery_stream_id: Uuid,
    tags: &[(String, String)],
) -> StoreResult<()> {
    for (key, value) in tags {
        sqlx::query(
            "INSERT INTO delivery_stream_tags (delivery_stream_id, tenant_id, key, value)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (delivery_stream_id, key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(delivery_stream_id)
        .bind(tenant_id.0)
        .bind(key)
        .bind(value)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}
