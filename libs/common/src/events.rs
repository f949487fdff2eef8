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
}

impl EventBody {
    /// The last token of the subject the event is published on.
    pub fn subject_token(&self) -> &'static str {
        match self {
            EventBody::KeyUsage { .. } => "usage",
            EventBody::RefusedCall(_) | EventBody::RefusedCallsSuppressed(_) => "audit",
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
}
