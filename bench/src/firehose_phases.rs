//! The two timed phases of `fjord-bench firehose`: `PutRecordBatch` throughput measured end to
//! end (until every stored record is found in an object), and freshness (one record at a
//! time, from its acknowledgement until an object holding it is visible).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use aws_sdk_firehose::Client;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

use crate::firehose::FirehoseArgs;
use crate::firehose_objects::{
    RecordTally, WatchStats, freshness_record, freshness_sequences, spawn_watcher,
};
use crate::kinesis_client::{RetryStats, describe, error_code, with_retries};
use crate::results::{DeliverySummary, FreshnessSummary, WriteSummary};
use crate::util::{CpuSample, MB, new_histogram, record_latency, send_in_flight};

/// How often the waiting side checks whether the scanning thread is done.
const CHECK_EVERY: Duration = Duration::from_millis(5);

/// The records `start..start+len` as `PutRecordBatch` entries.
fn records(data: &[u8], size: usize, start: usize, len: usize) -> Result<Vec<Record>> {
    (start..start + len)
        .map(|i| {
            Record::builder()
                .data(Blob::new(&data[i * size..(i + 1) * size]))
                .build()
                .context("building a Record")
        })
        .collect()
}

#[derive(Default)]
struct PutTally {
    stored: u64,
    failed_records: u64,
    failed_by_code: BTreeMap<String, u64>,
    requests: u64,
    failed_requests: u64,
    first_error: Option<String>,
}

impl PutTally {
    fn merge(&mut self, other: PutTally) {
        self.stored += other.stored;
        self.failed_records += other.failed_records;
        self.requests += other.requests;
        self.failed_requests += other.failed_requests;
        for (code, n) in other.failed_by_code {
            *self.failed_by_code.entry(code).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn failed(&mut self, code: String, records: u64) {
        self.failed_records += records;
        *self.failed_by_code.entry(code).or_default() += records;
    }
}

type Batches = VecDeque<(usize, usize, Vec<Record>)>;

/// Sends every batch, `concurrency` calls in flight; marks `stored[i]` for each record the
/// answer gave a RecordId. A failed record is not put again (it is a record the delivery
/// stream did not take, and the end-to-end check does not expect it).
async fn send_batches(
    args: &FirehoseArgs,
    client: &Client,
    name: &str,
    data: &Arc<[u8]>,
    batches: Batches,
    stored: &Arc<Mutex<Vec<bool>>>,
    stats: &Arc<RetryStats>,
) -> Result<PutTally> {
    let size = args.record_size;
    let send = {
        let (client, name, data, stats) =
            (client.clone(), name.to_owned(), data.clone(), stats.clone());
        let max_attempts = args.max_attempts;
        move |start: usize, len: usize, batch: Vec<Record>| {
            let (client, name, data, stats) =
                (client.clone(), name.clone(), data.clone(), stats.clone());
            async move {
                let mut first = Some(batch);
                with_retries(max_attempts, &stats, |_| {
                    // The first attempt moves the pre-built records; a retry rebuilds them.
                    let batch = match first.take() {
                        Some(b) => b,
                        None => records(&data, size, start, len).unwrap_or_default(),
                    };
                    client
                        .put_record_batch()
                        .delivery_stream_name(&name)
                        .set_records(Some(batch))
                        .send()
                })
                .await
            }
        }
    };
    let stored = stored.clone();
    let tallies = send_in_flight(
        args.concurrency,
        batches,
        send,
        move |tally: &mut PutTally, start, len, result| {
            tally.requests += 1;
            match result {
                Ok(out) => {
                    let answers = out.request_responses();
                    let mut flags = stored.lock().expect("stored lock");
                    for (j, answer) in answers.iter().enumerate().take(len) {
                        match (answer.error_code(), answer.record_id()) {
                            (None, Some(_)) => {
                                tally.stored += 1;
                                flags[start + j] = true;
                            }
                            (code, _) => tally.failed(code.unwrap_or("NoRecordId").to_owned(), 1),
                        }
                    }
                    if answers.len() < len {
                        tally.failed("MissingInResponse".into(), (len - answers.len()) as u64);
                    }
                }
                Err(e) => {
                    tally.failed_requests += 1;
                    tally.failed(error_code(&e), len as u64);
                    tally
                        .first_error
                        .get_or_insert_with(|| format!("PutRecordBatch failed: {}", describe(&e)));
                }
            }
        },
    )
    .await?;
    let mut sum = PutTally::default();
    for tally in tallies {
        sum.merge(tally);
    }
    Ok(sum)
}

/// Waits until the scanning thread is done or `deadline`, then stops and joins it.
async fn finish_watcher(
    watcher: std::thread::JoinHandle<Result<WatchStats>>,
    stop: &AtomicBool,
    deadline: Instant,
    mut done: impl FnMut() -> bool,
) -> Result<WatchStats> {
    while !watcher.is_finished() && !done() && Instant::now() < deadline {
        tokio::time::sleep(CHECK_EVERY).await;
    }
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || watcher.join())
        .await
        .context("joining the object scanner")?
        .map_err(|_| anyhow::anyhow!("the object scanner panicked"))?
}

/// (1): every record in `PutRecordBatch` calls; the clock runs from the first call until the
/// scanning thread has found every stored record in the objects under `dir`.
pub(crate) async fn throughput(
    args: &FirehoseArgs,
    client: &Client,
    name: &str,
    dir: PathBuf,
    data: &Arc<[u8]>,
) -> Result<(WriteSummary, DeliverySummary, Vec<String>)> {
    let (size, total) = (args.record_size, args.total);
    let mut batches = Batches::new();
    for start in (0..total).step_by(args.batch) {
        let len = args.batch.min(total - start);
        batches.push_back((start, len, records(data, size, start, len)?));
    }
    let stored = Arc::new(Mutex::new(vec![false; total]));
    let stats = Arc::new(RetryStats::default());

    // The scanner counts records as objects appear; once the puts are over it is told which
    // records were stored and stops when none of them is missing.
    let tally = Arc::new(Mutex::new(RecordTally::new(data.clone(), size)));
    let expected: Arc<Mutex<Option<Vec<bool>>>> = Arc::default();
    let found_all_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (tally, expected, found_all_at) =
            (tally.clone(), expected.clone(), found_all_at.clone());
        let mut checked = false;
        spawn_watcher(
            dir,
            Duration::from_millis(args.poll_ms),
            stop.clone(),
            move |objects, _| {
                let mut tally = tally.lock().expect("tally lock");
                for object in objects {
                    tally.add_object(object);
                }
                let expected = expected.lock().expect("expected lock");
                let Some(stored) = expected.as_ref() else {
                    return false;
                };
                if checked && objects.is_empty() {
                    return false;
                }
                checked = true;
                if tally.missing(stored) > 0 {
                    return false;
                }
                *found_all_at.lock().expect("found lock") = Some(Instant::now());
                true
            },
        )
    };

