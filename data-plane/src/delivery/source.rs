//! Where a delivery task's records come from: the shared durable pull consumer of a delivery
//! stream's own JetStream stream (direct puts), or those of its source stream's shards (see
//! [`super::kinesis_source`]). Every worker pulls from the same durable consumers, so
//! JetStream hands each message to one worker at a time.
//!
//! A source opens its consumers (creating or updating them: AckWait follows the buffering
//! interval), then fills a [`Buffer`] with whole messages and the records they hold.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use chrono::{DateTime, Utc};
use fjord_common::firehose::{DeliverySource, DeliveryStreamSpec, MAX_RECORD_BYTES};
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use super::FIRST_BACKOFF;
use super::buffer::{Buffer, Record};
use super::kinesis_source::KinesisSource;
use super::ledger::MessageId;
use super::task::WorkerContext;

/// Room for one record of the largest size in a pull, with the message's framing.
pub(crate) const ONE_RECORD_BYTES: usize = MAX_RECORD_BYTES + 64 * 1024;

/// A delivery stream's records, as one worker reads them.
pub(crate) enum Source {
    /// `PutRecord`/`PutRecordBatch`: one message per record on the delivery stream's subject.
    Direct(Box<PullConsumer>),
    /// `KinesisStreamAsSource`: a consumer per shard of the source stream; a message is what
    /// one put call sent to one shard, and its lane is the shard's index.
    Kinesis(KinesisSource),
}

impl Source {
    /// Opens the source of `spec`, retrying until it opens or `cancel` fires (`None`).
    pub(crate) async fn open(
        context: &WorkerContext,
        spec: &DeliveryStreamSpec,
        ack_wait: Duration,
        cancel: &CancellationToken,
    ) -> Option<Self> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let opened = match &spec.source {
                DeliverySource::DirectPut => open_direct(context, spec, ack_wait).await,
                DeliverySource::KinesisStream {
                    stream_id,
                    stream_arn,
                } => KinesisSource::open(
                    context,
                    spec.delivery_stream_id,
                    spec.tenant_id,
                    *stream_id,
                    stream_arn,
                    ack_wait,
                )
                .await
                .map(Self::Kinesis),
            };
            match opened {
                Ok(source) => return Some(source),
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot open the delivery consumer; retrying"
                ),
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(context.settings.retry_backoff_max);
        }
    }

    /// Waits up to `wait` for a message, then takes what else is there at once, into
    /// `buffer`, taking at most about `room` bytes (at least one message). An idle source
    /// costs one waiting pull request per `wait`, not a poll loop.
    pub(crate) async fn fetch(
        &mut self,
        context: &WorkerContext,
        wait: Duration,
        room: usize,
        buffer: &mut Buffer,
    ) -> anyhow::Result<()> {
        match self {
            Self::Direct(consumer) => {
                let room = room.max(ONE_RECORD_BYTES);
                let first = consumer
                    .batch()
                    .max_messages(1)
                    .max_bytes(room)
                    .expires(wait)
                    .messages()
                    .await
                    .context("pull request failed")?;
                let (count, bytes) = take(context, first, 0, buffer, direct_records).await?;
                if count == 0 || bytes >= room {
                    return Ok(());
                }
                let rest = consumer
                    .fetch()
                    .max_messages(context.settings.fetch_max_records)
                    .max_bytes((room - bytes).max(ONE_RECORD_BYTES))
                    .messages()
                    .await
                    .context("pull request failed")?;
                take(context, rest, 0, buffer, direct_records).await?;
                Ok(())
            }
            Self::Kinesis(source) => source.fetch(context, wait, room, buffer).await,
        }
    }
}

/// The shared durable consumer of a direct-put delivery stream, created or updated.
async fn open_direct(
    context: &WorkerContext,
    spec: &DeliveryStreamSpec,
    ack_wait: Duration,
) -> anyhow::Result<Source> {
    let id = spec.delivery_stream_id;
    let names = &context.names;
    let config = pull::Config {
        durable_name: Some(names.delivery_consumer(id)),
        ack_policy: AckPolicy::Explicit,
        ack_wait,
        max_ack_pending: -1,
        filter_subject: names.delivery_subject(id),
        ..Default::default()
    };
    let stream = context
        .jetstream
        .get_stream_no_info(names.delivery_stream(id))
        .await?;
    let consumer = stream.create_consumer(config).await?;
    Ok(Source::Direct(Box::new(consumer)))
}

/// A direct put's message is one record, as put.
fn direct_records(message: &async_nats::jetstream::Message, arrival: DateTime<Utc>) -> Vec<Record> {
    vec![Record {
        data: message.payload.clone(),
        arrival,
        function_keys: None,
    }]
}

/// Moves the messages of one pull from the source's stream `lane` into `buffer`, with the
/// records `records_of` finds in each; returns how many messages and record bytes there were.
pub(crate) async fn take(
    context: &WorkerContext,
    mut batch: pull::Batch,
    lane: u32,
    buffer: &mut Buffer,
    records_of: impl Fn(&async_nats::jetstream::Message, DateTime<Utc>) -> Vec<Record>,
) -> anyhow::Result<(usize, usize)> {
    let mut fetched = 0;
    let mut bytes = 0;
    while let Some(message) = batch.next().await {
        let message = match message {
            Ok(message) => message,
            // The server ends a pull whose next message would pass max_bytes with a status;
            // what arrived before it is kept.
            Err(_) if fetched > 0 => break,
            Err(error) => return Err(anyhow::anyhow!(error).context("pull failed")),
        };
        let (delivered, sequence, arrival) = match message.info() {
            Ok(info) => (
                info.delivered,
                info.stream_sequence,
                arrival_time(info.published),
            ),
            Err(error) => {
                tracing::warn!(%error, "a pulled message has no JetStream metadata");
                continue;
            }
        };
        let records = records_of(&message, arrival);
        if delivered > 1 {
            context.metrics.redelivered(records.len() as u64);
        }
        bytes += records.iter().map(|r| r.data.len()).sum::<usize>();
        buffer.push(message, MessageId { lane, sequence }, delivered, records);
        fetched += 1;
    }
    Ok((fetched, bytes))
}

/// A JetStream timestamp as UTC.
fn arrival_time(published: time::OffsetDateTime) -> DateTime<Utc> {
    let nanos = i64::try_from(published.unix_timestamp_nanos()).unwrap_or_default();
    DateTime::from_timestamp_nanos(nanos)
}
