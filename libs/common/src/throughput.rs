//! Write throughput quotas: a token bucket per tenant per process, for records per second and
//! bytes (partition keys plus data) per second, each holding at most one second's worth
//! ([ADR 010](../../../docs/adr/010-tenant-quotas.md)).
//!
//! Both record fronts use it: the gateway for PutRecord/PutRecords (quotas pushed through the
//! config bucket) and the control plane for records over REST (quotas read with the tenant).
//! A call takes the tenant's bucket lock once, whatever its record count; unlimited tenants
//! hold no bucket and skip the lock entirely. The limits are per process: N processes admit
//! up to N times the quota.
//!
//! A cost larger than a full bucket (one record larger than a second of bytes, or a REST call
//! of more records than a second holds) is admitted when the bucket is full, and the bucket
//! goes into debt; otherwise it could never pass. Over time the rate holds either way.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A tenant's write quota; `None` in either dimension is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRate {
    pub records_per_second: Option<u64>,
    pub bytes_per_second: Option<u64>,
}

impl WriteRate {
    pub fn is_unlimited(&self) -> bool {
        self.records_per_second.is_none() && self.bytes_per_second.is_none()
    }
}

/// A token bucket refilled at `rate` per second, holding at most `rate` tokens (a burst of one
/// second). Tokens go negative when an oversized cost is admitted from a full bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn full(rate: u64, now: Instant) -> Self {
        let rate = rate as f64;
        Self {
            rate,
            tokens: rate,
            refilled_at: now,
        }
    }

    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    pub fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.rate);
        self.refilled_at = self.refilled_at.max(now);
    }

    /// Whether `cost` may be taken now: enough tokens, or a full bucket.
    pub fn allows(&self, cost: u64) -> bool {
        let cost = cost as f64;
        self.tokens >= cost || self.tokens >= self.rate
    }

    pub fn take(&mut self, cost: u64) {
        self.tokens -= cost as f64;
    }

    /// How long until `cost` would be allowed, at the current fill.
    pub fn wait_for(&self, cost: u64) -> Duration {
        let needed = (cost as f64).min(self.rate) - self.tokens;
        if needed <= 0.0 || self.rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(needed / self.rate)
    }

    /// Changes the rate, keeping the tokens already held (up to the new burst).
    fn set_rate(&mut self, rate: u64, now: Instant) {
        self.refill(now);
        self.rate = rate as f64;
        self.tokens = self.tokens.min(self.rate);
    }
}

/// The buckets of one tenant: records and bytes, each only when limited.
#[derive(Debug, Clone)]
pub struct WriteBuckets {
    records: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
}

impl WriteBuckets {
    pub fn new(rate: WriteRate, now: Instant) -> Self {
        Self {
            records: rate.records_per_second.map(|r| TokenBucket::full(r, now)),
            bytes: rate.bytes_per_second.map(|r| TokenBucket::full(r, now)),
        }
    }

    fn set_rate(&mut self, rate: WriteRate, now: Instant) {
        fn adjust(bucket: &mut Option<TokenBucket>, rate: Option<u64>, now: Instant) {
            *bucket = match (bucket.take(), rate) {
                (_, None) => None,
                (Some(mut current), Some(rate)) => {
                    current.set_rate(rate, now);
                    Some(current)
                }
                (None, Some(rate)) => Some(TokenBucket::full(rate, now)),
            };
        }
        adjust(&mut self.records, rate.records_per_second, now);
        adjust(&mut self.bytes, rate.bytes_per_second, now);
    }

    fn refill(&mut self, now: Instant) {
        for bucket in [&mut self.records, &mut self.bytes].into_iter().flatten() {
            bucket.refill(now);
        }
    }

    fn allows(&self, records: u64, bytes: u64) -> bool {
        self.records
            .as_ref()
            .is_none_or(|bucket| bucket.allows(records))
            && self
                .bytes
                .as_ref()
                .is_none_or(|bucket| bucket.allows(bytes))
    }

    fn take(&mut self, records: u64, bytes: u64) {
        if let Some(bucket) = &mut self.records {
            bucket.take(records);
        }
        if let Some(bucket) = &mut self.bytes {
            bucket.take(bytes);
        }
    }

    /// Admits records in order while they fit, charging them; how many were admitted. The
    /// first that does not fit ends the admission, so a retry keeps the call's order.
    pub fn admit_prefix(&mut self, now: Instant, record_sizes: &[u64]) -> usize {
        self.refill(now);
        for (position, &size) in record_sizes.iter().enumerate() {
            if !self.allows(1, size) {
                return position;
            }
            self.take(1, size);
        }
        record_sizes.len()
    }

