//! One delivery stream's delivery on one worker: pull records from the [`Source`] into a
//! private buffer, hand the buffer to the [`Destination`] when it is full or old enough, and
//! acknowledge its messages only once the destination has it.
//!
//! Any number of workers pull from the same consumers, so each record is in one worker's
//! buffer at a time. A record is held unacknowledged for at most AckWait (the buffering
//! interval plus a margin); a live worker reports progress on what it holds while it buffers
//! or retries, so only a dead worker's records go back to the others, after AckWait. A send
//! is retried with backoff until it succeeds: what was not delivered is never acknowledged.
//! A record JetStream hands out again is looked up in the delivery ledger: if an earlier
//! delivery brought it to the destination, it is counted as a duplicate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use fjord_common::firehose::DeliveryStreamSpec;
use fjord_common::naming::Names;
use tokio_util::sync::CancellationToken;

use super::FIRST_BACKOFF;
use super::buffer::Buffer;
use super::destination::{Attempt, DeliveryError, Destination, Sent};
use super::failpoint;
use super::ledger::{Entry, Ledger};
use super::metrics::DeliveryMetrics;
use super::report::DeliveryReporter;
use super::source::Source;

/// Longest a pull waits for records (a stopping task lets its last pull end, so at most this
/// long).
const IDLE_PULL: Duration = Duration::from_secs(5);
/// Shortest pull: JetStream needs some time to answer.
const MIN_PULL: Duration = Duration::from_millis(100);

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
    /// The config bucket (a Kinesis source reads its stream's spec there).
    pub(crate) config_bucket: jetstream::kv::Store,
    /// JetStream replicas for the streams workers create (the delivery ledger).
    pub(crate) replicas: usize,
    pub(crate) local_root: String,
    /// Unseals registered buckets' secrets.
    pub(crate) secret_box: fjord_common::secret::SecretBox,
    pub(crate) settings: Settings,
    pub(crate) metrics: Arc<DeliveryMetrics>,
    /// Per delivery stream and minute, for the control plane.
    pub(crate) reporter: Arc<DeliveryReporter>,
}

/// A delivery stream this worker can deliver, checked before it starts.
pub(crate) struct DeliveryTask {
    context: Arc<WorkerContext>,
    spec: DeliveryStreamSpec,
    destination: Destination,
    interval: Duration,
    size_bytes: usize,
}

impl DeliveryTask {
    /// Everything about `spec` that can be refused is refused here (see
    /// [`Destination::new`]).
    pub(crate) fn new(
        context: Arc<WorkerContext>,
        spec: DeliveryStreamSpec,
    ) -> anyhow::Result<Self> {
        let destination = Destination::new(&context, &spec)?;
        let buffering = spec.destination.target.buffering();
        Ok(Self {
            interval: Duration::from_secs(u64::from(buffering.interval_seconds)),
            size_bytes: (buffering.size_mib as usize).max(1) * 1024 * 1024,
            destination,
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

    /// Delivers until `cancel` fires; then delivers what is buffered once more and gives back
    /// (NAKs) what it could not deliver.
    #[tracing::instrument(skip_all, fields(tenant_id = %self.spec.tenant_id, delivery_stream = %self.spec.name))]
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let Some(mut source) =
            Source::open(&self.context, &self.spec, self.ack_wait(), &cancel).await
        else {
            return;
        };
        let Some(mut ledger) = self.open_ledger(&cancel).await else {
            return;
        };
        tracing::info!(version_id = self.spec.version_id, "delivering");
        let mut buffer = Buffer::default();
        let mut last_progress = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        while !cancel.is_cancelled() {
            let now = Instant::now();
            if buffer.is_due(now, self.size_bytes, self.interval) {
                self.deliver(&mut buffer, &mut ledger, &cancel).await;
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
            let room = self.size_bytes.saturating_sub(buffer.bytes());
            let (records_before, bytes_before) = (buffer.len(), buffer.bytes());
            let fetched = {
                let fetch = source.fetch(&self.context, wait, room, &mut buffer);
                tokio::pin!(fetch);
                tokio::select! {
                    fetched = &mut fetch => fetched,
                    // A pull abandoned now would strand the records it brings until AckWait
                    // (a spec change would hold them back a minute): let it end (within
                    // `wait`), and deliver what it brought below.
                    _ = cancel.cancelled() => fetch.await,
                }
            };
            match fetched {
                Ok(()) => {
                    backoff = FIRST_BACKOFF;
                    self.context.reporter.read(
                        &self.spec,
                        buffer.len() - records_before,
                        buffer.bytes() - bytes_before,
                    );
                }
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "cannot pull records; retrying"
                    );
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.context.settings.retry_backoff_max);
                }
            }
        }
        if !buffer.is_empty() {
            self.deliver(&mut buffer, &mut ledger, &cancel).await;
        }
    }

