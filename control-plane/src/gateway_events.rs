//! The control plane's end of the gateway's event path (ADR 009): key usage moves
//! `access_keys.last_used_at` forward, refused calls become audit entries, and record
//! traffic adds to the per-minute stream metrics (ADR 013). Delivery workers report on the same
//! path: delivery per delivery stream and minute, and delivery failures.
//!
//! Every control-plane process consumes the installation's events stream through one shared
//! durable consumer, so each event is handled by one of them. An event is acknowledged only
//! after its write committed; a failed write is retried later (NAK with a delay). Writes are
//! idempotent (audit entries by event id, usage by `GREATEST`, metrics by the event id
//! recorded in the transaction that adds them), since delivery is at least once. An event
//! that can never apply (undecodable, or its tenant is gone) is logged and acknowledged.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use chrono::{DateTime, Utc};
use fjord_common::events::{
    DeliveryMinute, EVENTS_MAX_AGE_SECS, EVENTS_MAX_BYTES, EVENTS_MAX_MESSAGE_BYTES, EventBody,
    GatewayEvent, RefusedCall, StreamMinute, SuppressedRefusals,
};
use fjord_common::naming::Names;
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use crate::store::audit::{ActorType, AuditEntry};
use crate::store::delivery_metrics::{DeliveryFailureRow, DeliveryMinuteReport, DeliveryMinuteRow};
use crate::store::key_usage::KeyUse;
use crate::store::metrics::{StreamMinuteTraffic, Traffic};
use crate::store::{Store, StoreError, TenantId};

/// How long before a failed event is offered again.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// How long an event may be in flight before JetStream offers it to another process. Short,
/// because applying an event takes milliseconds and applying it twice is harmless: after a
/// control plane dies, what it had pulled (or what reached a pull request it left behind) is
/// applied by another within this bound.
const ACK_WAIT: Duration = Duration::from_secs(5);
/// How long a pull request waits; a dead process's request stops catching events after this.
const PULL_EXPIRES: Duration = Duration::from_secs(5);

/// Creates the events stream if it is missing (idempotent; every control plane calls it at
/// start, before the config bucket, so a gateway that found the bucket finds the stream).
pub async fn ensure_events_stream(
    jetstream: &jetstream::Context,
    names: &Names,
    replicas: usize,
) -> anyhow::Result<jetstream::stream::Stream> {
    let name = names.events_stream();
    jetstream
        .get_or_create_stream(jetstream::stream::Config {
            name: name.clone(),
            description: Some("fjord gateway events for the control plane".to_owned()),
            subjects: vec![names.events_subjects()],
            max_age: Duration::from_secs(EVENTS_MAX_AGE_SECS),
            max_bytes: EVENTS_MAX_BYTES,
            max_message_size: EVENTS_MAX_MESSAGE_BYTES,
            discard: jetstream::stream::DiscardPolicy::Old,
            storage: jetstream::stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot create the events stream {name}"))
}

/// Consumes gateway events until `cancel` fires.
pub struct EventConsumer {
    pub store: Store,
    pub stream: jetstream::stream::Stream,
    pub names: Names,
}

impl EventConsumer {
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let consumer: pull::Stream = self
            .stream
            .get_or_create_consumer(
                &self.names.events_consumer(),
                pull::Config {
                    durable_name: Some(self.names.events_consumer()),
                    description: Some("control planes applying gateway events".to_owned()),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    ..Default::default()
                },
            )
            .await
            .context("cannot create the events consumer")?
            .stream()
            .heartbeat(Duration::from_secs(2))
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .context("cannot consume gateway events")?;
        let mut consumer = std::pin::pin!(consumer.take_until(cancel.clone().cancelled_owned()));
        while let Some(message) = consumer.next().await {
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    // Transient (e.g. a missed heartbeat while NATS restarts): the stream
                    // reconnects by itself.
                    tracing::warn!(%error, "gateway events consumer error");
                    continue;
                }
            };
            let ack = match self.apply(&message.payload).await {
                Applied::Done => AckKind::Ack,
                Applied::Retry => AckKind::Nak(Some(RETRY_DELAY)),
            };
            if let Err(error) = message.ack_with(ack).await {
                tracing::warn!(%error, "cannot acknowledge a gateway event");
            }
        }
        if cancel.is_cancelled() {
            Ok(())
        } else {
            anyhow::bail!("the gateway events consumer ended (was the events stream deleted?)")
        }
    }

    /// Writes one event; says whether it is done with (applied, or never applicable).
    pub async fn apply(&self, payload: &[u8]) -> Applied {
        let event: GatewayEvent = match serde_json::from_slice(payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, "dropped an undecodable gateway event");
                return Applied::Done;
            }
        };
        let occurred_at = time_of(event.occurred_at_ms);
        let outcome = match &event.body {
            EventBody::KeyUsage { keys } => {
                let uses: Vec<KeyUse> = keys
                    .iter()
                    .map(|key| KeyUse {
                        tenant_id: TenantId(key.tenant_id),
                        access_key_id: key.access_key_id.clone(),
                        used_at: time_of(key.last_used_ms),
                    })
                    .collect();
                self.store.record_key_usage(&uses).await.map(|_| ())
            }
            EventBody::RefusedCall(call) => {
                let entry = refused_call_entry(call);
                self.store
                    .append_audit_once(TenantId(call.tenant_id), event.id, occurred_at, &entry)
                    .await
                    .map(|_| ())
            }
            EventBody::RefusedCallsSuppressed(summary) => {
                let entry = suppressed_entry(summary);
                self.store
                    .append_audit_once(TenantId(summary.tenant_id), event.id, occurred_at, &entry)
                    .await
                    .map(|_| ())
            }
            EventBody::DeliveryMetrics { minutes } => {
                let minutes: Vec<DeliveryMinuteReport> =
                    minutes.iter().map(delivery_minute_report).collect();
                self.store
                    .apply_delivery_metrics_once(event.id, &minutes)
                    .await
                    .map(|_| ())
            }
            EventBody::DeliveryFailed(failure) => self
                .store
                .record_delivery_failure_once(
                    event.id,
                    TenantId(failure.tenant_id),
                    failure.delivery_stream_id,
                    DeliveryFailureRow {
                        occurred_at,
                        stage: failure.stage.clone(),
                        message: failure.message.clone(),
                        records: i64::try_from(failure.records).unwrap_or(i64::MAX),
                        suppressed: i64::try_from(failure.suppressed).unwrap_or(i64::MAX),
                    },
                )
                .await
                .map(|_| ()),
            EventBody::StreamMetrics { minutes } => {
                let minutes: Vec<StreamMinuteTraffic> =
                    minutes.iter().filter_map(stream_minute_traffic).collect();
                self.store
                    .apply_stream_metrics_once(event.id, &minutes)
                    .await
                    .map(|_| ())
            }
        };
        match outcome {
            Ok(()) => Applied::Done,
            // The tenant was deleted since (foreign key), or the row breaks a CHECK.
            Err(error @ (StoreError::NotFound | StoreError::Invalid)) => {
                tracing::warn!(%error, event_id = %event.id, "dropped a gateway event that cannot apply");
                Applied::Done
            }
            Err(error) => {
                tracing::error!(%error, event_id = %event.id, "cannot apply a gateway event; will retry");
                Applied::Retry
            }
        }
    }
}

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Done,
    Retry,
}

