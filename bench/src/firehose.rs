//! `fjord-bench firehose`: drive a Firehose-compatible endpoint with the official
//! `aws-sdk-firehose` client and read what it delivers from the local filesystem destination.
//!
//! Order of work: (1) a DirectPut delivery stream into a fresh bucket, uncompressed, with the
//! throughput buffering hints; `PutRecordBatch` of every record while a thread reads the objects
//! as they appear, until each stored record is found (end-to-end throughput, missing and
//! duplicate counts); (2) a second delivery stream with a 1 s interval and the smallest size
//! hint, one small record put at a time, each timed from its acknowledgement until an object
//! holding it is visible (freshness). Both delivery streams are deleted at the end, and the
//! bucket's folder removed unless `--keep-objects`.
//!
//! The objects must be readable here: the bench runs on the machine whose `delivery.local_root`
//! it is given (a tenant's bucket `b` is `<local_root>/<account id>/b/`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use aws_sdk_firehose::Client;
use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamStatus, DeliveryStreamType,
    ExtendedS3DestinationConfiguration,
};

use crate::firehose_objects::{MIN_RECORD_SIZE, throughput_records};
use crate::firehose_phases::{freshness, throughput};
use crate::kinesis::server_cpu;
use crate::kinesis_client::describe;
use crate::results::{FirehoseResult, RunResult};
use crate::util::{SplitMix64, unique_name, write_json};

/// The most a `PutRecordBatch` call may carry (records, bytes), as AWS documents.
const MAX_BATCH_RECORDS: usize = 500;
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// The largest record Firehose takes (1,000 KiB).
const MAX_RECORD_BYTES: usize = 1000 * 1024;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FirehoseArgs {
    /// Firehose-compatible endpoint (plain HTTP is fine).
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    pub endpoint: String,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[arg(long, default_value = "fjord-bench")]
    pub access_key_id: String,
    #[arg(long, default_value = "fjord-bench-secret")]
    pub secret_access_key: String,
    /// The endpoint's `delivery.local_root` (`FJORD__DELIVERY__LOCAL_ROOT`).
    #[arg(long)]
    pub local_root: PathBuf,
    /// The tenant's 12-digit account id: its buckets are `<local-root>/<account-id>/<bucket>/`.
    #[arg(long)]
    pub account_id: String,
    /// Bucket to deliver into [a fresh `fjord-bench-<random>`].
    #[arg(long)]
    pub bucket: Option<String>,
    /// Name of this target in reports.
    #[arg(long, default_value = "fjord")]
    pub label: String,
    /// Label of the Kinesis run of the same endpoint in the same run, for the ratio [--label].
    #[arg(long)]
    pub kinesis_label: Option<String>,
    /// Bytes per throughput record (a sequence number, printable filler, a newline).
    #[arg(long, default_value_t = 1024)]
    pub record_size: usize,
    /// Records per `PutRecordBatch` call (at most 500 and 4 MiB).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Records written by the throughput phase.
    #[arg(long, default_value_t = 200_000)]
    pub total: usize,
    /// `PutRecordBatch` calls in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Buffering hint SizeInMBs of the throughput delivery stream (1–128).
    #[arg(long, default_value_t = 5)]
    pub size_mib: u32,
    /// Buffering hint IntervalInSeconds of the throughput delivery stream (0–900).
    #[arg(long, default_value_t = 1)]
    pub interval_secs: u32,
    /// How often the throughput phase scans the bucket's folder, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub poll_ms: u64,
    /// Freshness records put per second, one call at a time.
    #[arg(long, default_value_t = 20.0)]
    pub freshness_rate: f64,
    /// Seconds of freshness puts.
    #[arg(long, default_value_t = 15)]
    pub freshness_secs: u64,
    /// Buffering hint IntervalInSeconds of the freshness delivery stream.
    #[arg(long, default_value_t = 1)]
    pub freshness_interval_secs: u32,
    /// How often the freshness phase scans the bucket's folder, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub freshness_poll_ms: u64,
    /// After the last put, how long to wait for records still missing from the objects.
    #[arg(long, default_value_t = 300)]
    pub drain_timeout_secs: u64,
    /// Attempts per request (1 = no retries). Retries are counted and reported.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// Upper bound for the put part of each phase, in seconds.
    #[arg(long, default_value_t = 900)]
    pub phase_timeout_secs: u64,
    /// Leave the bucket's folder in place (it is removed by default).
    #[arg(long)]
    pub keep_objects: bool,
    /// Also account CPU time of these processes (gateway, worker, NATS), per record.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// Write all numbers to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub(crate) fn client(args: &FirehoseArgs) -> Client {
    Client::new(&crate::kinesis_client::sdk_config(
        &args.endpoint,
        &args.region,
        &args.access_key_id,
        &args.secret_access_key,
    ))
}

