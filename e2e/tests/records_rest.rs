//! Records over REST and over the AWS API are the same records: what the REST endpoint puts,
//! the official SDK's GetRecords reads with identical data and sequence numbers, and the
//! other way round.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fjord_e2e::{Fjord, stream_name};
use serde_json::{Value, json};

const SHARD: &str = "shardId-000000000000";

/// A developer of the tenant signed in to the REST API: a bearer token.
async fn developer_session(fjord: &Fjord, tenant: &str) -> String {
    fjord.session(tenant, "developer").await.unwrap()
}

/// Every record of the shard through the SDK: (sequence number, partition key, data).
async fn sdk_records(client: &Client, stream: &str) -> Vec<(String, String, Vec<u8>)> {
    let mut iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(SHARD)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();
    let mut records = Vec::new();
    loop {
        let page = client
            .get_records()
            .shard_iterator(&iterator)
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
        if page.records().is_empty() {
            return records;
        }
    }
}

/// Every record of the shard through REST: (sequence number, partition key, data).
async fn rest_records(fjord: &Fjord, token: &str, stream: &str) -> Vec<(String, String, Vec<u8>)> {
    let page: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/streams/{stream}/shards/{SHARD}/records?from=trim_horizon&limit=1000",
            fjord.control_plane_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["records"]
        .as_array()
        .unwrap_or_else(|| panic!("a page of records: {page}"))
        .iter()
        .map(|record| {
            (
                record["sequence_number"].as_str().unwrap().to_owned(),
                record["partition_key"].as_str().unwrap().to_owned(),
                BASE64
                    .decode(record["data_base64"].as_str().unwrap())
                    .unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn records_put_over_rest_read_back_through_the_sdk_and_the_reverse() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let token = developer_session(&fjord, "acme").await;
    let name = stream_name("bridge");
    fjord.create_active_stream(&client, &name, 1).await.unwrap();

    // REST → SDK.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/streams/{name}/records",
            fjord.control_plane_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"records": [
            {"partition_key": "json", "data": {"order": 7}},
            {"partition_key": "binary", "data_base64": BASE64.encode([0u8, 1, 254, 255])},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let put: Value = response.json().await.unwrap();
    let rest_sequences: Vec<String> = put["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["sequence_number"].as_str().unwrap().to_owned())
        .collect();
    let read = sdk_records(&client, &name).await;
    assert_eq!(
        read,
        vec![
            (
                rest_sequences[0].clone(),
                "json".to_owned(),
                br#"{"order":7}"#.to_vec()
            ),
            (
                rest_sequences[1].clone(),
                "binary".to_owned(),
                vec![0u8, 1, 254, 255]
            ),
        ]
    );

    // SDK → REST.
    let output = client
        .put_records()
        .stream_name(&name)
        .records(
            PutRecordsRequestEntry::builder()
                .partition_key("sdk-a")
                .data(Blob::new(b"from the sdk".to_vec()))
                .build()
                .unwrap(),
        )
        .records(
            PutRecordsRequestEntry::builder()
                .partition_key("sdk-b")
                .data(Blob::new(vec![9u8; 300]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sdk_sequences: Vec<String> = output
        .records()
        .iter()
        .map(|record| record.sequence_number().unwrap().to_owned())
        .collect();
    let everything = rest_records(&fjord, &token, &name).await;
    assert_eq!(everything.len(), 4);
    assert_eq!(everything[..2], read[..]);
    assert_eq!(
        everything[2..],
        [
            (
                sdk_sequences[0].clone(),
                "sdk-a".to_owned(),
                b"from the sdk".to_vec()
            ),
            (sdk_sequences[1].clone(), "sdk-b".to_owned(), vec![9u8; 300]),
        ]
    );
    // And both APIs agree on the whole shard.
    assert_eq!(sdk_records(&client, &name).await, everything);
}
