//! One worker's private buffer of a delivery stream's records: JetStream messages held
//! unacknowledged until the object holding them is written.

use std::time::{Duration, Instant};

use async_nats::jetstream::Message;
use chrono::{DateTime, Utc};

/// Records fetched and not yet delivered, in the order JetStream handed them out.
#[derive(Default)]
pub(crate) struct Buffer {
    messages: Vec<Message>,
    bytes: usize,
    /// When the first record entered the buffer (the buffering interval runs from here).
    opened_at: Option<Instant>,
    /// Arrival (JetStream timestamp) of the oldest record, which names the object.
    oldest_arrival: Option<DateTime<Utc>>,
}

impl Buffer {
    pub(crate) fn push(&mut self, message: Message, arrival: DateTime<Utc>) {
        self.opened_at.get_or_insert_with(Instant::now);
        self.oldest_arrival = Some(match self.oldest_arrival {
            Some(oldest) => oldest.min(arrival),
            None => arrival,
        });
        self.bytes += message.payload.len();
        self.messages.push(message);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn oldest_arrival(&self) -> Option<DateTime<Utc>> {
        self.oldest_arrival
    }

    pub(crate) fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// When the buffer must be delivered by its interval, if it holds anything.
    pub(crate) fn deadline(&self, interval: Duration) -> Option<Instant> {
        self.opened_at.map(|opened| opened + interval)
    }

    /// Whether the buffer is due: full, or as old as the interval.
    pub(crate) fn is_due(&self, now: Instant, size_bytes: usize, interval: Duration) -> bool {
        !self.is_empty()
            && (self.bytes >= size_bytes
                || self
                    .deadline(interval)
                    .is_some_and(|deadline| now >= deadline))
    }

    /// The records concatenated as put (Firehose adds no delimiter).
    pub(crate) fn concatenated(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes);
        for message in &self.messages {
            out.extend_from_slice(&message.payload);
        }
        out
    }

    /// Empties the buffer, handing its messages over (to acknowledge or give back).
    pub(crate) fn take(&mut self) -> Vec<Message> {
        self.bytes = 0;
        self.opened_at = None;
        self.oldest_arrival = None;
        std::mem::take(&mut self.messages)
    }
}
