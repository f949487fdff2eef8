//! One delivery stream's delivery on one worker: pull records from the shared durable
//! consumer into a private buffer, write the buffer as one object when it is full or old
//! enough, and acknowledge its records only once the object is written.
//!
//! Any number of workers pull from the same consumer, so each record is in one worker's
//! buffer at a time. A record is held unacknowledged for at most AckWait (the buffering
//! interval plus a margin); a live worker reports progress on what it holds while it buffers
//! or retries a write, so only a dead worker's records go back to the others, after AckWait.
//! A write is retried with backoff until it succeeds: what was not written is never
//! acknowledged. A record JetStream hands out again is counted as a possible duplicate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, Message};
use chrono::{DateTime, Utc};
use fjord_common::firehose::{
    Compression, DeliveryStreamSpec, DestinationTarget, MAX_RECORD_BYTES,
};
use fjord_common::naming::Names;
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use super::buffer::Buffer;
use super::encode;
use super::metrics::DeliveryMetrics;
use super::naming::{KeyPrefix, object_key};
use super::sink::ObjectSink;

/// Room for one record of the largest size in a pull, with the message's framing.
const ONE_RECORD_BYTES: usize = MAX_RECORD_BYTES + 64 * 1024;
/// Longest a pull waits for records (a pull abandoned at shutdown holds records this long).
const IDLE_PULL: Duration = Duration::from_secs(5);
/// Shortest pull: JetStream needs some time to answer.
const MIN_PULL: Duration = Duration::from_millis(100);
/// First pause after a failed write or pull; doubled up to the configured maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// The workers' knobs (`delivery.*` in the configuration).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) ack_wait_margin: Duration,
    pub(crate) fetch_max_records: usize,
    pub(crate) retry_backoff_max: Duration,
}

/// What the workers of a process share.
pub(crate) struct WorkerContext {
    pub(crate) jetstream: jetstream::Context,
    pub(crate) names: Names,
    pub(crate) local_root: String,
    pub(crate) settings: Settings,
    pub(crate) metrics: Arc<DeliveryMetrics>,
}

/// A delivery stream this worker can deliver, checked before it starts.
pub(crate) struct DeliveryTask {
    context: Arc<WorkerContext>,
    spec: DeliveryStreamSpec,
    prefix: KeyPrefix,
    compression: Compression,
    sink: ObjectSink,
    interval: Duration,
    size_bytes: usize,
}

impl DeliveryTask {
    /// Everything about `spec` that can be refused is refused here (an unsupported
    /// compression, a prefix that cannot be evaluated, a bucket path that is not one).
    pub(crate) fn new(
        context: Arc<WorkerContext>,
        spec: DeliveryStreamSpec,
    ) -> anyhow::Result<Self> {
        let DestinationTarget::ObjectStore(destination) = &spec.destination.target;
        if !encode::is_supported(destination.compression) {
            anyhow::bail!(
                "compression {} is not supported yet (GZIP, Snappy, HADOOP_SNAPPY and UNCOMPRESSED are)",
                destination.compression.as_aws()
            );
        }
        let prefix = KeyPrefix::parse(&destination.prefix).context("invalid prefix")?;
        let sink = ObjectSink::local(&context.local_root, &spec.account_id, &destination.bucket)?;
        let sample = object_key(
            &prefix,
            &spec.name,
            spec.version_id,
            Utc::now(),
            destination.compression,
        );
        sink.path(&sample)
            .context("the prefix does not make valid object keys")?;
        Ok(Self {
            interval: Duration::from_secs(u64::from(destination.buffering.interval_seconds)),
            size_bytes: (destination.buffering.size_mib as usize).max(1) * 1024 * 1024,
            compression: destination.compression,
            prefix,
            sink,
            context,
            spec,
        })
    }

    fn ack_wait(&self) -> Duration {
        self.interval + self.context.settings.ack_wait_margin
    }

    /// How often a live worker reports progress on the records it holds.
    fn heartbeat(&self) -> Duration {
        (self.ack_wait() / 3).max(MIN_PULL)
    }