/// A worker's count for one delivery stream minute, as the store adds it.
fn delivery_minute_report(minute: &DeliveryMinute) -> DeliveryMinuteReport {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    DeliveryMinuteReport {
        tenant_id: TenantId(minute.tenant_id),
        delivery_stream_id: minute.delivery_stream_id,
        counts: DeliveryMinuteRow {
            minute: time_of(minute.minute_ms),
            read_records: count(minute.read_records),
            read_bytes: count(minute.read_bytes),
            delivered_records: count(minute.delivered_records),
            delivered_bytes: count(minute.delivered_bytes),
            deliveries: count(minute.deliveries),
            failed_attempts: count(minute.failed_attempts),
            duplicates: count(minute.duplicates),
            freshness_ms_max: minute.freshness_ms_max,
        },
    }
}

fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now)
}

/// A gateway's count for one stream minute, as the store adds it; `None` for a minute no
/// timestamp can hold.
fn stream_minute_traffic(minute: &StreamMinute) -> Option<StreamMinuteTraffic> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    Some(StreamMinuteTraffic {
        tenant_id: TenantId(minute.tenant_id),
        stream_id: minute.stream_id,
        minute: DateTime::from_timestamp_millis(minute.minute_ms)?,
        traffic: Traffic {
            incoming_records: count(minute.incoming_records),
            incoming_bytes: count(minute.incoming_bytes),
            outgoing_records: count(minute.outgoing_records),
            outgoing_bytes: count(minute.outgoing_bytes),
            iterator_age_ms_max: minute.iterator_age_ms_max.max(0),
        },
    })
}

/// A refused call: the key as actor, `<service>:<Action>`, failed with the AWS error type.
/// The service is the one the resource's ARN names (`firehose` for delivery streams), Kinesis
/// otherwise.
pub fn refused_call_entry(call: &RefusedCall) -> AuditEntry {
    let service = match call.resource.split(':').nth(2) {
        Some("firehose") => "firehose",
        _ => "kinesis",
    };
    AuditEntry::new(
        ActorType::AccessKey,
        call.access_key_id.clone(),
        format!("{service}:{}", call.action),
        call.resource.clone(),
    )
    .from_address(call.source_ip.clone(), call.user_agent.clone())
    .with_request_id(call.request_id.clone())
    .failed(call.error_code.clone())
}

/// Refused calls beyond the gateway's per-key limit, as one entry.
pub fn suppressed_entry(summary: &SuppressedRefusals) -> AuditEntry {
    AuditEntry::new(
        ActorType::AccessKey,
        summary.access_key_id.clone(),
        "kinesis:RefusedCallsSuppressed",
        String::new(),
    )
    .from_address(summary.last_source_ip.clone(), None)
    .with_details(serde_json::json!({
        "suppressed": summary.count,
        "window_start": time_of(summary.window_start_ms),
        "window_end": time_of(summary.window_end_ms),
    }))
    .failed(summary.last_error_code.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_calls_are_audited_under_the_service_their_resource_names() {
        let call = |resource: &str| RefusedCall {
            tenant_id: uuid::Uuid::nil(),
            access_key_id: "AKIAVIEWER0000000000".to_owned(),
            action: "PutRecord".to_owned(),
            resource: resource.to_owned(),
            error_code: "AccessDeniedException".to_owned(),
            source_ip: None,
            user_agent: None,
            request_id: None,
        };
        let firehose = refused_call_entry(&call(
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/events",
        ));
        assert_eq!(firehose.action, "firehose:PutRecord");
        assert_eq!(
            firehose.error_code.as_deref(),
            Some("AccessDeniedException")
        );
        let kinesis = refused_call_entry(&call(
            "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
        ));
        assert_eq!(kinesis.action, "kinesis:PutRecord");
        assert_eq!(refused_call_entry(&call("")).action, "kinesis:PutRecord");
    }
}
