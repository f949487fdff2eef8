//! `fjord-bench jetstream`: the raw baseline — what async-nats + JetStream do on this machine
//! with no gateway in between. Publish with acks in flight, read back with a pull consumer,
//! then one-in-flight (and 16-in-flight) publish latency.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use async_nats::Subject;
use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::results::{JetStreamResult, LatencySummary, ReadSummary, RunResult, WriteSummary};
use crate::util::{
    CpuSample, MB, SplitMix64, new_histogram, random_payloads, record_latency, summarize,
    write_json,
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct JetStreamArgs {
    #[arg(long, default_value = "nats://127.0.0.1:4333")]
    pub url: String,
    /// Name of this run in reports.
    #[arg(long, default_value = "raw JetStream")]
    pub label: String,
    /// Bytes of random data per message.
    #[arg(long, default_value_t = 1024)]
    pub record_size: usize,
    /// Messages published by the throughput phase.
    #[arg(long, default_value_t = 200_000)]
    pub total: usize,
    /// Publish acks outstanding at once.
    #[arg(long, default_value_t = 256)]
    pub in_flight: usize,
    /// Messages per pull-consumer fetch.
    #[arg(long, default_value_t = 1000)]
    pub fetch_batch: usize,
    /// Publishes per latency run (one run with 1 in flight, one with 16).
    #[arg(long, default_value_t = 2000)]
    pub latency_requests: usize,
    /// Upper bound for each phase, in seconds.
    #[arg(long, default_value_t = 600)]
    pub phase_timeout_secs: u64,
    /// Also account CPU time of these processes (nats-server), per message.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// Write all numbers to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub(crate) async fn run(args: JetStreamArgs) -> Result<()> {
    if args.total == 0 || args.in_flight == 0 || args.record_size == 0 || args.fetch_batch == 0 {
        bail!("--total, --in-flight, --record-size and --fetch-batch must be > 0");
    }
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(10))
        .connect(&args.url)
        .await
        .with_context(|| format!("connecting to {}", args.url))?;
    let info = client.server_info();
    if args.record_size > info.max_payload {
        bail!(
            "--record-size {} exceeds the server's max_payload {}",
            args.record_size,
            info.max_payload
        );
    }
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(30))
        .build(client);

    let id = SplitMix64::from_entropy().alnum(10);
    let name = format!("FJORD_BENCH_{id}");
    let subject = Subject::from(format!("fjordbench.{id}"));
    let data = Bytes::from(random_payloads(args.total, args.record_size, started_unix));
    let payloads: Vec<Bytes> = (0..args.total)
        .map(|i| data.slice(i * args.record_size..(i + 1) * args.record_size))
        .collect();

    println!(
        "[{}] {} (nats-server {}) — stream {name}, {} × {} B, {} acks in flight",
        args.label, args.url, info.version, args.total, args.record_size, args.in_flight
    );
    let stream = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.to_string()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating stream {name}"))?;

    let outcome = async {
        let limit = Duration::from_secs(args.phase_timeout_secs);
        println!("  publish throughput ...");
        let publish = tokio::time::timeout(limit, publish(&args, &js, &subject, &payloads))
            .await
            .context("publish phase timed out")??;
        println!("  pull-consumer read-back ...");
        let read = tokio::time::timeout(limit, read(&args, &stream, publish.stored))
            .await
            .context("read phase timed out")??;
        let mut lat = Vec::new();
        for concurrency in [1, 16] {
            println!("  publish latency, {concurrency} in flight ...");
            let l = latency(&args, &js, &subject, &payloads, concurrency);
            lat.push(
                tokio::time::timeout(limit, l)
                    .await
                    .context("latency phase timed out")??,
            );
        }
        anyhow::Ok((publish, read, lat))
    }
    .await;
    match js.delete_stream(&name).await {
        Ok(_) => println!("  stream deleted"),
        Err(e) => eprintln!("  warning: deleting stream {name}: {e}"),
    }
    let (publish, read, mut lat) = outcome?;
    let mut notes = Vec::new();
    if !read.complete {
        let line = format!(
            "WARNING: read back {} messages but {} were published",
            read.records, read.expected
        );
        println!("  {line}");
        notes.push(line);
    }
    let publish_latency_c16 = lat.pop().unwrap_or_default();
    let publish_latency_c1 = lat.pop().unwrap_or_default();
    let result = JetStreamResult {
        label: args.label.clone(),
        url: args.url.clone(),
        server_version: info.version.clone(),
        stream_name: name,
        record_size: args.record_size,
        in_flight: args.in_flight,
        fetch_batch: args.fetch_batch,
        publish,
        read,
        publish_latency_c1,
        publish_latency_c16,
        started_unix,
        notes,
    };
    print_summary(&result);
    if let Some(path) = &args.json {
        write_json(path, &RunResult::Jetstream(result))?;
        println!("  wrote {}", path.display());
    }
    Ok(())
}

