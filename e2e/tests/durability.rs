//! Invariant 1: a put that returned success survives `kill -9` of every Fjord process.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use fjord_e2e::{Fjord, stream_name};

#[tokio::test]
async fn acknowledged_records_survive_kill_9() {
    let mut fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("durable");
    fjord.create_active_stream(&client, &name, 2).await.unwrap();

    // Writers keep putting while the process is killed; only acknowledged puts count.
    let writer_client = client.clone();
    let writer_name = name.clone();
    let writer = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for batch in 0..1_000_000u32 {
            let entries: Vec<_> = (0..20u32)
                .map(|index| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(format!("p{}", index % 7))
                        .data(Blob::new(format!("{batch}:{index}")))
                        .build()
                        .unwrap()
                })
                .collect();
            match writer_client
                .put_records()
                .stream_name(&writer_name)
                .set_records(Some(entries.clone()))
                .send()
                .await
            {
                Ok(output) => {
                    for (entry, result) in entries.iter().zip(output.records()) {
                        if let Some(sequence) = result.sequence_number() {
                            acknowledged.push((
                                result.shard_id().unwrap().to_owned(),
                                sequence.to_owned(),
                                entry.data().as_ref().to_vec(),
                            ));
                        }
                    }
                }
                // The process is gone: whatever was not acknowledged may be lost.
                Err(_) => break,
            }
        }
        acknowledged
    });
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    fjord.kill9();
    let acknowledged = writer.await.unwrap();
    assert!(
        !acknowledged.is_empty(),
        "some puts were acknowledged before the kill"
    );

    fjord.restart().await.unwrap();
    let client = fjord.client(&tenant);
    let mut found = std::collections::HashSet::new();
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .unwrap()
            .to_owned();
        loop {
            let page = client
                .get_records()
                .shard_iterator(&iterator)
                .send()
                .await
                .unwrap();
            for record in page.records() {
                found.insert((
                    shard.to_owned(),
                    record.sequence_number().to_owned(),
                    record.data().as_ref().to_vec(),
                ));
            }
            iterator = page.next_shard_iterator().unwrap().to_owned();
            if page.records().is_empty() {
                break;
            }
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|record| !found.contains(*record))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged records lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        lost.first()
    );
    println!(
        "acknowledged before kill -9: {}, all found after restart",
        acknowledged.len()
    );
}

#[tokio::test]
async fn lifecycle_converges_after_kill_9_mid_transition() {
    let mut fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let created = stream_name("converge");
    let deleted = stream_name("gone");
    fjord
        .create_active_stream(&client, &deleted, 3)
        .await
        .unwrap();

    // Killed right after the calls were accepted: the transitions are desired state in Postgres.
    client
        .create_stream()
        .stream_name(&created)
        .shard_count(8)
        .send()
        .await
        .unwrap();
    client
        .delete_stream()
        .stream_name(&deleted)
        .send()
        .await
        .unwrap();
    fjord.kill9();

    fjord.restart().await.unwrap();
    let client = fjord.client(&tenant);
    fjord.wait_active(&client, &created).await.unwrap();
    let put = client
        .put_record()
        .stream_name(&created)
        .partition_key("k")
        .data(Blob::new("after restart"))
        .send()
        .await
        .unwrap();
    assert!(put.shard_id().starts_with("shardId-"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while client
        .describe_stream_summary()
        .stream_name(&deleted)
        .send()
        .await
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "deleted stream still there"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        client.list_streams().send().await.unwrap().stream_names(),
        std::slice::from_ref(&created)
    );
}