/// CreateDeliveryStream (DirectPut, uncompressed, into `bucket` under `prefix`), then
/// DescribeDeliveryStream every 100 ms (≤ 60 s) until ACTIVE. Returns the time it took.
async fn create_delivery_stream(
    client: &Client,
    name: &str,
    bucket: &str,
    prefix: &str,
    size_mib: u32,
    interval_secs: u32,
) -> Result<Duration> {
    let start = Instant::now();
    let destination = ExtendedS3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::123456789012:role/fjord-bench")
        .bucket_arn(format!("arn:aws:s3:::{bucket}"))
        .prefix(prefix)
        .buffering_hints(
            BufferingHints::builder()
                .size_in_mbs(i32::try_from(size_mib).context("size hint too large")?)
                .interval_in_seconds(i32::try_from(interval_secs).context("interval too large")?)
                .build(),
        )
        .compression_format(CompressionFormat::Uncompressed)
        .build()
        .context("building the destination")?;
    client
        .create_delivery_stream()
        .delivery_stream_name(name)
        .delivery_stream_type(DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(destination)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("CreateDeliveryStream {name}: {}", describe(&e)))?;
    let deadline = start + Duration::from_secs(60);
    loop {
        let status = match client
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await
        {
            Ok(out) => out
                .delivery_stream_description()
                .map(|d| d.delivery_stream_status().clone()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => None,
            Err(e) => bail!("DescribeDeliveryStream {name}: {}", describe(&e)),
        };
        match status {
            Some(DeliveryStreamStatus::Active) => return Ok(start.elapsed()),
            Some(DeliveryStreamStatus::CreatingFailed) => bail!("{name} is CREATING_FAILED"),
            _ if Instant::now() >= deadline => {
                bail!("{name} not ACTIVE after 60 s (last status {status:?})")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn delete_delivery_stream(client: &Client, name: &str) {
    match client
        .delete_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await
    {
        Ok(_) => println!("  delivery stream {name} deleted"),
        Err(e) => eprintln!("  warning: DeleteDeliveryStream {name}: {}", describe(&e)),
    }
}

fn check(args: &FirehoseArgs) -> Result<()> {
    if args.total == 0 || args.concurrency == 0 {
        bail!("--total and --concurrency must be > 0");
    }
    if !(MIN_RECORD_SIZE..=MAX_RECORD_BYTES).contains(&args.record_size) {
        bail!("--record-size must be {MIN_RECORD_SIZE}..={MAX_RECORD_BYTES}");
    }
    if args.batch == 0
        || args.batch > MAX_BATCH_RECORDS
        || args.batch * args.record_size > MAX_BATCH_BYTES
    {
        bail!("--batch must be 1..=500 and --batch × --record-size at most 4 MiB");
    }
    if !(1..=128).contains(&args.size_mib) || args.interval_secs > 900 {
        bail!("--size-mib must be 1..=128 and --interval-secs 0..=900 (Firehose's limits)");
    }
    if args.freshness_interval_secs > 900
        || !(args.freshness_rate > 0.0 && args.freshness_rate <= 1000.0)
        || args.freshness_secs == 0
    {
        bail!(
            "--freshness-interval-secs must be 0..=900, --freshness-rate in (0, 1000], \
             --freshness-secs > 0"
        );
    }
    if args.poll_ms == 0 || args.freshness_poll_ms == 0 {
        bail!("--poll-ms and --freshness-poll-ms must be > 0");
    }
    Ok(())
}

pub(crate) async fn run(args: FirehoseArgs) -> Result<()> {
    check(&args)?;
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let client = client(&args);
    let bucket = args
        .bucket
        .clone()
        .unwrap_or_else(|| format!("fjord-bench-{}", SplitMix64::from_entropy().alnum(8)));
    let bucket_dir = args.local_root.join(&args.account_id).join(&bucket);
    let throughput_name = unique_name("fjord-bench-delivery");
    let freshness_name = unique_name("fjord-bench-freshness");

    // Everything the timed phases send is generated up front.
    let data: Arc<[u8]> = throughput_records(args.total, args.record_size, started_unix).into();

    println!(
        "[{}] {} — delivery stream {throughput_name} into {}, {} × {} B records, batches of {}, \
         {} in flight, hints {} MiB / {} s",
        args.label,
        args.endpoint,
        bucket_dir.display(),
        args.total,
        args.record_size,
        args.batch,
        args.concurrency,
        args.size_mib,
        args.interval_secs
    );
    let outcome = async {
        let active = create_delivery_stream(
            &client,
            &throughput_name,
            &bucket,
            "throughput/",
            args.size_mib,
            args.interval_secs,
        )
        .await?;
        println!(
            "  delivery stream ACTIVE after {:.0} ms",
            active.as_secs_f64() * 1000.0
        );
        println!("  (1) PutRecordBatch throughput, end to end ...");
        let (put, end_to_end, mut notes) = throughput(
            &args,
            &client,
            &throughput_name,
            bucket_dir.join("throughput"),
            &data,
        )
        .await?;
        if !end_to_end.complete {
            let line = format!(
                "WARNING: {} of {} stored records never appeared in the objects",
                end_to_end.missing, end_to_end.expected
            );
            println!("  {line}");
            notes.push(line);
        }

        // Smallest size hint: only the interval decides when an object is written.
        create_delivery_stream(
            &client,
            &freshness_name,
            &bucket,
            "freshness/",
            1,
            args.freshness_interval_secs,
        )
        .await?;
        println!(
            "  (2) freshness at a {} s interval: {} records/s for {} s, one call at a time ...",
            args.freshness_interval_secs, args.freshness_rate, args.freshness_secs
        );
        let (fresh, fresh_notes) = freshness(
            &args,
            &client,
            &freshness_name,
            bucket_dir.join("freshness"),
        )
        .await?;
        notes.extend(fresh_notes);
        if fresh.missing > 0 {
            let line = format!(
                "WARNING: {} of {} freshness records never appeared in the objects",
                fresh.missing, fresh.records
            );
            println!("  {line}");
            notes.push(line);
        }
        anyhow::Ok((active, put, end_to_end, fresh, notes))
    }
    .await;
    delete_delivery_stream(&client, &throughput_name).await;
    delete_delivery_stream(&client, &freshness_name).await;
    if !args.keep_objects
        && let Err(e) = std::fs::remove_dir_all(&bucket_dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("  warning: removing {}: {e}", bucket_dir.display());
    }
    let (active, put, end_to_end, freshness, notes) = outcome?;
    let result = FirehoseResult {
        label: args.label.clone(),
        kinesis_label: args
            .kinesis_label
            .clone()
            .unwrap_or_else(|| args.label.clone()),
        endpoint: args.endpoint.clone(),
        delivery_stream: throughput_name,
        bucket,
        record_size: args.record_size,
        batch: args.batch,
        concurrency: args.concurrency,
        size_mib: args.size_mib,
        interval_seconds: args.interval_secs,
        stream_active_ms: active.as_secs_f64() * 1000.0,
        put,
        end_to_end,
        freshness,
        started_unix,
        notes,
    };
    print_summary(&result);
    if let Some(path) = &args.json {
        write_json(path, &RunResult::Firehose(result))?;
        println!("  wrote {}", path.display());
    }
    Ok(())
}

fn print_summary(r: &FirehoseResult) {
    let (p, e, f) = (&r.put, &r.end_to_end, &r.freshness);
    println!("== {} delivery streams ({}) ==", r.label, r.endpoint);
    println!(
        "PutRecordBatch : {:>10.0} rec/s {:>8.1} MB/s  stored {}/{}  failed records {} {:?}  \
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
    println!(
        "end to end     : {:>10.0} rec/s {:>8.1} MB/s  found {}/{} in {} objects ({} bytes), \
         missing {}, duplicates {}, unrecognised lines {}, drain after the last put {:.0} ms  \
         client CPU {:.1} µs/rec{}",
        e.records_per_sec,
        e.mb_per_sec,
        e.found,
        e.expected,
        e.objects,
        e.object_bytes,
        e.missing,
        e.duplicates,
        e.unrecognised,
        e.drain_after_last_put_ms,
        e.client_cpu_us_per_record,
        server_cpu(e.server_cpu_us_per_record)
    );
    println!(
        "freshness      : interval {} s  p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms  \
         min {:.0} ms  (seen {}/{} in {} objects, {} failed puts, folder scanned every {} ms; \
         PutRecord p50 {:.2} ms p99 {:.2} ms)",
        f.interval_seconds,
        f.p50_ms,
        f.p90_ms,
        f.p99_ms,
        f.max_ms,
        f.min_ms,
        f.seen,
        f.records,
        f.objects,
        f.failed_puts,
        f.poll_ms,
        f.put_p50_ms,
        f.put_p99_ms
    );
}