    /// Delivers until `cancel` fires; then writes what is buffered once more and gives back
    /// (NAKs) what it could not write.
    #[tracing::instrument(skip_all, fields(tenant_id = %self.spec.tenant_id, delivery_stream = %self.spec.name))]
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let Some(consumer) = self.consumer(&cancel).await else {
            return;
        };
        tracing::info!(version_id = self.spec.version_id, "delivering");
        let mut buffer = Buffer::default();
        let mut last_progress = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        while !cancel.is_cancelled() {
            let now = Instant::now();
            if buffer.is_due(now, self.size_bytes, self.interval) {
                self.deliver(&mut buffer, &cancel).await;
                continue;
            }
            if buffer.is_empty() {
                last_progress = now;
            } else if now >= last_progress + self.heartbeat() {
                progress(buffer.messages()).await;
                last_progress = now;
            }
            let wait = buffer
                .deadline(self.interval)
                .map_or(IDLE_PULL, |deadline| {
                    deadline.saturating_duration_since(now)
                })
                .min(self.heartbeat())
                .min(IDLE_PULL)
                .max(MIN_PULL);
            tokio::select! {
                _ = cancel.cancelled() => break,
                fetched = self.fetch(&consumer, wait, &mut buffer) => match fetched {
                    Ok(()) => backoff = FIRST_BACKOFF,
                    Err(error) => {
                        tracing::warn!(error = format!("{error:#}"), "cannot pull records; retrying");
                        tokio::select! {
                            _ = cancel.cancelled() => break,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(self.context.settings.retry_backoff_max);
                    }
                },
            }
        }
        if !buffer.is_empty() {
            self.deliver(&mut buffer, &cancel).await;
        }
    }

    /// The shared durable consumer, created or updated (AckWait follows the interval).
    async fn consumer(&self, cancel: &CancellationToken) -> Option<PullConsumer> {
        let id = self.spec.delivery_stream_id;
        let names = &self.context.names;
        let config = pull::Config {
            durable_name: Some(names.delivery_consumer(id)),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait(),
            max_ack_pending: -1,
            filter_subject: names.delivery_subject(id),
            ..Default::default()
        };
        let mut backoff = FIRST_BACKOFF;
        loop {
            let created = async {
                let stream = self
                    .context
                    .jetstream
                    .get_stream_no_info(names.delivery_stream(id))
                    .await?;
                stream
                    .create_consumer(config.clone())
                    .await
                    .map_err(anyhow::Error::from)
            };
            match created.await {
                Ok(consumer) => return Some(consumer),
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "cannot open the delivery consumer; retrying"
                    );
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(self.context.settings.retry_backoff_max);
        }
    }

    /// Room left in the buffer for one pull: at least one record of the largest size, so a
    /// pull never stalls on a record bigger than what is left.
    fn room(&self, buffer: &Buffer) -> usize {
        self.size_bytes
            .saturating_sub(buffer.bytes())
            .max(ONE_RECORD_BYTES)
    }

    /// Waits up to `wait` for a record, then takes what else is there at once, into `buffer`.
    /// An idle delivery stream costs one waiting pull request per `wait`, not a poll loop.
    async fn fetch(
        &self,
        consumer: &PullConsumer,
        wait: Duration,
        buffer: &mut Buffer,
    ) -> anyhow::Result<()> {
        let first = consumer
            .batch()
            .max_messages(1)
            .max_bytes(self.room(buffer))
            .expires(wait)
            .messages()
            .await
            .context("pull request failed")?;
        if self.take(first, buffer).await? == 0 || buffer.bytes() >= self.size_bytes {
            return Ok(());
        }
        let rest = consumer
            .fetch()
            .max_messages(self.context.settings.fetch_max_records)
            .max_bytes(self.room(buffer))
            .messages()
            .await
            .context("pull request failed")?;
        self.take(rest, buffer).await?;
        Ok(())
    }

