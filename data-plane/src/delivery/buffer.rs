//! One worker's private buffer of a delivery stream's records: the JetStream messages that
//! hold them, unacknowledged until everything made of them is delivered, and the records
//! themselves, in order.
//!
//! A message is the unit of acknowledgement and a record the unit of delivery: a direct put
//! stores one record per message, a Kinesis shard message holds every record one put call
//! sent to that shard. A message is never split between buffers.

use std::time::{Duration, Instant};

use async_nats::jetstream::Message;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::ledger::MessageId;

/// One record as the destination receives it.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) data: Bytes,
    /// When the record reached Fjord (the JetStream time of its message).
    pub(crate) arrival: DateTime<Utc>,
    /// The partition keys a transformation function gave it (`metadata.partitionKeys`), for
    /// `!{partitionKeyFromLambda:<key>}`.
    pub(crate) function_keys: Option<std::sync::Arc<Vec<(String, String)>>>,
}

/// A message JetStream had handed out before (to this or another worker).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Redelivered {
    pub(crate) id: MessageId,
    /// How many records it holds.
    pub(crate) records: usize,
    /// When it reached Fjord.
    pub(crate) arrival: DateTime<Utc>,
}

/// Records fetched and not yet delivered, in the order JetStream handed them out.
#[derive(Default)]
pub(crate) struct Buffer {
    messages: Vec<Message>,
    ids: Vec<MessageId>,
    redelivered: Vec<Redelivered>,
    records: Vec<Record>,
    bytes: usize,
    /// When the first record entered the buffer (the buffering interval runs from here).
    opened_at: Option<Instant>,
    /// Arrival (JetStream timestamp) of the oldest record, which names the object.
    oldest_arrival: Option<DateTime<Utc>>,
}

impl Buffer {
    /// Adds a message (`id`; `delivered` times handed out, this one included) and the records
    /// it holds.
    pub(crate) fn push(
        &mut self,
        message: Message,
        id: MessageId,
        delivered: i64,
        records: Vec<Record>,
    ) {
        self.opened_at.get_or_insert_with(Instant::now);
        if delivered > 1 {
            self.redelivered.push(Redelivered {
                id,
                records: records.len(),
                arrival: records.first().map_or_else(Utc::now, |r| r.arrival),
            });
        }
        for record in records {
            self.oldest_arrival = Some(match self.oldest_arrival {
                Some(oldest) => oldest.min(record.arrival),
                None => record.arrival,
            });
            self.bytes += record.data.len();
            self.records.push(record);
        }
        self.messages.push(message);
        self.ids.push(id);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Record bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn oldest_arrival(&self) -> Option<DateTime<Utc>> {
        self.oldest_arrival
    }

    pub(crate) fn messages(&self) -> &[Message] {
        &self.messages
    }

    pub(crate) fn records(&self) -> &[Record] {
        &self.records
    }

    /// The ids of the messages held.
    pub(crate) fn ids(&self) -> &[MessageId] {
        &self.ids
    }

    /// The messages held that JetStream had handed out before.
    pub(crate) fn redelivered(&self) -> &[Redelivered] {
        &self.redelivered
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

    /// Empties the buffer, handing its messages over (to acknowledge or give back).
    pub(crate) fn take(&mut self) -> Vec<Message> {
        self.bytes = 0;
        self.opened_at = None;
        self.oldest_arrival = None;
        self.records.clear();
        self.ids.clear();
        self.redelivered.clear();
        std::mem::take(&mut self.messages)
    }
}

/// The records concatenated as put (Firehose adds no delimiter).
pub(crate) fn concatenate(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.data.len()).sum());
    for record in records {
        out.extend_from_slice(&record.data);
    }
    out
}
