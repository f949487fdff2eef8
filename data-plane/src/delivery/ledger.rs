//! The delivery ledger: how a worker tells a true duplicate from a harmless redelivery.
//!
//! JetStream hands a message out again when its worker died, lost an acknowledgement, gave it
//! back, or outlived AckWait. Whether the record is then delivered *twice* depends on whether
//! the first worker's delivery reached the destination, which JetStream cannot know. So before
//! a worker sends a buffer it notes, on the delivery stream's ledger (a JetStream stream of
//! its own, 24 h like the records), which messages the delivery holds and where it goes (the
//! object keys). When a message comes back, the worker that delivers it again looks it up:
//!
//! * a ledger entry holds it and the destination has that entry's object → the record is
//!   delivered a second time: a **duplicate**, counted once the second delivery succeeded;
//! * no entry holds it (the first worker died before sending), or the entry's object is not
//!   there (it died, or the write failed, before the object existed) → not a duplicate.
//!
//! Object writes are atomic (a reader never sees half an object), so "the object exists" is
//! exactly "the first delivery happened". A destination that cannot be asked (an HTTP
//! endpoint) answers "unknown", and an unknown is counted as a duplicate: invariant 5 wants
//! every duplicate counted, and an over-count is the side to err on. A worker that is not dead
//! but stalled (and writes after another worker looked) would be missed; `kill -9` cannot
//! produce one.
//!
//! Only redelivered messages are looked up, and an entry can only hold a message that was
//! published before the entry was written, so a lookup reads the ledger from the oldest
//! redelivered record's arrival onwards, once, and then only what is new.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::stream;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::task::WorkerContext;

/// How long ledger entries are kept: as long as the records themselves.
const LEDGER_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Entries read per pull when catching up.
const READ_BATCH: usize = 1000;

/// One JetStream message of a source: which of the source's streams (`lane`: 0 for direct
/// puts, the shard index for a Kinesis source) and its sequence there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct MessageId {
    pub(crate) lane: u32,
    pub(crate) sequence: u64,
}

/// What one delivery holds and where it went, noted before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The delivery's objects (empty for destinations without objects).
    pub(crate) keys: Vec<String>,
    /// Its messages, as runs `[lane, first sequence, last sequence]`.
    pub(crate) runs: Vec<(u32, u64, u64)>,
}

impl Entry {
    pub(crate) fn new(keys: Vec<String>, messages: &[MessageId]) -> Self {
        let mut ids = messages.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut runs: Vec<(u32, u64, u64)> = Vec::new();
        for id in ids {
            match runs.last_mut() {
                Some((lane, _, last)) if *lane == id.lane && *last + 1 == id.sequence => {
                    *last = id.sequence;
                }
                _ => runs.push((id.lane, id.sequence, id.sequence)),
            }
        }
        Self { keys, runs }
    }

    pub(crate) fn holds(&self, id: MessageId) -> bool {
        self.runs
            .iter()
            .any(|&(lane, first, last)| lane == id.lane && (first..=last).contains(&id.sequence))
    }
}

/// A delivery stream's ledger as one delivery task reads and writes it.
pub(crate) struct Ledger {
    stream: stream::Stream,
    subject: String,
    /// Entries read so far, oldest first, with when they were noted, and where reading goes
    /// on.
    entries: Vec<(DateTime<Utc>, Entry)>,
    next_sequence: Option<u64>,
    /// The time reading started from: entries noted before it were not read.
    read_from: Option<DateTime<Utc>>,
}

impl Ledger {
    /// Opens (creating if needed) the ledger of a delivery stream.
    pub(crate) async fn open(
        context: &WorkerContext,
        delivery_stream_id: Uuid,
    ) -> anyhow::Result<Self> {
        let names = &context.names;
        let subject = names.delivery_ledger_subject(delivery_stream_id);
        let stream = context
            .jetstream
            .get_or_create_stream(stream::Config {
                name: names.delivery_ledger_stream(delivery_stream_id),
                subjects: vec![subject.clone()],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                discard: stream::DiscardPolicy::Old,
                max_age: LEDGER_MAX_AGE,
                num_replicas: context.replicas,
                duplicate_window: Duration::from_secs(0),
                description: Some(format!("fjord delivery ledger {delivery_stream_id}")),
                ..Default::default()
            })
            .await
            .context("cannot open the delivery ledger")?;
        Ok(Self {
            stream,
            subject,
            entries: Vec::new(),
            next_sequence: None,
            read_from: None,
        })
    }

