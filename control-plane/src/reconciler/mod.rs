//! The reconciler: makes JetStream and the config bucket match the desired state in Postgres.
//!
//! Each pass publishes tenant quotas and access keys whose generation moved, then walks every stream and delivery
//! stream that is not `ACTIVE` or whose spec is not yet published, one state per file. Every step is idempotent,
//! so a crash at any point converges on the next pass. Passes run on a Postgres notification
//! (sent by every write) or on a timer, whichever comes first.

mod creating;
mod deleting;
pub(crate) mod delivery;
mod publish;
mod updating;

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use fjord_common::naming::Names;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::store::streams::StreamRow;
use crate::store::{RECONCILE_CHANNEL, Store};

/// What the reconciler needs to act.
#[derive(Clone)]
pub struct Reconciler {
    pub(crate) store: Store,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) config_bucket: jetstream::kv::Store,
    pub(crate) names: Names,
    pub(crate) replicas: usize,
    pub(crate) region: String,
    pub(crate) interval: Duration,
}

impl Reconciler {
    /// A reconciler on `jetstream` (tests build one to provision shard streams).
    pub fn new(
        store: Store,
        jetstream: jetstream::Context,
        config_bucket: jetstream::kv::Store,
        names: Names,
        replicas: usize,
        region: String,
    ) -> Self {
        Self {
            store,
            jetstream,
            config_bucket,
            names,
            replicas,
            region,
            interval: Duration::from_secs(1),
        }
    }

    /// Runs passes until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(self.store.pool())
            .await
            .context("reconciler cannot listen on Postgres")?;
        listener.listen(RECONCILE_CHANNEL).await?;
        loop {
            if let Err(error) = self.reconcile_once().await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "reconcile pass failed, will retry"
                );
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                notification = listener.recv() => {
                    if let Err(error) = notification {
                        tracing::warn!(%error, "reconciler lost its Postgres listener, reconnecting");
                    }
                }
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One pass over everything that differs from its desired state.
    pub async fn reconcile_once(&self) -> anyhow::Result<()> {
        for tenant in self.store.unpublished_tenants().await? {
            publish::tenant(self, &tenant).await?;
        }
        for key in self.store.unpublished_access_keys().await? {
            publish::access_key(self, &key).await?;
        }
        for stream in self.store.streams_needing_reconcile().await? {
            if let Err(error) = self.reconcile_stream(&stream).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    stream_id = %stream.id,
                    status = %stream.status,
                    "stream did not converge this pass"
                );
            }
        }
        for delivery_stream in self.store.delivery_streams_needing_reconcile().await? {
            if let Err(error) = delivery::step(self, &delivery_stream).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    delivery_stream_id = %delivery_stream.id,
                    status = %delivery_stream.status,
                    "delivery stream did not converge this pass"
                );
            }
        }
        Ok(())
    }

    async fn reconcile_stream(&self, stream: &StreamRow) -> anyhow::Result<()> {
        match stream.status.as_str() {
            "CREATING" => creating::step(self, stream).await,
            "UPDATING" => updating::step(self, stream).await,
            "DELETING" => deleting::step(self, stream).await,
            _ => publish::stream(self, stream).await,
        }
    }
}
