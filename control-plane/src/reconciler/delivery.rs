//! Delivery streams: `CREATING` → the JetStream stream holding records (direct puts) or a
//! durable consumer on each shard of the source stream (a Kinesis source, reading what is put
//! from then on), the spec published, `ACTIVE`; a changed destination (`UpdateDestination`)
//! → the spec republished; `DELETING` → the spec withdrawn, the JetStream streams and shard
//! consumers deleted, the row removed.
//!
//! Every step is idempotent: an interrupted pass is finished by the next one.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{consumer, stream};
use fjord_common::firehose::{
    DeliverySource, DeliveryStreamSpec, DeliveryStreamStatus, delivery_stream_arn,
};
use fjord_common::naming::Names;

use super::Reconciler;
use crate::store::TenantId;
use crate::store::delivery_streams::DeliveryStreamRow;

/// How long undelivered records are kept: Firehose retries delivery for up to 24 hours.
pub(crate) const RECORD_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

pub(super) async fn step(reconciler: &Reconciler, row: &DeliveryStreamRow) -> anyhow::Result<()> {
    match row.status() {
        DeliveryStreamStatus::Creating => {
            if row.source_configuration.is_some() && row.source_stream_id.is_none() {
                // The source stream was deleted before the delivery stream came up.
                tracing::warn!(delivery_stream_id = %row.id, "source stream is gone; creation failed");
                reconciler
                    .store
                    .fail_delivery_stream_creation(row.id, row.generation)
                    .await?;
                return Ok(());
            }
            ensure_record_stream(reconciler, row).await?;
            ensure_shard_consumers(reconciler, row).await?;
            publish(reconciler, row).await?;
            tracing::info!(delivery_stream_id = %row.id, "delivery stream is active");
            Ok(())
        }
        DeliveryStreamStatus::Deleting => delete(reconciler, row).await,
        DeliveryStreamStatus::Active => {
            // A destination change: the record stream exists; make sure, then republish.
            ensure_record_stream(reconciler, row).await?;
            publish(reconciler, row).await
        }
        // Failed states wait for a DeleteDeliveryStream.
        DeliveryStreamStatus::CreatingFailed | DeliveryStreamStatus::DeletingFailed => Ok(()),
    }
}

