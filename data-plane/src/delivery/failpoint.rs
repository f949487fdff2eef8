//! Fault injection for crash tests, compiled into debug builds only: release builds have no
//! way to turn it on.
//!
//! `FJORD_FAILPOINT_DELIVERY_PAUSE_BEFORE_ACK_MS=<ms>` (or [`set_pause_before_ack`] in
//! process) makes a worker wait that long after a delivery reached its destination and before
//! it acknowledges the records, so a test can `kill -9` it inside the window where a crash
//! leaves delivered but unacknowledged records (the ones that come back as true duplicates).

#[cfg(debug_assertions)]
use std::sync::atomic::{AtomicU64, Ordering};

/// The pause in ms; `UNSET` until the environment was read.
#[cfg(debug_assertions)]
static PAUSE_MS: AtomicU64 = AtomicU64::new(UNSET);
#[cfg(debug_assertions)]
const UNSET: u64 = u64::MAX;

/// Sets (or with `None`, clears) the pause for this process (debug builds only).
#[cfg(debug_assertions)]
pub fn set_pause_before_ack(pause: Option<std::time::Duration>) {
    let ms = pause.map_or(0, |pause| {
        pause.as_millis().min(u128::from(UNSET - 1)) as u64
    });
    PAUSE_MS.store(ms, Ordering::Relaxed);
}

/// Waits the configured pause, if any (debug builds only).
pub(crate) async fn pause_before_ack() {
    #[cfg(debug_assertions)]
    {
        let mut ms = PAUSE_MS.load(Ordering::Relaxed);
        if ms == UNSET {
            ms = std::env::var("FJORD_FAILPOINT_DELIVERY_PAUSE_BEFORE_ACK_MS")
                .ok()
                .and_then(|ms| ms.parse::<u64>().ok())
                .unwrap_or(0)
                .min(UNSET - 1);
            // A value set in process wins over the environment.
            let _ = PAUSE_MS.compare_exchange(UNSET, ms, Ordering::Relaxed, Ordering::Relaxed);
            ms = PAUSE_MS.load(Ordering::Relaxed);
        }
        if ms > 0 {
            tracing::warn!(
                pause_ms = ms,
                "failpoint: pausing before acknowledging a delivery"
            );
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }
}
