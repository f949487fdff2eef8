//! `fjord-bench kinesis`: drive any Kinesis-compatible endpoint with the official AWS SDK.
//!
//! Order of work: create a stream and wait for ACTIVE, (a) PutRecords throughput, (c) read
//! everything back with GetRecords (so the read count is exactly what (a) stored), then
//! (b) PutRecord latency at concurrency 1 and 16, and finally delete the stream.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::StreamStatus;

use crate::kinesis_client::{client, describe};
use crate::kinesis_read::read_back;
use crate::kinesis_write::{latency, put_records};
use crate::results::{KinesisResult, RunResult};
use crate::util::{random_payloads, unique_name, write_json};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KinesisArgs {
    /// Kinesis-compatible endpoint (plain HTTP is fine).
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    pub endpoint: String,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[arg(long, default_value = "fjord-bench")]
    pub access_key_id: String,
    #[arg(long, default_value = "fjord-bench-secret")]
    pub secret_access_key: String,
    /// Name of this target in reports.
    #[arg(long, default_value = "fjord")]
    pub label: String,
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
    /// Bytes of random data per record.
    #[arg(long, default_value_t = 1024)]
    pub record_size: usize,
    /// Records per PutRecords call (the Kinesis maximum is 500).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Records written by the PutRecords throughput phase.
    #[arg(long, default_value_t = 200_000)]
    pub put_records_total: usize,
    /// PutRecords calls in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Single PutRecord calls per latency run (one run at concurrency 1, one at 16).
    #[arg(long, default_value_t = 2000)]
    pub latency_requests: usize,
    /// GetRecords Limit.
    #[arg(long, default_value_t = 10_000)]
    pub get_limit: i32,
    /// Attempts per request (1 = no retries). Retries are counted and reported.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// Upper bound for each phase, in seconds.
    #[arg(long, default_value_t = 900)]
    pub phase_timeout_secs: u64,
    /// Also account CPU time of these processes (the server under test), per record.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// Write all numbers to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Create `name` with `shards` shards and poll DescribeStreamSummary every 100 ms (≤ 60 s)
/// until it is ACTIVE. Returns the time it took.
async fn create_stream(client: &Client, name: &str, shards: u32) -> Result<Duration> {
    let start = Instant::now();
    client
        .create_stream()
        .stream_name(name)
        .shard_count(i32::try_from(shards).context("--shards too large")?)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("CreateStream {name}: {}", describe(&e)))?;
    let deadline = start + Duration::from_secs(60);
    loop {
        let status = match client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
        {
            Ok(out) => out
                .stream_description_summary()
                .map(|s| s.stream_status().clone()),
            // Some emulators answer ResourceNotFound for a moment right after CreateStream.
            Err(e) if e.code() == Some("ResourceNotFoundException") => None,
            Err(e) => bail!("DescribeStreamSummary {name}: {}", describe(&e)),
        };
        if status == Some(StreamStatus::Active) {
            return Ok(start.elapsed());
        }
        if Instant::now() >= deadline {
            bail!("stream {name} not ACTIVE after 60 s (last status {status:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn delete_stream(client: &Client, name: &str) -> Result<()> {
    client
        .delete_stream()
        .stream_name(name)
        .enforce_consumer_deletion(true)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("DeleteStream {name}: {}", describe(&e)))?;
    Ok(())
}

/// Stream names allow `[a-zA-Z0-9_.-]`; keep the label readable in them.
fn stream_name(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    unique_name(&format!("fjord-bench-{clean}"))
}

pub(crate) async fn run(args: KinesisArgs) -> Result<()> {
    if args.batch == 0 || args.batch > 500 {
        bail!("--batch must be 1..=500 (the PutRecords limit)");
    }
    if args.record_size == 0 || args.put_records_total == 0 || args.concurrency == 0 {
        bail!("--record-size, --put-records-total and --concurrency must be > 0");
    }
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let client = client(&args);
    let name = stream_name(&args.label);

    // Everything the timed phases send is generated up front.
    let data: Arc<[u8]> =
        random_payloads(args.put_records_total, args.record_size, started_unix).into();

    println!(
        "[{}] {} — stream {name}, {} shards, {} × {} B records, batches of {}, {} in flight",
        args.label,
        args.endpoint,
        args.shards,
        args.put_records_total,
        args.record_size,
        args.batch,
        args.concurrency
    );
    let active = create_stream(&client, &name, args.shards).await?;
    println!(
        "  stream ACTIVE after {:.0} ms",
        active.as_secs_f64() * 1000.0
    );

    let outcome = phases(&args, &client, &name, &data, active, started_unix).await;
    match delete_stream(&client, &name).await {
        Ok(()) => println!("  stream deleted"),
        Err(e) => eprintln!("  warning: {e:#}"),
    }
    let result = outcome?;
    print_summary(&result);
    if let Some(path) = &args.json {
        write_json(path, &RunResult::Kinesis(result))?;
        println!("  wrote {}", path.display());
    }
    Ok(())
}

async fn phases(
    args: &KinesisArgs,
    client: &Client,
    name: &str,
    data: &Arc<[u8]>,
    active: Duration,
    started_unix: u64,
) -> Result<KinesisResult> {
    let mut notes = Vec::new();
    let phase_timeout = Duration::from_secs(args.phase_timeout_secs);

    println!("  (a) PutRecords throughput ...");
    let (put, per_shard, put_notes) =
        tokio::time::timeout(phase_timeout, put_records(args, client, name, data))
            .await
            .context("PutRecords phase timed out")??;
    notes.extend(put_notes);

    println!("  (c) GetRecords read-back ...");
    let (read, read_notes) = read_back(args, client, name, &per_shard, put.stored).await?;
    notes.extend(read_notes);
    if !read.complete {
        let line = format!(
            "WARNING: read back {} records but PutRecords stored {}",
            read.records, read.expected
        );
        println!("  {line}");
        notes.push(line);
    }

    let mut lat = Vec::new();
    for concurrency in [1, 16] {
        println!("  (b) PutRecord latency, concurrency {concurrency} ...");
        let (summary, lat_notes) = tokio::time::timeout(
            phase_timeout,
            latency(args, client, name, data, concurrency),
        )
        .await
        .context("PutRecord latency phase timed out")??;
        notes.extend(lat_notes);
        lat.push(summary);
    }
    let put_record_c16 = lat.pop().unwrap_or_default();
    let put_record_c1 = lat.pop().unwrap_or_default();

    Ok(KinesisResult {
        label: args.label.clone(),
        endpoint: args.endpoint.clone(),
        stream_name: name.to_owned(),
        shards: args.shards,
        record_size: args.record_size,
        batch: args.batch,
        concurrency: args.concurrency,
        stream_active_ms: active.as_secs_f64() * 1000.0,
        put_records: put,
        read_back: read,
        put_record_c1,
        put_record_c16,
        started_unix,
        notes,
    })
}

fn print_summary(r: &KinesisResult) {
    let p = &r.put_records;
    println!("== {} ({}) ==", r.label, r.endpoint);
    println!(
        "PutRecords : {:>10.0} rec/s {:>8.1} MB/s  stored {}/{}  failed records {} {:?}  \
         requests {} (retries {}, failed {})  client CPU {:.1} µs/rec{}",
        p.records_per_sec,
        p.mb_per_sec,
        p.stored,
        p.attempted,
        p.failed_records,
        p.failed_by_code,
        p.requests,
        p.retries,
        p.failed_requests,
        p.client_cpu_us_per_record,
        server_cpu(p.server_cpu_us_per_record)
    );
    for l in [&r.put_record_c1, &r.put_record_c16] {
        println!(
            "PutRecord  : c={:<3} p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  \
             ({} ok, {} errors, {} retries, {:.0} req/s)",
            l.concurrency,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms,
            l.requests,
            l.errors,
            l.retries,
            l.requests_per_sec
        );
    }
    let g = &r.read_back;
    println!(
        "GetRecords : {:>10.0} rec/s {:>8.1} MB/s  read {}/{}  calls {} (empty {}, retries {})  \
         client CPU {:.1} µs/rec{}",
        g.records_per_sec,
        g.mb_per_sec,
        g.records,
        g.expected,
        g.calls,
        g.empty_calls,
        g.retries,
        g.client_cpu_us_per_record,
        server_cpu(g.server_cpu_us_per_record)
    );
}

pub(crate) fn server_cpu(v: Option<f64>) -> String {
    v.map(|v| format!("  server CPU {v:.1} µs/rec"))
        .unwrap_or_default()
}
