//! Streams, their shards and tags.

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::idempotency::{Claim, IdempotencyKey, IdempotencyTable, claim};
use super::quotas::{Quota, reserve};
use super::{Store, StoreError, StoreResult, TenantId, notify_reconciler};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StreamRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub mode: String,
    pub status: String,
    pub retention_hours: i32,
    pub created_at: DateTime<Utc>,
    pub generation: i64,
    pub published_generation: i64,
}

/// A stream as listed, with how many of its shards are open (not closed by a reshard).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedStream {
    #[sqlx(flatten)]
    pub stream: StreamRow,
    pub open_shard_count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShardRow {
    pub shard_index: i32,
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    pub parent_shard_index: Option<i32>,
    pub adjacent_parent_shard_index: Option<i32>,
    pub starting_sequence_number: String,
    pub ending_sequence_number: Option<String>,
}

/// A stream to create, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewStream {
    pub name: String,
    pub mode: String,
    pub retention_hours: i32,
    pub shards: Vec<NewShard>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct NewShard {
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    pub starting_sequence_number: String,
}

/// What creating a stream under an idempotency key led to.
#[derive(Debug, Clone)]
pub enum StreamCreation {
    Created(StreamRow),
    /// The key was used for the same request within the window: the stream created then
    /// (`None` if it is gone since). Nothing new was stored.
    Replayed(Option<StreamRow>),
    /// The key was used for a different request within the window.
    Conflict,
}

/// Which way a retention change may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionChange {
    Increase,
    Decrease,
}

/// Why a retention change was refused.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("requested {requested} hours, current {current} hours")]
    WrongDirection { requested: i32, current: i32 },
}

const STREAM_COLUMNS: &str = "id, tenant_id, name, mode, status, retention_hours, created_at, generation, published_generation";

/// The most tags one stream may carry.
pub const MAX_TAGS_PER_STREAM: usize = 50;

impl Store {
    /// Creates a stream in `CREATING` with its shards and tags, within the tenant's quotas.
    pub async fn create_stream(
        &self,
        tenant_id: TenantId,
        new_stream: NewStream,
    ) -> StoreResult<StreamRow> {
        self.transaction(move |connection| {
            async move { insert_stream(connection, tenant_id, Uuid::now_v7(), &new_stream).await }
                .boxed()
        })
        .await
    }

    /// [`Store::create_stream`] under an idempotency key: a repeat within
    /// [`super::idempotency::IDEMPOTENCY_WINDOW_HOURS`] stores nothing and says what happened.
    pub async fn create_stream_idempotently(
        &self,
        tenant_id: TenantId,
        new_stream: NewStream,
        idempotency: IdempotencyKey,
    ) -> StoreResult<StreamCreation> {
        self.transaction(move |connection| {
            async move {
                let stream_id = Uuid::now_v7();
                let claimed = claim(
                    connection,
                    IdempotencyTable::Streams,
                    tenant_id,
                    &idempotency,
                    stream_id,
                )
                .await?;
                Ok(match claimed {
                    Claim::Claimed => StreamCreation::Created(
                        insert_stream(connection, tenant_id, stream_id, &new_stream).await?,
                    ),
                    Claim::Replay(stream_id) => StreamCreation::Replayed(
                        sqlx::query_as::<_, StreamRow>(&format!(
                            "SELECT {STREAM_COLUMNS} FROM streams WHERE tenant_id = $1 AND id = $2"
                        ))
                        .bind(tenant_id.0)
                        .bind(stream_id)
                        .fetch_optional(&mut *connection)
                        .await?,
                    ),
                    Claim::Conflict => StreamCreation::Conflict,
                })
            }
            .boxed()
        })
        .await
    }