    /// Notes a delivery before it is sent; returns once JetStream stored the note.
    pub(crate) async fn note(&self, context: &WorkerContext, entry: &Entry) -> anyhow::Result<()> {
        let body = serde_json::to_vec(entry).context("cannot encode a ledger entry")?;
        context
            .jetstream
            .publish(self.subject.clone(), body.into())
            .await
            .context("cannot note a delivery in the ledger")?
            .await
            .context("the ledger did not store a note")?;
        Ok(())
    }

    /// For each of `ids`, the newest entry noted so far that holds it. `since` is the
    /// arrival of the oldest of their records: no entry before it can hold one.
    pub(crate) async fn find(
        &mut self,
        ids: &[MessageId],
        since: DateTime<Utc>,
    ) -> anyhow::Result<HashMap<MessageId, Entry>> {
        self.catch_up(since).await?;
        let mut found = HashMap::new();
        for &id in ids {
            if let Some((_, entry)) = self.entries.iter().rev().find(|(_, entry)| entry.holds(id)) {
                found.insert(id, entry.clone());
            }
        }
        Ok(found)
    }

    /// Reads the entries noted since the last read; from `since` when nothing was read yet
    /// or earlier entries are needed than were read. Entries as old as the ledger keeps them
    /// are forgotten.
    async fn catch_up(&mut self, since: DateTime<Utc>) -> anyhow::Result<()> {
        if self.read_from.is_none_or(|from| since < from) {
            self.entries.clear();
            self.next_sequence = None;
            self.read_from = Some(since);
        }
        let horizon = Utc::now() - chrono::Duration::from_std(LEDGER_MAX_AGE).unwrap_or_default();
        self.entries.retain(|(noted, _)| *noted >= horizon);
        let deliver_policy = match self.next_sequence {
            Some(sequence) => DeliverPolicy::ByStartSequence {
                start_sequence: sequence,
            },
            None => DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(
                    since.timestamp_nanos_opt().unwrap_or_default(),
                ))
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            },
        };
        let consumer = self
            .stream
            .create_consumer(pull::Config {
                deliver_policy,
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(60),
                memory_storage: true,
                ..Default::default()
            })
            .await
            .context("cannot read the delivery ledger")?;
        let outcome = self.read_all(&consumer).await;
        let name = consumer.cached_info().name.clone();
        if let Err(error) = self.stream.delete_consumer(&name).await {
            tracing::debug!(%error, "cannot delete a ledger reader; it expires");
        }
        outcome
    }

    async fn read_all(&mut self, consumer: &PullConsumer) -> anyhow::Result<()> {
        loop {
            let mut batch = consumer
                .fetch()
                .max_messages(READ_BATCH)
                .messages()
                .await
                .context("cannot read the delivery ledger")?;
            let mut read = 0;
            while let Some(message) = batch.next().await {
                let message = message.map_err(|error| anyhow::anyhow!(error))?;
                read += 1;
                let noted = match message.info() {
                    Ok(info) => {
                        self.next_sequence = Some(info.stream_sequence + 1);
                        DateTime::from_timestamp_nanos(
                            i64::try_from(info.published.unix_timestamp_nanos())
                                .unwrap_or_default(),
                        )
                    }
                    Err(_) => Utc::now(),
                };
                match serde_json::from_slice::<Entry>(&message.payload) {
                    Ok(entry) => self.entries.push((noted, entry)),
                    Err(error) => {
                        tracing::warn!(%error, "skipping a ledger entry that does not parse")
                    }
                }
            }
            if read == 0 {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(lane: u32, sequence: u64) -> MessageId {
        MessageId { lane, sequence }
    }

    #[test]
    fn entries_hold_their_messages_as_runs() {
        let entry = Entry::new(
            vec!["a".to_owned()],
            &[id(0, 7), id(0, 5), id(0, 6), id(1, 6), id(0, 9), id(0, 6)],
        );
        assert_eq!(entry.runs, vec![(0, 5, 7), (0, 9, 9), (1, 6, 6)]);
        for held in [id(0, 5), id(0, 6), id(0, 7), id(0, 9), id(1, 6)] {
            assert!(entry.holds(held), "{held:?}");
        }
        for other in [id(0, 4), id(0, 8), id(0, 10), id(1, 5), id(2, 6)] {
            assert!(!entry.holds(other), "{other:?}");
        }
        let text = serde_json::to_string(&entry).unwrap();
        assert_eq!(serde_json::from_str::<Entry>(&text).unwrap(), entry);
    }
}
