//! `CREATING` → `ACTIVE`: create each shard's JetStream stream, publish the spec, settle.

use anyhow::Context as _;

use super::Reconciler;
use super::publish;
use crate::store::TenantId;
use crate::store::streams::StreamRow;

pub(super) async fn step(reconciler: &Reconciler, stream: &StreamRow) -> anyhow::Result<()> {
    let shards = reconciler
        .store
        .shards(TenantId(stream.tenant_id), stream.id)
        .await?;
    for shard in &shards {
        let shard_index = u32::try_from(shard.shard_index)?;
        let config = publish::shard_stream_config(reconciler, stream, shard_index);
        // Idempotent: an existing stream from an interrupted pass is brought to this config.
        match reconciler.jetstream.get_stream(&config.name).await {
            Ok(_) => {
                reconciler
                    .jetstream
                    .update_stream(&config)
                    .await
                    .context("cannot update shard stream")?;
            }
            Err(_) => {
                reconciler
                    .jetstream
                    .create_stream(config)
                    .await
                    .context("cannot create shard stream")?;
            }
        }
    }
    publish::stream(reconciler, stream).await?;
    tracing::info!(stream_id = %stream.id, shards = shards.len(), "stream is active");
    Ok(())
}
