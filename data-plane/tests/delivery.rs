//! The delivery workers against a real NATS server: records stored in a delivery stream's
//! JetStream stream become objects in the local object store, at least once, with Firehose's
//! names; workers share the work and take over a dead worker's records.

mod common;

use std::time::{Duration, Instant};

use common::{Installation, check_shared_delivery, numbered, records_of, start_worker};
use fjord_common::firehose::{Buffering, Compression};

/// Whether `key` is `<prefix><yyyy/MM/dd/HH/><rest>…`: Firehose's hourly time prefix follows
/// a prefix without expressions.
fn keyed(key: &str, prefix: &str, rest: &str) -> bool {
    let Some(after) = key.strip_prefix(prefix) else {
        return false;
    };
    let (time, tail) = after.split_at(after.len().min(14));
    time.len() == 14
        && time.bytes().enumerate().all(|(i, b)| {
            if [4, 7, 10, 13].contains(&i) {
                b == b'/'
            } else {
                b.is_ascii_digit()
            }
        })
        && tail.starts_with(rest)
}

#[tokio::test]
async fn records_become_gzip_objects_named_like_firehose() {
    let installation = Installation::new().await;
    let spec = installation
        .provision(
            "events",
            "logs/!{timestamp:yyyy}/!{firehose:random-string}/",
            Compression::Gzip,
            1,
            0,
        )
        .await;
    let worker = start_worker(&installation);
    let records = numbered(50, "gz");
    let year = chrono::Utc::now().format("%Y").to_string();
    for record in &records {
        installation
            .put_record(&spec, record.clone().into_bytes())
            .await;
    }
    let objects = installation
        .wait_for_objects(Duration::from_secs(20), |objects| {
            records_of(objects).len() >= records.len()
        })
        .await;
    let mut expected = records.clone();
    expected.sort();
    assert_eq!(records_of(&objects), expected, "every record, exactly once");
    for (key, _) in &objects {
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 4, "{key}");
        assert_eq!(parts[0], "logs");
        assert_eq!(parts[1], year);
        assert_eq!(parts[2].len(), 11, "random string: {key}");
        let file = parts[3];
        let rest = file.strip_prefix("events-1-").expect(key);
        let (time, uuid) = rest.split_at("yyyy-MM-dd-HH-mm-ss".len());
        assert!(time.starts_with(&year), "{key}");
        let uuid = uuid
            .strip_prefix('-')
            .unwrap()
            .strip_suffix(".gz")
            .expect(key);
        assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{key}");
    }
    let snapshot = worker.stop().await;
    assert_eq!(snapshot.records_delivered, 50);
    assert_eq!(snapshot.objects_written, objects.len() as u64);
    assert_eq!(snapshot.redelivered_records, 0);
}