    /// The delivery stream's ledger, retrying until it opens or `cancel` fires (`None`).
    async fn open_ledger(&self, cancel: &CancellationToken) -> Option<Ledger> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match Ledger::open(&self.context, self.spec.delivery_stream_id).await {
                Ok(ledger) => return Some(ledger),
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot open the delivery ledger; retrying"
                ),
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(self.context.settings.retry_backoff_max);
        }
    }

    /// How many of the buffer's records an earlier delivery already brought to the
    /// destination (see [`super::ledger`]). When the ledger or the destination cannot be
    /// asked, every redelivered record counts: duplicates are over-counted, never hidden.
    async fn duplicates(&self, buffer: &Buffer, ledger: &mut Ledger) -> usize {
        let redelivered = buffer.redelivered();
        let Some(since) = redelivered.iter().map(|r| r.arrival).min() else {
            return 0;
        };
        let all = redelivered.iter().map(|r| r.records).sum();
        let ids: Vec<_> = redelivered.iter().map(|r| r.id).collect();
        let found = match ledger.find(&ids, since).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot read the delivery ledger; counting every redelivered record as a duplicate"
                );
                return all;
            }
        };
        let mut answers: Vec<(&Entry, bool)> = Vec::new();
        let mut duplicates = 0;
        for record in redelivered {
            let Some(entry) = found.get(&record.id) else {
                continue;
            };
            let delivered = match answers.iter().find(|(known, _)| *known == entry) {
                Some((_, delivered)) => *delivered,
                None => {
                    let delivered = match self.destination.has(entry).await {
                        Ok(Some(delivered)) => delivered,
                        Ok(None) => true,
                        Err(error) => {
                            tracing::warn!(%error, "cannot tell whether an earlier delivery arrived; counting it as a duplicate");
                            true
                        }
                    };
                    answers.push((entry, delivered));
                    delivered
                }
            };
            if delivered {
                duplicates += record.records;
            }
        }
        duplicates
    }

    /// Delivers the buffer, retrying until it is delivered, then acknowledges its messages.
    /// If it cannot be prepared, or `cancel` fires while sending keeps failing, the messages
    /// are given back. Each send is noted in the ledger first.
    async fn deliver(&self, buffer: &mut Buffer, ledger: &mut Ledger, cancel: &CancellationToken) {
        let oldest = buffer.oldest_arrival().unwrap_or_else(Utc::now);
        let duplicates = self.duplicates(buffer, ledger).await;
        let processed = self
            .keeping(
                buffer.messages(),
                self.destination.process(buffer.records()),
            )
            .await;
        if let Some(first) = processed.failed.first() {
            self.context.reporter.failed(
                &self.spec,
                "processing",
                &format!("{}: {}", first.error_code, first.message),
                processed.failed.len(),
            );
        }
        if processed.dropped > 0 || !processed.failed.is_empty() {
            tracing::info!(
                dropped = processed.dropped,
                failed = processed.failed.len(),
                "transformation dropped records or sent them to the error output"
            );
        }
        let records = processed.records.len();
        let bytes: usize = processed.records.iter().map(|r| r.data.len()).sum();
        let prepared = match self.destination.prepare(&processed, oldest) {
            Ok(prepared) => prepared,
            Err(error) => {
                self.context.reporter.failed(
                    &self.spec,
                    "preparation",
                    &error.to_string(),
                    records,
                );
                tracing::error!(%error, records, "cannot prepare a delivery; giving the records back");
                give_back(buffer.take()).await;
                return;
            }
        };
        let what = prepared.describe();
        let entry = Entry::new(prepared.keys(), buffer.ids());
        let mut noted = false;
        let mut backoff = FIRST_BACKOFF;
        let mut last_progress = Instant::now();
        let mut attempt = 1u32;
        let since = Instant::now();
        let sent = loop {
            let this_attempt = Attempt {
                number: attempt,
                since,
            };
            let sent = async {
                if !noted {
                    ledger
                        .note(&self.context, &entry)
                        .await
                        .map_err(|error| DeliveryError::Transient(format!("{error:#}")))?;
                    noted = true;
                }
                let sent = self.destination.send(&prepared, this_attempt).await?;
                failpoint::pause_before_ack().await;
                Ok(sent)
            };
            // A slow send must not let AckWait pass: another worker would deliver the same
            // records while this one is still sending them.
            tokio::pin!(sent);
            let outcome: Result<Sent, DeliveryError> = loop {
                tokio::select! {
                    outcome = &mut sent => break outcome,
                    _ = tokio::time::sleep(self.heartbeat()) => {
                        progress(buffer.messages()).await;
                        last_progress = Instant::now();
                    }
                }
            };
            match outcome {
                Ok(sent) => break sent,
                Err(error) => {
                    self.context.metrics.write_failed();
                    self.context.reporter.failed(
                        &self.spec,
                        "delivery",
                        &error.to_string(),
                        records,
                    );
                    tracing::error!(%error, %what, attempt, records, "failed to deliver; retrying");
                    if cancel.is_cancelled() || matches!(error, DeliveryError::Permanent(_)) {
                        tracing::warn!(records, "the records go back to the other workers");
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
        };
        let messages = buffer.take();
        for message in &messages {
            // A lost ack means a redelivery: a duplicate, counted when it comes back.
            if let Err(error) = message.ack().await {
                tracing::warn!(%error, "cannot acknowledge a delivered record");
            }
        }
        let (records, bytes) = match sent {
            Sent::Delivered => (records, bytes),
            Sent::ToErrorOutput {
                records: failed,
                error,
            } => {
                self.context.reporter.failed(
                    &self.spec,
                    "delivery",
                    &format!("gave up after the retry duration; the records are in the error output: {error}"),
                    failed,
                );
                tracing::warn!(%what, records = failed, %error, "the endpoint did not take the records within the retry duration; they are in the error output");
                (records - failed, 0)
            }
        };
        self.context.metrics.delivered(records as u64, bytes as u64);
        self.context
            .reporter
            .delivered(&self.spec, records, bytes, duplicates, oldest);
        if duplicates > 0 {
            self.context.metrics.duplicated(duplicates as u64);
            tracing::info!(%what, duplicates, "delivered records an earlier delivery had already delivered");
        }
        tracing::debug!(%what, records, bytes, "delivered");
    }
}

impl DeliveryTask {
    /// Runs `work` while telling JetStream every heartbeat that `messages` are still being
    /// worked on, so AckWait never passes during a long transformation.
    async fn keeping<F: std::future::Future>(&self, messages: &[Message], work: F) -> F::Output {
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return output,
                _ = tokio::time::sleep(self.heartbeat()) => progress(messages).await,
            }
        }
    }
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
