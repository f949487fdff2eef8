//! Sign-in rate limiting, per account and per client address, shared by every control-plane
//! process through the `sign_in_failures` table.
//!
//! Failures are counted in fixed windows. A key over its limit refuses every sign-in, right
//! password or not, until its window ends; a successful sign-in clears the account's counter.
//! Unknown emails are counted like known ones, so the limiter reveals nothing either.

use std::net::IpAddr;
use std::time::Duration;

use crate::store::{Store, StoreResult};

/// How many failures each key may have in one window.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitPolicy {
    pub failures_per_account: i32,
    pub failures_per_address: i32,
    pub window: Duration,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self {
            failures_per_account: 5,
            failures_per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Counts failed sign-ins and says when a caller must wait.
#[derive(Clone)]
pub struct SignInLimiter {
    store: Store,
    policy: RateLimitPolicy,
}

fn account_key(email: &str) -> String {
    format!("email:{email}")
}

fn address_key(address: IpAddr) -> String {
    format!("addr:{address}")
}

impl SignInLimiter {
    pub fn new(store: Store, policy: RateLimitPolicy) -> Self {
        Self { store, policy }
    }

    fn keys(email: &str, address: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![account_key(email)];
        keys.extend(address.map(address_key));
        keys
    }

    fn limit_of(&self, key: &str) -> i32 {
        if key.starts_with("addr:") {
            self.policy.failures_per_address
        } else {
            self.policy.failures_per_account
        }
    }

    /// `Some(wait)` if the account or the address is over its limit.
    pub async fn check(
        &self,
        email: &str,
        address: Option<IpAddr>,
    ) -> StoreResult<Option<Duration>> {
        self.check_keys(&Self::keys(email, address)).await
    }

    /// `Some(wait)` if the address is over its limit (a caller not naming an account yet,
    /// such as one presenting an invitation token).
    pub async fn check_address(&self, address: Option<IpAddr>) -> StoreResult<Option<Duration>> {
        let keys: Vec<String> = address.map(address_key).into_iter().collect();
        if keys.is_empty() {
            return Ok(None);
        }
        self.check_keys(&keys).await
    }

    /// Counts a failure against the address only (an unusable invitation token).
    pub async fn record_address_failure(&self, address: Option<IpAddr>) -> StoreResult<()> {
        let keys: Vec<String> = address.map(address_key).into_iter().collect();
        if keys.is_empty() {
            return Ok(());
        }
        self.store
            .record_failure(&keys, self.policy.window.as_secs_f64())
            .await
    }

    async fn check_keys(&self, keys: &[String]) -> StoreResult<Option<Duration>> {
        let windows = self
            .store
            .open_failure_windows(keys, self.policy.window.as_secs_f64())
            .await?;
        let wait = windows
            .iter()
            .filter(|window| window.failures >= self.limit_of(&window.key))
            .map(|window| window.remaining_seconds.max(1.0).ceil())
            .fold(None, |longest: Option<f64>, seconds| {
                Some(longest.map_or(seconds, |longest| longest.max(seconds)))
            });
        Ok(wait.map(Duration::from_secs_f64))
    }

    pub async fn record_failure(&self, email: &str, address: Option<IpAddr>) -> StoreResult<()> {
        self.store
            .record_failure(
                &Self::keys(email, address),
                self.policy.window.as_secs_f64(),
            )
            .await
    }

    /// Forgets the account's failures after a successful sign-in. The address keeps its
    /// count: one good password must not unlock guessing at other accounts.
    pub async fn clear_account(&self, email: &str) -> StoreResult<()> {
        self.store.clear_failures(&account_key(email)).await
    }
}
