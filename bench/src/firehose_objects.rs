//! Reading delivered objects back from the local filesystem destination: a thread that scans a
//! folder every few milliseconds and hands each new object to the phase that waits for it, and
//! the records the bench puts, made so that each can be recognised in an object.
//!
//! Fjord's local destination writes an object whole (a staging file `<name>#<n>`, then a
//! rename), so a file without `#` in its name is complete and never changes: each is read once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::util::random_payloads;

/// Decimal digits of the sequence number that starts every throughput record.
const SEQ_DIGITS: usize = 12;
/// The smallest throughput record: the sequence number, a space, the newline.
pub(crate) const MIN_RECORD_SIZE: usize = SEQ_DIGITS + 2;
/// Printable filler: a record never contains a newline except its last byte.
const FILLER: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `count` records of `size` bytes in one buffer (record `i` is `buf[i*size..(i+1)*size]`):
/// `<i as 12 digits> <random printable filler>\n`. Firehose concatenates records as put, so
/// the newline splits an object back into its records and the number names each one.
pub(crate) fn throughput_records(count: usize, size: usize, seed: u64) -> Vec<u8> {
    debug_assert!(size >= MIN_RECORD_SIZE);
    let mut buf = random_payloads(count, size, seed);
    for (i, record) in buf.chunks_exact_mut(size).enumerate() {
        for byte in record.iter_mut() {
            *byte = FILLER[usize::from(*byte & 63)];
        }
        record[..SEQ_DIGITS].copy_from_slice(format!("{i:0width$}", width = SEQ_DIGITS).as_bytes());
        record[SEQ_DIGITS] = b' ';
        record[size - 1] = b'\n';
    }
    buf
}

/// The sequence number a line starts with, if it starts like a throughput record.
fn sequence_of(line: &[u8]) -> Option<usize> {
    let digits = line.get(..SEQ_DIGITS)?;
    if line.get(SEQ_DIGITS) != Some(&b' ') || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// How often each throughput record was found in the objects.
pub(crate) struct RecordTally {
    data: Arc<[u8]>,
    size: usize,
    copies: Vec<u32>,
    /// Lines that are not an exact copy of a record put in this run.
    pub(crate) unrecognised: u64,
}

impl RecordTally {
    pub(crate) fn new(data: Arc<[u8]>, size: usize) -> Self {
        let count = data.len() / size;
        Self {
            data,
            size,
            copies: vec![0; count],
            unrecognised: 0,
        }
    }

    /// Counts the records in one object, each checked byte for byte against what was put.
    pub(crate) fn add_object(&mut self, object: &[u8]) {
        for line in object.split_inclusive(|b| *b == b'\n') {
            let exact = sequence_of(line)
                .filter(|&i| i < self.copies.len() && line.len() == self.size)
                .filter(|&i| self.data[i * self.size..(i + 1) * self.size] == *line);
            match exact {
                Some(i) => self.copies[i] = self.copies[i].saturating_add(1),
                None => self.unrecognised += 1,
            }
        }
    }

    /// Stored records (`stored[i]`) not found yet.
    pub(crate) fn missing(&self, stored: &[bool]) -> u64 {
        stored
            .iter()
            .zip(&self.copies)
            .filter(|(stored, copies)| **stored && **copies == 0)
            .count() as u64
    }

    /// Distinct records found, and the extra copies.
    pub(crate) fn found_and_duplicates(&self) -> (u64, u64) {
        self.copies
            .iter()
            .filter(|c| **c > 0)
            .fold((0, 0), |(found, dups), c| {
                (found + 1, dups + u64::from(c - 1))
            })
    }
}

/// The freshness records: `F<seq as 8 digits> <put time, unix µs>\n`.
pub(crate) fn freshness_record(seq: usize, unix_micros: u128) -> String {
    format!("F{seq:08} {unix_micros}\n")
}

/// The sequence numbers of the freshness records in one object.
pub(crate) fn freshness_sequences(object: &[u8]) -> impl Iterator<Item = usize> + '_ {
    object.split(|b| *b == b'\n').filter_map(|line| {
        let digits = line.strip_prefix(b"F")?.get(..8)?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    })
}

/// What the scanning thread read.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WatchStats {
    pub(crate) objects: u64,
    pub(crate) bytes: u64,
}

/// Every complete object file under `dir` not in `seen` (which it is added to).
fn new_objects(dir: &Path, seen: &mut HashSet<PathBuf>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue; // not created yet
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                pending.push(path);
            } else if !entry.file_name().to_string_lossy().contains('#')
                && seen.insert(path.clone())
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Scans `dir` every `poll` on a thread of its own (so the puts' runtime is not blocked), and
/// calls `on_poll(new objects, when they were seen)` after every scan, with or without new
/// objects; it stops when `on_poll` returns true or `stop` is set.
pub(crate) fn spawn_watcher<F>(
    dir: PathBuf,
    poll: Duration,
    stop: Arc<AtomicBool>,
    mut on_poll: F,
) -> JoinHandle<Result<WatchStats>>
where
    F: FnMut(&[Vec<u8>], Instant) -> bool + Send + 'static,
{
    std::thread::spawn(move || {
        let mut seen = HashSet::new();
        let mut stats = WatchStats::default();
        loop {
            let paths = new_objects(&dir, &mut seen);
            let seen_at = Instant::now();
            let mut objects = Vec::with_capacity(paths.len());
            for path in paths {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("reading the object {}", path.display()))?;
                stats.objects += 1;
                stats.bytes += bytes.len() as u64;
                objects.push(bytes);
            }
            if on_poll(&objects, seen_at) || stop.load(Ordering::Relaxed) {
                return Ok(stats);
            }
            std::thread::sleep(poll);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_found_once_each_and_duplicates_counted() {
        let size = 32;
        let data: Arc<[u8]> = throughput_records(5, size, 7).into();
        assert!(data.chunks(size).all(|r| r.ends_with(b"\n")));
        assert_eq!(data[..size].iter().filter(|b| **b == b'\n').count(), 1);
        let mut tally = RecordTally::new(data.clone(), size);
        // Objects concatenate records as put; one record arrives twice.
        tally.add_object(&data[..3 * size]);
        tally.add_object(&data[2 * size..4 * size]);
        tally.add_object(b"000000000004 not what was put\n");
        assert_eq!(tally.found_and_duplicates(), (4, 1));
        assert_eq!(tally.unrecognised, 1);
        assert_eq!(tally.missing(&[true, true, true, true, true]), 1);
        assert_eq!(tally.missing(&[true, true, true, true, false]), 0);
    }

    #[test]
    fn freshness_records_are_read_back() {
        let object = [freshness_record(3, 17), freshness_record(12, 18)].concat();
        assert_eq!(
            freshness_sequences(object.as_bytes()).collect::<Vec<_>>(),
            [3, 12]
        );
    }
}