    /// Moves the records of one pull into `buffer`; returns how many there were.
    async fn take(
        &self,
        mut batch: async_nats::jetstream::consumer::pull::Batch,
        buffer: &mut Buffer,
    ) -> anyhow::Result<usize> {
        let mut fetched = 0;
        while let Some(message) = batch.next().await {
            let message = match message {
                Ok(message) => message,
                // The server ends a pull whose next record would pass max_bytes with a
                // status; what arrived before it is kept.
                Err(_) if fetched > 0 => break,
                Err(error) => return Err(anyhow::anyhow!(error).context("pull failed")),
            };
            let (delivered, arrival) = match message.info() {
                Ok(info) => (info.delivered, arrival_time(info.published)),
                Err(error) => {
                    tracing::warn!(%error, "a pulled message has no JetStream metadata");
                    continue;
                }
            };
            if delivered > 1 {
                self.context.metrics.redelivered();
            }
            buffer.push(message, arrival);
            fetched += 1;
        }
        Ok(fetched)
    }

    /// Writes the buffer as one object, retrying until it is written, then acknowledges its
    /// records. If `cancel` fires while a write keeps failing, the records are given back.
    async fn deliver(&self, buffer: &mut Buffer, cancel: &CancellationToken) {
        let records = buffer.len();
        let bytes = buffer.bytes();
        let oldest = buffer.oldest_arrival().unwrap_or_else(Utc::now);
        let key = object_key(
            &self.prefix,
            &self.spec.name,
            self.spec.version_id,
            oldest,
            self.compression,
        );
        let Some(body) =
            encode::compress(self.compression, buffer.concatenated()).map(bytes::Bytes::from)
        else {
            tracing::error!(
                compression = self.compression.as_aws(),
                "cannot compress; giving the records back"
            );
            give_back(buffer.take()).await;
            return;
        };
        let mut backoff = FIRST_BACKOFF;
        let mut last_progress = Instant::now();
        let mut attempt = 1u32;
        loop {
            match self.sink.put(&key, body.clone()).await {
                Ok(()) => break,
                Err(error) => {
                    self.context.metrics.write_failed();
                    tracing::error!(%error, %key, attempt, records, "failed to write an object; retrying");
                    if cancel.is_cancelled() {
                        tracing::warn!(
                            records,
                            "stopping: the records go back to the other workers"
                        );
                        give_back(buffer.take()).await;
                        return;
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(backoff) => {}
            }
            if last_progress.elapsed() >= self.heartbeat() {
                progress(buffer.messages()).await;
                last_progress = Instant::now();
            }
            backoff = (backoff * 2).min(self.context.settings.retry_backoff_max);
            attempt += 1;
        }
        let messages = buffer.take();
        for message in &messages {
            // A lost ack means a redelivery: a duplicate, counted when it comes back.
            if let Err(error) = message.ack().await {
                tracing::warn!(%error, "cannot acknowledge a delivered record");
            }
        }
        self.context.metrics.delivered(records as u64, bytes as u64);
        tracing::debug!(%key, records, bytes, "delivered an object");
    }
}

/// A JetStream timestamp as UTC.
fn arrival_time(published: time::OffsetDateTime) -> DateTime<Utc> {
    let nanos = i64::try_from(published.unix_timestamp_nanos()).unwrap_or_default();
    DateTime::from_timestamp_nanos(nanos)
}

/// Tells JetStream the records are still being worked on (resets their AckWait).
async fn progress(messages: &[Message]) {
    for message in messages {
        if let Err(error) = message.ack_with(AckKind::Progress).await {
            tracing::warn!(%error, "cannot report progress on a buffered record");
            return;
        }
    }
}

/// Hands records back to JetStream for another worker, now rather than after AckWait.
async fn give_back(messages: Vec<Message>) {
    for message in &messages {
        if let Err(error) = message.ack_with(AckKind::Nak(None)).await {
            tracing::warn!(%error, "cannot give a record back; it returns after AckWait");
            return;
        }
    }
}
