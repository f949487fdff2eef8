//! Master key rotation as `docs/operations.md` describes it, against a running installation:
//! a new master key alone cannot open the secrets sealed under the old one; with the old one
//! as a previous key every access key keeps working; `fjord admin reseal-secrets` moves them
//! to the new key (delivery streams' HTTP endpoint access keys too); after that the old key
//! can go.

use std::time::{Duration, Instant};

use aws_sdk_firehose::types::{
    HttpEndpointBufferingHints, HttpEndpointConfiguration, HttpEndpointDestinationConfiguration,
    S3DestinationConfiguration,
};
use aws_sdk_kinesis::primitives::Blob;
use fjord_e2e::delivery::{put_batch, wait_delivery_stream_active};
use fjord_e2e::http_endpoint::{Behaviour, TestEndpoint};
use fjord_e2e::{Fjord, stream_name};

const ENDPOINT_KEY: &str = "endpoint-key-of-the-rotation-test";

const MASTER_KEY: &str = "FJORD__SECURITY__MASTER_KEY";
const PREVIOUS: &str = "FJORD__SECURITY__PREVIOUS_MASTER_KEYS";

/// Whether a put with the tenant's key is accepted.
async fn put_works(fjord: &Fjord, tenant: &fjord_e2e::Tenant, stream: &str) -> bool {
    fjord
        .client(tenant)
        .put_record()
        .stream_name(stream)
        .partition_key("k")
        .data(Blob::new(b"rotation".to_vec()))
        .send()
        .await
        .is_ok()
}

/// Waits until the reconciler has published every access key change.
async fn wait_published(pool: &sqlx::PgPool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM access_keys WHERE generation <> published_generation",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} keys still unpublished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn rotating_the_master_key_keeps_every_access_key_working() {
    let (mut fjord, _objects) = Fjord::start_with_local_objects().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    // A delivery stream whose endpoint access key is sealed under the master key.
    let endpoint = TestEndpoint::start(Behaviour::Accept).await.unwrap();
    let delivery = stream_name("to-endpoint");
    let firehose = fjord.firehose(&tenant);
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&delivery)
        .http_endpoint_destination_configuration(
            HttpEndpointDestinationConfiguration::builder()
                .endpoint_configuration(
                    HttpEndpointConfiguration::builder()
                        .url(&endpoint.url)
                        .access_key(ENDPOINT_KEY)
                        .build()
                        .unwrap(),
                )
                .buffering_hints(
                    HttpEndpointBufferingHints::builder()
                        .interval_in_seconds(1)
                        .build(),
                )
                .s3_configuration(
                    S3DestinationConfiguration::builder()
                        .role_arn("arn:aws:iam::123456789012:role/firehose")
                        .bucket_arn("arn:aws:s3:::backup")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_delivery_stream_active(&firehose, &delivery)
        .await
        .unwrap();
    let stream = stream_name("rotation");
    fjord
        .create_active_stream(&fjord.client(&tenant), &stream, 1)
        .await
        .unwrap();
    let viewer = fjord
        .admin_json(&["create-key", "--tenant", "acme", "--role", "viewer"])
        .await
        .unwrap();
    assert!(put_works(&fjord, &tenant, &stream).await);
    let pool = sqlx::PgPool::connect(&fjord.database_url()).await.unwrap();
    let sealed_before: Vec<(String, String)> =
        sqlx::query_as("SELECT access_key_id, sealed_secret FROM access_keys ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(sealed_before.len(), 2);

    let old_key = fjord.setting(MASTER_KEY).unwrap();
    let new_key = "5e".repeat(32);

    // The new key alone cannot open what the old one sealed: the keys stop working.
    fjord.set_setting(MASTER_KEY, Some(&new_key));
    fjord.restart().await.unwrap();
    assert!(!put_works(&fjord, &tenant, &stream).await);

    // With the old key as a previous one, they work again, unchanged.
    fjord.set_setting(PREVIOUS, Some(&old_key));
    fjord.restart().await.unwrap();
    assert!(put_works(&fjord, &tenant, &stream).await);

    let report = fjord.admin_json(&["reseal-secrets"]).await.unwrap();
    assert_eq!(report["keys"], 2, "{report}");
    assert_eq!(report["endpoint_keys"], 1, "{report}");
    assert_eq!(report["endpoint_keys_resealed"], 1, "{report}");
    assert_eq!(report["resealed"], 2, "{report}");
    assert_eq!(report["already_current"], 0, "{report}");
    assert_eq!(report["unopenable"], serde_json::json!([]), "{report}");
    let sealed_after: Vec<(String, String)> =
        sqlx::query_as("SELECT access_key_id, sealed_secret FROM access_keys ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    for ((id, before), (same_id, after)) in sealed_before.iter().zip(&sealed_after) {
        assert_eq!(id, same_id);
        assert_ne!(before, after, "{id} was not resealed");
    }
    // Repeating it changes nothing.
    let again = fjord.admin_json(&["reseal-secrets"]).await.unwrap();
    assert_eq!(
        (again["resealed"].clone(), again["already_current"].clone()),
        (0.into(), 2.into()),
        "{again}"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'keys:ResealSecrets' AND actor_type = 'operator'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(audited >= 1);
    wait_published(&pool).await;

    // The old key can go: everything is under the new one.
    fjord.set_setting(PREVIOUS, None);
    fjord.restart().await.unwrap();
    assert!(put_works(&fjord, &tenant, &stream).await);
    let viewer_client = fjord.client_with_secret(
        viewer["access_key_id"].as_str().unwrap(),
        viewer["secret_access_key"].as_str().unwrap(),
    );
    viewer_client
        .describe_stream_summary()
        .stream_name(&stream)
        .send()
        .await
        .expect("the viewer key works under the new master key");
    // The workers open the resealed endpoint key under the new master key alone.
    put_batch(&fjord.firehose(&tenant), &delivery, "rotated", 3)
        .await
        .unwrap();
    let received = endpoint
        .wait(30, |received| {
            received
                .iter()
                .any(|request| request.status == 200 && !request.records.is_empty())
        })
        .await;
    assert!(
        received
            .iter()
            .any(|request| request.status == 200 && request.records.len() == 3),
        "{received:?}"
    );
    assert!(
        received
            .iter()
            .all(|request| request.access_key.as_deref() == Some(ENDPOINT_KEY))
    );

    // A secret that opens under no configured key is reported and fails the command.
    sqlx::query("UPDATE access_keys SET sealed_secret = $1 WHERE access_key_id = $2")
        .bind(&sealed_before[0].1)
        .bind(&sealed_before[0].0)
        .execute(&pool)
        .await
        .unwrap();
    let error = fjord.admin_json(&["reseal-secrets"]).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains(&sealed_before[0].0), "{message}");
    assert!(
        !message.contains(&old_key) && !message.contains(&new_key),
        "{message}"
    );
}
