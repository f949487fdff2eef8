//! Records a worker wrote to the destination but died before acknowledging: delivered again by
//! another worker, and each of them counted as a duplicate — for direct puts (one record per
//! message) and for a Kinesis source (many records per shard message).
//!
//! Debug builds can pause between writing an object and acknowledging its records
//! (`set_pause_before_ack`). The pause is process-wide, so these tests live in a test binary of
//! their own: under `cargo test` the tests of one binary share a process.

mod common;

use std::time::Duration;

use common::{Installation, numbered, records_of, start_worker};
use fjord_common::firehose::Compression;

fn sorted(mut records: Vec<String>) -> Vec<String> {
    records.sort();
    records
}

#[tokio::test]
async fn records_written_but_not_acknowledged_by_a_dead_worker_are_counted_as_duplicates() {
    fjord_data_plane::delivery::set_pause_before_ack(Some(Duration::from_secs(4)));
    let installation = Installation::new().await;
    let spec = installation
        .provision("written", "w/", Compression::Uncompressed, 64, 1)
        .await;
    let doomed = start_worker(&installation);
    let records = numbered(30, "w");
    for record in &records {
        installation
            .put_record(&spec, record.clone().into_bytes())
            .await;
    }
    // The object appears, then the worker dies inside the pause: written, never acknowledged.
    installation
        .wait_for_objects(Duration::from_secs(15), |objects| {
            records_of(objects).len() >= records.len()
        })
        .await;
    doomed.kill().await;
    let survivor = start_worker(&installation);
    // AckWait (1 s + 2 s) passes, the survivor delivers the records again.
    let objects = installation
        .wait_for_objects(Duration::from_secs(30), |objects| {
            records_of(objects).len() >= 2 * records.len()
        })
        .await;
    let snapshot = survivor.stop().await;
    let delivered = records_of(&objects);
    let mut distinct = delivered.clone();
    distinct.dedup();
    let mut expected = records.clone();
    expected.sort();
    assert_eq!(distinct, expected, "every record at least once");
    assert_eq!(
        delivered.len(),
        2 * records.len(),
        "every record exactly twice"
    );
    assert_eq!(snapshot.records_delivered, records.len() as u64);
    assert_eq!(
        snapshot.duplicates,
        (delivered.len() - distinct.len()) as u64,
        "the duplicates counted are the ones in the bucket: {snapshot:?}"
    );
}

#[tokio::test]
async fn records_of_shard_messages_written_but_not_acknowledged_count_one_by_one() {
    fjord_data_plane::delivery::set_pause_before_ack(Some(Duration::from_secs(4)));
    let installation = Installation::new().await;
    let stream = installation.kinesis_stream("written", 2).await;
    installation
        .provision_from_stream("from-written", &stream, "w/", Compression::Uncompressed, 1)
        .await;
    let doomed = start_worker(&installation);
    let mut expected = Vec::new();
    for shard in 0..2 {
        for message in 0..3 {
            let records = numbered(10, &format!("s{shard}m{message}"));
            installation.put_to_shard(&stream, shard, &records).await;
            expected.extend(records);
        }
    }
    let expected = sorted(expected);
    // The object appears; the worker dies inside the pause: written, never acknowledged.
    installation
        .wait_for_objects(Duration::from_secs(15), |objects| {
            records_of(objects).len() >= expected.len()
        })
        .await;
    doomed.kill().await;
    let survivor = start_worker(&installation);
    // AckWait (1 s + 2 s) passes; the survivor delivers the 6 messages again.
    let objects = installation
        .wait_for_objects(Duration::from_secs(30), |objects| {
            records_of(objects).len() >= 2 * expected.len()
        })
        .await;
    let snapshot = survivor.stop().await;
    let delivered = records_of(&objects);
    let mut distinct = delivered.clone();
    distinct.dedup();
    assert_eq!(distinct, expected);
    assert_eq!(
        delivered.len(),
        2 * expected.len(),
        "every record exactly twice"
    );
    assert_eq!(snapshot.records_delivered, 60);
    assert_eq!(
        snapshot.duplicates, 60,
        "each record of each redelivered message counted: {snapshot:?}"
    );
}