    pub async fn stream_by_name(
        &self,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<Option<StreamRow>> {
        Ok(sqlx::query_as::<_, StreamRow>(&format!(
            "SELECT {STREAM_COLUMNS} FROM streams WHERE tenant_id = $1 AND name = $2"
        ))
        .bind(tenant_id.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Streams ordered by name, strictly after `after_name`.
    pub async fn list_streams(
        &self,
        tenant_id: TenantId,
        after_name: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<StreamRow>> {
        Ok(sqlx::query_as::<_, StreamRow>(&format!(
            "SELECT {STREAM_COLUMNS} FROM streams
             WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2)
             ORDER BY name LIMIT $3"
        ))
        .bind(tenant_id.0)
        .bind(after_name)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// [`Store::list_streams`] with each stream's open shard count, in the same query.
    pub async fn list_streams_with_open_shards(
        &self,
        tenant_id: TenantId,
        after_name: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<ListedStream>> {
        Ok(sqlx::query_as::<_, ListedStream>(&format!(
            "SELECT {STREAM_COLUMNS},
                    (SELECT count(*) FROM shards sh
                     WHERE sh.tenant_id = streams.tenant_id AND sh.stream_id = streams.id
                       AND sh.ending_sequence_number IS NULL) AS open_shard_count
             FROM streams
             WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2)
             ORDER BY name LIMIT $3"
        ))
        .bind(tenant_id.0)
        .bind(after_name)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many of the stream's shards are open (not closed by a reshard).
    pub async fn open_shard_count(&self, tenant_id: TenantId, stream_id: Uuid) -> StoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM shards
             WHERE tenant_id = $1 AND stream_id = $2 AND ending_sequence_number IS NULL",
        )
        .bind(tenant_id.0)
        .bind(stream_id)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn shards(&self, tenant_id: TenantId, stream_id: Uuid) -> StoreResult<Vec<ShardRow>> {
        Ok(sqlx::query_as::<_, ShardRow>(
            "SELECT shard_index, starting_hash_key, ending_hash_key, parent_shard_index,
                    adjacent_parent_shard_index, starting_sequence_number, ending_sequence_number
             FROM shards WHERE tenant_id = $1 AND stream_id = $2 ORDER BY shard_index",
        )
        .bind(tenant_id.0)
        .bind(stream_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn tags(
        &self,
        tenant_id: TenantId,
        stream_id: Uuid,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as::<_, (String, String)>(
            "SELECT key, value FROM stream_tags WHERE tenant_id = $1 AND stream_id = $2 ORDER BY key",
        )
        .bind(tenant_id.0)
        .bind(stream_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves an `ACTIVE` stream to `DELETING`; the reconciler removes it.
    pub async fn mark_stream_deleting(&self, tenant_id: TenantId, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.transaction(move |connection| {
            async move {
                let status: Option<String> = sqlx::query_scalar(
                    "SELECT status FROM streams WHERE tenant_id = $1 AND name = $2 FOR UPDATE",
                )
                .bind(tenant_id.0)
                .bind(&name)
                .fetch_optional(&mut *connection)
                .await?;
                match status.as_deref() {
                    None => return Err(StoreError::NotFound),
                    Some("CREATING") | Some("DELETING") => {
                        return Err(StoreError::InUse(status.unwrap_or_default()));
                    }
                    Some(_) => {}
                }
                sqlx::query(
                    "UPDATE streams SET status = 'DELETING', generation = generation + 1, updated_at = now()
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

    /// Changes retention of an `ACTIVE` stream, moving it to `UPDATING` until JetStream matches.
    pub async fn change_retention(
        &self,
        tenant_id: TenantId,
        name: &str,
        requested: i32,
        change: RetentionChange,
    ) -> Result<(), RetentionError> {
        let mut transaction = self.pool.begin().await.map_err(StoreError::from)?;
        let row: Option<(String, i32)> = sqlx::query_as(
            "SELECT status, retention_hours FROM streams WHERE tenant_id = $1 AND name = $2 FOR UPDATE",
        )
        .bind(tenant_id.0)
        .bind(name)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(StoreError::from)?;
        let Some((status, current)) = row else {
            return Err(StoreError::NotFound.into());
        };
        if status != "ACTIVE" {
            return Err(StoreError::InUse(status).into());
        }
        let wrong_direction = match change {
            RetentionChange::Increase => requested < current,
            RetentionChange::Decrease => requested > current,
        };
        if wrong_direction {
            return Err(RetentionError::WrongDirection { requested, current });
        }
        if requested != current {
            sqlx::query(
                "UPDATE streams SET retention_hours = $3, status = 'UPDATING',
                        generation = generation + 1, updated_at = now()
                 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id.0)
            .bind(name)
            .bind(requested)
            .execute(&mut *transaction)
            .await
            .map_err(StoreError::from)?;
            notify_reconciler(&mut transaction).await?;
        }
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Adds or overwrites tags, keeping the stream within [`MAX_TAGS_PER_STREAM`].
    pub async fn add_tags(
        &self,
        tenant_id: TenantId,
        stream_id: Uuid,
        tags: Vec<(String, String)>,
    ) -> StoreResult<()> {
        self.transaction(move |connection| {
            async move {
                let existing: Vec<String> = sqlx::query_scalar(
                    "SELECT key FROM stream_tags WHERE tenant_id = $1 AND stream_id = $2 FOR UPDATE",
                )
                .bind(tenant_id.0)
                .bind(stream_id)
                .fetch_all(&mut *connection)
                .await?;
                let added = tags
                    .iter()
                    .filter(|(key, _)| !existing.contains(key))
                    .map(|(key, _)| key)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                if existing.len() + added > MAX_TAGS_PER_STREAM {
                    return Err(StoreError::QuotaExceeded(format!(
                        "a stream may have at most {MAX_TAGS_PER_STREAM} tags"
                    )));
                }
                upsert_tags(connection, tenant_id, stream_id, &tags).await
            }
            .boxed()
        })
        .await
    }

    pub async fn remove_tags(
        &self,
        tenant_id: TenantId,
        stream_id: Uuid,
        keys: &[String],
    ) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM stream_tags WHERE tenant_id = $1 AND stream_id = $2 AND key = ANY($3)",
        )
        .bind(tenant_id.0)
        .bind(stream_id)
        .bind(keys)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Streams the reconciler has work for, across tenants.
    pub async fn streams_needing_reconcile(&self) -> StoreResult<Vec<StreamRow>> {
        Ok(sqlx::query_as::<_, StreamRow>(&format!(
            "SELECT {STREAM_COLUMNS} FROM streams
             WHERE status <> 'ACTIVE' OR generation <> published_generation
             ORDER BY updated_at LIMIT 100"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records that the spec at `generation` is published, and settles a transitional status.
    /// A no-op when the stream changed meanwhile: the reconciler will see it again.
    pub async fn settle_stream(&self, stream_id: Uuid, generation: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE streams
             SET published_generation = $2,
                 status = CASE WHEN status IN ('CREATING', 'UPDATING') THEN 'ACTIVE' ELSE status END,
                 updated_at = now()
             WHERE id = $1 AND generation = $2",
        )
        .bind(stream_id)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Removes a `DELETING` stream whose JetStream objects are gone.
    pub async fn remove_deleted_stream(&self, stream_id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM streams WHERE id = $1 AND status = 'DELETING'")
            .bind(stream_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Inserts a stream with its shards and tags, within the tenant's quotas, and nudges the
/// reconciler.
async fn insert_stream(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    stream_id: Uuid,
    new_stream: &NewStream,
) -> StoreResult<StreamRow> {
    // Locks the tenant's row: quota checks of one tenant run one after another.
    let on_demand = i64::from(new_stream.mode == "ON_DEMAND");
    reserve(
        &mut *connection,
        tenant_id,
        &[
            (Quota::Shards, new_stream.shards.len() as i64),
            (Quota::OnDemandStreams, on_demand),
            (Quota::Streams, 1),
        ],
    )
    .await?;
    let stream = sqlx::query_as::<_, StreamRow>(&format!(
        "INSERT INTO streams (id, tenant_id, name, mode, status, retention_hours)
         VALUES ($1, $2, $3, $4, 'CREATING', $5) RETURNING {STREAM_COLUMNS}"
    ))
    .bind(stream_id)
    .bind(tenant_id.0)
    .bind(&new_stream.name)
    .bind(&new_stream.mode)
    .bind(new_stream.retention_hours)
    .fetch_one(&mut *connection)
    .await?;
    for (index, shard) in new_stream.shards.iter().enumerate() {
        sqlx::query(
            "INSERT INTO shards (stream_id, tenant_id, shard_index, starting_hash_key,
                                 ending_hash_key, starting_sequence_number)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(stream.id)
        .bind(tenant_id.0)
        .bind(index as i32)
        .bind(&shard.starting_hash_key)
        .bind(&shard.ending_hash_key)
        .bind(&shard.starting_sequence_number)
        .execute(&mut *connection)
        .await?;
    }
    upsert_tags(&mut *connection, tenant_id, stream.id, &new_stream.tags).await?;
    notify_reconciler(connection).await?;
    Ok(stream)
}

async fn upsert_tags(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    stream_id: Uuid,
    tags: &[(String, String)],
) -> StoreResult<()> {
    for (key, value) in tags {
        sqlx::query(
            "INSERT INTO stream_tags (stream_id, tenant_id, key, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (stream_id, key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(stream_id)
        .bind(tenant_id.0)
        .bind(key)
        .bind(value)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}
