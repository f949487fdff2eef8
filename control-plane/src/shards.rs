//! Record data in JetStream, for the REST record endpoints: publishing one shard message and
//! reading a shard through an ephemeral, in-memory, ack-none pull consumer.
//!
//! The layout is the gateway's ([ADR 001](../../docs/adr/001-jetstream-mapping.md)) and the
//! message codec is `fjord_common::records`, so records written here read back identically
//! through the AWS API and the other way round. This module never touches Postgres: callers
//! have already resolved the caller's stream.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use bytes::Bytes;
use fjord_common::naming::Names;
use futures::StreamExt as _;
use uuid::Uuid;

/// JetStream access for record reads and writes; cheap to clone.
#[derive(Clone)]
pub struct Shards {
    pub jetstream: jetstream::Context,
    pub names: Names,
    /// Largest message the server accepts, less room for headers.
    pub max_message_bytes: usize,
}

/// JetStream did not do what was asked; the detail is for the log.
#[derive(Debug, thiserror::Error)]
#[error("{action} failed on {stream}: {detail}")]
pub struct ShardError {
    action: &'static str,
    stream: String,
    detail: String,
}

/// One JetStream message of a shard.
#[derive(Debug, Clone)]
pub struct ShardMessage {
    pub sequence: u64,
    pub payload: Bytes,
    /// Messages still in the shard after this one.
    pub pending: u64,
}

/// Where a read starts: a JetStream message sequence, or an arrival time (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Sequence(u64),
    Time(i64),
}

impl Shards {
    /// A handle on the same connection the reconciler uses; the message limit comes from
    /// the server the client is connected to.
    pub fn new(jetstream: jetstream::Context, names: Names) -> Self {
        let max_payload = jetstream.client().server_info().max_payload;
        Self {
            jetstream,
            names,
            max_message_bytes: max_payload.saturating_sub(4096).max(64 * 1024),
        }
    }