async fn publish(
    args: &JetStreamArgs,
    js: &jetstream::Context,
    subject: &Subject,
    payloads: &[Bytes],
) -> Result<WriteSummary> {
    let mut acks = FuturesUnordered::new();
    let (mut stored, mut failed, mut first_error) = (0u64, 0u64, None::<String>);
    let mut on_ack = |r: Result<jetstream::publish::PublishAck, _>| match r {
        Ok(_) => stored += 1,
        Err(e) => {
            failed += 1;
            first_error.get_or_insert_with(|| format!("{e}"));
        }
    };
    let cpu0 = CpuSample::take(&args.server_pids);
    let t0 = Instant::now();
    for payload in payloads {
        if acks.len() >= args.in_flight
            && let Some(r) = acks.next().await
        {
            on_ack(r);
        }
        let ack = js
            .publish(subject.clone(), payload.clone())
            .await
            .context("publish")?;
        acks.push(ack.into_future());
    }
    while let Some(r) = acks.next().await {
        on_ack(r);
    }
    let wall = t0.elapsed();
    let cpu1 = CpuSample::take(&args.server_pids);
    let (client_cpu, server_cpu) = cpu0.per_item_us(&cpu1, stored);
    if let Some(e) = first_error {
        eprintln!("  warning: {failed} publishes failed; first: {e}");
    }
    let secs = wall.as_secs_f64().max(1e-9);
    let bytes = stored * args.record_size as u64;
    let mut failed_by_code = std::collections::BTreeMap::new();
    if failed > 0 {
        failed_by_code.insert("PublishError".to_owned(), failed);
    }
    Ok(WriteSummary {
        attempted: payloads.len() as u64,
        stored,
        failed_records: failed,
        failed_by_code,
        requests: payloads.len() as u64,
        retries: 0,
        failed_requests: failed,
        bytes,
        seconds: secs,
        records_per_sec: stored as f64 / secs,
        mb_per_sec: bytes as f64 / MB / secs,
        client_cpu_us_per_record: client_cpu,
        server_cpu_us_per_record: server_cpu,
    })
}

/// Ephemeral pull consumer (ack none), `fetch` of `fetch_batch` messages at a time until
/// `expected` messages have been seen.
async fn read(args: &JetStreamArgs, stream: &stream::Stream, expected: u64) -> Result<ReadSummary> {
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::All,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .context("creating pull consumer")?;
    let (mut records, mut bytes, mut calls, mut empty) = (0u64, 0u64, 0u64, 0u64);
    let cpu0 = CpuSample::take(&args.server_pids);
    let t0 = Instant::now();
    while records < expected {
        let mut batch = consumer
            .fetch()
            .max_messages(args.fetch_batch)
            .messages()
            .await
            .context("fetch")?;
        calls += 1;
        let before = records;
        while let Some(msg) = batch.next().await {
            let msg = msg.map_err(|e| anyhow::anyhow!("fetch: {e}"))?;
            records += 1;
            bytes += msg.payload.len() as u64;
        }
        if records == before {
            empty += 1;
            if empty > 1000 {
                eprintln!("  warning: 1000 empty fetches; stopping the read");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let wall = t0.elapsed();
    let cpu1 = CpuSample::take(&args.server_pids);
    let (client_cpu, server_cpu) = cpu0.per_item_us(&cpu1, records);
    let secs = wall.as_secs_f64().max(1e-9);
    Ok(ReadSummary {
        expected,
        records,
        bytes,
        calls,
        empty_calls: empty,
        retries: 0,
        seconds: secs,
        records_per_sec: records as f64 / secs,
        mb_per_sec: bytes as f64 / MB / secs,
        complete: records >= expected,
        client_cpu_us_per_record: client_cpu,
        server_cpu_us_per_record: server_cpu,
    })
}

/// `latency_requests` publishes, each awaiting its ack, `concurrency` of them in flight.
async fn latency(
    args: &JetStreamArgs,
    js: &jetstream::Context,
    subject: &Subject,
    payloads: &[Bytes],
    concurrency: usize,
) -> Result<LatencySummary> {
    let next = Arc::new(AtomicUsize::new(0));
    let payloads: Arc<Vec<Bytes>> = Arc::new(payloads.to_vec());
    let total = args.latency_requests;
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, payloads, js, subject) =
            (next.clone(), payloads.clone(), js.clone(), subject.clone());
        workers.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let mut errors = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let payload = payloads[i % payloads.len()].clone();
                let start = Instant::now();
                let ack = match js.publish(subject.clone(), payload).await {
                    Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match ack {
                    Ok(()) => record_latency(&mut hist, start.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (hist, errors)
        }));
    }
    let mut hist = new_histogram();
    let mut errors = 0;
    for w in workers {
        let (h, e) = w.await.context("latency worker panicked")?;
        hist.add(&h).context("merging histograms")?;
        errors += e;
    }
    Ok(summarize(&hist, concurrency, errors, 0, t0.elapsed()))
}

fn print_summary(r: &JetStreamResult) {
    let p = &r.publish;
    println!(
        "== {} ({}, nats-server {}) ==",
        r.label, r.url, r.server_version
    );
    println!(
        "publish    : {:>10.0} msg/s {:>8.1} MB/s  stored {}/{}  client CPU {:.1} µs/msg{}",
        p.records_per_sec,
        p.mb_per_sec,
        p.stored,
        p.attempted,
        p.client_cpu_us_per_record,
        crate::kinesis::server_cpu(p.server_cpu_us_per_record)
    );
    let g = &r.read;
    println!(
        "read       : {:>10.0} msg/s {:>8.1} MB/s  read {}/{}  fetches {} (empty {})  \
         client CPU {:.1} µs/msg{}",
        g.records_per_sec,
        g.mb_per_sec,
        g.records,
        g.expected,
        g.calls,
        g.empty_calls,
        g.client_cpu_us_per_record,
        crate::kinesis::server_cpu(g.server_cpu_us_per_record)
    );
    for l in [&r.publish_latency_c1, &r.publish_latency_c16] {
        println!(
            "latency    : {:>2} in flight  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.2} ms  \
             ({} ok, {} errors)",
            l.concurrency, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.requests, l.errors
        );
    }
}
