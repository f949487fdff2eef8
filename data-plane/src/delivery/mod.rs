//! The delivery workers: they drain delivery streams (Firehose) from JetStream into their
//! destinations, at least once. Stateless: any number of worker processes share each
//! delivery stream's durable consumer, so a dead worker's records go to the others.
//!
//! `supervisor` follows the specs, `task` runs one delivery stream (pull, buffer, deliver,
//! acknowledge), `source` pulls a delivery stream's records (`kinesis_source` from a Kinesis
//! stream's shards), `buffer` holds a worker's records, `destination` prepares and sends a
//! buffer (`http_endpoint` posts it to an HTTP endpoint), `naming` makes Firehose's object keys, `encode` compresses, `parquet` converts records to
//! Parquet, `sink` writes objects,
//! `metrics` counts (duplicates included), `report` tells the control plane (per delivery
//! stream and minute, and failures).

mod buffer;
mod destination;
mod encode;
mod failpoint;
mod http_endpoint;
mod kinesis_source;
mod ledger;
mod metrics;
mod naming;
mod parquet;
mod process;
mod report;
mod sink;
mod source;
mod supervisor;
mod task;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use fjord_common::config::FjordConfig;
use fjord_common::naming::Names;
use tokio_util::sync::CancellationToken;

#[cfg(debug_assertions)]
pub use failpoint::set_pause_before_ack;
pub use metrics::{DeliveryMetrics, DeliveryMetricsSnapshot};

use task::{Settings, WorkerContext};

/// First pause after a failed pull or send; doubled up to `delivery.retry_backoff_max_ms`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Runs the delivery workers until `cancel` fires; buffered records are written before it
/// returns (or given back to the other workers if they cannot be).
pub async fn run_workers(config: FjordConfig, cancel: CancellationToken) -> anyhow::Result<()> {
    run_workers_with_metrics(config, cancel, Arc::new(DeliveryMetrics::default())).await
}

/// [`run_workers`], counting into `metrics`.
pub async fn run_workers_with_metrics(
    config: FjordConfig,
    cancel: CancellationToken,
    metrics: Arc<DeliveryMetrics>,
) -> anyhow::Result<()> {
    let nats = async_nats::connect(&config.nats.url)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", config.nats.url))?;
    let jetstream = async_nats::jetstream::new(nats);
    let names = Names::new(&config.nats.prefix);
    let Some(bucket) = crate::open_config_bucket(&jetstream, &names, &cancel).await else {
        return Ok(());
    };
    let secret_box = config.master_key()?.secret_box();
    let flush = Duration::from_millis(config.delivery.metrics_flush_ms);
    let (reporter, reports) = report::DeliveryReporter::new(flush);
    let reporter = Arc::new(reporter);
    let reporting = CancellationToken::new();
    let reports = tokio::spawn(report::run(
        reporter.clone(),
        reports,
        jetstream.clone(),
        names.clone(),
        flush,
        reporting.clone(),
    ));
    let context = Arc::new(WorkerContext {
        jetstream,
        names,
        config_bucket: bucket.clone(),
        replicas: config.nats.replicas,
        local_root: config.delivery.local_root.clone(),
        secret_box,
        settings: Settings {
            ack_wait_margin: Duration::from_secs(config.delivery.ack_wait_margin_seconds),
            fetch_max_records: config.delivery.fetch_max_records,
            retry_backoff_max: Duration::from_millis(config.delivery.retry_backoff_max_ms),
        },
        metrics: metrics.clone(),
        reporter,
    });
    tracing::info!(local_root = %config.delivery.local_root, "delivery workers started");
    let outcome = supervisor::supervise(context, bucket, cancel).await;
    reporting.cancel();
    let _ = reports.await;
    tracing::info!(metrics = ?metrics.snapshot(), "delivery workers stopped");
    outcome
}