/// The JetStream stream holding a delivery stream's records until a worker delivered them.
pub(crate) fn record_stream_config(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> stream::Config {
    stream::Config {
        name: reconciler.names.delivery_stream(row.id),
        subjects: vec![reconciler.names.delivery_subject(row.id)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_age: RECORD_MAX_AGE,
        num_replicas: reconciler.replicas,
        allow_direct: true,
        duplicate_window: Duration::from_secs(0),
        description: Some(format!("fjord delivery stream {}", row.id)),
        ..Default::default()
    }
}

/// Creates the record stream, or brings an existing one (from an interrupted pass) to its
/// config. A delivery stream reading a Kinesis stream has none: its records stay in the shards.
async fn ensure_record_stream(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> anyhow::Result<()> {
    if row.source_stream_id.is_some() {
        return Ok(());
    }
    let config = record_stream_config(reconciler, row);
    match reconciler.jetstream.get_stream(&config.name).await {
        Ok(_) => {
            reconciler
                .jetstream
                .update_stream(&config)
                .await
                .context("cannot update delivery record stream")?;
        }
        Err(_) => {
            reconciler
                .jetstream
                .create_stream(config)
                .await
                .context("cannot create delivery record stream")?;
        }
    }
    Ok(())
}

/// The JetStream streams of the source stream's shards (a Kinesis source), by shard index.
async fn source_shard_streams(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> anyhow::Result<Vec<(u32, String)>> {
    let Some(stream_id) = row.source_stream_id else {
        return Ok(Vec::new());
    };
    let shards = reconciler
        .store
        .shards(TenantId(row.tenant_id), stream_id)
        .await?;
    shards
        .iter()
        .map(|shard| {
            let index = u32::try_from(shard.shard_index)?;
            Ok((index, reconciler.names.shard_stream(stream_id, index)))
        })
        .collect()
}

/// Creates the delivery stream's durable consumer on each shard of its source stream,
/// delivering what is put from now on (Firehose reads a source stream from `LATEST`). A
/// consumer left by an interrupted pass is kept as it is. Workers keep AckWait in step with
/// the buffering interval, and create the consumers of shards that appear later.
async fn ensure_shard_consumers(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> anyhow::Result<()> {
    let durable = reconciler.names.delivery_consumer(row.id);
    for (index, name) in source_shard_streams(reconciler, row).await? {
        let Ok(stream) = reconciler.jetstream.get_stream(&name).await else {
            // An expired shard (or one still being created, which workers will find).
            tracing::debug!(shard = index, "a source shard has no JetStream stream");
            continue;
        };
        if stream.consumer_info(&durable).await.is_ok() {
            continue;
        }
        stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(durable.clone()),
                deliver_policy: consumer::DeliverPolicy::New,
                ack_policy: consumer::AckPolicy::Explicit,
                max_ack_pending: -1,
                ..Default::default()
            })
            .await
            .with_context(|| format!("cannot create the delivery consumer on shard {index}"))?;
    }
    Ok(())
}

/// Deletes the delivery stream's consumers on its source stream's shards, where both remain.
async fn delete_shard_consumers(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> anyhow::Result<()> {
    let durable = reconciler.names.delivery_consumer(row.id);
    for (index, name) in source_shard_streams(reconciler, row).await? {
        let Ok(stream) = reconciler.jetstream.get_stream(&name).await else {
            continue;
        };
        if stream.consumer_info(&durable).await.is_ok() {
            stream
                .delete_consumer(&durable)
                .await
                .with_context(|| format!("cannot delete the delivery consumer on shard {index}"))?;
        }
    }
    Ok(())
}

/// The spec the data plane should see for `row`, as it will be once settled.
pub(crate) async fn spec(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> anyhow::Result<DeliveryStreamSpec> {
    let tenant = reconciler.store.tenant(TenantId(row.tenant_id)).await?;
    let mut destination = row
        .destination()
        .context("a delivery stream row holds an unreadable destination spec")?;
    // Where the bucket lives, as the tenant registered it now.
    let object = destination.target.bucket_mut();
    object.store = match reconciler
        .store
        .bucket_by_name(TenantId(row.tenant_id), &object.bucket)
        .await?
    {
        Some(bucket) => Some(
            bucket
                .registered()
                .context("a bucket row holds an unreadable location")?,
        ),
        None => None,
    };
    let source = match (row.source_stream_id, row.source_configuration()) {
        (Some(stream_id), Some(source)) => DeliverySource::KinesisStream {
            stream_id,
            stream_arn: source
                .get("KinesisStreamARN")
                .and_then(|arn| arn.as_str())
                .unwrap_or_default()
                .to_owned(),
        },
        (None, Some(_)) => anyhow::bail!("the source stream of a delivery stream is gone"),
        _ => DeliverySource::DirectPut,
    };
    Ok(DeliveryStreamSpec {
        delivery_stream_id: row.id,
        tenant_id: row.tenant_id,
        account_id: tenant.account_id.clone(),
        name: row.name.clone(),
        arn: delivery_stream_arn(&reconciler.region, &tenant.account_id, &row.name),
        status: DeliveryStreamStatus::Active,
        source,
        destination,
        version_id: row.version_id,
        generation: row.generation,
    })
}

/// Publishes the spec (`ACTIVE`) and settles the row at its generation.
async fn publish(reconciler: &Reconciler, row: &DeliveryStreamRow) -> anyhow::Result<()> {
    let spec = spec(reconciler, row).await?;
    reconciler
        .config_bucket
        .put(
            Names::delivery_stream_key(row.tenant_id, &row.name),
            serde_json::to_vec(&spec)?.into(),
        )
        .await
        .context("cannot publish delivery stream spec")?;
    reconciler
        .store
        .settle_delivery_stream(row.id, row.generation)
        .await?;
    Ok(())
}

/// Withdraws the spec so gateways stop accepting puts, deletes the record stream and the
/// workers' delivery ledger, removes the row.
async fn delete(reconciler: &Reconciler, row: &DeliveryStreamRow) -> anyhow::Result<()> {
    reconciler
        .config_bucket
        .purge(Names::delivery_stream_key(row.tenant_id, &row.name))
        .await
        .context("cannot withdraw delivery stream spec")?;
    delete_shard_consumers(reconciler, row).await?;
    for name in [
        reconciler.names.delivery_stream(row.id),
        reconciler.names.delivery_ledger_stream(row.id),
    ] {
        if reconciler.jetstream.get_stream(&name).await.is_ok() {
            reconciler
                .jetstream
                .delete_stream(&name)
                .await
                .with_context(|| format!("cannot delete the JetStream stream {name}"))?;
        }
    }
    reconciler
        .store
        .remove_deleted_delivery_stream(row.id)
        .await?;
    tracing::info!(delivery_stream_id = %row.id, "delivery stream deleted");
    Ok(())
}
