//! Write phases: (a) PutRecords throughput and (b) single-PutRecord latency.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use crate::kinesis::KinesisArgs;
use crate::kinesis_client::{RetryStats, describe, error_code, with_retries};
use crate::results::{LatencySummary, WriteSummary};
use crate::util::{CpuSample, MB, new_histogram, record_latency, send_in_flight, summarize};

/// Records stored per shard id, from the PutRecords responses.
pub(crate) type PerShard = HashMap<String, u64>;

/// The PutRecords entries for records `start..start+len` (distinct partition keys `pk-<i>`, which
/// MD5-hash uniformly over the shards).
fn entries(
    data: &[u8],
    size: usize,
    start: usize,
    len: usize,
) -> Result<Vec<PutRecordsRequestEntry>> {
    (start..start + len)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .data(Blob::new(&data[i * size..(i + 1) * size]))
                .partition_key(format!("pk-{i}"))
                .build()
                .context("building PutRecordsRequestEntry")
        })
        .collect()
}

#[derive(Default)]
struct WorkerTally {
    stored: u64,
    failed_records: u64,
    failed_by_code: BTreeMap<String, u64>,
    requests: u64,
    failed_requests: u64,
    per_shard: PerShard,
    first_error: Option<String>,
}

impl WorkerTally {
    fn failed(&mut self, code: String, records: u64) {
        self.failed_records += records;
        *self.failed_by_code.entry(code).or_default() += records;
    }
}

/// (a): `put_records_total` records in batches of `batch`, `concurrency` calls in flight.
pub(crate) async fn put_records(
    args: &KinesisArgs,
    client: &Client,
    name: &str,
    data: &Arc<[u8]>,
) -> Result<(WriteSummary, PerShard, Vec<String>)> {
    let size = args.record_size;
    let total = args.put_records_total;
    // Pre-build every request body's entries so the timed loop only sends.
    let mut queue = VecDeque::new();
    for start in (0..total).step_by(args.batch) {
        let len = args.batch.min(total - start);
        queue.push_back((start, len, entries(data, size, start, len)?));
    }
    let stats = Arc::new(RetryStats::default());

    let cpu0 = CpuSample::take(&args.server_pids);
    let t0 = Instant::now();
    let send = {
        let (client, name, data, stats) =
            (client.clone(), name.to_owned(), data.clone(), stats.clone());
        let max_attempts = args.max_attempts;
        move |start: usize, len: usize, batch: Vec<PutRecordsRequestEntry>| {
            let (client, name, data, stats) =
                (client.clone(), name.clone(), data.clone(), stats.clone());
            async move {
                let mut first = Some(batch);
                with_retries(max_attempts, &stats, |_| {
                    // First attempt moves the pre-built entries; a retry rebuilds them.
                    let records = match first.take() {
                        Some(b) => b,
                        None => entries(&data, size, start, len).unwrap_or_default(),
                    };
                    client
                        .put_records()
                        .stream_name(&name)
                        .set_records(Some(records))
                        .send()
                })
                .await
            }
        }
    };
    let tallies = send_in_flight(
        args.concurrency,
        queue,
        send,
        |tally: &mut WorkerTally, _, len, result| {
            tally.requests += 1;
            match result {
                Ok(out) => {
                    for entry in out.records() {
                        match (entry.error_code(), entry.shard_id()) {
                            (Some(code), _) => tally.failed(code.to_owned(), 1),
                            (None, Some(shard)) => {
                                tally.stored += 1;
                                *tally.per_shard.entry(shard.to_owned()).or_default() += 1;
                            }
                            (None, None) => tally.stored += 1,
                        }
                    }
                    // Entries missing from the response (should not happen) count as failed.
                    let answered = out.records().len();
                    if answered < len {
                        tally.failed("MissingInResponse".into(), (len - answered) as u64);
                    }
                }
                Err(e) => {
                    tally.failed_requests += 1;
                    tally.failed(error_code(&e), len as u64);
                    tally
                        .first_error
                        .get_or_insert_with(|| format!("PutRecords failed: {}", describe(&e)));
                }
            }
        },
    )
    .await?;
    let mut sum = WorkerTally::default();
    for t in tallies {
        sum.stored += t.stored;
        sum.failed_records += t.failed_records;
        sum.requests += t.requests;
        sum.failed_requests += t.failed_requests;
        for (k, v) in t.failed_by_code {
            *sum.failed_by_code.entry(k).or_default() += v;
        }
        for (k, v) in t.per_shard {
            *sum.per_shard.entry(k).or_default() += v;
        }
        if sum.first_error.is_none() {
            sum.first_error = t.first_error;
        }
    }
    let wall = t0.elapsed();
    let cpu1 = CpuSample::take(&args.server_pids);
    let (client_cpu, server_cpu) = cpu0.per_item_us(&cpu1, sum.stored);

    let secs = wall.as_secs_f64().max(1e-9);
    let bytes = sum.stored * size as u64;
    let summary = WriteSummary {
        attempted: total as u64,
        stored: sum.stored,
        failed_records: sum.failed_records,
        failed_by_code: sum.failed_by_code,
        requests: sum.requests,
        retries: stats.get(),
        failed_requests: sum.failed_requests,
        bytes,
        seconds: secs,
        records_per_sec: sum.stored as f64 / secs,
        mb_per_sec: bytes as f64 / MB / secs,
        client_cpu_us_per_record: client_cpu,
        server_cpu_us_per_record: server_cpu,
    };
    let notes = sum.first_error.into_iter().collect();
    Ok((summary, sum.per_shard, notes))
}

/// (b): `latency_requests` single PutRecord calls, `concurrency` in flight; latency includes
/// the time spent in retries.
pub(crate) async fn latency(
    args: &KinesisArgs,
    client: &Client,
    name: &str,
    data: &Arc<[u8]>,
    concurrency: usize,
) -> Result<(LatencySummary, Vec<String>)> {
    let size = args.record_size;
    let records = data.len() / size;
    let total = args.latency_requests;
    let next = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(RetryStats::default());

    let t0 = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (next, stats, data) = (next.clone(), stats.clone(), Arc::clone(data));
        let (client, name, max_attempts) = (client.clone(), name.to_owned(), args.max_attempts);
        workers.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let (mut errors, mut first_error) = (0u64, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let r = i % records;
                let key = format!("lat-c{concurrency}-{worker}-{i}");
                let start = Instant::now();
                let result = with_retries(max_attempts, &stats, |_| {
                    client
                        .put_record()
                        .stream_name(&name)
                        .partition_key(&key)
                        .data(Blob::new(&data[r * size..(r + 1) * size]))
                        .send()
                })
                .await;
                match result {
                    Ok(_) => record_latency(&mut hist, start.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| {
                            format!("PutRecord (c={concurrency}) failed: {}", describe(&e))
                        });
                    }
                }
            }
            (hist, errors, first_error)
        }));
    }
    let mut hist = new_histogram();
    let (mut errors, mut notes) = (0, Vec::new());
    for w in workers {
        let (h, e, first) = w.await.context("PutRecord worker panicked")?;
        hist.add(&h).context("merging histograms")?;
        errors += e;
        if notes.is_empty() {
            notes.extend(first);
        }
    }
    let summary = summarize(&hist, concurrency, errors, stats.get(), t0.elapsed());
    Ok((summary, notes))
}
