//! `DELETING` → gone: withdraw the spec so gateways stop serving it, delete each shard's
//! JetStream stream, then the rows.

use anyhow::Context as _;
use fjord_common::naming::Names;

use super::Reconciler;
use crate::store::TenantId;
use crate::store::streams::StreamRow;

pub(super) async fn step(reconciler: &Reconciler, stream: &StreamRow) -> anyhow::Result<()> {
    reconciler
        .config_bucket
        .purge(Names::stream_key(stream.tenant_id, &stream.name))
        .await
        .context("cannot withdraw stream spec")?;
    let shards = reconciler
        .store
        .shards(TenantId(stream.tenant_id), stream.id)
        .await?;
    for shard in &shards {
        let name = reconciler
            .names
            .shard_stream(stream.id, u32::try_from(shard.shard_index)?);
        if reconciler.jetstream.get_stream(&name).await.is_ok() {
            reconciler
                .jetstream
                .delete_stream(&name)
                .await
                .context("cannot delete shard stream")?;
        }
    }
    reconciler.store.remove_deleted_stream(stream.id).await?;
    tracing::info!(stream_id = %stream.id, "stream deleted");
    Ok(())
}
