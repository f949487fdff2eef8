//! What workers tell the control plane about delivery, on the events stream the gateways use
//! (ADR 009): counts per delivery stream and UTC minute (`DeliveryMetrics`, one event per
//! flush), and failures (`DeliveryFailed`): the first failure of a delivery stream at once,
//! then at most one per flush interval, the ones in between counted as `suppressed` (every
//! failed attempt is in the minute's `failed_attempts` anyway).
//!
//! Nothing here may hold delivery up: tasks touch in-memory maps and a bounded channel; a full
//! channel drops the event (logged). [`run`] flushes and publishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use fjord_common::events::{
    DeliveryFailure, DeliveryMinute, EventBody, GatewayEvent, MAX_STREAM_MINUTES_PER_EVENT,
    minute_of,
};
use fjord_common::firehose::DeliveryStreamSpec;
use fjord_common::naming::Names;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Events waiting for the publisher.
const QUEUE_CAPACITY: usize = 1024;
/// Longest failure message sent.
const MAX_MESSAGE_CHARS: usize = 1024;

/// One delivery stream's failures since its last report.
struct FailureWindow {
    sent_at: Instant,
    suppressed: u64,
}

/// The counts and failures of this process's delivery tasks, until the next flush.
pub(crate) struct DeliveryReporter {
    minutes: Mutex<HashMap<(Uuid, i64), DeliveryMinute>>,
    failures: Mutex<HashMap<Uuid, FailureWindow>>,
    /// How often failures of one delivery stream are reported (the flush interval).
    failure_interval: Duration,
    sender: mpsc::Sender<GatewayEvent>,
}

impl DeliveryReporter {
    /// The reporter and the receiving end [`run`] publishes from.
    pub(crate) fn new(failure_interval: Duration) -> (Self, mpsc::Receiver<GatewayEvent>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let reporter = Self {
            minutes: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            failure_interval,
            sender,
        };
        (reporter, receiver)
    }

    /// Adds to the current minute of `spec`.
    fn count(&self, spec: &DeliveryStreamSpec, add: impl FnOnce(&mut DeliveryMinute)) {
        let minute_ms = minute_of(Utc::now().timestamp_millis());
        let mut minutes = self
            .minutes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let entry = minutes
            .entry((spec.delivery_stream_id, minute_ms))
            .or_insert_with(|| DeliveryMinute {
                tenant_id: spec.tenant_id,
                delivery_stream_id: spec.delivery_stream_id,
                minute_ms,
                ..Default::default()
            });
        add(entry);
    }

    /// Records taken from JetStream into a buffer.
    pub(crate) fn read(&self, spec: &DeliveryStreamSpec, records: usize, bytes: usize) {
        if records > 0 {
            self.count(spec, |minute| {
                minute.read_records += records as u64;
                minute.read_bytes += bytes as u64;
            });
        }
    }

    /// A delivery the destination accepted; `oldest` is its oldest record's arrival.
    pub(crate) fn delivered(
        &self,
        spec: &DeliveryStreamSpec,
        records: usize,
        bytes: usize,
        duplicates: usize,
        oldest: DateTime<Utc>,
    ) {
        let freshness = (Utc::now() - oldest).num_milliseconds().max(0);
        self.count(spec, |minute| {
            minute.delivered_records += records as u64;
            minute.delivered_bytes += bytes as u64;
            minute.deliveries += 1;
            minute.duplicates += duplicates as u64;
            minute.freshness_ms_max = minute.freshness_ms_max.max(freshness);
        });
    }

    /// A failed attempt at a delivery of `records` records (`stage`: `delivery` or
    /// `preparation`).
    pub(crate) fn failed(
        &self,
        spec: &DeliveryStreamSpec,
        stage: &str,
        message: &str,
        records: usize,
    ) {
        self.count(spec, |minute| minute.failed_attempts += 1);
        let suppressed = {
            let mut failures = self
                .failures
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            match failures.get_mut(&spec.delivery_stream_id) {
                Some(window) if window.sent_at.elapsed() < self.failure_interval => {
                    window.suppressed += 1;
                    return;
                }
                Some(window) => {
                    let suppressed = window.suppressed;
                    *window = FailureWindow {
                        sent_at: Instant::now(),
                        suppressed: 0,
                    };
                    suppressed
                }
                None => {
                    failures.insert(
                        spec.delivery_stream_id,
                        FailureWindow {
                            sent_at: Instant::now(),
                            suppressed: 0,
                        },
                    );
                    0
                }
            }
        };
        self.emit(EventBody::DeliveryFailed(DeliveryFailure {
            tenant_id: spec.tenant_id,
            delivery_stream_id: spec.delivery_stream_id,
            stage: stage.to_owned(),
            message: message
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_MESSAGE_CHARS)
                .collect(),
            records: records as u64,
            suppressed,
        }));
    }

    /// Sends what was counted since the last flush.
    pub(crate) fn flush(&self) {
        let minutes: Vec<DeliveryMinute> = {
            let mut minutes = self
                .minutes
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            minutes.drain().map(|(_, minute)| minute).collect()
        };
        for chunk in minutes.chunks(MAX_STREAM_MINUTES_PER_EVENT) {
            self.emit(EventBody::DeliveryMetrics {
                minutes: chunk.to_vec(),
            });
        }
    }

    fn emit(&self, body: EventBody) {
        if self.sender.try_send(crate::events::event(body)).is_err() {
            tracing::warn!("the delivery report queue is full; a report was dropped");
        }
    }
}

/// Flushes `reporter` every `interval` and publishes its events until `cancel` fires; then
/// flushes once more and publishes what is queued (for a few seconds at most). Call it with
/// the last reference to `reporter` besides the delivery tasks', and cancel it after they stopped.
pub(crate) async fn run(
    reporter: Arc<DeliveryReporter>,
    receiver: mpsc::Receiver<GatewayEvent>,
    jetstream: jetstream::Context,
    names: Names,
    interval: Duration,
    cancel: CancellationToken,
) {
    let publishing = CancellationToken::new();
    let publisher = tokio::spawn(crate::events::run_publisher(
        jetstream,
        names,
        receiver,
        publishing.clone(),
    ));
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticks.tick() => reporter.flush(),
        }
    }
    reporter.flush();
    // The last sender (the tasks' are gone by now): the publisher ends once the queue is empty
    // instead of waiting out its drain deadline.
    drop(reporter);
    publishing.cancel();
    let _ = publisher.await;
}
