//! `UPDATING` → `ACTIVE`: bring each shard's JetStream stream to the new retention, publish.

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
        let config =
            publish::shard_stream_config(reconciler, stream, u32::try_from(shard.shard_index)?);
        reconciler
            .jetstream
            .update_stream(&config)
            .await
            .context("cannot update shard stream retention")?;
    }
    publish::stream(reconciler, stream).await
}
