//! The JetStream message format: one message holds the records one put call sent to one shard.
//!
//! ```text
//! u8  version (1)
//! u64 arrival time, ms since the epoch (big endian)
//! u32 record count
//! per record: u16 partition key length, partition key (UTF-8), u32 data length, data
//! ```
//! A record's sequence number is the message's JetStream sequence plus its index here (see
//! `fjord_common::sequence`). Decoding never panics: a malformed message is an error.

use bytes::{BufMut, Bytes, BytesMut};

const VERSION: u8 = 1;
const HEADER_LENGTH: usize = 1 + 8 + 4;

/// One record to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordIn<'a> {
    pub partition_key: &'a str,
    pub data: &'a [u8],
}

/// Bytes a record takes in a message.
pub fn encoded_length(record: &RecordIn<'_>) -> usize {
    2 + record.partition_key.len() + 4 + record.data.len()
}

/// Encodes records into one message body.
pub fn encode(arrival_ms: u64, records: &[RecordIn<'_>]) -> Bytes {
    let length = HEADER_LENGTH + records.iter().map(encoded_length).sum::<usize>();
    let mut buffer = BytesMut::with_capacity(length);
    buffer.put_u8(VERSION);
    buffer.put_u64(arrival_ms);
    buffer.put_u32(records.len() as u32);
    for record in records {
        debug_assert!(record.partition_key.len() <= usize::from(u16::MAX));
        buffer.put_u16(record.partition_key.len() as u16);
        buffer.put_slice(record.partition_key.as_bytes());
        buffer.put_u32(record.data.len() as u32);
        buffer.put_slice(record.data);
    }
    buffer.freeze()
}

/// Splits one shard's group of records (positions in a request) into runs whose encoded
/// message stays within `limit` bytes; `encoded_length_of` gives a position's record size
/// (see [`encoded_length`]). A record larger than `limit` gets a run of its own.
pub fn chunk_by_bytes(
    members: &[usize],
    encoded_length_of: impl Fn(usize) -> usize,
    limit: usize,
) -> Vec<Vec<usize>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut size = HEADER_LENGTH;
    for &position in members {
        let length = encoded_length_of(position);
        if !current.is_empty() && size + length > limit {
            chunks.push(std::mem::take(&mut current));
            size = HEADER_LENGTH;
        }
        size += length;
        current.push(position);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A stored record, borrowing from the message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOut<'a> {
    pub partition_key: &'a str,
    pub data: &'a [u8],
}

/// A decoded message.
#[derive(Debug)]
pub struct Batch<'a> {
    pub arrival_ms: u64,
    pub records: Vec<RecordOut<'a>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed record message")]
pub struct MalformedMessage;

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], MalformedMessage> {
        if self.bytes.len() < count {
            return Err(MalformedMessage);
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, MalformedMessage> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().map_err(|_| MalformedMessage)?,
        ))
    }

    fn u32(&mut self) -> Result<u32, MalformedMessage> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| MalformedMessage)?,
        ))
    }

    fn u64(&mut self) -> Result<u64, MalformedMessage> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().map_err(|_| MalformedMessage)?,
        ))
    }
}

/// Decodes a message body produced by [`encode`].
pub fn decode(body: &[u8]) -> Result<Batch<'_>, MalformedMessage> {
    let mut reader = Reader { bytes: body };
    if reader.take(1)? != [VERSION] {
        return Err(MalformedMessage);
    }
    let arrival_ms = reader.u64()?;
    let count = reader.u32()? as usize;
    // Each record needs at least 6 bytes: refuse counts the body cannot hold.
    if count > body.len() / 6 {
        return Err(MalformedMessage);
    }
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let key_length = usize::from(reader.u16()?);
        let partition_key =
            std::str::from_utf8(reader.take(key_length)?).map_err(|_| MalformedMessage)?;
        let data_length = reader.u32()? as usize;
        let data = reader.take(data_length)?;
        records.push(RecordOut {
            partition_key,
            data,
        });
    }
    if !reader.bytes.is_empty() {
        return Err(MalformedMessage);
    }
    Ok(Batch {
        arrival_ms,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(arrival in any::<u64>(), records in proptest::collection::vec(("\\PC{1,20}", proptest::collection::vec(any::<u8>(), 0..64)), 0..20)) {
            let input: Vec<RecordIn<'_>> = records.iter().map(|(key, data)| RecordIn { partition_key: key, data }).collect();
            let body = encode(arrival, &input);
            prop_assert_eq!(body.len(), HEADER_LENGTH + input.iter().map(encoded_length).sum::<usize>());
            let batch = decode(&body).unwrap();
            prop_assert_eq!(batch.arrival_ms, arrival);
            prop_assert_eq!(batch.records.len(), input.len());
            for (out, inp) in batch.records.iter().zip(&input) {
                prop_assert_eq!(out.partition_key, inp.partition_key);
                prop_assert_eq!(out.data, inp.data);
            }
        }

        #[test]
        fn decoding_garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&body);
        }
    }

    #[test]
    fn chunks_respect_the_limit_and_keep_order() {
        let sizes = [40usize, 40, 40, 200, 10];
        let chunks = chunk_by_bytes(&[0, 1, 2, 3, 4], |position| sizes[position], 100);
        assert_eq!(chunks, vec![vec![0, 1], vec![2], vec![3], vec![4]]);
        assert!(chunk_by_bytes(&[], |_| 1, 100).is_empty());
    }

    #[test]
    fn truncated_messages_are_refused() {
        let body = encode(
            5,
            &[RecordIn {
                partition_key: "k",
                data: b"hello",
            }],
        );
        for cut in 0..body.len() {
            assert_eq!(decode(&body[..cut]).unwrap_err(), MalformedMessage);
        }
    }
}
