//! The gateway's shared state and the operations every action builds on: finding the caller's
//! stream in the catalog, publishing a shard message, and reading a shard.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use bytes::Bytes;
use fjord_common::aws_error::AwsError;
use fjord_common::client_address::TrustedProxies;
use fjord_common::naming::Names;
use fjord_common::sigv4::SigningKeyCache;
use fjord_common::stream_ref::{Validation, resolve_stream_name};
use fjord_common::token::TokenSigner;
use futures::StreamExt as _;
use uuid::Uuid;

use crate::aws::forward::Forwarder;
use crate::aws::kinesis::Caller;
use crate::catalog::{CachedStream, Catalog};
use crate::events::GatewayEvents;

/// Everything a request needs; cheap to share.
pub(crate) struct Gateway {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) names: Names,
    pub(crate) iterators: TokenSigner,
    pub(crate) iterator_lifetime_ms: i64,
    pub(crate) signing_keys: SigningKeyCache,
    pub(crate) forwarder: Forwarder,
    /// Largest JetStream message the server accepts, less room for headers.
    pub(crate) max_message_bytes: usize,
    /// Key usage, refused calls and record traffic for the control plane (ADR 009, ADR 013).
    pub(crate) events: Arc<GatewayEvents>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: TrustedProxies,
}

/// One JetStream message read from a shard.
pub(crate) struct ShardMessage {
    pub(crate) sequence: u64,
    pub(crate) payload: Bytes,
    /// Messages still in the shard after this one.
    pub(crate) pending: u64,
}

/// Where a shard read starts.
pub(crate) enum ReadFrom {
    Sequence(u64),
    Time(i64),
}

impl Gateway {
    /// The caller's stream named by `stream_name`/`stream_arn`, if it serves data. Modelled
    /// constraint failures already collected in `validation` are reported first.
    pub(crate) async fn active_stream(
        &self,
        caller: &Caller,
        stream_name: Option<&str>,
        stream_arn: Option<&str>,
        mut validation: Validation,
    ) -> Result<Arc<CachedStream>, AwsError> {
        if let Some(name) = stream_name {
            validation.stream_name(name, "streamName");
        }
        if let Some(arn) = stream_arn {
            validation.stream_arn(arn, "streamARN");
        }
        validation.finish()?;
        let name = resolve_stream_name(stream_name, stream_arn, &caller.account_id)?;
        self.stream_named(caller, &name).await
    }

    /// The caller's stream `name`, if it serves data.
    pub(crate) async fn stream_named(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Arc<CachedStream>, AwsError> {
        match self.catalog.stream(caller.tenant_id, name).await {
            Some(stream) if stream.spec.status.serves_data() => Ok(stream),
            _ => Err(AwsError::not_found(format!(
                "Stream {name} under account {} not found.",
                caller.account_id
            ))),
        }
    }

    /// Stores one shard message; returns its JetStream sequence once acknowledged.
    pub(crate) async fn publish(
        &self,
        stream_id: Uuid,
        shard_index: u32,
        message: Bytes,
    ) -> Result<u64, AwsError> {
        let subject = self.names.shard_subject(stream_id, shard_index);
        let acknowledgement = match self.jetstream.publish(subject, message).await {
            Ok(future) => future.await,
            Err(error) => {
                tracing::error!(%error, %stream_id, shard_index, "failed to publish records");
                return Err(AwsError::unavailable());
            }
        };
        match acknowledgement {
            Ok(ack) => Ok(ack.sequence),
            Err(error) => {
                tracing::error!(%error, %stream_id, shard_index, "records were not acknowledged");
                Err(AwsError::unavailable())
            }
        }
    }

    /// The shard's last JetStream sequence and its first one.
    pub(crate) async fn shard_bounds(
        &self,
        stream_id: Uuid,
        shard_index: u32,
    ) -> Result<(u64, u64), AwsError> {
        let name = self.names.shard_stream(stream_id, shard_index);
        match self.jetstream.get_stream(&name).await {
            Ok(mut stream) => match stream.info().await {
                Ok(info) => Ok((info.state.first_sequence, info.state.last_sequence)),
                Err(error) => {
                    tracing::error!(%error, stream = %name, "cannot read shard state");
                    Err(AwsError::unavailable())
                }
            },
            Err(error) => {
                tracing::error!(%error, stream = %name, "shard stream is missing");
                Err(AwsError::unavailable())
            }
        }
    }

    /// Reads up to `max_messages` messages (and about `max_bytes`) of a shard from `from`.
    pub(crate) async fn read_shard(
        &self,
        stream_id: Uuid,
        shard_index: u32,
        from: ReadFrom,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Vec<ShardMessage>, AwsError> {
        let name = self.names.shard_stream(stream_id, shard_index);
        let unavailable = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, stream = %name, "cannot read shard");
            AwsError::unavailable()
        };
        let stream = self
            .jetstream
            .get_stream_no_info(&name)
            .await
            .map_err(|error| unavailable(&error))?;
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
            .map_err(|error| unavailable(&error))?;
        let consumer_name = consumer.cached_info().name.clone();
        let mut batch = consumer
            .fetch()
            .max_messages(max_messages)
            .max_bytes(max_bytes)
            .messages()
            .await
            .map_err(|error| unavailable(&error))?;
        let mut messages = Vec::new();
        while let Some(message) = batch.next().await {
            let message = match message {
                Ok(message) => message,
                // The server ends a batch whose next message would pass max_bytes with a
                // status (409); what arrived before it is the answer.
                Err(_) if !messages.is_empty() => break,
                Err(error) => return Err(unavailable(&error)),
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
        // The consumer would expire by itself; deleting it keeps the server tidy.
        tokio::spawn(async move {
            let _ = stream.delete_consumer(&consumer_name).await;
        });
        Ok(messages)
    }
}

fn time_from_ms(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
