//! The JSON documents written by `kinesis --json` / `jetstream --json` / `firehose --json` and
//! read by `report`.

use serde::{Deserialize, Serialize};

/// One bench run, tagged by `"kind"`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum RunResult {
    Kinesis(KinesisResult),
    Jetstream(JetStreamResult),
    Firehose(FirehoseResult),
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

impl WriteSummary {
    /// `<failed records> (<code> <count>, …)`, or `None` when nothing failed.
    pub(crate) fn failures(&self) -> Option<String> {
        (!self.failed_by_code.is_empty()).then(|| {
            let codes: Vec<String> = self
                .failed_by_code
                .iter()
                .map(|(code, count)| format!("{code} {count}"))
                .collect();
            format!("{} ({})", self.failed_records, codes.join(", "))
        })
    }
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

/// End to end: from the first `PutRecordBatch` until every stored record was found in the
/// delivered objects.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct DeliverySummary {
    /// Records the puts stored (what the objects must hold).
    pub expected: u64,
    /// Distinct stored records found in the objects.
    pub found: u64,
    /// Stored records not found by the end of the phase.
    pub missing: u64,
    /// Extra copies of records found (at-least-once delivery may repeat a record).
    pub duplicates: u64,
    /// Lines in the objects that are not an exact copy of a record put in this run.
    pub unrecognised: u64,
    /// Objects read and their bytes.
    pub objects: u64,
    pub object_bytes: u64,
    /// Payload bytes of the distinct records found.
    pub bytes: u64,
    /// First put sent → last missing record found (or the phase gave up).
    pub seconds: f64,
    /// Last put answered → last missing record found.
    pub drain_after_last_put_ms: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    /// `missing == 0`.
    pub complete: bool,
    /// How often the folder was scanned, in milliseconds.
    pub poll_ms: u64,
    /// CPU of the bench process (puts, and reading the objects back) per record found.
    pub client_cpu_us_per_record: f64,
    /// CPU of the `--server-pid` processes (gateway, worker, NATS) per record found.
    pub server_cpu_us_per_record: Option<f64>,
}

/// Put one record at a time and time how long until an object holding it is visible.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FreshnessSummary {
    /// The delivery stream's buffering hints.
    pub interval_seconds: u32,
    pub size_mib: u32,
    /// Records put per second, one call at a time.
    pub rate_per_sec: f64,
    /// Records put and acknowledged; calls that failed after retries.
    pub records: u64,
    pub failed_puts: u64,
    /// Acknowledged records found in an object, and those never found.
    pub seen: u64,
    pub missing: u64,
    pub objects: u64,
    /// How often the folder was scanned, in milliseconds (the resolution of the figures).
    pub poll_ms: u64,
    /// PutRecord acknowledged → object holding the record visible, in milliseconds.
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The PutRecord calls' own round trip.
    pub put_p50_ms: f64,
    pub put_p99_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FirehoseResult {
    pub label: String,
    /// Label of the Kinesis run (same endpoint, same run) whose PutRecords rate is the ratio's
    /// denominator.
    pub kinesis_label: String,
    pub endpoint: String,
    pub delivery_stream: String,
    pub bucket: String,
    pub record_size: usize,
    pub batch: usize,
    pub concurrency: usize,
    /// Buffering hints of the throughput delivery stream.
    pub size_mib: u32,
    pub interval_seconds: u32,
    /// CreateDeliveryStream until DescribeDeliveryStream says ACTIVE.
    pub stream_active_ms: f64,
    /// The `PutRecordBatch` calls alone.
    pub put: WriteSummary,
    pub end_to_end: DeliverySummary,
    pub freshness: FreshnessSummary,
    pub started_unix: u64,
    pub notes: Vec<String>,
}
