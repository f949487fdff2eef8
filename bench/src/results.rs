//! The JSON documents written by `kinesis --json` / `jetstream --json` and read by `report`.

use serde::{Deserialize, Serialize};

/// One bench run, tagged by `"kind"`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum RunResult {
    Kinesis(KinesisResult),
    Jetstream(JetStreamResult),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LatencySummary {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Successful requests recorded in the histogram.
    pub requests: u64,
    /// Requests that still failed after retries (not in the histogram).
    pub errors: u64,
    /// Retried attempts (throttling / transport errors); their time is part of the latency.
    pub retries: u64,
    pub requests_per_sec: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A write phase: PutRecords batches, or JetStream publishes with acks in flight.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct WriteSummary {
    /// Records / messages the run tried to write.
    pub attempted: u64,
    /// Records / messages acknowledged as stored.
    pub stored: u64,
    /// Records rejected inside successful PutRecords responses (FailedRecordCount), plus the
    /// records of requests that failed outright.
    pub failed_records: u64,
    /// Records/messages rejected, by error code.
    pub failed_by_code: std::collections::BTreeMap<String, u64>,
    /// HTTP requests (PutRecords calls) or publishes issued, retries excluded.
    pub requests: u64,
    /// Retried attempts of whole requests.
    pub retries: u64,
    /// Requests that still failed after all retries.
    pub failed_requests: u64,
    /// Payload bytes stored.
    pub bytes: u64,
    pub seconds: f64,
    /// Stored records per second of wall time.
    pub records_per_sec: f64,
    /// Stored payload MB (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// CPU time (user+system) of the bench process per stored record.
    pub client_cpu_us_per_record: f64,
    /// CPU time of the `--server-pid` processes per stored record, when given.
    pub server_cpu_us_per_record: Option<f64>,
}

/// A read-back phase: GetRecords over every shard, or a JetStream pull consumer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ReadSummary {
    /// Records the write phase stored (what the read should find).
    pub expected: u64,
    pub records: u64,
    pub bytes: u64,
    /// GetRecords / fetch calls.
    pub calls: u64,
    /// Calls that returned no records.
    pub empty_calls: u64,
    pub retries: u64,
    pub seconds: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    /// `records >= expected`.
    pub complete: bool,
    pub client_cpu_us_per_record: f64,
    pub server_cpu_us_per_record: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KinesisResult {
    pub label: String,
    pub endpoint: String,
    pub stream_name: String,
    pub shards: u32,
    pub record_size: usize,
    pub batch: usize,
    pub concurrency: usize,
    /// CreateStream until DescribeStreamSummary says ACTIVE.
    pub stream_active_ms: f64,
    pub put_records: WriteSummary,
    pub read_back: ReadSummary,
    pub put_record_c1: LatencySummary,
    pub put_record_c16: LatencySummary,
    pub started_unix: u64,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JetStreamResult {
    pub label: String,
    pub url: String,
    pub server_version: String,
    pub stream_name: String,
    pub record_size: usize,
    pub in_flight: usize,
    pub fetch_batch: usize,
    pub publish: WriteSummary,
    pub read: ReadSummary,
    pub publish_latency_c1: LatencySummary,
    pub publish_latency_c16: LatencySummary,
    pub started_unix: u64,
    pub notes: Vec<String>,
}
