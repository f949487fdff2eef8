//! Delivery to an S3-compatible store, end to end: a bucket registered over REST (checked by a
//! probe write against the real test server, which verifies SigV4), a delivery stream naming
//! it created with the official `aws-sdk-firehose`, records put with `PutRecordBatch` arriving
//! as objects in that store, checked record for record. A store that stops taking objects
//! holds delivery up without losing anything: the records arrive once it takes them again,
//! and the refusals are on record (`…/failures`) beside the delivery metrics. A Kinesis stream
//! delivers there too.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_firehose::types::CompressionFormat;
use fjord_e2e::delivery::{
    TestS3, object_records, put_batch, put_to_stream, s3_destination, wait_delivery_stream_active,
};
use fjord_e2e::{Fjord, stream_name};
use serde_json::json;

/// Waits (up to `timeout`) until the objects under `dir` hold `expected` records; them.
async fn records_in(
    dir: &std::path::Path,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = object_records(dir)?;
        if records.len() >= expected || Instant::now() > deadline {
            return Ok(records);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn records_are_delivered_to_a_registered_s3_compatible_bucket() -> anyhow::Result<()> {
    let s3 = TestS3::from_env()?;
    let (fjord, _local_root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let admin = fjord.session("acme", "admin").await?;
    let firehose = fjord.firehose(&tenant);
    let remote = s3.create_bucket("fjord-e2e")?;

    let http = reqwest::Client::new();
    let registered = http
        .post(format!("{}/api/v1/buckets", fjord.control_plane_url()))
        .bearer_auth(&admin)
        .json(&json!({"name": "s3lake", "store": s3.store(&remote)}))
        .send()
        .await?;
    assert_eq!(registered.status(), 201, "{}", registered.text().await?);

    let name = stream_name("to-s3");
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .extended_s3_destination_configuration(s3_destination(
            "s3lake",
            "events/",
            CompressionFormat::Gzip,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &name).await?;

    let sent = put_batch(&firehose, &name, "first", 1500).await?;
    let dir = s3.bucket_dir(&remote).join("events");
    let delivered = records_in(&dir, sent.len(), Duration::from_secs(30)).await?;
    assert_eq!(
        delivered.iter().collect::<BTreeSet<_>>(),
        sent.iter().collect::<BTreeSet<_>>(),
        "the records put, in the S3-compatible bucket"
    );
    assert_eq!(delivered.len(), sent.len(), "once each");

    // The store stops taking objects (a file where the bucket's folder was: every write
    // fails): nothing is acknowledged or lost while it refuses.
    let parked = s3.root.join(format!("{remote}.parked"));
    std::fs::rename(s3.bucket_dir(&remote), &parked)?;
    std::fs::write(s3.bucket_dir(&remote), b"in the way")?;
    let more = put_batch(&firehose, &name, "second", 300).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        s3.bucket_dir(&remote).is_file(),
        "no object was written meanwhile"
    );
    std::fs::remove_file(s3.bucket_dir(&remote))?;
    std::fs::rename(&parked, s3.bucket_dir(&remote))?;
    let expected = sent.len() + more.len();
    let delivered = records_in(&dir, expected, Duration::from_secs(40)).await?;
    let unique: BTreeSet<&String> = delivered.iter().collect();
    assert_eq!(
        unique,
        sent.iter().chain(more.iter()).collect::<BTreeSet<_>>(),
        "every record arrives once the bucket is back"
    );
    assert_eq!(delivered.len(), expected);

    // The refusals are on record, and the metrics count every record once it arrived.
    let get = |path: String| {
        let http = http.clone();
        let admin = admin.clone();
        async move {
            let answer = http.get(path).bearer_auth(&admin).send().await?;
            anyhow::ensure!(answer.status() == 200, "{}", answer.status());
            Ok::<serde_json::Value, anyhow::Error>(answer.json().await?)
        }
    };
    let base = format!(
        "{}/api/v1/delivery-streams/{name}",
        fjord.control_plane_url()
    );
    let failures = get(format!("{base}/failures")).await?;
    let first = &failures["items"][0];
    assert_eq!(first["stage"], "delivery", "{failures}");
    assert!(first["records"].as_i64() > Some(0), "{failures}");
    assert!(
        !failures.to_string().contains(&s3.secret_access_key),
        "no secret in a failure"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = get(format!("{base}/metrics?minutes=10")).await?;
        let totals = &metrics["totals"];
        if totals["delivered_records"].as_u64() == Some(expected as u64) {
            assert!(totals["failed_attempts"].as_u64() > Some(0), "{totals}");
            assert!(totals["deliveries"].as_u64() > Some(1), "{totals}");
            assert_eq!(totals["duplicates"], 0, "{totals}");
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "metrics never caught up: {totals}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_kinesis_stream_delivers_to_a_registered_s3_compatible_bucket() -> anyhow::Result<()> {
    let s3 = TestS3::from_env()?;
    let (fjord, _local_root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let admin = fjord.session("acme", "admin").await?;
    let kinesis = fjord.client(&tenant);
    let firehose = fjord.firehose(&tenant);
    let remote = s3.create_bucket("fjord-e2e-kinesis")?;
    let registered = reqwest::Client::new()
        .post(format!("{}/api/v1/buckets", fjord.control_plane_url()))
        .bearer_auth(&admin)
        .json(&json!({"name": "s3lake", "store": s3.store(&remote)}))
        .send()
        .await?;
    assert_eq!(registered.status(), 201, "{}", registered.text().await?);

    let source = stream_name("clicks");
    fjord.create_active_stream(&kinesis, &source, 2).await?;
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(&source)
        .send()
        .await?
        .stream_description_summary()
        .map(|summary| summary.stream_arn().to_owned())
        .unwrap_or_default();
    let name = stream_name("clicks-to-s3");
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .delivery_stream_type(aws_sdk_firehose::types::DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            aws_sdk_firehose::types::KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn(&stream_arn)
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .build()?,
        )
        .extended_s3_destination_configuration(s3_destination(
            "s3lake",
            "clicks/",
            CompressionFormat::Gzip,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &name).await?;
    let sent = put_to_stream(&kinesis, &source, "click", 800).await?;
    let dir = s3.bucket_dir(&remote).join("clicks");
    let delivered = records_in(&dir, sent.len(), Duration::from_secs(30)).await?;
    assert_eq!(
        delivered.iter().collect::<BTreeSet<_>>(),
        sent.iter().collect::<BTreeSet<_>>(),
        "the stream's records, in the S3-compatible bucket"
    );
    assert_eq!(delivered.len(), sent.len(), "once each");
    Ok(())
}
