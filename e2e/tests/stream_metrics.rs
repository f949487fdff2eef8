//! Stream metrics (ADR 013) seen from outside: records put and read with the official SDK
//! show up, counted by the gateway and applied by the control plane, in
//! `GET /api/v1/streams/{name}/metrics` and in the stream list's sparklines.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use fjord_e2e::{Fjord, Options, stream_name};
use serde_json::Value;

/// A short metrics flush, so the counts arrive within a second.
fn fast_metrics() -> Options {
    Options {
        settings: vec![(
            "FJORD__GATEWAY__METRICS_FLUSH_MS".to_owned(),
            "200".to_owned(),
        )],
        ..Options::default()
    }
}

async fn get(fjord: &Fjord, token: &str, path_and_query: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/v1{path_and_query}",
            fjord.control_plane_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path_and_query}");
    response.json().await.unwrap()
}

fn total(metrics: &Value, field: &str) -> i64 {
    metrics["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point[field].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn records_put_and_read_with_the_sdk_show_in_the_stream_metrics() {
    let fjord = Fjord::start_with(fast_metrics()).await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("metrics");
    fjord.create_active_stream(&client, &name, 1).await.unwrap();
    let viewer = fjord.session("acme", "viewer").await.unwrap();

    // Six records: 10 + 5 × 100 data bytes.
    client
        .put_record()
        .stream_name(&name)
        .partition_key("single")
        .data(Blob::new(vec![b'x'; 10]))
        .send()
        .await
        .unwrap();
    let entries: Vec<PutRecordsRequestEntry> = (0..5)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("key-{i}"))
                .data(Blob::new(vec![b'y'; 100]))
                .build()
                .unwrap()
        })
        .collect();
    let put = client
        .put_records()
        .stream_name(&name)
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_record_count(), Some(0));

    let iterator = client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();
    let read = client
        .get_records()
        .shard_iterator(&iterator)
        .limit(4)
        .send()
        .await
        .unwrap();
    assert_eq!(read.records().len(), 4);
    let read_bytes: i64 = read
        .records()
        .iter()
        .map(|record| record.data().as_ref().len() as i64)
        .sum();

    let started = Instant::now();
    let metrics = loop {
        let metrics = get(
            &fjord,
            &viewer,
            &format!("/streams/{name}/metrics?minutes=5"),
        )
        .await;
        if total(&metrics, "incoming_records") == 6 && total(&metrics, "outgoing_records") == 4 {
            break metrics;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "metrics never showed the traffic: {metrics}; log: {}",
            fjord.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(metrics["period_seconds"], 60);
    assert_eq!(metrics["points"].as_array().unwrap().len(), 5);
    assert_eq!(total(&metrics, "incoming_bytes"), 510);
    assert_eq!(total(&metrics, "outgoing_bytes"), read_bytes);
    assert_eq!(read_bytes, 310);
    // Two records were left behind the last one read: the read was behind by the time since
    // they arrived (two signed round trips at least, so never 0 ms).
    let iterator_age = metrics["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["iterator_age_ms"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(iterator_age > 0, "{metrics}");

    let list = get(&fjord, &viewer, "/metrics/streams?minutes=5").await;
    let streams = list["streams"].as_array().unwrap();
    let ours = streams
        .iter()
        .find(|stream| stream["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    let series: Vec<i64> = ours["incoming_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_i64().unwrap())
        .collect();
    assert_eq!(series.len(), 5);
    assert_eq!(series.iter().sum::<i64>(), 6);
}