    let cpu0 = CpuSample::take(&args.server_pids);
    let t0 = Instant::now();
    let put = tokio::time::timeout(
        Duration::from_secs(args.phase_timeout_secs),
        send_batches(args, client, name, data, batches, &stored, &stats),
    )
    .await;
    let last_put = Instant::now();
    let cpu_put = CpuSample::take(&args.server_pids);
    let stored = std::mem::take(&mut *stored.lock().expect("stored lock"));
    *expected.lock().expect("expected lock") = Some(stored.clone());
    let put = match put {
        Ok(put) => put,
        Err(_) => {
            stop.store(true, Ordering::Relaxed);
            anyhow::bail!("PutRecordBatch phase timed out")
        }
    };
    let put = match put {
        Ok(put) => put,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
    };

    let deadline = last_put + Duration::from_secs(args.drain_timeout_secs);
    let watched = finish_watcher(watcher, &stop, deadline, || false).await?;
    let end = found_all_at
        .lock()
        .expect("found lock")
        .unwrap_or_else(Instant::now);
    let cpu_end = CpuSample::take(&args.server_pids);

    let put_secs = last_put.duration_since(t0).as_secs_f64().max(1e-9);
    let (client_cpu, server_cpu) = cpu0.per_item_us(&cpu_put, put.stored);
    let put_bytes = put.stored * size as u64;
    let put_summary = WriteSummary {
        attempted: total as u64,
        stored: put.stored,
        failed_records: put.failed_records,
        failed_by_code: put.failed_by_code,
        requests: put.requests,
        retries: stats.get(),
        failed_requests: put.failed_requests,
        bytes: put_bytes,
        seconds: put_secs,
        records_per_sec: put.stored as f64 / put_secs,
        mb_per_sec: put_bytes as f64 / MB / put_secs,
        client_cpu_us_per_record: client_cpu,
        server_cpu_us_per_record: server_cpu,
    };

