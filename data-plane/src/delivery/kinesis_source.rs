//! A Kinesis data stream as a delivery stream's source (`KinesisStreamAsSource`): one durable
//! consumer per shard, on the shard's own JetStream stream, shared by every worker.
//!
//! The control plane creates the consumers of the shards that exist when the delivery stream
//! is created, delivering only what is put from then on (Firehose starts at `LATEST`). A
//! shard that appears later (a split or a merge) has no consumer yet: the first worker to see
//! it in the stream's spec creates one that delivers the shard from its start, since all of it
//! was put after the delivery stream was created. Workers re-read the stream's spec every
//! [`REFRESH`].
//!
//! A shard message holds every record one put call sent to that shard (see
//! `fjord_common::records`): a message is acknowledged when all its records are delivered.
//! An idle worker waits on a plain NATS subscription to the stream's shard subjects, so it
//! wakes at the first put without holding pull requests on every shard: a pull request
//! abandoned with a message in flight would hold that record until AckWait.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use chrono::{DateTime, Utc};
use fjord_common::naming::Names;
use fjord_common::spec::StreamSpec;
use fjord_common::stream_ref::parse_stream_arn;
use futures::StreamExt as _;
use uuid::Uuid;

use super::buffer::{Buffer, Record};
use super::source::{ONE_RECORD_BYTES, take};
use super::task::WorkerContext;

/// How often a worker looks for shards that appeared (or went) since it last looked.
pub(crate) const REFRESH: Duration = Duration::from_secs(10);

/// One shard a worker reads.
struct Shard {
    index: u32,
    consumer: PullConsumer,
}

/// The shards of a delivery stream's source stream, as one worker reads them.
pub(crate) struct KinesisSource {
    delivery_stream_id: Uuid,
    tenant_id: Uuid,
    stream_id: Uuid,
    stream_name: String,
    ack_wait: Duration,
    shards: Vec<Shard>,
    /// When the shards were last looked up (`None`: look them up at the next fetch).
    refreshed: Option<Instant>,
    /// The shard the next fetch starts at, so a full buffer does not always favour shard 0.
    next: usize,
}

impl KinesisSource {
    /// Opens the consumers of the source stream's shards. A source stream that is gone, or a
    /// shard that cannot be opened, is looked up again at the next refresh.
    pub(crate) async fn open(
        context: &WorkerContext,
        delivery_stream_id: Uuid,
        tenant_id: Uuid,
        stream_id: Uuid,
        stream_arn: &str,
        ack_wait: Duration,
    ) -> anyhow::Result<Self> {
        let (_, stream_name) = parse_stream_arn(stream_arn)
            .with_context(|| format!("the source {stream_arn} is not a stream ARN"))?;
        let mut source = Self {
            delivery_stream_id,
            tenant_id,
            stream_id,
            stream_name: stream_name.to_owned(),
            ack_wait,
            shards: Vec::new(),
            refreshed: None,
            next: 0,
        };
        source.refresh(context).await?;
        Ok(source)
    }

    /// Brings the shards read in line with the stream's spec: opens the new ones and drops
    /// those the spec no longer lists.
    async fn refresh(&mut self, context: &WorkerContext) -> anyhow::Result<()> {
        self.refreshed = Some(Instant::now());
        let key = Names::stream_key(self.tenant_id, &self.stream_name);
        let spec = context
            .config_bucket
            .get(&key)
            .await
            .context("cannot read the source stream's spec")?
            .map(|value| serde_json::from_slice::<StreamSpec>(&value))
            .transpose()
            .context("the source stream's spec does not parse")?
            // A stream of the same name created after the source was deleted is not the source.
            .filter(|spec| spec.stream_id == self.stream_id);
        let Some(spec) = spec else {
            if !self.shards.is_empty() {
                tracing::warn!(stream = %self.stream_name, "the source stream is gone; nothing to deliver");
            }
            self.shards.clear();
            return Ok(());
        };
        self.shards
            .retain(|shard| spec.shards.iter().any(|s| s.index == shard.index));
        for listed in &spec.shards {
            if self.shards.iter().any(|shard| shard.index == listed.index) {
                continue;
            }
            match self.open_shard(context, listed.index).await {
                Ok(consumer) => self.shards.push(Shard {
                    index: listed.index,
                    consumer,
                }),
                // A shard whose stream expired, or one still being made: next refresh.
                Err(error) => tracing::debug!(
                    error = format!("{error:#}"),
                    shard = listed.index,
                    "cannot open a source shard yet"
                ),
            }
        }
        self.shards.sort_by_key(|shard| shard.index);
        Ok(())
    }

