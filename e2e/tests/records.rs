//! Records through the official SDK: PutRecord/PutRecords, all five iterator types, ordering
//! within a shard, ExplicitHashKey routing, paging with Limit, and the documented errors.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use fjord_e2e::{Fjord, Options, expect_error, stream_name};

async fn iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    sequence: Option<&str>,
) -> String {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_starting_sequence_number(sequence.map(str::to_owned))
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned()
}

/// Reads a shard from `iterator` until an empty page that is not behind the tip.
async fn read_all(
    client: &Client,
    mut iterator: String,
    limit: i32,
) -> Vec<(String, String, Vec<u8>)> {
    let mut records = Vec::new();
    for _ in 0..10_000 {
        let page = client
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit)
            .send()
            .await
            .unwrap();
        for record in page.records() {
            records.push((
                record.sequence_number().to_owned(),
                record.partition_key().unwrap_or_default().to_owned(),
                record.data().as_ref().to_vec(),
            ));
        }
        iterator = page.next_shard_iterator().unwrap().to_owned();
        if page.records().is_empty() && page.millis_behind_latest() == Some(0) {
            break;
        }
    }
    records
}

#[tokio::test]
async fn put_and_read_with_every_iterator_type() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("events");
    fjord.create_active_stream(&client, &name, 1).await.unwrap();
    let shard = "shardId-000000000000";

    let latest_before = iterator(&client, &name, shard, ShardIteratorType::Latest, None).await;
    let before_put = DateTime::from_millis(chrono_now_ms() - 1);
    let first = client
        .put_record()
        .stream_name(&name)
        .partition_key("user-1")
        .data(Blob::new("hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.shard_id(), shard);
    let mut sequences = vec![first.sequence_number().to_owned()];
    for index in 0..4 {
        let output = client
            .put_record()
            .stream_name(&name)
            .partition_key("user-1")
            .data(Blob::new(format!("record-{index}")))
            .sequence_number_for_ordering(sequences.last().unwrap())
            .send()
            .await
            .unwrap();
        sequences.push(output.sequence_number().to_owned());
    }
    // Sequence numbers only grow, as decimal numbers and as strings.
    for pair in sequences.windows(2) {
        assert!(pair[0].parse::<u128>().unwrap() < pair[1].parse::<u128>().unwrap());
        assert!(pair[0] < pair[1]);
    }

    let trim = read_all(
        &client,
        iterator(&client, &name, shard, ShardIteratorType::TrimHorizon, None).await,
        100,
    )
    .await;
    assert_eq!(
        trim.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        sequences
    );
    assert_eq!(trim[0].1, "user-1");
    assert_eq!(trim[0].2, b"hello");

    let from_latest = read_all(&client, latest_before, 100).await;
    assert_eq!(
        from_latest.len(),
        5,
        "LATEST taken before the puts sees them all"
    );

    let at = read_all(
        &client,
        iterator(
            &client,
            &name,
            shard,
            ShardIteratorType::AtSequenceNumber,
            Some(&sequences[2]),
        )
        .await,
        100,
    )
    .await;
    assert_eq!(
        at.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        sequences[2..]
    );
    let after = read_all(
        &client,
        iterator(
            &client,
            &name,
            shard,
            ShardIteratorType::AfterSequenceNumber,
            Some(&sequences[2]),
        )
        .await,
        100,
    )
    .await;
    assert_eq!(
        after.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        sequences[3..]
    );

    let at_time = client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(before_put)
        .send()
        .await
        .unwrap();
    let from_time = read_all(&client, at_time.shard_iterator().unwrap().to_owned(), 100).await;
    assert_eq!(from_time.len(), 5);
    let future = client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_millis(chrono_now_ms() + 60_000))
        .send()
        .await
        .unwrap();
    assert!(
        read_all(&client, future.shard_iterator().unwrap().to_owned(), 100)
            .await
            .is_empty()
    );

    // LATEST now sees only what comes next; the page has arrival time and is not behind.
    let latest = iterator(&client, &name, shard, ShardIteratorType::Latest, None).await;
    let empty = client
        .get_records()
        .shard_iterator(&latest)
        .send()
        .await
        .unwrap();
    assert!(empty.records().is_empty());
    client
        .put_record()
        .stream_name(&name)
        .partition_key("k")
        .data(Blob::new("new"))
        .send()
        .await
        .unwrap();
    let page = client
        .get_records()
        .shard_iterator(empty.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert_eq!(page.records()[0].data().as_ref(), b"new");
    assert_eq!(page.millis_behind_latest(), Some(0));
    let arrival = page.records()[0]
        .approximate_arrival_timestamp()
        .unwrap()
        .to_millis()
        .unwrap();
    assert!((arrival - chrono_now_ms()).abs() < 60_000);

    // The iterator errors AWS documents.
    expect_error!(
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number("12345")
            .send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id("shardId-000000000009")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send(),
        "ResourceNotFoundException"
    );
    expect_error!(
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .get_records()
            .shard_iterator("not-an-iterator")
            .send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .get_records()
            .shard_iterator(&latest)
            .limit(10_001)
            .send(),
        "ValidationException"
    );
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn put_records_routes_orders_and_pages() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("orders");
    fjord.create_active_stream(&client, &name, 4).await.unwrap();
    let shards = client
        .list_shards()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let ranges: Vec<(String, u128, u128)> = shards
        .shards()
        .iter()
        .map(|shard| {
            let range = shard.hash_key_range().unwrap();
            (
                shard.shard_id().to_owned(),
                range.starting_hash_key().parse().unwrap(),
                range.ending_hash_key().parse().unwrap(),
            )
        })
        .collect();

    // 2,000 records over 4 batches: every record lands on the shard its MD5 hash key names.
    let mut expected: HashMap<String, Vec<(String, Vec<u8>)>> = HashMap::new();
    for batch in 0..4 {
        let entries: Vec<PutRecordsRequestEntry> = (0..500)
            .map(|index| {
                let key = format!("key-{}", (batch * 500 + index) % 37);
                PutRecordsRequestEntry::builder()
                    .partition_key(key)
                    .data(Blob::new(format!("batch {batch} record {index}")))
                    .build()
                    .unwrap()
            })
            .collect();
        let output = client
            .put_records()
            .stream_name(&name)
            .set_records(Some(entries.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(output.failed_record_count(), Some(0));
        assert_eq!(output.records().len(), 500);
        for (entry, result) in entries.iter().zip(output.records()) {
            let hash = u128::from_be_bytes(md5_digest(
                entry.partition_key().unwrap_or_default().as_bytes(),
            ));
            let owner = ranges
                .iter()
                .find(|(_, start, end)| *start <= hash && hash <= *end)
                .unwrap();
            assert_eq!(result.shard_id(), Some(owner.0.as_str()));
            expected.entry(owner.0.clone()).or_default().push((
                result.sequence_number().unwrap().to_owned(),
                entry.data().as_ref().to_vec(),
            ));
        }
    }
    // Read each shard in pages of 137: same records, same order, sequence numbers growing.
    let mut total = 0;
    for (shard, records) in &expected {
        let read = read_all(
            &client,
            iterator(&client, &name, shard, ShardIteratorType::TrimHorizon, None).await,
            137,
        )
        .await;
        let read: Vec<(String, Vec<u8>)> = read
            .into_iter()
            .map(|(sequence, _, data)| (sequence, data))
            .collect();
        assert_eq!(&read, records, "shard {shard}");
        for pair in read.windows(2) {
            assert!(pair[0].0.parse::<u128>().unwrap() < pair[1].0.parse::<u128>().unwrap());
        }
        total += read.len();
    }
    assert_eq!(total, 2000);

    // ExplicitHashKey overrides the partition key's hash.
    let last = &ranges[3];
    let output = client
        .put_record()
        .stream_name(&name)
        .partition_key("anything")
        .explicit_hash_key(last.1.to_string())
        .data(Blob::new("explicit"))
        .send()
        .await
        .unwrap();
    assert_eq!(output.shard_id(), last.0);

    // Limits: 1 MiB per record, 256 characters per key, 500 records per call, 5 MiB per call.
    expect_error!(
        client
            .put_record()
            .stream_name(&name)
            .partition_key("k")
            .data(Blob::new(vec![0u8; 1024 * 1024 + 1]))
            .send(),
        "ValidationException"
    );
    expect_error!(
        client
            .put_record()
            .stream_name(&name)
            .partition_key("k".repeat(257))
            .data(Blob::new("x"))
            .send(),
        "ValidationException"
    );
    expect_error!(
        client
            .put_record()
            .stream_name(&name)
            .partition_key("k")
            .explicit_hash_key("340282366920938463463374607431768211456")
            .data(Blob::new("x"))
            .send(),
        "InvalidArgumentException"
    );
    let too_many: Vec<PutRecordsRequestEntry> = (0..501)
        .map(|_| {
            PutRecordsRequestEntry::builder()
                .partition_key("k")
                .data(Blob::new("x"))
                .build()
                .unwrap()
        })
        .collect();
    expect_error!(
        client
            .put_records()
            .stream_name(&name)
            .set_records(Some(too_many))
            .send(),
        "ValidationException"
    );
    let too_big: Vec<PutRecordsRequestEntry> = (0..6)
        .map(|_| {
            PutRecordsRequestEntry::builder()
                .partition_key("k")
                .data(Blob::new(vec![1u8; 1024 * 1024 - 10]))
                .build()
                .unwrap()
        })
        .collect();
    expect_error!(
        client
            .put_records()
            .stream_name(&name)
            .set_records(Some(too_big))
            .send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .put_record()
            .stream_name("no-such-stream")
            .partition_key("k")
            .data(Blob::new("x"))
            .send(),
        "ResourceNotFoundException"
    );
    // A 1 MiB record fits, and reads back intact.
    let big = vec![7u8; 1024 * 1024 - 1];
    let stored = client
        .put_record()
        .stream_name(&name)
        .partition_key("b")
        .explicit_hash_key("0")
        .data(Blob::new(big.clone()))
        .send()
        .await
        .unwrap();
    let read = read_all(
        &client,
        iterator(
            &client,
            &name,
            "shardId-000000000000",
            ShardIteratorType::AtSequenceNumber,
            Some(stored.sequence_number()),
        )
        .await,
        10,
    )
    .await;
    assert_eq!(read[0].2, big);
}

fn md5_digest(bytes: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(bytes).into()
}

#[tokio::test]
async fn iterators_expire_and_cannot_be_forged() {
    let fjord = Fjord::start_with(Options {
        settings: vec![("FJORD__GATEWAY__ITERATOR_LIFETIME_MS".into(), "1500".into())],
        ..Options::default()
    })
    .await
    .unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("expiry");
    fjord.create_active_stream(&client, &name, 1).await.unwrap();
    let token = iterator(
        &client,
        &name,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    client
        .get_records()
        .shard_iterator(&token)
        .send()
        .await
        .unwrap();

    // One changed character makes it useless.
    let mut forged: Vec<char> = token.chars().collect();
    let middle = forged.len() / 2;
    forged[middle] = if forged[middle] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    expect_error!(
        client.get_records().shard_iterator(&forged).send(),
        "InvalidArgumentException"
    );

    tokio::time::sleep(Duration::from_millis(1700)).await;
    expect_error!(
        client.get_records().shard_iterator(&token).send(),
        "ExpiredIteratorException"
    );
}

#[tokio::test]
async fn get_records_returns_at_most_ten_mebibytes_and_continues() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("big");
    fjord.create_active_stream(&client, &name, 1).await.unwrap();
    // 16 records of 1000 KiB in 4 calls: 16 MB in the shard, more than one GetRecords holds.
    for call in 0..4u8 {
        let entries: Vec<PutRecordsRequestEntry> = (0..4u8)
            .map(|index| {
                PutRecordsRequestEntry::builder()
                    .partition_key("k")
                    .data(Blob::new(vec![call * 4 + index; 1000 * 1024]))
                    .build()
                    .unwrap()
            })
            .collect();
        let output = client
            .put_records()
            .stream_name(&name)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(output.failed_record_count(), Some(0));
    }
    let mut iterator = iterator(
        &client,
        &name,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let mut seen = Vec::new();
    let mut pages = 0;
    while seen.len() < 16 {
        let page = client
            .get_records()
            .shard_iterator(&iterator)
            .send()
            .await
            .unwrap();
        let bytes: usize = page
            .records()
            .iter()
            .map(|record| record.data().as_ref().len())
            .sum();
        assert!(bytes <= 10 * 1024 * 1024, "a page holds {bytes} bytes");
        seen.extend(
            page.records()
                .iter()
                .map(|record| record.data().as_ref()[0]),
        );
        iterator = page.next_shard_iterator().unwrap().to_owned();
        pages += 1;
        assert!(pages < 10, "no progress: {seen:?}");
    }
    assert_eq!(seen, (0..16u8).collect::<Vec<_>>());
    assert!(pages >= 2);
}
