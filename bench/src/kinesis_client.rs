//! The AWS SDK client as the bench configures it, and the bench's own retry policy.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider, StalledStreamProtectionConfig,
};
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::kinesis::KinesisArgs;

/// Counters shared by concurrent requests.
#[derive(Default)]
pub(crate) struct RetryStats {
    pub retries: AtomicU64,
}

impl RetryStats {
    pub(crate) fn get(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// Throttling, 5xx and transport errors are worth another attempt; validation errors are not.
fn retryable<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            let code = err.code().unwrap_or_default();
            status >= 500
                || status == 429
                || code.contains("Throttl")
                || code.contains("ProvisionedThroughputExceeded")
                || code.contains("LimitExceeded")
        }
        _ => false,
    }
}

/// Short description of an SDK error: code and message, or the transport error.
pub(crate) fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E>,
) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => format!("{}", aws_sdk_kinesis::error::DisplayErrorContext(err)),
    }
}

/// Error code used to bucket failures.
pub(crate) fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E>) -> String {
    match err {
        SdkError::TimeoutError(_) => "Timeout".to_owned(),
        SdkError::DispatchFailure(_) => "DispatchFailure".to_owned(),
        SdkError::ResponseError(_) => "ResponseError".to_owned(),
        _ => err.code().unwrap_or("Unknown").to_owned(),
    }
}

/// Run `attempt(n)` (n = 0, 1, ...) until it succeeds, fails for good, or `max_attempts` is
/// reached; exponential backoff from 20 ms, capped at 1 s. Each retry is counted in `stats`.
pub(crate) async fn with_retries<T, E, F, Fut>(
    max_attempts: u32,
    stats: &RetryStats,
    mut attempt: F,
) -> Result<T, SdkError<E>>
where
    E: ProvideErrorMetadata,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
{
    let mut n = 0;
    loop {
        match attempt(n).await {
            Ok(v) => return Ok(v),
            Err(e) if n + 1 < max_attempts && retryable(&e) => {
                stats.retries.fetch_add(1, Ordering::Relaxed);
                let backoff = Duration::from_millis(20u64 << n.min(6)).min(Duration::from_secs(1));
                tokio::time::sleep(backoff).await;
                n += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Generous timeouts for every SDK client of the bench (10 s connect, 120 s per attempt).
pub(crate) fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
        .operation_attempt_timeout(Duration::from_secs(120))
        .operation_timeout(Duration::from_secs(120))
        .build()
}

/// The settings every SDK client of the bench shares, whatever the service: the endpoint and
/// static credentials; no SDK retries (the bench retries itself and counts them), generous
/// timeouts and no stalled-stream heuristics, so the numbers reflect the server rather than
/// client-side policies.
pub(crate) fn sdk_config(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> aws_types::SdkConfig {
    let credentials = Credentials::new(access_key_id, secret_access_key, None, None, "fjord-bench");
    aws_types::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(RetryConfig::disabled())
        .timeout_config(sdk_timeouts())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build()
}

pub(crate) fn client(args: &KinesisArgs) -> Client {
    Client::new(&sdk_config(
        &args.endpoint,
        &args.region,
        &args.access_key_id,
        &args.secret_access_key,
    ))
}
