//! Periodic clean-up of data past its retention: per-minute stream metrics older than 15 days
//! and the ids of applied gateway events older than 48 hours (ADR 013).
//!
//! Every control plane runs it; deleting what another already deleted is harmless. A failed
//! pass is logged and tried again at the next one: nothing depends on it being prompt.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How often a pass runs (the first one at start).
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Runs a pass every [`HOUSEKEEPING_INTERVAL`] until `cancel` fires.
pub async fn run(store: Store, cancel: CancellationToken) {
    let mut ticks = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match store.prune_metrics().await {
            Ok((minutes, events)) if minutes > 0 || events > 0 => {
                tracing::info!(
                    minutes,
                    events,
                    "pruned stream metrics and applied event ids"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot prune stream metrics; will retry"),
        }
    }
}
