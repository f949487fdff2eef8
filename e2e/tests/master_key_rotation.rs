//! Master key rotation as `docs/operations.md` describes it, against a running installation:
//! a new master key alone cannot open the secrets sealed under the old one; with the old one
//! as a previous key every access key keeps working; `fjord admin reseal-secrets` moves them
//! to the new key; after that the old key can go.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use fjord_e2e::{Fjord, stream_name};

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
    let mut fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
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
