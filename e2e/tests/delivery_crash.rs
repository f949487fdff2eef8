//! The delivery crash test: two `fjord worker` processes share a delivery stream while
//! records flow in through `PutRecordBatch`; one is killed with `kill -9` after it wrote an
//! object and before it acknowledged the object's records. Every record must reach the bucket
//! at least once, and the duplicates Fjord reports must be exactly the duplicates in the
//! bucket.
//!
//! The kill lands inside that window deterministically: debug builds of `fjord` pause between
//! a delivery and its acknowledgement when `FJORD_FAILPOINT_DELIVERY_PAUSE_BEFORE_ACK_MS` is
//! set, and log that they do.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{CompressionFormat, Record};
use fjord_e2e::delivery::{object_records, s3_destination, wait_delivery_stream_active};
use fjord_e2e::{Fjord, Options, WorkerProcess};

const PAUSE: (&str, &str) = ("FJORD_FAILPOINT_DELIVERY_PAUSE_BEFORE_ACK_MS", "2500");

/// Puts numbered records in batches of 100 until `stop`; returns every record put.
async fn produce(
    client: aws_sdk_firehose::Client,
    name: String,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<String>> {
    let mut put = Vec::new();
    let mut next = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<String> = (next..next + 100)
            .map(|n| format!("{{\"n\":{n}}}"))
            .collect();
        next += 100;
        let output = client
            .put_record_batch()
            .delivery_stream_name(&name)
            .set_records(Some(
                batch
                    .iter()
                    .map(|r| {
                        Record::builder()
                            .data(Blob::new(format!("{r}\n")))
                            .build()
                            .expect("a record")
                    })
                    .collect(),
            ))
            .send()
            .await?;
        anyhow::ensure!(output.failed_put_count() == 0, "a put failed: {output:?}");
        put.extend(batch);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(put)
}

/// Waits (up to `limit`) until `worker`'s log shows `text`.
async fn wait_for_log(worker: &WorkerProcess, text: &str, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !worker.log().contains(text) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the worker never logged {text:?}: {}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The duplicate count a worker reported when it stopped.
fn reported_duplicates(worker: &WorkerProcess) -> anyhow::Result<u64> {
    let log = worker.log();
    let line = log
        .lines()
        .rfind(|line| line.contains("delivery workers stopped"))
        .ok_or_else(|| anyhow::anyhow!("the worker did not report: {log}"))?;
    let after = line
        .split(", duplicates: ")
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no duplicate count in {line}"))?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    Ok(digits.parse()?)
}

#[tokio::test]
async fn a_worker_killed_between_writing_and_acknowledging_loses_nothing_and_every_duplicate_is_counted()
-> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("fjord-objects-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&root)?;
    let fjord = Fjord::start_with(Options {
        settings: vec![
            (
                "FJORD__DELIVERY__LOCAL_ROOT".to_owned(),
                root.to_string_lossy().into_owned(),
            ),
            ("FJORD__DELIVERY__IN_SERVE".to_owned(), "false".to_owned()),
            (
                "FJORD__DELIVERY__ACK_WAIT_MARGIN_SECONDS".to_owned(),
                "2".to_owned(),
            ),
        ],
        ..Options::default()
    })
    .await?;
    let tenant = fjord.create_tenant("crash").await?;
    let client = fjord.firehose(&tenant);
    client
        .create_delivery_stream()
        .delivery_stream_name("crash")
        .extended_s3_destination_configuration(s3_destination(
            "lake",
            "c/",
            CompressionFormat::Uncompressed,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&client, "crash").await?;

    let mut doomed = fjord.start_worker(&[PAUSE])?;
    let mut survivor = fjord.start_worker(&[PAUSE])?;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce(client.clone(), "crash".to_owned(), stop.clone()));

    // The doomed worker wrote an object and is pausing before it acknowledges the records.
    wait_for_log(&doomed, "failpoint: pausing", Duration::from_secs(30)).await?;
    doomed.kill9();
    // Records keep flowing to the survivor for a while, then stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let put = producer.await??;
    let expected: BTreeSet<String> = put.iter().cloned().collect();
    assert_eq!(expected.len(), put.len());

    // The dead worker's records come back after AckWait (1 s + 2 s); the survivor delivers them.
    let bucket = root.join(&tenant.account_id).join("lake");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found: BTreeSet<String> = object_records(&bucket)?.into_iter().collect();
        if found.is_superset(&expected) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {} records delivered",
            found.intersection(&expected).count(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A clean stop: the survivor writes what it holds and reports.
    let status = survivor.stop()?;
    assert!(status.success(), "{}", survivor.log());

    let delivered = object_records(&bucket)?;
    let distinct: BTreeSet<String> = delivered.iter().cloned().collect();
    assert_eq!(
        distinct, expected,
        "every record at least once, nothing else"
    );
    let found_duplicates = (delivered.len() - distinct.len()) as u64;
    assert!(
        found_duplicates > 0,
        "the dead worker's written object was delivered again"
    );
    let reported = reported_duplicates(&survivor)?;
    println!(
        "crash test: {} records put, {} delivered, {found_duplicates} duplicates in the bucket, {reported} reported",
        put.len(),
        delivered.len()
    );
    assert_eq!(reported, found_duplicates, "{}", survivor.log());

    // The same count reaches the REST API (and the console) through the workers' reports.
    let admin = fjord.session("crash", "admin").await?;
    let url = format!(
        "{}/api/v1/delivery-streams/crash/metrics?minutes=30",
        fjord.control_plane_url()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let totals = loop {
        let metrics: serde_json::Value = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&admin)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let totals = metrics["totals"].clone();
        if totals["duplicates"].as_u64() == Some(found_duplicates) || Instant::now() > deadline {
            break totals;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        totals["duplicates"].as_u64(),
        Some(found_duplicates),
        "REST totals: {totals}"
    );
    Ok(())
}
