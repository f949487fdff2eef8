//! What the gateway tells the control plane (ADR 009): access keys used, calls refused for an
//! identified key, and record traffic per stream and minute (ADR 013), as events on the
//! installation's JetStream events stream.
//!
//! Nothing here may slow a request down. Requests only touch in-memory maps and a bounded
//! channel ([`GatewayEvents::key_used`], [`GatewayEvents::refused`], [`GatewayEvents::traffic`]);
//! a full channel drops the event and counts it. Key usage and traffic are folded into events
//! per flush; refused calls are sent one by one up to a per-key, per-window limit, then
//! counted and summarized. A background task publishes and waits for JetStream's
//! acknowledgement ([`run_publisher`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use fjord_common::events::{
    EventBody, GatewayEvent, KeyUse, MAX_KEYS_PER_USAGE_EVENT, MAX_STREAM_MINUTES_PER_EVENT,
    RefusedCall, SuppressedRefusals,
};
use fjord_common::naming::Names;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::metrics::StreamTraffic;

/// Events waiting for the publisher; beyond this they are dropped (and counted).
const QUEUE_CAPACITY: usize = 4096;
/// How long the publisher waits for one acknowledgement, and how often it tries.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
const PUBLISH_ATTEMPTS: u32 = 3;
/// How long shutdown waits for queued events to be published.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// How many refused calls of one key are sent one by one, per window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefusalPolicy {
    pub(crate) per_window: u32,
    pub(crate) window: Duration,
}

/// One key's refused calls in the current window.
struct RefusalWindow {
    tenant_id: Uuid,
    started: Instant,
    started_ms: i64,
    sent: u32,
    suppressed: u64,
    last_error_code: String,
    last_source_ip: Option<String>,
}

/// The gateway's side of the event path, shared by every request.
pub(crate) struct GatewayEvents {
    sender: mpsc::Sender<GatewayEvent>,
    /// Access key id → (tenant, latest use in ms) since the last flush.
    usage: Mutex<HashMap<String, (Uuid, i64)>>,
    refusals: Mutex<HashMap<String, RefusalWindow>>,
    policy: RefusalPolicy,
    dropped: AtomicU64,
    /// Records in and out per stream and minute since the last metrics flush.
    pub(crate) traffic: StreamTraffic,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn event(body: EventBody) -> GatewayEvent {
    GatewayEvent {
        id: Uuid::now_v7(),
        occurred_at_ms: now_ms(),
        body,
    }
}

impl GatewayEvents {
    /// The shared state and the receiving end [`run_publisher`] drains.
    pub(crate) fn new(policy: RefusalPolicy) -> (Self, mpsc::Receiver<GatewayEvent>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let events = Self {
            sender,
            usage: Mutex::new(HashMap::new()),
            refusals: Mutex::new(HashMap::new()),
            policy,
            dropped: AtomicU64::new(0),
            traffic: StreamTraffic::default(),
        };
        (events, receiver)
    }

    /// Events dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Notes that `access_key_id` authenticated a call now.
    pub(crate) fn key_used(&self, tenant_id: Uuid, access_key_id: &str) {
        let now = now_ms();
        let mut usage = self
            .usage
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match usage.get_mut(access_key_id) {
            Some((_, last)) => *last = (*last).max(now),
            None => {
                usage.insert(access_key_id.to_owned(), (tenant_id, now));
            }
        }
    }

    /// Sends `call` to the audit log, unless its key is over the window's limit (then it is
    /// counted for the summary).
    pub(crate) fn refused(&self, call: RefusedCall) {
        let now = Instant::now();
        let send = {
            let mut refusals = self
                .refusals
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let expired = refusals
                .get(&call.access_key_id)
                .is_some_and(|window| now.duration_since(window.started) >= self.policy.window);
            if expired && let Some(window) = refusals.remove(&call.access_key_id) {
                self.summarize(&call.access_key_id, window);
            }
            let window = refusals
                .entry(call.access_key_id.clone())
                .or_insert_with(|| RefusalWindow {
                    tenant_id: call.tenant_id,
                    started: now,
                    started_ms: now_ms(),
                    sent: 0,
                    suppressed: 0,
                    last_error_code: String::new(),
                    last_source_ip: None,
                });
            if window.sent < self.policy.per_window {
                window.sent += 1;
                true
            } else {
                window.suppressed += 1;
                window.last_error_code.clone_from(&call.error_code);
                window.last_source_ip.clone_from(&call.source_ip);
                false
            }
        };
        if send {
            self.emit(event(EventBody::RefusedCall(call)));
        }
    }