    let tally = tally.lock().expect("tally lock");
    let missing = tally.missing(&stored);
    let (found, duplicates) = tally.found_and_duplicates();
    let e2e_secs = end.duration_since(t0).as_secs_f64().max(1e-9);
    let (client_cpu, server_cpu) = cpu0.per_item_us(&cpu_end, found);
    let bytes = found * size as u64;
    let delivery = DeliverySummary {
        expected: put.stored,
        found,
        missing,
        duplicates,
        unrecognised: tally.unrecognised,
        objects: watched.objects,
        object_bytes: watched.bytes,
        bytes,
        seconds: e2e_secs,
        drain_after_last_put_ms: end.saturating_duration_since(last_put).as_secs_f64() * 1000.0,
        records_per_sec: found as f64 / e2e_secs,
        mb_per_sec: bytes as f64 / MB / e2e_secs,
        complete: missing == 0,
        poll_ms: args.poll_ms,
        client_cpu_us_per_record: client_cpu,
        server_cpu_us_per_record: server_cpu,
    };
    Ok((put_summary, delivery, put.first_error.into_iter().collect()))
}

/// (2): `freshness_rate` records per second for `freshness_secs`, one PutRecord at a time;
/// each record's freshness is from its acknowledgement until the scan that first saw it.
pub(crate) async fn freshness(
    args: &FirehoseArgs,
    client: &Client,
    name: &str,
    dir: PathBuf,
) -> Result<(FreshnessSummary, Vec<String>)> {
    let count = ((args.freshness_rate * args.freshness_secs as f64).round() as usize).max(1);
    let seen: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; count]));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let seen = seen.clone();
        let mut distinct = 0;
        spawn_watcher(
            dir,
            Duration::from_millis(args.freshness_poll_ms),
            stop.clone(),
            move |objects, seen_at| {
                let mut seen = seen.lock().expect("seen lock");
                for seq in objects.iter().flat_map(|o| freshness_sequences(o)) {
                    if let Some(slot) = seen.get_mut(seq)
                        && slot.is_none()
                    {
                        *slot = Some(seen_at);
                        distinct += 1;
                    }
                }
                distinct == count
            },
        )
    };

    let stats = RetryStats::default();
    let mut acked: Vec<Option<Instant>> = vec![None; count];
    let mut put_latency = new_histogram();
    let (mut failed, mut first_error) = (0u64, None);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.freshness_rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for (seq, ack) in acked.iter_mut().enumerate() {
        ticker.tick().await;
        let put_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
        let data = freshness_record(seq, put_time);
        let start = Instant::now();
        let result = with_retries(args.max_attempts, &stats, |_| {
            let record = Record::builder()
                .data(Blob::new(data.as_bytes()))
                .build()
                .expect("data is set");
            client
                .put_record()
                .delivery_stream_name(name)
                .record(record)
                .send()
        })
        .await;
        match result {
            Ok(_) => {
                let now = Instant::now();
                *ack = Some(now);
                record_latency(&mut put_latency, now - start);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("PutRecord failed: {}", describe(&e)));
            }
        }
    }

    let drain = Duration::from_secs(
        u64::from(args.freshness_interval_secs) + args.drain_timeout_secs.min(120),
    );
    let all_acked_seen = || {
        let seen = seen.lock().expect("seen lock");
        acked
            .iter()
            .zip(seen.iter())
            .all(|(ack, seen)| ack.is_none() || seen.is_some())
    };
    let watched = finish_watcher(watcher, &stop, Instant::now() + drain, all_acked_seen).await?;

    let seen = seen.lock().expect("seen lock");
    let mut freshness = new_histogram();
    let (mut records, mut missing) = (0u64, 0u64);
    for (ack, seen) in acked.iter().zip(seen.iter()) {
        let Some(ack) = ack else { continue };
        records += 1;
        match seen {
            Some(seen) => record_latency(&mut freshness, seen.saturating_duration_since(*ack)),
            None => missing += 1,
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let observed = !freshness.is_empty();
    let quantile = |q: f64| {
        if observed {
            ms(freshness.value_at_quantile(q))
        } else {
            0.0
        }
    };
    let summary = FreshnessSummary {
        interval_seconds: args.freshness_interval_secs,
        size_mib: 1,
        rate_per_sec: args.freshness_rate,
        records,
        failed_puts: failed,
        seen: records - missing,
        missing,
        objects: watched.objects,
        poll_ms: args.freshness_poll_ms,
        min_ms: if observed { ms(freshness.min()) } else { 0.0 },
        mean_ms: freshness.mean() / 1000.0,
        p50_ms: quantile(0.50),
        p90_ms: quantile(0.90),
        p99_ms: quantile(0.99),
        max_ms: if observed { ms(freshness.max()) } else { 0.0 },
        put_p50_ms: ms(put_latency.value_at_quantile(0.50)),
        put_p99_ms: ms(put_latency.value_at_quantile(0.99)),
    };
    Ok((summary, first_error.into_iter().collect()))
}
