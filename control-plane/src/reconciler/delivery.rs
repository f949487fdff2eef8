//! Delivery streams: `CREATING` → the JetStream stream holding records, the spec published,
//! `ACTIVE`; a changed destination (`UpdateDestination`) → the spec republished; `DELETING` →
//! the spec withdrawn, the JetStream stream deleted, the row removed.
//!
//! Every step is idempotent: an interrupted pass is finished by the next one.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::stream;
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

/// Creates the record stream, or brings an existing one (from an interrupted pass) to its config.
async fn ensure_record_stream(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> anyhow::Result<()> {
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

/// The spec the data plane should see for `row`, as it will be once settled.
pub(crate) async fn spec(
    reconciler: &Reconciler,
    row: &DeliveryStreamRow,
) -> anyhow::Result<DeliveryStreamSpec> {
    let tenant = reconciler.store.tenant(TenantId(row.tenant_id)).await?;
    let destination = row
        .destination()
        .context("a delivery stream row holds an unreadable destination spec")?;
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
