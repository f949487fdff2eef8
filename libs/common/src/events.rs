//! What the gateway tells the control plane: events on the installation's JetStream events
//! stream ([`crate::naming::Names::events_stream`]), JSON encoded.
//!
//! The gateway never writes to Postgres; it publishes these from a background task and the
//! control plane applies them (ADR 009). Each event carries a UUID v7 id: the control plane
//! writes idempotently by it, since delivery is at least once. Events hold ids, addresses and
//! error codes, never secrets.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long the events stream keeps an event the control plane has not acknowledged.
pub const EVENTS_MAX_AGE_SECS: u64 = 24 * 60 * 60;
/// Most bytes the events stream holds; the oldest events go first beyond it.
pub const EVENTS_MAX_BYTES: i64 = 256 * 1024 * 1024;
/// Largest single event.
pub const EVENTS_MAX_MESSAGE_BYTES: i32 = 1024 * 1024;
/// Most keys in one usage event; a flush with more sends several.
pub const MAX_KEYS_PER_USAGE_EVENT: usize = 1000;
/// Most (stream, minute) counters in one metrics event; a flush with more sends several.
pub const MAX_STREAM_MINUTES_PER_EVENT: usize = 1000;

/// One event, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayEvent {
    /// UUID v7, unique per event: the idempotency key.
    pub id: Uuid,
    /// When the gateway created the event, milliseconds since the Unix epoch.
    pub occurred_at_ms: i64,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// Keys that authenticated since the previous flush, with their latest use.
    KeyUsage { keys: Vec<KeyUse> },
    /// A call the gateway refused for an identified key.
    RefusedCall(RefusedCall),
    /// Refused calls of one key beyond the per-window limit, not sent one by one.
    RefusedCallsSuppressed(SuppressedRefusals),
    /// Record traffic per stream and UTC minute since the previous flush (ADR 013): counters
    /// to add, and the highest iterator age seen.
    StreamMetrics { minutes: Vec<StreamMinute> },
    /// Delivery per delivery stream and UTC minute since a delivery worker's previous flush
    /// (workers publish on the same events stream as gateways).
    DeliveryMetrics { minutes: Vec<DeliveryMinute> },
    /// A delivery that failed (one report per delivery stream and worker per interval; the
    /// rest are counted in [`DeliveryMinute::failed_attempts`]).
    DeliveryFailed(DeliveryFailure),
}

impl EventBody {
    /// The last token of the subject the event is published on.
    pub fn subject_token(&self) -> &'static str {
        match self {
            EventBody::KeyUsage { .. } => "usage",
            EventBody::RefusedCall(_) | EventBody::RefusedCallsSuppressed(_) => "audit",
            EventBody::StreamMetrics { .. } | EventBody::DeliveryMetrics { .. } => "metrics",
            EventBody::DeliveryFailed(_) => "delivery",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUse {
    pub tenant_id: Uuid,
    pub access_key_id: String,
    /// Milliseconds since the Unix epoch.
    pub last_used_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedCall {
    pub tenant_id: Uuid,
    pub access_key_id: String,
    /// The Kinesis action, e.g. `PutRecord` (`Unknown` when the target named none served).
    pub action: String,
    /// The stream ARN the call named, or the account's `stream/*`; empty if not known.
    pub resource: String,
    /// The AWS error type the caller got, e.g. `AccessDeniedException`.
    pub error_code: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedRefusals {
    pub tenant_id: Uuid,
    pub access_key_id: String,
    /// Refused calls not sent one by one.
    pub count: u64,
    /// The window they fell in, milliseconds since the Unix epoch.
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// The error code of the last one.
    pub last_error_code: String,
    pub last_source_ip: Option<String>,
}

/// One stream's record traffic in one UTC minute, as one gateway counted it since its
/// previous flush. The control plane adds the counters to what it has for that minute and
/// keeps the larger iterator age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMinute {
    pub tenant_id: Uuid,
    /// The stream's id (not its name: a stream deleted and created again under the same name
    /// is another stream).
    pub stream_id: Uuid,
    /// The start of the minute, milliseconds since the Unix epoch (a multiple of 60 000).
    pub minute_ms: i64,
    /// Records stored by PutRecord and PutRecords, and their data bytes.
    pub incoming_records: u64,
    pub incoming_bytes: u64,
    /// Records returned by GetRecords, and their data bytes.
    pub outgoing_records: u64,
    pub outgoing_bytes: u64,
    /// The highest `MillisBehindLatest` a GetRecords call answered.
    pub iterator_age_ms_max: i64,
}

/// One delivery stream's delivery in one UTC minute, as one worker counted it since its
/// previous flush. The control plane adds the counters and keeps the larger freshness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMinute {
    pub tenant_id: Uuid,
    pub delivery_stream_id: Uuid,
    /// The start of the minute, milliseconds since the Unix epoch (a multiple of 60 000).
    pub minute_ms: i64,
    /// Records (and their bytes) a worker took from JetStream into a buffer; a record handed
    /// out again after a crash counts again.
    pub read_records: u64,
    pub read_bytes: u64,
    /// Records (and bytes, before compression) the destination accepted, and the deliveries
    /// (objects, HTTP requests) that carried them.
    pub delivered_records: u64,
    pub delivered_bytes: u64,
    pub deliveries: u64,
    /// Attempts to deliver that failed (each is retried).
    pub failed_attempts: u64,
    /// Records delivered that an earlier delivery had already brought to the destination.
    pub duplicates: u64,
    /// The age of the oldest record of a delivery when the destination accepted it, at most.
    pub freshness_ms_max: i64,
}

/// A failed delivery, as a worker saw it. `message` never holds a secret: it is the
/// destination's answer, which knows none of the credentials' secret halves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFailure {
    pub tenant_id: Uuid,
    pub delivery_stream_id: Uuid,
    /// What failed: `delivery` (the destination refused or was unreachable), `preparation`
    /// (the records could not be made into a delivery).
    pub stage: String,
    pub message: String,
    /// Records the failed delivery held (they are retried, not dropped).
    pub records: u64,
    /// Further failures of this delivery stream on this worker since the previous report.
    pub suppressed: u64,
}

/// The start of the UTC minute `ms` (milliseconds since the Unix epoch) falls in.
pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_tagged_json() {
        let event = GatewayEvent {
            id: Uuid::nil(),
            occurred_at_ms: 1,
            body: EventBody::KeyUsage {
                keys: vec![KeyUse {
                    tenant_id: Uuid::nil(),
                    access_key_id: "AKIAEXAMPLE0000000000".to_owned(),
                    last_used_ms: 2,
                }],
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "key_usage");
        assert_eq!(serde_json::from_value::<GatewayEvent>(json).unwrap(), event);
        assert!(serde_json::from_str::<GatewayEvent>(r#"{"type":"other"}"#).is_err());
    }

    #[test]
    fn stream_metrics_travel_on_their_own_subject() {
        let body = EventBody::StreamMetrics {
            minutes: vec![StreamMinute {
                tenant_id: Uuid::nil(),
                stream_id: Uuid::nil(),
                minute_ms: minute_of(1_764_151_234_567),
                incoming_records: 3,
                incoming_bytes: 30,
                outgoing_records: 0,
                outgoing_bytes: 0,
                iterator_age_ms_max: 0,
            }],
        };
        assert_eq!(body.subject_token(), "metrics");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["type"], "stream_metrics");
        assert_eq!(json["minutes"][0]["minute_ms"], 1_764_151_200_000_i64);
        assert_eq!(minute_of(-1), -60_000);
    }
}
