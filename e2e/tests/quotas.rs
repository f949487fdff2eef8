//! Tenant quotas (ADR 010) through the official SDK and the REST API: the stream count quota
//! (`LimitExceededException`, a 403 problem, nothing created), the write throughput quota
//! (`ProvisionedThroughputExceededException` per record and per call, a 429 with `Retry-After`
//! over REST, refused records not stored), and `fjord admin set-quotas` taking effect on the
//! running gateway within two seconds.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use fjord_e2e::{Fjord, expect_error, stream_name};
use serde_json::{Value, json};

/// A developer of the tenant signed in to the REST API: a bearer token.
async fn developer_session(fjord: &Fjord, tenant: &str) -> String {
    fjord.session(tenant, "developer").await.unwrap()
}

async fn limits(fjord: &Fjord, token: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}/api/v1/limits", fjord.control_plane_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn entries(count: usize, tag: &str) -> Vec<PutRecordsRequestEntry> {
    (0..count)
        .map(|index| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("key-{index}"))
                .data(Blob::new(format!("{tag}-{index}")))
                .build()
                .unwrap()
        })
        .collect()
}

/// Every record's data in the stream's only shard, in order.
async fn shard_data(client: &Client, stream: &str) -> Vec<String> {
    let mut iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();
    let mut data = Vec::new();
    loop {
        let page = client
            .get_records()
            .shard_iterator(&iterator)
            .limit(10_000)
            .send()
            .await
            .unwrap();
        for record in page.records() {
            data.push(String::from_utf8(record.data().as_ref().to_vec()).unwrap());
        }
        iterator = page.next_shard_iterator().unwrap().to_owned();
        if page.records().is_empty() {
            return data;
        }
    }
}