    /// The shard's durable consumer, its AckWait brought to this delivery's; created
    /// delivering the whole shard if the control plane did not create it.
    async fn open_shard(
        &self,
        context: &WorkerContext,
        index: u32,
    ) -> anyhow::Result<PullConsumer> {
        let names = &context.names;
        let stream = context
            .jetstream
            .get_stream_no_info(names.shard_stream(self.stream_id, index))
            .await?;
        let durable = names.delivery_consumer(self.delivery_stream_id);
        let deliver_policy = match stream.consumer_info(&durable).await {
            Ok(info) => info.config.deliver_policy,
            Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => DeliverPolicy::All,
            Err(error) => return Err(error.into()),
        };
        let consumer = stream
            .create_consumer(shard_consumer_config(
                durable,
                deliver_policy,
                self.ack_wait,
            ))
            .await?;
        Ok(consumer)
    }

    /// Fills `buffer` with what the shards hold now, up to about `room` bytes; if they hold
    /// nothing, waits up to `wait` for a put on any shard (the caller fetches again then).
    pub(crate) async fn fetch(
        &mut self,
        context: &WorkerContext,
        wait: Duration,
        room: usize,
        buffer: &mut Buffer,
    ) -> anyhow::Result<()> {
        if self.refreshed.is_none_or(|at| at.elapsed() >= REFRESH)
            && let Err(error) = self.refresh(context).await
        {
            tracing::warn!(
                error = format!("{error:#}"),
                "cannot look up the source's shards"
            );
        }
        if self.fetch_now(context, room, buffer).await? > 0 {
            return Ok(());
        }
        // Subscribe first, then look once more: a put between the two is not missed.
        let mut wake = context
            .jetstream
            .client()
            .subscribe(context.names.shard_subjects(self.stream_id))
            .await
            .context("cannot wait for puts on the source stream")?;
        if self.fetch_now(context, room, buffer).await? > 0 {
            return Ok(());
        }
        let _ = tokio::time::timeout(wait, wake.next()).await;
        Ok(())
    }

    /// One no-wait pull per shard, starting at a rotating shard, while there is room;
    /// returns how many messages were taken. A shard that fails is dropped until the next
    /// refresh; the fetch fails only if every shard failed and none gave anything.
    async fn fetch_now(
        &mut self,
        context: &WorkerContext,
        room: usize,
        buffer: &mut Buffer,
    ) -> anyhow::Result<usize> {
        let count = self.shards.len();
        let mut taken = 0;
        let mut bytes = 0;
        let mut failed = Vec::new();
        let mut last_error = None;
        for offset in 0..count {
            let position = (self.next + offset) % count;
            if taken > 0 && bytes >= room {
                break;
            }
            let shard = &self.shards[position];
            let pulled = async {
                let batch = shard
                    .consumer
                    .fetch()
                    .max_messages(context.settings.fetch_max_records)
                    .max_bytes(room.saturating_sub(bytes).max(ONE_RECORD_BYTES))
                    .messages()
                    .await
                    .context("pull request failed")?;
                take(context, batch, shard.index, buffer, shard_records).await
            }
            .await;
            match pulled {
                Ok((messages, record_bytes)) => {
                    taken += messages;
                    bytes += record_bytes;
                }
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        shard = shard.index,
                        "cannot pull from a source shard"
                    );
                    failed.push(shard.index);
                    last_error = Some(error);
                }
            }
        }
        self.next = self.next.wrapping_add(1);
        if !failed.is_empty() {
            self.shards.retain(|shard| !failed.contains(&shard.index));
            self.refreshed = None;
            if taken == 0
                && self.shards.is_empty()
                && let Some(error) = last_error
            {
                return Err(error);
            }
        }
        Ok(taken)
    }
}

/// A durable consumer of one shard for a delivery stream, as the control plane creates it
/// (`DeliverPolicy::New`) and as workers update it (AckWait follows the buffering interval).
fn shard_consumer_config(
    durable: String,
    deliver_policy: DeliverPolicy,
    ack_wait: Duration,
) -> pull::Config {
    pull::Config {
        durable_name: Some(durable),
        deliver_policy,
        ack_policy: AckPolicy::Explicit,
        ack_wait,
        max_ack_pending: -1,
        ..Default::default()
    }
}

/// The records of a shard message. A message that does not decode (which only a damaged
/// store produces) holds no record: it is logged, and acknowledged with the buffer.
fn shard_records(message: &async_nats::jetstream::Message, arrival: DateTime<Utc>) -> Vec<Record> {
    match fjord_common::records::decode(&message.payload) {
        Ok(batch) => {
            let arrival = i64::try_from(batch.arrival_ms)
                .ok()
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(arrival);
            batch
                .records
                .iter()
                .map(|record| Record {
                    data: message.payload.slice_ref(record.data),
                    arrival,
                    function_keys: None,
                })
                .collect()
        }
        Err(error) => {
            tracing::error!(%error, subject = %message.subject, "a shard message does not decode; it is skipped");
            Vec::new()
        }
    }
}