#[tokio::test]
async fn a_full_buffer_is_written_before_its_interval_and_the_rest_at_shutdown() {
    let installation = Installation::new().await;
    let spec = installation
        .provision("big", "", Compression::Uncompressed, 1, 900)
        .await;
    let worker = start_worker(&installation);
    // Three records of 400 KiB pass 1 MiB: one object, long before 900 s.
    let big: Vec<Vec<u8>> = (0..3u8)
        .map(|i| {
            let mut record = vec![b'a' + i; 400 * 1024 - 1];
            record.push(b'\n');
            record
        })
        .collect();
    for record in &big {
        installation.put_record(&spec, record.clone()).await;
    }
    let objects = installation
        .wait_for_objects(Duration::from_secs(15), |objects| !objects.is_empty())
        .await;
    assert_eq!(objects.len(), 1, "one object for the full buffer");
    let (key, bytes) = &objects[0];
    assert_eq!(bytes.len(), 3 * 400 * 1024);
    assert_eq!(bytes, &big.concat(), "records concatenated as put");
    assert!(keyed(key, "", "big-1-"), "default prefix: {key}");
    // A small record waits for the interval...
    installation.put_record(&spec, b"tail\n".to_vec()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(installation.objects().len(), 1, "not written before 900 s");
    // ...or for the worker to stop, which writes what it buffered.
    worker.stop().await;
    let objects = installation.objects();
    assert_eq!(objects.len(), 2);
    assert!(objects.iter().any(|(_, bytes)| bytes == b"tail\n"));
}

#[tokio::test]
async fn a_buffer_is_written_when_its_interval_ends() {
    let installation = Installation::new().await;
    let spec = installation
        .provision("slow", "i/", Compression::Uncompressed, 64, 2)
        .await;
    let worker = start_worker(&installation);
    // Let the worker open its consumer before the clock starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let records = numbered(5, "i");
    for record in &records {
        installation
            .put_record(&spec, record.clone().into_bytes())
            .await;
    }
    let objects = installation
        .wait_for_objects(Duration::from_secs(15), |objects| {
            records_of(objects).len() >= records.len()
        })
        .await;
    let elapsed = started.elapsed();
    assert_eq!(records_of(&objects), records);
    assert_eq!(objects.len(), 1, "one buffer, one object");
    assert!(
        elapsed >= Duration::from_millis(1800),
        "written after the interval, not at once: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert!(keyed(&objects[0].0, "i/", "slow-1-"), "{}", objects[0].0);
    worker.stop().await;
}

#[tokio::test]
async fn two_workers_share_a_delivery_stream_and_deliver_every_record() {
    let installation = Installation::new().await;
    let spec = installation
        .provision("shared", "s/", Compression::Gzip, 1, 1)
        .await;
    let first = start_worker(&installation);
    let second = start_worker(&installation);
    let records = numbered(2000, "s");
    for chunk in records.chunks(100) {
        for record in chunk {
            installation
                .put_record(&spec, record.clone().into_bytes())
                .await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut expected = records.clone();
    expected.sort();
    check_shared_delivery(&installation, first, second, &expected).await;
}

#[tokio::test]
async fn a_dead_workers_records_are_redelivered_to_another() {
    let installation = Installation::new().await;
    let spec = installation
        .provision("takeover", "t/", Compression::Uncompressed, 64, 5)
        .await;
    let doomed = start_worker(&installation);
    let records = numbered(20, "t");
    for record in &records {
        installation
            .put_record(&spec, record.clone().into_bytes())
            .await;
    }
    // Wait until the doomed worker holds every record in its buffer.
    let mut consumer = installation
        .jetstream
        .get_stream(installation.names.delivery_stream(spec.delivery_stream_id))
        .await
        .unwrap()
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
            &installation
                .names
                .delivery_consumer(spec.delivery_stream_id),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(consumer) = consumer.as_mut()
            && let Ok(info) = consumer.info().await
            && info.num_ack_pending == records.len()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never buffered the records"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        if consumer.is_err() {
            consumer = installation
                .jetstream
                .get_stream(installation.names.delivery_stream(spec.delivery_stream_id))
                .await
                .unwrap()
                .get_consumer(
                    &installation
                        .names
                        .delivery_consumer(spec.delivery_stream_id),
                )
                .await;
        }
    }
    // The worker dies mid-buffer: nothing written, nothing acknowledged, nothing given back.
    doomed.kill().await;
    assert!(installation.objects().is_empty());
    let survivor = start_worker(&installation);
    // AckWait is 5 s + 2 s; then the survivor buffers them for 5 s more.
    let objects = installation
        .wait_for_objects(Duration::from_secs(30), |objects| {
            records_of(objects).len() >= records.len()
        })
        .await;
    let mut expected = records.clone();
    expected.sort();
    assert_eq!(records_of(&objects), expected);
    let snapshot = survivor.stop().await;
    assert_eq!(snapshot.records_delivered, 20);
    assert_eq!(
        snapshot.redelivered_records, 20,
        "each redelivered record is counted as redelivered"
    );
    assert_eq!(
        snapshot.duplicates, 0,
        "the dead worker had written nothing: no record is in the bucket twice"
    );
}

#[tokio::test]
async fn records_are_not_acknowledged_until_their_object_is_written() {
    let installation = Installation::new().await;
    let spec = installation
        .provision("blocked", "b/", Compression::Uncompressed, 1, 0)
        .await;
    // A file where the bucket's folder belongs: every write fails until it is removed.
    let bucket_dir = installation.bucket_dir();
    std::fs::create_dir_all(bucket_dir.parent().unwrap()).unwrap();
    std::fs::write(&bucket_dir, b"in the way").unwrap();
    let worker = start_worker(&installation);
    let records = numbered(10, "b");
    for record in &records {
        installation
            .put_record(&spec, record.clone().into_bytes())
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while worker.metrics.snapshot().write_failures < 2 {
        assert!(Instant::now() < deadline, "the writes never failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let info = installation
        .jetstream
        .get_stream(installation.names.delivery_stream(spec.delivery_stream_id))
        .await
        .unwrap()
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
            &installation
                .names
                .delivery_consumer(spec.delivery_stream_id),
        )
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.ack_floor.stream_sequence, 0, "nothing acknowledged");
    assert!(
        info.num_ack_pending >= 1,
        "the worker holds what it tries to write: {info:?}"
    );
    assert_eq!(worker.metrics.snapshot().records_delivered, 0);
    std::fs::remove_file(&bucket_dir).unwrap();
    let objects = installation
        .wait_for_objects(Duration::from_secs(15), |objects| {
            records_of(objects).len() >= records.len()
        })
        .await;
    let mut expected = records.clone();
    expected.sort();
    assert_eq!(
        records_of(&objects),
        expected,
        "written once the store recovered"
    );
    worker.stop().await;
}

#[tokio::test]
async fn an_updated_destination_restarts_delivery_and_a_deleted_spec_stops_it() {
    let installation = Installation::new().await;
    let mut spec = installation
        .provision("moving", "v1/", Compression::Uncompressed, 64, 900)
        .await;
    let worker = start_worker(&installation);
    installation.put_record(&spec, b"before\n".to_vec()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(installation.objects().is_empty(), "buffered for 900 s");
    // UpdateDestination: a new version and prefix. The old task writes what it holds.
    spec.version_id = 2;
    spec.generation = 2;
    let destination = spec.destination.target.bucket_mut();
    destination.prefix = "v2/".to_owned();
    installation.publish_spec(&spec).await;
    let objects = installation
        .wait_for_objects(Duration::from_secs(10), |objects| !objects.is_empty())
        .await;
    assert_eq!(objects.len(), 1);
    assert!(keyed(&objects[0].0, "v1/", "moving-1-"), "{}", objects[0].0);
    assert_eq!(objects[0].1, b"before\n");
    installation.put_record(&spec, b"after\n".to_vec()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        installation.objects().len(),
        1,
        "the new version buffers too"
    );
    // The delivery stream is deleted: its task stops, writing what it holds.
    installation
        .bucket
        .delete(fjord_common::naming::Names::delivery_stream_key(
            spec.tenant_id,
            &spec.name,
        ))
        .await
        .unwrap();
    let objects = installation
        .wait_for_objects(Duration::from_secs(10), |objects| objects.len() >= 2)
        .await;
    assert_eq!(objects.len(), 2);
    let (key, bytes) = objects
        .iter()
        .find(|(key, _)| key.starts_with("v2/"))
        .expect("an object of the new version");
    assert!(keyed(key, "v2/", "moving-2-"), "{key}");
    assert_eq!(bytes, b"after\n");
    assert_eq!(worker.stop().await.records_delivered, 2);
}

#[tokio::test]
async fn a_delivery_stream_that_cannot_start_stops_only_itself_and_zip_objects_are_archives() {
    let installation = Installation::new().await;
    // A prefix whose date pattern cannot be evaluated: that delivery stream cannot start.
    let broken = installation.spec(
        "broken",
        "b/!{timestamp:yyyy-QQ}/",
        Compression::Gzip,
        Buffering {
            size_mib: 1,
            interval_seconds: 0,
        },
    );
    let zipped = installation.spec(
        "zipped",
        "z/",
        Compression::Zip,
        Buffering {
            size_mib: 1,
            interval_seconds: 0,
        },
    );
    for spec in [&broken, &zipped] {
        installation.create_stream(spec).await;
        installation.publish_spec(spec).await;
    }
    let worker = start_worker(&installation);
    installation.put_record(&broken, b"waits\n".to_vec()).await;
    let records = numbered(10, "zipped");
    for record in &records {
        installation
            .put_record(&zipped, record.clone().into_bytes())
            .await;
    }
    let objects = installation
        .wait_for_objects(Duration::from_secs(15), |objects| {
            records_of(objects).len() >= records.len()
        })
        .await;
    let mut expected = records.clone();
    expected.sort();
    assert_eq!(records_of(&objects), expected);
    assert!(
        objects
            .iter()
            .all(|(key, _)| keyed(key, "z/", "zipped-1-") && key.ends_with(".zip")),
        "ZIP archives, read above by their one deflated entry"
    );
    // The broken delivery stream never started: no consumer, its record still waiting.
    let stream = installation
        .jetstream
        .get_stream(
            installation
                .names
                .delivery_stream(broken.delivery_stream_id),
        )
        .await
        .unwrap();
    assert!(
        stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                &installation
                    .names
                    .delivery_consumer(broken.delivery_stream_id),
            )
            .await
            .is_err()
    );
    worker.stop().await;
}