    fn error(
        &self,
        action: &'static str,
        stream: &str,
        detail: impl std::fmt::Display,
    ) -> ShardError {
        ShardError {
            action,
            stream: stream.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// Stores one shard message; its JetStream sequence once acknowledged.
    pub async fn publish(
        &self,
        stream_id: Uuid,
        shard_index: u32,
        message: Bytes,
    ) -> Result<u64, ShardError> {
        let subject = self.names.shard_subject(stream_id, shard_index);
        let acknowledgement = self
            .jetstream
            .publish(subject.clone(), message)
            .await
            .map_err(|error| self.error("publish", &subject, error))?;
        let ack = acknowledgement
            .await
            .map_err(|error| self.error("publish acknowledgement", &subject, error))?;
        Ok(ack.sequence)
    }

    /// Stores a delivery stream's records, one JetStream message per record holding its bytes
    /// as given (the gateway's layout); each record's JetStream sequence, in order, once every
    /// message is acknowledged. Publishes are pipelined on the one connection, so they land in
    /// request order.
    pub async fn publish_delivery_records(
        &self,
        delivery_stream_id: Uuid,
        records: Vec<Bytes>,
    ) -> Result<Vec<u64>, ShardError> {
        let subject = self.names.delivery_subject(delivery_stream_id);
        let mut acknowledgements = Vec::with_capacity(records.len());
        for record in records {
            acknowledgements.push(
                self.jetstream
                    .publish(subject.clone(), record)
                    .await
                    .map_err(|error| self.error("publish", &subject, error))?,
            );
        }
        let mut sequences = Vec::with_capacity(acknowledgements.len());
        for acknowledgement in acknowledgements {
            let ack = acknowledgement
                .await
                .map_err(|error| self.error("publish acknowledgement", &subject, error))?;
            sequences.push(ack.sequence);
        }
        Ok(sequences)
    }

    /// The shard's first and last JetStream sequence.
    pub async fn bounds(
        &self,
        stream_id: Uuid,
        shard_index: u32,
    ) -> Result<(u64, u64), ShardError> {
        let name = self.names.shard_stream(stream_id, shard_index);
        let mut stream = self
            .jetstream
            .get_stream(&name)
            .await
            .map_err(|error| self.error("get stream", &name, error))?;
        let info = stream
            .info()
            .await
            .map_err(|error| self.error("stream info", &name, error))?;
        Ok((info.state.first_sequence, info.state.last_sequence))
    }

    /// Opens a reader on the shard at `from`. The consumer lives on the server until the
    /// reader is dropped (or, if the process dies, until 30 s of inactivity).
    pub async fn open(
        &self,
        stream_id: Uuid,
        shard_index: u32,
        from: ReadFrom,
    ) -> Result<ShardReader, ShardError> {
        let name = self.names.shard_stream(stream_id, shard_index);
        let stream = self
            .jetstream
            .get_stream_no_info(&name)
            .await
            .map_err(|error| self.error("get stream", &name, error))?;
        let deliver_policy = match from {
            ReadFrom::Sequence(sequence) => DeliverPolicy::ByStartSequence {
                start_sequence: sequence.max(1),
            },
            ReadFrom::Time(ms) => DeliverPolicy::ByStartTime {
                start_time: time_from_ms(ms),
            },
        };
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy,
                ack_policy: AckPolicy::None,
                memory_storage: true,
                num_replicas: 1,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|error| self.error("create consumer", &name, error))?;
        Ok(ShardReader {
            stream: Some(stream),
            consumer_name: consumer.cached_info().name.clone(),
            consumer,
            name,
        })
    }
}

/// An open read position on a shard; deletes its consumer when dropped.
pub struct ShardReader {
    stream: Option<jetstream::stream::Stream<()>>,
    consumer: PullConsumer,
    consumer_name: String,
    name: String,
}

impl ShardReader {
    /// The next messages: up to `max_messages` and about `max_bytes`. Without `wait` it
    /// answers at once with what the shard holds; with `wait` and nothing there yet, it waits
    /// up to that long for the first message.
    pub async fn next_batch(
        &self,
        max_messages: usize,
        max_bytes: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<ShardMessage>, ShardError> {
        let messages = self.fetch(max_messages, max_bytes, None).await?;
        match wait {
            Some(wait) if messages.is_empty() => self.fetch(1, max_bytes, Some(wait)).await,
            _ => Ok(messages),
        }
    }

    /// Whether the consumer (and so the shard's stream) still exists.
    pub async fn exists(&self) -> bool {
        self.consumer.get_info().await.is_ok()
    }

    async fn fetch(
        &self,
        max_messages: usize,
        max_bytes: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<ShardMessage>, ShardError> {
        let error = |detail: &dyn std::fmt::Display| ShardError {
            action: "fetch",
            stream: self.name.clone(),
            detail: detail.to_string(),
        };
        let batch = match wait {
            None => {
                self.consumer
                    .fetch()
                    .max_messages(max_messages)
                    .max_bytes(max_bytes)
                    .messages()
                    .await
            }
            Some(wait) => {
                self.consumer
                    .batch()
                    .max_messages(max_messages)
                    .max_bytes(max_bytes)
                    .expires(wait)
                    .messages()
                    .await
            }
        };
        let mut batch = batch.map_err(|detail| error(&detail))?;
        let mut messages = Vec::new();
        while let Some(message) = batch.next().await {
            let message = match message {
                Ok(message) => message,
                // The server ends a batch whose next message would pass max_bytes with a
                // status; what arrived before it is the answer.
                Err(_) if !messages.is_empty() => break,
                Err(detail) => return Err(error(&detail)),
            };
            let Ok(info) = message.info() else {
                continue;
            };
            let (sequence, pending) = (info.stream_sequence, info.pending);
            messages.push(ShardMessage {
                sequence,
                pending,
                payload: message.message.payload.clone(),
            });
        }
        Ok(messages)
    }
}

impl Drop for ShardReader {
    fn drop(&mut self) {
        // The consumer would expire by itself; deleting it keeps the server tidy.
        let (Some(stream), Ok(runtime)) =
            (self.stream.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let consumer_name = std::mem::take(&mut self.consumer_name);
        runtime.spawn(async move {
            let _ = stream.delete_consumer(&consumer_name).await;
        });
    }
}

fn time_from_ms(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
