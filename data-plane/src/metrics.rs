//! Record traffic per stream and UTC minute, counted in memory for the control plane's
//! monitoring charts (ADR 013).
//!
//! A request adds to one map entry under one lock: no allocation unless its (stream, minute)
//! is new, no I/O. The flusher takes the whole map every `gateway.metrics_flush_ms` and sends
//! it as `stream_metrics` events ([`crate::events::GatewayEvents::flush_metrics`]); the
//! control plane adds what each flush carries, so a minute split over several flushes (or
//! several gateways) sums up.

use std::collections::HashMap;
use std::sync::Mutex;

use fjord_common::events::{StreamMinute, minute_of};
use uuid::Uuid;

/// One stream's traffic in one minute, as this gateway counted it since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    tenant_id: Uuid,
    incoming_records: u64,
    incoming_bytes: u64,
    outgoing_records: u64,
    outgoing_bytes: u64,
    iterator_age_ms_max: i64,
}

impl Counts {
    fn new(tenant_id: Uuid) -> Self {
        Self {
            tenant_id,
            incoming_records: 0,
            incoming_bytes: 0,
            outgoing_records: 0,
            outgoing_bytes: 0,
            iterator_age_ms_max: 0,
        }
    }
}

/// Counters keyed by (stream id, start of the minute in ms).
#[derive(Debug, Default)]
pub(crate) struct StreamTraffic {
    minutes: Mutex<HashMap<(Uuid, i64), Counts>>,
}

impl StreamTraffic {
    /// Adds `records` stored records holding `bytes` data bytes, now.
    pub(crate) fn incoming(&self, tenant_id: Uuid, stream_id: Uuid, records: u64, bytes: u64) {
        self.incoming_at(now_ms(), tenant_id, stream_id, records, bytes);
    }

    /// Adds `records` returned records holding `bytes` data bytes, and the call's
    /// `MillisBehindLatest`, now. An empty read that is caught up changes nothing (idle
    /// consumers poll several times a second).
    pub(crate) fn outgoing(
        &self,
        tenant_id: Uuid,
        stream_id: Uuid,
        records: u64,
        bytes: u64,
        behind_ms: i64,
    ) {
        self.outgoing_at(now_ms(), tenant_id, stream_id, records, bytes, behind_ms);
    }

    fn incoming_at(&self, now_ms: i64, tenant_id: Uuid, stream_id: Uuid, records: u64, bytes: u64) {
        if records == 0 {
            return;
        }
        self.update(now_ms, tenant_id, stream_id, |counts| {
            counts.incoming_records = counts.incoming_records.saturating_add(records);
            counts.incoming_bytes = counts.incoming_bytes.saturating_add(bytes);
        });
    }

    fn outgoing_at(
        &self,
        now_ms: i64,
        tenant_id: Uuid,
        stream_id: Uuid,
        records: u64,
        bytes: u64,
        behind_ms: i64,
    ) {
        if records == 0 && behind_ms <= 0 {
            return;
        }
        self.update(now_ms, tenant_id, stream_id, |counts| {
            counts.outgoing_records = counts.outgoing_records.saturating_add(records);
            counts.outgoing_bytes = counts.outgoing_bytes.saturating_add(bytes);
            counts.iterator_age_ms_max = counts.iterator_age_ms_max.max(behind_ms);
        });
    }

    fn update(
        &self,
        now_ms: i64,
        tenant_id: Uuid,
        stream_id: Uuid,
        change: impl FnOnce(&mut Counts),
    ) {
        let mut minutes = self
            .minutes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let counts = minutes
            .entry((stream_id, minute_of(now_ms)))
            .or_insert_with(|| Counts::new(tenant_id));
        debug_assert_eq!(
            counts.tenant_id, tenant_id,
            "a stream id names one tenant's stream"
        );
        change(counts);
    }

    /// Everything counted since the last call, leaving the map empty.
    pub(crate) fn take(&self) -> Vec<StreamMinute> {
        let minutes = std::mem::take(&mut *self.minutes.lock().unwrap_or_else(|p| p.into_inner()));
        minutes
            .into_iter()
            .map(|((stream_id, minute_ms), counts)| StreamMinute {
                tenant_id: counts.tenant_id,
                stream_id,
                minute_ms,
                incoming_records: counts.incoming_records,
                incoming_bytes: counts.incoming_bytes,
                outgoing_records: counts.outgoing_records,
                outgoing_bytes: counts.outgoing_bytes,
                iterator_age_ms_max: counts.iterator_age_ms_max,
            })
            .collect()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 1_764_151_200_000;

    #[test]
    fn traffic_is_summed_per_stream_and_minute_and_taken_once() {
        let traffic = StreamTraffic::default();
        let (tenant, orders, clicks) = (Uuid::nil(), Uuid::from_u128(1), Uuid::from_u128(2));
        traffic.incoming_at(MINUTE + 1, tenant, orders, 2, 20);
        traffic.incoming_at(MINUTE + 59_999, tenant, orders, 3, 30);
        traffic.outgoing_at(MINUTE + 5, tenant, orders, 4, 40, 700);
        traffic.outgoing_at(MINUTE + 6, tenant, orders, 1, 10, 300);
        traffic.incoming_at(MINUTE + 60_000, tenant, orders, 1, 1);
        traffic.incoming_at(MINUTE, tenant, clicks, 1, 5);
        // Nothing happened: nothing is kept.
        traffic.incoming_at(MINUTE, tenant, Uuid::from_u128(3), 0, 0);
        traffic.outgoing_at(MINUTE, tenant, Uuid::from_u128(3), 0, 0, 0);

        let mut taken = traffic.take();
        taken.sort_by_key(|minute| (minute.stream_id, minute.minute_ms));
        assert_eq!(taken.len(), 3, "{taken:?}");
        assert_eq!(
            taken[0],
            StreamMinute {
                tenant_id: tenant,
                stream_id: orders,
                minute_ms: MINUTE,
                incoming_records: 5,
                incoming_bytes: 50,
                outgoing_records: 5,
                outgoing_bytes: 50,
                iterator_age_ms_max: 700,
            }
        );
        assert_eq!(
            (taken[1].minute_ms, taken[1].incoming_records),
            (MINUTE + 60_000, 1)
        );
        assert_eq!((taken[2].stream_id, taken[2].incoming_bytes), (clicks, 5));
        assert!(traffic.take().is_empty(), "taken once");
    }

    #[test]
    fn a_lagging_empty_read_still_reports_its_iterator_age() {
        let traffic = StreamTraffic::default();
        traffic.outgoing_at(MINUTE, Uuid::nil(), Uuid::nil(), 0, 0, 1_500);
        let taken = traffic.take();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].iterator_age_ms_max, 1_500);
        assert_eq!(taken[0].outgoing_records, 0);
    }
}
