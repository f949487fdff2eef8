//! Kinesis sequence numbers and how they map to JetStream.
//!
//! Each shard is one JetStream stream; one JetStream message holds the records one put call
//! sent to that shard (one for PutRecord, up to 500 for PutRecords). A record's sequence
//! number names the message and the record's place in it:
//!
//! ```text
//! "49" <JetStream sequence, 20 digits> <shard index, 10 digits> <record index, 5 digits>
//! ```
//!
//! Fixed width, so decimal order equals numeric order equals (message, record) order within
//! a shard, and it never has a leading zero (AWS's pattern is `0|([1-9]\d{0,128})`).

use std::fmt;

/// Where a record lives: JetStream message sequence of its shard's stream, and its index in
/// that message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber {
    pub message_sequence: u64,
    pub shard_index: u32,
    pub record_index: u32,
}

/// The most records one message holds is 500 (PutRecords' limit); five digits leave room.
pub const MAX_RECORD_INDEX: u32 = 99_999;
const LENGTH: usize = 2 + 20 + 10 + 5;

impl SequenceNumber {
    /// The lowest sequence number of a shard: Kinesis's `StartingSequenceNumber`.
    pub fn shard_start(shard_index: u32) -> Self {
        Self {
            message_sequence: 0,
            shard_index,
            record_index: 0,
        }
    }

    /// Parses a sequence number this module produced; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != LENGTH
            || !text.starts_with("49")
            || !text.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let message_sequence = text[2..22].parse().ok()?;
        let shard_index = text[22..32].parse().ok()?;
        let record_index: u32 = text[32..37].parse().ok()?;
        Some(Self {
            message_sequence,
            shard_index,
            record_index,
        })
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_assert!(self.record_index <= MAX_RECORD_INDEX);
        write!(
            formatter,
            "49{:020}{:010}{:05}",
            self.message_sequence, self.shard_index, self.record_index
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shard_start_is_the_lowest() {
        let start = SequenceNumber::shard_start(3).to_string();
        assert_eq!(start, "4900000000000000000000000000000300000");
        assert_eq!(
            SequenceNumber::parse(&start),
            Some(SequenceNumber::shard_start(3))
        );
    }

    #[test]
    fn foreign_text_is_refused() {
        for text in [
            "",
            "0",
            "123",
            "49abc",
            "590000000000000000000000000000000300000",
        ] {
            assert_eq!(SequenceNumber::parse(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(message in any::<u64>(), shard in any::<u32>(), record in 0u32..=MAX_RECORD_INDEX) {
            let number = SequenceNumber { message_sequence: message, shard_index: shard, record_index: record };
            prop_assert_eq!(SequenceNumber::parse(&number.to_string()), Some(number));
        }

        #[test]
        fn text_order_is_record_order(a in any::<(u64, u32)>(), b in any::<(u64, u32)>(), shard in any::<u32>()) {
            let left = SequenceNumber { message_sequence: a.0, shard_index: shard, record_index: a.1 % 500 };
            let right = SequenceNumber { message_sequence: b.0, shard_index: shard, record_index: b.1 % 500 };
            let by_text = left.to_string().cmp(&right.to_string());
            let by_number = left.to_string().parse::<u128>().unwrap().cmp(&right.to_string().parse::<u128>().unwrap());
            prop_assert_eq!(by_text, left.cmp(&right));
            prop_assert_eq!(by_number, left.cmp(&right));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,64}") {
            let _ = SequenceNumber::parse(&text);
        }
    }
}
