//! What the delivery workers of one process did, for operators and tests. Duplicates are
//! counted, never hidden (invariant 5): a record JetStream hands out more than once may be
//! delivered more than once.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by every delivery task of a process.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    records_delivered: AtomicU64,
    bytes_delivered: AtomicU64,
    objects_written: AtomicU64,
    redelivered_records: AtomicU64,
    duplicates: AtomicU64,
    write_failures: AtomicU64,
}

/// A copy of [`DeliveryMetrics`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryMetricsSnapshot {
    /// Records written to a destination and acknowledged.
    pub records_delivered: u64,
    /// Their bytes, before compression.
    pub bytes_delivered: u64,
    pub objects_written: u64,
    /// Records JetStream delivered to a worker more than once (a worker died, an ack was lost
    /// or a write outlived AckWait): each may appear in more than one object.
    pub redelivered_records: u64,
    /// Records delivered although an earlier delivery of theirs had reached the destination
    /// (the delivery ledger tells): each is one extra copy at the destination.
    pub duplicates: u64,
    /// Attempts to write an object that failed (each was retried).
    pub write_failures: u64,
}

impl DeliveryMetrics {
    pub fn snapshot(&self) -> DeliveryMetricsSnapshot {
        DeliveryMetricsSnapshot {
            records_delivered: self.records_delivered.load(Ordering::Relaxed),
            bytes_delivered: self.bytes_delivered.load(Ordering::Relaxed),
            objects_written: self.objects_written.load(Ordering::Relaxed),
            redelivered_records: self.redelivered_records.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            write_failures: self.write_failures.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn delivered(&self, records: u64, bytes: u64) {
        self.records_delivered.fetch_add(records, Ordering::Relaxed);
        self.bytes_delivered.fetch_add(bytes, Ordering::Relaxed);
        self.objects_written.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn redelivered(&self, records: u64) {
        self.redelivered_records
            .fetch_add(records, Ordering::Relaxed);
    }

    pub(crate) fn duplicated(&self, records: u64) {
        self.duplicates.fetch_add(records, Ordering::Relaxed);
    }

    pub(crate) fn write_failed(&self) {
        self.write_failures.fetch_add(1, Ordering::Relaxed);
    }
}
