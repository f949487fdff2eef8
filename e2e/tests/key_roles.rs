//! Access keys carry roles, enforced on the AWS endpoint; keys disabled, deleted or rotated
//! through the REST API stop working on the AWS endpoint within about a second.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use fjord_e2e::{Fjord, error_type, expect_error, stream_name};
use serde_json::{Value, json};

/// How long a change made through the REST API may take to reach the gateway.
const PROPAGATION: Duration = Duration::from_secs(2);

/// Polls `ListStreams` with the key until it fails with `expected`; panics after `PROPAGATION`.
async fn until_refused(client: &aws_sdk_kinesis::Client, expected: &str) -> Duration {
    let started = Instant::now();
    loop {
        match client.list_streams().send().await {
            Err(error) => {
                let error = error.into_service_error();
                if error_type(&error) == expected {
                    return started.elapsed();
                }
                assert!(started.elapsed() < PROPAGATION, "{error:?}");
            }
            Ok(_) => assert!(
                started.elapsed() < PROPAGATION,
                "still accepted after {PROPAGATION:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `ListStreams` with the key until it is accepted.
async fn until_accepted(client: &aws_sdk_kinesis::Client) {
    let started = Instant::now();
    while let Err(error) = client.list_streams().send().await {
        assert!(
            started.elapsed() < PROPAGATION,
            "{:?}",
            error.into_service_error()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A owner of the tenant signed in to the REST API: a bearer token.
async fn owner_session(fjord: &Fjord, tenant: &str) -> String {
    fjord.session(tenant, "owner").await.unwrap()
}

async fn rest(fjord: &Fjord, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/api/v1{path}", fjord.control_plane_url());
    let client = reqwest::Client::new();
    let request = match method {
        "POST" => client.post(url).json(&body),
        "DELETE" => client.delete(url),
        _ => client.get(url),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_viewer_key_reads_but_cannot_write() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let owner = fjord.client(&tenant);
    let name = stream_name("roles");
    fjord.create_active_stream(&owner, &name, 1).await.unwrap();
    owner
        .put_record()
        .stream_name(&name)
        .partition_key("p")
        .data(Blob::new("hello"))
        .send()
        .await
        .unwrap();

    let key = fjord
        .admin_json(&[
            "create-key",
            "--tenant",
            "acme",
            "--role",
            "viewer",
            "--name",
            "dashboard",
        ])
        .await
        .unwrap();
    assert_eq!(key["role"], "viewer");
    let key_id = key["access_key_id"].as_str().unwrap();
    let viewer = fjord.client_with_secret(key_id, key["secret_access_key"].as_str().unwrap());

    // Reads work.
    let streams = viewer.list_streams().send().await.unwrap();
    assert_eq!(streams.stream_names(), std::slice::from_ref(&name));
    viewer
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let iterator = viewer
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = viewer
        .get_records()
        .shard_iterator(iterator.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(records.records().len(), 1);
    assert_eq!(records.records()[0].data().as_ref(), b"hello");

    // Writes and stream administration are refused, as AWS refuses them.
    let error = expect_error!(
        viewer
            .put_record()
            .stream_name(&name)
            .partition_key("p")
            .data(Blob::new("nope"))
            .send(),
        "AccessDeniedException"
    );
    let message = error.meta().message().unwrap_or_default().to_owned();
    assert!(
        message.starts_with(&format!(
            "User: {key_id} is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:"
        )),
        "{message}"
    );
    assert!(message.ends_with(&format!(":stream/{name}")), "{message}");
    expect_error!(
        viewer
            .create_stream()
            .stream_name(stream_name("denied"))
            .shard_count(1)
            .send(),
        "AccessDeniedException"
    );
    expect_error!(
        viewer.delete_stream().stream_name(&name).send(),
        "AccessDeniedException"
    );
    // Nothing was written or created.
    let streams = owner.list_streams().send().await.unwrap();
    assert_eq!(streams.stream_names(), std::slice::from_ref(&name));
    let records = owner
        .get_records()
        .shard_iterator(
            owner
                .get_shard_iterator()
                .stream_name(&name)
                .shard_id("shardId-000000000000")
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(records.records().len(), 1);

    // The tenant's first key is its owner's: it may do everything.
    owner
        .delete_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn disabled_deleted_and_rotated_keys_stop_working_within_seconds() {
    let fjord = Fjord::start().await.unwrap();
    fjord.create_tenant("acme").await.unwrap();
    let token = owner_session(&fjord, "acme").await;

    // Disable, then enable again.
    let (status, key) = rest(
        &fjord,
        &token,
        "POST",
        "/keys",
        json!({"name": "ingest", "role": "developer"}),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let key_id = key["access_key_id"].as_str().unwrap().to_owned();
    let secret = key["secret_access_key"].as_str().unwrap().to_owned();
    let client = fjord.client_with_secret(&key_id, &secret);
    until_accepted(&client).await;
    let (status, body) = rest(
        &fjord,
        &token,
        "POST",
        &format!("/keys/{key_id}/disable"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    until_refused(&client, "UnrecognizedClientException").await;
    let (status, _) = rest(
        &fjord,
        &token,
        "POST",
        &format!("/keys/{key_id}/enable"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    until_accepted(&client).await;

    // Rotate: the old secret stops working, the new one works.
    let (status, rotated) = rest(
        &fjord,
        &token,
        "POST",
        &format!("/keys/{key_id}/rotate"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret_access_key"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    until_refused(&client, "InvalidSignatureException").await;
    let rotated_client = fjord.client_with_secret(&key_id, new_secret);
    until_accepted(&rotated_client).await;

    // Delete: refused within seconds, and gone from the list.
    let (status, _) = rest(
        &fjord,
        &token,
        "DELETE",
        &format!("/keys/{key_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    until_refused(&rotated_client, "UnrecognizedClientException").await;
    let (status, list) = rest(&fjord, &token, "GET", "/keys", Value::Null).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{list}");
    assert!(!ids.contains(&key_id.as_str()));
}