    /// Sends the keys used since the last flush (one event per [`MAX_KEYS_PER_USAGE_EVENT`])
    /// and the summaries of refusal windows that have ended.
    pub(crate) fn flush(&self) {
        let used = std::mem::take(&mut *self.usage.lock().unwrap_or_else(|p| p.into_inner()));
        let mut keys: Vec<KeyUse> = used
            .into_iter()
            .map(|(access_key_id, (tenant_id, last_used_ms))| KeyUse {
                tenant_id,
                access_key_id,
                last_used_ms,
            })
            .collect();
        while !keys.is_empty() {
            let rest = keys.split_off(keys.len().min(MAX_KEYS_PER_USAGE_EVENT));
            self.emit(event(EventBody::KeyUsage { keys }));
            keys = rest;
        }
        let now = Instant::now();
        let ended: Vec<(String, RefusalWindow)> = {
            let mut refusals = self
                .refusals
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let keys: Vec<String> = refusals
                .iter()
                .filter(|(_, window)| now.duration_since(window.started) >= self.policy.window)
                .map(|(key, _)| key.clone())
                .collect();
            keys.into_iter()
                .filter_map(|key| refusals.remove(&key).map(|window| (key, window)))
                .collect()
        };
        for (access_key_id, window) in ended {
            self.summarize(&access_key_id, window);
        }
    }

    /// Sends the record traffic counted since the last metrics flush (one event per
    /// [`MAX_STREAM_MINUTES_PER_EVENT`] stream minutes).
    pub(crate) fn flush_metrics(&self) {
        let mut minutes = self.traffic.take();
        while !minutes.is_empty() {
            let rest = minutes.split_off(minutes.len().min(MAX_STREAM_MINUTES_PER_EVENT));
            self.emit(event(EventBody::StreamMetrics { minutes }));
            minutes = rest;
        }
    }

    /// The summary of an ended window, if anything in it was suppressed.
    fn summarize(&self, access_key_id: &str, window: RefusalWindow) {
        if window.suppressed == 0 {
            return;
        }
        tracing::info!(
            access_key_id,
            suppressed = window.suppressed,
            "refused calls beyond the audit limit were summarized"
        );
        let window_length = i64::try_from(self.policy.window.as_millis()).unwrap_or(i64::MAX);
        self.emit(event(EventBody::RefusedCallsSuppressed(
            SuppressedRefusals {
                tenant_id: window.tenant_id,
                access_key_id: access_key_id.to_owned(),
                count: window.suppressed,
                window_start_ms: window.started_ms,
                window_end_ms: window.started_ms.saturating_add(window_length),
                last_error_code: window.last_error_code,
                last_source_ip: window.last_source_ip,
            },
        )));
    }

    /// Queues `event` without waiting; a full queue drops it.
    fn emit(&self, event: GatewayEvent) {
        if let Err(error) = self.sender.try_send(event) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Log the first drop and then every thousandth, not each one.
            if dropped == 1 || dropped.is_multiple_of(1000) {
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => "queue full",
                    mpsc::error::TrySendError::Closed(_) => "publisher stopped",
                };
                tracing::warn!(dropped, reason, "dropped gateway events");
            }
        }
    }
}

/// Flushes key usage and ended refusal windows every `usage_interval`, record traffic every
/// `metrics_interval`, and both once more on shutdown.
pub(crate) async fn run_flusher(
    events: std::sync::Arc<GatewayEvents>,
    usage_interval: Duration,
    metrics_interval: Duration,
    cancel: CancellationToken,
) {
    let mut usage_ticks = tokio::time::interval(usage_interval);
    usage_ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut metrics_ticks = tokio::time::interval(metrics_interval);
    metrics_ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = usage_ticks.tick() => events.flush(),
            _ = metrics_ticks.tick() => events.flush_metrics(),
        }
    }
    events.flush();
    events.flush_metrics();
    let dropped = events.dropped();
    if dropped > 0 {
        tracing::warn!(dropped, "gateway events dropped since start");
    }
}

/// Publishes queued events to the events stream, each acknowledged by JetStream before the
/// next; stops when every sender is gone (the gateway and the flusher) or, after `cancel`,
/// at the drain deadline.
pub(crate) async fn run_publisher(
    jetstream: jetstream::Context,
    names: Names,
    mut receiver: mpsc::Receiver<GatewayEvent>,
    cancel: CancellationToken,
) {
    let mut deadline = None;
    loop {
        let next = match deadline {
            None => tokio::select! {
                next = receiver.recv() => next,
                _ = cancel.cancelled() => {
                    deadline = Some(tokio::time::Instant::now() + DRAIN_DEADLINE);
                    continue;
                }
            },
            Some(deadline) => match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    tracing::warn!(
                        pending = receiver.len(),
                        "gateway events not published before shutdown"
                    );
                    return;
                }
            },
        };
        let Some(event) = next else {
            return;
        };
        publish(&jetstream, &names, &event).await;
    }
}