#[tokio::test]
async fn the_stream_count_quota_refuses_creates_on_both_fronts() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord
        .create_tenant_with("acme", &["--streams", "1", "--delivery-streams", "7"])
        .await
        .unwrap();
    let client = fjord.client(&tenant);
    fjord
        .create_active_stream(&client, "first", 1)
        .await
        .unwrap();
    let error = expect_error!(
        client
            .create_stream()
            .stream_name("second")
            .shard_count(1)
            .send(),
        "LimitExceededException"
    );
    let message = error.meta().message().unwrap_or_default().to_owned();
    assert!(
        message.contains("stream count limit") && message.contains(&tenant.account_id),
        "{message}"
    );

    let token = developer_session(&fjord, "acme").await;
    let refused = reqwest::Client::new()
        .post(format!("{}/api/v1/streams", fjord.control_plane_url()))
        .bearer_auth(&token)
        .json(&json!({"name": "third", "mode": "provisioned", "shard_count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:fjord:problem:quota-exceeded");

    // Nothing was created; both fronts report the quotas.
    let listed = client.list_streams().send().await.unwrap();
    assert_eq!(listed.stream_names(), ["first"]);
    let described = client.describe_limits().send().await.unwrap();
    assert_eq!(described.shard_limit(), 500);
    assert_eq!(described.open_shard_count(), 1);
    assert_eq!(
        limits(&fjord, &token).await,
        json!({"stream_limit": 1, "stream_count": 1,
               "shard_limit": 500, "open_shard_count": 1,
               "on_demand_stream_limit": 50, "on_demand_stream_count": 0,
               "delivery_stream_limit": 7, "delivery_stream_count": 0,
               "app_limit": 50, "app_count": 0,
               "write_records_per_second": null, "write_bytes_per_second": null})
    );

    // Raising it lets the next create through.
    let report = fjord
        .admin_json(&[
            "set-quotas",
            "--tenant",
            &tenant.account_id,
            "--streams",
            "2",
        ])
        .await
        .unwrap();
    assert_eq!(report["stream_limit"], 2);
    // The change is in the tenant's audit log as an operator action.
    let pool = sqlx::PgPool::connect(&fjord.database_url()).await.unwrap();
    let (actor_type, details): (String, String) = sqlx::query_as(
        "SELECT actor_type, details::text FROM audit_log WHERE action = 'tenants:SetQuotas'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(actor_type, "operator");
    assert_eq!(details["changed"], json!({"streams": 2}));
    assert_eq!(details["quotas"]["stream_limit"], 2);
    client
        .create_stream()
        .stream_name("second")
        .shard_count(1)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn write_throughput_is_enforced_per_record_and_raised_without_restart() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord
        .create_tenant_with("acme", &["--write-records-per-second", "50"])
        .await
        .unwrap();
    let unlimited = fjord.create_tenant("globex").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("limited");
    fjord.create_active_stream(&client, &name, 1).await.unwrap();

    // A burst of one second: 50 of 500 are stored, the rest refused record by record.
    let put = client
        .put_records()
        .stream_name(&name)
        .set_records(Some(entries(500, "burst")))
        .send()
        .await
        .unwrap();
    let results = put.records();
    let failed: Vec<_> = results
        .iter()
        .filter(|result| result.error_code().is_some())
        .collect();
    assert_eq!(put.failed_record_count(), Some(failed.len() as i32));
    assert_eq!(failed.len(), 450, "a full bucket holds 50 records");
    for (position, result) in results.iter().enumerate() {
        if position < 50 {
            assert!(result.sequence_number().is_some(), "record {position}");
        } else {
            assert_eq!(
                result.error_code(),
                Some("ProvisionedThroughputExceededException")
            );
            assert!(
                result
                    .error_message()
                    .unwrap_or_default()
                    .starts_with(&format!("Rate exceeded for stream {name} under account")),
                "{result:?}"
            );
        }
    }
    let stored = shard_data(&client, &name).await;
    let expected: Vec<String> = (0..50).map(|index| format!("burst-{index}")).collect();
    assert_eq!(stored, expected, "exactly the admitted records are stored");

    // PutRecord over the quota: the error the SDK retries.
    let mut refused = None;
    for index in 0..200 {
        match client
            .put_record()
            .stream_name(&name)
            .partition_key("single")
            .data(Blob::new(format!("single-{index}")))
            .send()
            .await
        {
            Ok(_) => {}
            Err(error) => {
                refused = Some(error.into_service_error());
                break;
            }
        }
    }
    let refused = refused.expect("PutRecord is refused once the bucket is empty");
    assert_eq!(
        fjord_e2e::error_type(&refused),
        "ProvisionedThroughputExceededException"
    );
    assert!(refused.is_provisioned_throughput_exceeded_exception());

    // Another tenant has no quota and is not slowed down.
    let other = fjord.client(&unlimited);
    let other_stream = stream_name("free");
    fjord
        .create_active_stream(&other, &other_stream, 1)
        .await
        .unwrap();
    for _ in 0..2 {
        let put = other
            .put_records()
            .stream_name(&other_stream)
            .set_records(Some(entries(500, "free")))
            .send()
            .await
            .unwrap();
        assert_eq!(put.failed_record_count(), Some(0));
    }

    // Records over REST: a 429 with Retry-After once the control plane's bucket is empty.
    let token = developer_session(&fjord, "acme").await;
    let before = shard_data(&client, &name).await.len();
    let http = reqwest::Client::new();
    let mut stored_over_rest = 0;
    let mut throttled = None;
    for _ in 0..60 {
        let response = http
            .post(format!(
                "{}/api/v1/streams/{name}/records",
                fjord.control_plane_url()
            ))
            .bearer_auth(&token)
            .json(&json!({"records": (0..25)
                .map(|index| json!({"partition_key": "rest", "data": index}))
                .collect::<Vec<_>>()}))
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 200 {
            stored_over_rest += 25;
            continue;
        }
        throttled = Some(response);
        break;
    }
    let throttled = throttled.expect("REST puts are throttled at 50 records/s");
    assert_eq!(throttled.status().as_u16(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let problem: Value = throttled.json().await.unwrap();
    assert_eq!(problem["type"], "urn:fjord:problem:throughput-exceeded");
    assert!(stored_over_rest >= 25);
    assert_eq!(
        shard_data(&client, &name).await.len(),
        before + stored_over_rest,
        "the refused call stored nothing"
    );

    // Raising the quota takes effect on the running gateway within ~2 s.
    let token_limits = limits(&fjord, &token).await;
    assert_eq!(token_limits["write_records_per_second"], 50);
    let report = fjord
        .admin_json(&[
            "set-quotas",
            "--tenant",
            "acme",
            "--write-records-per-second",
            "100000",
            "--write-bytes-per-second",
            "unlimited",
        ])
        .await
        .unwrap();
    assert_eq!(report["write_records_per_second"], 100000);
    let raised_at = Instant::now();
    loop {
        let put = client
            .put_records()
            .stream_name(&name)
            .set_records(Some(entries(500, "raised")))
            .send()
            .await
            .unwrap();
        if put.failed_record_count() == Some(0) {
            break;
        }
        assert!(
            raised_at.elapsed() < Duration::from_secs(2),
            "the raised quota did not reach the gateway within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        limits(&fjord, &token).await["write_records_per_second"],
        100000
    );
}
