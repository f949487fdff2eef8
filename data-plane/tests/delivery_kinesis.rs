//! Delivery streams reading a Kinesis stream (`KinesisStreamAsSource`) against a real NATS
//! server: every shard's records after the delivery stream was created, record by record
//! out of multi-record shard messages; shards that appear later; workers sharing the shards.
//! Exact duplicate counts after a worker died between writing and acknowledging are checked
//! in `delivery_unacknowledged.rs`.

mod common;

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use common::{Installation, check_shared_delivery, numbered, records_of, start_worker};
use fjord_common::firehose::Compression;

fn sorted(mut records: Vec<String>) -> Vec<String> {
    records.sort();
    records
}

#[tokio::test]
async fn every_shards_records_put_after_creation_arrive_once() {
    let installation = Installation::new().await;
    let stream = installation.kinesis_stream("clicks", 3).await;
    // Put before the delivery stream exists: Firehose starts at LATEST, so never delivered.
    for shard in 0..3 {
        installation
            .put_to_shard(&stream, shard, &numbered(5, &format!("before{shard}")))
            .await;
    }
    let spec = installation
        .provision_from_stream("from-clicks", &stream, "k/", Compression::Gzip, 1)
        .await;
    let worker = start_worker(&installation);
    let mut expected = Vec::new();
    for shard in 0..3 {
        for message in 0..10 {
            let records = numbered(20, &format!("s{shard}m{message}"));
            installation.put_to_shard(&stream, shard, &records).await;
            expected.extend(records);
        }
    }
    let expected = sorted(expected);
    let objects = installation
        .wait_for_objects(Duration::from_secs(20), |objects| {
            records_of(objects).len() >= expected.len()
        })
        .await;
    let snapshot = worker.stop().await;
    assert_eq!(
        records_of(&installation.objects()),
        expected,
        "every record put after creation, once; none put before"
    );
    assert!(
        objects.iter().all(|(key, _)| key.starts_with("k/")
            && key.contains("/from-clicks-1-")
            && key.ends_with(".gz")),
        "{objects:?}"
    );
    assert_eq!(snapshot.records_delivered, 600);
    assert_eq!(snapshot.duplicates, 0);
    // Nothing is stored twice: a Kinesis source has no record stream of its own.
    assert!(
        installation
            .jetstream
            .get_stream(installation.names.delivery_stream(spec.delivery_stream_id))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_shard_that_appears_later_is_delivered_from_its_start() {
    let installation = Installation::new().await;
    let mut stream = installation.kinesis_stream("growing", 1).await;
    let spec = installation
        .provision_from_stream("from-growing", &stream, "", Compression::Uncompressed, 1)
        .await;
    let worker = start_worker(&installation);
    let first = numbered(10, "parent");
    installation.put_to_shard(&stream, 0, &first).await;
    // The worker is delivering (it opened the shards it knew) before the split.
    let objects = installation
        .wait_for_objects(Duration::from_secs(15), |objects| {
            records_of(objects).len() >= first.len()
        })
        .await;
    assert_eq!(records_of(&objects), sorted(first.clone()));
    // A split: shard 1 appears, with no consumer for this delivery stream, and gets records
    // before any worker has seen it.
    installation.add_shard(&mut stream, 1).await;
    let second = numbered(10, "child");
    installation.put_to_shard(&stream, 1, &second).await;
    let expected = sorted([first, second].concat());
    // Workers look for new shards every 10 s.
    let objects = installation
        .wait_for_objects(Duration::from_secs(30), |objects| {
            records_of(objects).len() >= expected.len()
        })
        .await;
    assert_eq!(records_of(&objects), expected);
    let consumer = installation
        .jetstream
        .get_stream(installation.names.shard_stream(stream.stream_id, 1))
        .await
        .unwrap()
        .get_consumer::<pull::Config>(
            &installation
                .names
                .delivery_consumer(spec.delivery_stream_id),
        )
        .await
        .unwrap();
    assert_eq!(
        consumer.cached_info().config.deliver_policy,
        DeliverPolicy::All,
        "a shard born after the delivery stream is read from its start"
    );
    let snapshot = worker.stop().await;
    assert_eq!(snapshot.records_delivered, 20);
    assert_eq!(snapshot.duplicates, 0);
}

#[tokio::test]
async fn two_workers_share_the_shards_and_count_every_duplicate() {
    let installation = Installation::new().await;
    let stream = installation.kinesis_stream("shared", 4).await;
    installation
        .provision_from_stream("from-shared", &stream, "s/", Compression::Uncompressed, 1)
        .await;
    let first = start_worker(&installation);
    let second = start_worker(&installation);
    let mut expected = Vec::new();
    for round in 0..25 {
        for shard in 0..4 {
            let records = numbered(10, &format!("r{round}s{shard}"));
            installation.put_to_shard(&stream, shard, &records).await;
            expected.extend(records);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let expected = sorted(expected);
    check_shared_delivery(&installation, first, second, &expected).await;
}