async fn publish(jetstream: &jetstream::Context, names: &Names, event: &GatewayEvent) {
    let subject = names.events_subject(event.body.subject_token());
    let payload = match serde_json::to_vec(event) {
        Ok(payload) => bytes::Bytes::from(payload),
        Err(error) => {
            tracing::error!(%error, "cannot encode a gateway event");
            return;
        }
    };
    let mut headers = async_nats::HeaderMap::new();
    // JetStream drops a retried publish it already stored (within its duplicate window).
    headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
    for attempt in 1..=PUBLISH_ATTEMPTS {
        let outcome = tokio::time::timeout(PUBLISH_TIMEOUT, async {
            jetstream
                .publish_with_headers(subject.clone(), headers.clone(), payload.clone())
                .await?
                .await
                .map_err(async_nats::Error::from)
        })
        .await;
        match outcome {
            Ok(Ok(_)) => return,
            Ok(Err(error)) => {
                tracing::warn!(%error, attempt, subject, "cannot publish a gateway event");
            }
            Err(_) => tracing::warn!(attempt, subject, "gateway event not acknowledged in time"),
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
    }
    tracing::error!(event_id = %event.id, subject, "gave up publishing a gateway event");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(key: &str) -> RefusedCall {
        RefusedCall {
            tenant_id: Uuid::nil(),
            access_key_id: key.to_owned(),
            action: "PutRecord".to_owned(),
            resource: String::new(),
            error_code: "AccessDeniedException".to_owned(),
            source_ip: Some("192.0.2.1".to_owned()),
            user_agent: None,
            request_id: None,
        }
    }

    fn drain(receiver: &mut mpsc::Receiver<GatewayEvent>) -> Vec<EventBody> {
        std::iter::from_fn(|| receiver.try_recv().ok())
            .map(|event| event.body)
            .collect()
    }

    #[test]
    fn usage_is_one_event_per_flush_with_the_latest_use() {
        let (events, mut receiver) = GatewayEvents::new(RefusalPolicy {
            per_window: 1,
            window: Duration::from_secs(60),
        });
        for _ in 0..100 {
            events.key_used(Uuid::nil(), "AKIAONE");
        }
        events.key_used(Uuid::nil(), "AKIATWO");
        assert!(drain(&mut receiver).is_empty(), "nothing before the flush");
        events.flush();
        let sent = drain(&mut receiver);
        assert_eq!(sent.len(), 1);
        let EventBody::KeyUsage { keys } = &sent[0] else {
            panic!("{sent:?}");
        };
        let mut ids: Vec<&str> = keys.iter().map(|key| key.access_key_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["AKIAONE", "AKIATWO"]);
        events.flush();
        assert!(drain(&mut receiver).is_empty(), "nothing used since");
    }

    #[test]
    fn refusals_beyond_the_limit_are_summarized_once_the_window_ends() {
        let (events, mut receiver) = GatewayEvents::new(RefusalPolicy {
            per_window: 3,
            window: Duration::from_millis(50),
        });
        for _ in 0..10 {
            events.refused(refused("AKIAONE"));
        }
        events.refused(refused("AKIATWO"));
        events.flush();
        let sent = drain(&mut receiver);
        assert_eq!(
            sent.len(),
            4,
            "three for one key, one for the other: {sent:?}"
        );
        std::thread::sleep(Duration::from_millis(60));
        events.flush();
        let sent = drain(&mut receiver);
        assert_eq!(sent.len(), 1, "{sent:?}");
        let EventBody::RefusedCallsSuppressed(summary) = &sent[0] else {
            panic!("{sent:?}");
        };
        assert_eq!(summary.access_key_id, "AKIAONE");
        assert_eq!(summary.count, 7);
        assert_eq!(summary.last_error_code, "AccessDeniedException");
        // A new window sends again.
        events.refused(refused("AKIAONE"));
        assert_eq!(drain(&mut receiver).len(), 1);
    }

    #[test]
    fn traffic_is_sent_per_flush_in_bounded_events() {
        let (events, mut receiver) = GatewayEvents::new(RefusalPolicy {
            per_window: 1,
            window: Duration::from_secs(60),
        });
        events.flush_metrics();
        assert!(
            drain(&mut receiver).is_empty(),
            "nothing counted, nothing sent"
        );
        let streams = MAX_STREAM_MINUTES_PER_EVENT + 1;
        for stream in 0..streams {
            events
                .traffic
                .incoming(Uuid::nil(), Uuid::from_u128(stream as u128), 1, 10);
        }
        events.flush_metrics();
        let sent = drain(&mut receiver);
        let sizes: Vec<usize> = sent
            .iter()
            .map(|body| match body {
                EventBody::StreamMetrics { minutes } => minutes.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), streams, "{sizes:?}");
        assert_eq!(sizes.len(), 2, "{sizes:?}");
        assert!(
            sizes
                .iter()
                .all(|size| *size <= MAX_STREAM_MINUTES_PER_EVENT)
        );
        events.flush_metrics();
        assert!(drain(&mut receiver).is_empty(), "taken by the first flush");
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (events, _receiver) = GatewayEvents::new(RefusalPolicy {
            per_window: u32::MAX,
            window: Duration::from_secs(60),
        });
        for _ in 0..QUEUE_CAPACITY + 10 {
            events.refused(refused("AKIAONE"));
        }
        assert_eq!(events.dropped(), 10);
    }
}
