//! Publishing specs to the config bucket, and the JetStream stream config for a shard.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::stream;
use fjord_common::naming::Names;
use fjord_common::spec::{AccessKeySpec, ShardSpec, StreamSpec, StreamStatus, TenantSpec};

use super::Reconciler;
use crate::auth::permissions::Role;
use crate::store::TenantId;
use crate::store::streams::StreamRow;
use crate::store::tenants::{AccessKeyRow, TenantRow};

/// Publishes an access key's spec, or, for a deleted key, purges it from the config bucket
/// (the gateway drops it from its cache on the purge) and then drops its row.
pub(super) async fn access_key(reconciler: &Reconciler, key: &AccessKeyRow) -> anyhow::Result<()> {
    let bucket_key = Names::access_key_key(&key.access_key_id);
    if key.deleted {
        reconciler
            .config_bucket
            .purge(&bucket_key)
            .await
            .context("cannot purge a deleted access key")?;
        reconciler
            .store
            .remove_deleted_access_key(&key.access_key_id, key.generation)
            .await?;
        return Ok(());
    }
    let role: Role = key
        .role
        .parse()
        .context("an access key row holds an unknown role")?;
    let spec = AccessKeySpec {
        access_key_id: key.access_key_id.clone(),
        tenant_id: key.tenant_id,
        account_id: key.account_id.clone(),
        sealed_secret: key.sealed_secret.clone(),
        enabled: key.enabled,
        role,
        generation: key.generation,
    };
    reconciler
        .config_bucket
        .put(bucket_key, serde_json::to_vec(&spec)?.into())
        .await
        .context("cannot publish access key")?;
    reconciler
        .store
        .mark_access_key_published(&key.access_key_id, key.generation)
        .await?;
    Ok(())
}

/// Publishes a tenant's write throughput quota (ADR 010), which every gateway enforces.
pub(super) async fn tenant(reconciler: &Reconciler, tenant: &TenantRow) -> anyhow::Result<()> {
    let spec = TenantSpec {
        tenant_id: tenant.id,
        write: tenant.quotas().write_rate(),
        generation: tenant.generation,
    };
    reconciler
        .config_bucket
        .put(
            Names::tenant_key(tenant.id),
            serde_json::to_vec(&spec)?.into(),
        )
        .await
        .context("cannot publish tenant quotas")?;
    reconciler
        .store
        .mark_tenant_published(TenantId(tenant.id), tenant.generation)
        .await?;
    Ok(())
}

/// The spec the data plane should see for `stream`, in `status`.
pub(super) async fn stream_spec(
    reconciler: &Reconciler,
    stream: &StreamRow,
    status: StreamStatus,
) -> anyhow::Result<StreamSpec> {
    let tenant_id = TenantId(stream.tenant_id);
    let tenant = reconciler.store.tenant(tenant_id).await?;
    let shards = reconciler.store.shards(tenant_id, stream.id).await?;
    Ok(StreamSpec {
        stream_id: stream.id,
        tenant_id: stream.tenant_id,
        name: stream.name.clone(),
        arn: crate::kinesis::stream_arn(&reconciler.region, &tenant.account_id, &stream.name),
        status,
        retention_hours: u32::try_from(stream.retention_hours).unwrap_or(24),
        shards: shards
            .into_iter()
            .map(|shard| ShardSpec {
                index: u32::try_from(shard.shard_index).unwrap_or_default(),
                starting_hash_key: shard.starting_hash_key,
                ending_hash_key: shard.ending_hash_key,
                open: shard.ending_sequence_number.is_none(),
            })
            .collect(),
        generation: stream.generation,
    })
}

/// Publishes the spec of an `ACTIVE` stream (or the one a transition is about to reach) and
/// settles the row.
pub(super) async fn stream(reconciler: &Reconciler, stream: &StreamRow) -> anyhow::Result<()> {
    let spec = stream_spec(reconciler, stream, StreamStatus::Active).await?;
    put_stream_spec(reconciler, &spec).await?;
    reconciler
        .store
        .settle_stream(stream.id, stream.generation)
        .await?;
    Ok(())
}

pub(super) async fn put_stream_spec(
    reconciler: &Reconciler,
    spec: &StreamSpec,
) -> anyhow::Result<()> {
    reconciler
        .config_bucket
        .put(
            Names::stream_key(spec.tenant_id, &spec.name),
            serde_json::to_vec(spec)?.into(),
        )
        .await
        .context("cannot publish stream spec")?;
    Ok(())
}

/// The JetStream stream that holds one shard: file storage, age-based retention.
pub(super) fn shard_stream_config(
    reconciler: &Reconciler,
    stream: &StreamRow,
    shard_index: u32,
) -> stream::Config {
    stream::Config {
        name: reconciler.names.shard_stream(stream.id, shard_index),
        subjects: vec![reconciler.names.shard_subject(stream.id, shard_index)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_age: Duration::from_secs(3600 * u64::try_from(stream.retention_hours).unwrap_or(24)),
        num_replicas: reconciler.replicas,
        allow_direct: true,
        duplicate_window: Duration::from_secs(0),
        description: Some(format!("fjord shard {shard_index} of stream {}", stream.id)),
        ..Default::default()
    }
}