    /// Admits a whole call of `records` records and `bytes` bytes, or none of it; when refused,
    /// how long until it would fit.
    pub fn admit_all(&mut self, now: Instant, records: u64, bytes: u64) -> Result<(), Duration> {
        self.refill(now);
        if self.allows(records, bytes) {
            self.take(records, bytes);
            return Ok(());
        }
        let wait = |bucket: &Option<TokenBucket>, cost: u64| {
            bucket
                .as_ref()
                .map_or(Duration::ZERO, |bucket| bucket.wait_for(cost))
        };
        Err(wait(&self.records, records).max(wait(&self.bytes, bytes)))
    }
}

/// One tenant's quota as a process knows it; `None` buckets when unlimited.
#[derive(Debug)]
struct TenantLimit {
    rate: WriteRate,
    buckets: Option<Mutex<WriteBuckets>>,
}

/// Every tenant's write buckets in this process.
#[derive(Debug, Default)]
pub struct WriteLimiter {
    tenants: RwLock<HashMap<Uuid, TenantLimit>>,
}

impl WriteLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the tenant's quota; a changed quota keeps the tokens held (up to the new burst).
    pub fn set(&self, tenant_id: Uuid, rate: WriteRate) {
        if self
            .tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant_id)
            .is_some_and(|known| known.rate == rate)
        {
            return;
        }
        let now = Instant::now();
        let mut tenants = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        let buckets = if rate.is_unlimited() {
            None
        } else {
            let buckets = match tenants.remove(&tenant_id).and_then(|known| known.buckets) {
                Some(current) => {
                    let mut current = current.into_inner().unwrap_or_else(PoisonError::into_inner);
                    current.set_rate(rate, now);
                    current
                }
                None => WriteBuckets::new(rate, now),
            };
            Some(Mutex::new(buckets))
        };
        tenants.insert(tenant_id, TenantLimit { rate, buckets });
    }

    /// Forgets the tenant (its next call is treated as unknown).
    pub fn remove(&self, tenant_id: Uuid) {
        self.tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tenant_id);
    }

    /// The tenant's quota, if this process knows it.
    pub fn rate(&self, tenant_id: Uuid) -> Option<WriteRate> {
        self.tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant_id)
            .map(|known| known.rate)
    }

    /// How many leading records of a call (their sizes in bytes) fit the tenant's quota, now
    /// charged; `None` if the tenant's quota is unknown here.
    pub fn admit_prefix(&self, tenant_id: Uuid, record_sizes: &[u64]) -> Option<usize> {
        let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        let known = tenants.get(&tenant_id)?;
        let Some(buckets) = &known.buckets else {
            return Some(record_sizes.len());
        };
        let mut buckets = buckets.lock().unwrap_or_else(PoisonError::into_inner);
        Some(buckets.admit_prefix(Instant::now(), record_sizes))
    }

    /// Admits the whole call under `rate` (recorded first), or says how long to wait.
    pub fn admit_all(
        &self,
        tenant_id: Uuid,
        rate: WriteRate,
        records: u64,
        bytes: u64,
    ) -> Result<(), Duration> {
        if rate.is_unlimited() {
            return Ok(());
        }
        self.set(tenant_id, rate);
        let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        let Some(buckets) = tenants
            .get(&tenant_id)
            .and_then(|known| known.buckets.as_ref())
        else {
            return Ok(());
        };
        let mut buckets = buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets.admit_all(Instant::now(), records, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(records: Option<u64>, bytes: Option<u64>) -> WriteRate {
        WriteRate {
            records_per_second: records,
            bytes_per_second: bytes,
        }
    }

    #[test]
    fn a_full_bucket_bursts_one_second_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut buckets = WriteBuckets::new(rate(Some(50), None), start);
        assert_eq!(buckets.admit_prefix(start, &[10; 500]), 50);
        assert_eq!(buckets.admit_prefix(start, &[10; 5]), 0);
        // 100 ms refills 5 records.
        let later = start + Duration::from_millis(100);
        assert_eq!(buckets.admit_prefix(later, &[10; 500]), 5);
        // Never more than one second's worth, however long the pause.
        let much_later = later + Duration::from_secs(60);
        assert_eq!(buckets.admit_prefix(much_later, &[10; 500]), 50);
    }

    #[test]
    fn bytes_and_records_are_limited_separately() {
        let start = Instant::now();
        let mut buckets = WriteBuckets::new(rate(Some(1000), Some(1000)), start);
        // 100-byte records: bytes bind after 10.
        assert_eq!(buckets.admit_prefix(start, &[100; 50]), 10);
        let mut buckets = WriteBuckets::new(rate(Some(3), Some(1000)), start);
        // 1-byte records: records bind after 3.
        assert_eq!(buckets.admit_prefix(start, &[1; 50]), 3);
        // Unlimited in both: everything.
        let mut buckets = WriteBuckets::new(rate(None, None), start);
        assert_eq!(buckets.admit_prefix(start, &[1_000_000; 500]), 500);
    }

    #[test]
    fn admission_stops_at_the_first_record_that_does_not_fit() {
        let start = Instant::now();
        let mut buckets = WriteBuckets::new(rate(None, Some(100)), start);
        // The 80-byte record does not fit after 60; the 10-byte one after it is not admitted.
        assert_eq!(buckets.admit_prefix(start, &[60, 80, 10]), 1);
    }

    #[test]
    fn an_oversized_cost_passes_a_full_bucket_and_leaves_debt() {
        let start = Instant::now();
        let mut buckets = WriteBuckets::new(rate(None, Some(100)), start);
        assert_eq!(buckets.admit_prefix(start, &[250]), 1);
        assert!(buckets.bytes.as_ref().unwrap().tokens() < 0.0);
        // The debt is repaid at the rate: 1.5 s brings it back to 0, 2.5 s to full.
        assert_eq!(
            buckets.admit_prefix(start + Duration::from_millis(1500), &[1]),
            0
        );
        assert_eq!(
            buckets.admit_prefix(start + Duration::from_millis(2600), &[100]),
            1
        );
    }

    #[test]
    fn whole_calls_are_admitted_or_told_when_to_retry() {
        let start = Instant::now();
        let mut buckets = WriteBuckets::new(rate(Some(10), None), start);
        assert_eq!(buckets.admit_all(start, 8, 0), Ok(()));
        let wait = buckets.admit_all(start, 8, 0).unwrap_err();
        // 2 tokens left, 6 more needed at 10/s.
        assert!(
            (wait.as_secs_f64() - 0.6).abs() < 0.01,
            "waited {wait:?} instead of 0.6 s"
        );
        assert_eq!(
            buckets.admit_all(start + Duration::from_millis(700), 8, 0),
            Ok(())
        );
        // A call larger than the burst waits for a full bucket, then passes.
        let wait = buckets
            .admit_all(start + Duration::from_millis(700), 30, 0)
            .unwrap_err();
        assert!(wait > Duration::from_millis(850), "{wait:?}");
        assert_eq!(
            buckets.admit_all(start + Duration::from_millis(1700), 30, 0),
            Ok(())
        );
    }

    #[test]
    fn the_limiter_skips_unlimited_tenants_and_applies_changes() {
        let limiter = WriteLimiter::new();
        let tenant = Uuid::now_v7();
        assert_eq!(limiter.admit_prefix(tenant, &[1; 10]), None, "unknown");
        limiter.set(tenant, WriteRate::default());
        assert_eq!(limiter.admit_prefix(tenant, &[1; 500]), Some(500));
        limiter.set(tenant, rate(Some(5), None));
        assert_eq!(limiter.admit_prefix(tenant, &[1; 10]), Some(5));
        assert_eq!(limiter.admit_prefix(tenant, &[1; 10]), Some(0));
        // Raising the quota keeps the (empty) bucket but refills at the new rate.
        limiter.set(tenant, rate(Some(1_000_000), None));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(limiter.admit_prefix(tenant, &[1; 500]), Some(500));
        assert_eq!(limiter.rate(tenant), Some(rate(Some(1_000_000), None)));
        // Back to unlimited: no bucket at all.
        limiter.set(tenant, WriteRate::default());
        assert_eq!(limiter.admit_prefix(tenant, &[u64::MAX; 3]), Some(3));
        limiter.remove(tenant);
        assert_eq!(limiter.rate(tenant), None);
    }

    #[test]
    fn the_limiter_admits_whole_calls_under_the_given_rate() {
        let limiter = WriteLimiter::new();
        let tenant = Uuid::now_v7();
        let quota = rate(Some(10), None);
        assert_eq!(limiter.admit_all(tenant, quota, 10, 100), Ok(()));
        let wait = limiter.admit_all(tenant, quota, 1, 1).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100));
        assert_eq!(
            limiter.admit_all(tenant, WriteRate::default(), 1000, 1 << 30),
            Ok(())
        );
    }
}
