//! Delivery streams over REST, driven with `oneshot` on a real Postgres (a fresh database per
//! test) and a real NATS JetStream (a prefix per test, cleaned up at the end): create, list,
//! describe, change the destination, tags, delete, put records, roles, tenants, idempotency.

#[path = "support/members.rs"]
mod members;
#[path = "support/nats.rs"]
mod nats;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::{Store, TenantId};
use futures::StreamExt as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;

const SESSION_KEY: [u8; 32] = [9; 32];

struct TestApp {
    router: axum::Router,
    pool: PgPool,
    store: Store,
    nats: nats::Nats,
    acme: TenantId,
    globex: TenantId,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool.clone());
        let nats = nats::Nats::connect().await;
        let mut state = ApiState::new(
            store.clone(),
            SessionKeys::new(SESSION_KEY),
            RateLimitPolicy::default(),
        )
        .unwrap()
        .with_shards(nats.shards());
        // HTTP endpoint access keys are sealed with it.
        state.key_material = Some(fjord_control_plane::api::KeyMaterial::from_master_key(
            &fjord_common::secret::MasterKey::from_hex(&"0f".repeat(32)).unwrap(),
        ));
        let acme = store
            .create_tenant("acme", 10, 1, || "123456789012".to_owned())
            .await
            .unwrap();
        let globex = store
            .create_tenant("globex", 10, 1, || "210987654321".to_owned())
            .await
            .unwrap();
        Self {
            router: api::router(state),
            pool,
            store,
            nats,
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
        }
    }

    async fn token(&self, tenant: TenantId, role: Role) -> String {
        members::member_token(&self.store, SESSION_KEY, tenant, role).await
    }

    async fn call_with(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let request = request
            .body(Body::from(
                body.map(|body| body.to_string()).unwrap_or_default(),
            ))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(token, method, path, body, None).await
    }

    /// Asserts that `POST path` of `body` is a 400 whose detail says `says`.
    async fn refused(&self, token: &str, path: &str, body: Value, says: &str) {
        let (status, refused) = self.call(token, "POST", path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
        assert!(
            refused["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{says}: {refused}"
        );
    }

    async fn stored(&self) -> Vec<(String, String, i64)> {
        sqlx::query_as("SELECT name, status, version_id FROM delivery_streams ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

fn create_request(name: &str) -> Value {
    json!({
        "name": name,
        "destination": {"bucket_arn": "arn:aws:s3:::lake", "prefix": "events/", "compression": "GZIP"},
        "tags": {"team": "data"},
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn crud_records_and_roles(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let viewer = app.token(app.acme, Role::Viewer).await;

    // A viewer may read but not create; bad input is a 400 and stores nothing.
    let (status, _) = app
        .call(
            &viewer,
            "POST",
            "/delivery-streams",
            Some(create_request("events")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in [
        json!({"name": "bad name", "destination": {"bucket_arn": "arn:aws:s3:::lake"}}),
        json!({"name": "s", "destination": {"bucket_arn": "arn:aws:s3:::Bad_Bucket"}}),
        json!({"name": "s", "destination": {"bucket_arn": "arn:aws:s3:::lake", "buffering_size_mib": 129}}),
        json!({"name": "s", "destination": {}}),
        json!({"name": "s", "destination": {"bucket_arn": "arn:aws:s3:::lake", "unknown": 1}}),
        json!({"name": "s", "source": "kinesis_stream", "source_stream": "absent", "destination": {"bucket_arn": "arn:aws:s3:::lake"}}),
    ] {
        let (status, body) = app
            .call(&developer, "POST", "/delivery-streams", Some(bad.clone()))
            .await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
        assert_ne!(status, StatusCode::CREATED);
    }
    assert!(app.stored().await.is_empty());

    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(create_request("events")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "CREATING");
    assert_eq!(
        body["arn"],
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/events"
    );
    assert_eq!(body["destination"]["bucket"], "lake");
    assert_eq!(body["destination"]["compression"], "GZIP");
    assert_eq!(body["destination"]["buffering_size_mib"], 5);
    assert_eq!(body["tags"], json!({"team": "data"}));
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(create_request("events")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Records wait for ACTIVE.
    let record = json!({"records": [{"data": BASE64.encode("one")}]});
    let (status, _) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams/events/records",
            Some(record.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.nats.reconcile(&app.store).await;
    let (status, body) = app
        .call(&viewer, "GET", "/delivery-streams/events", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ACTIVE");

    let (status, _) = app
        .call(
            &viewer,
            "POST",
            "/delivery-streams/events/records",
            Some(record),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in [
        json!({"records": []}),
        json!({"records": [{"data": "not base64!"}]}),
        json!({"records": (0..501).map(|_| json!({"data": ""})).collect::<Vec<_>>()}),
    ] {
        let (status, _) = app
            .call(
                &developer,
                "POST",
                "/delivery-streams/events/records",
                Some(bad),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams/events/records",
            Some(json!({"records": [{"data": BASE64.encode("one")}, {"data": BASE64.encode([0u8, 255, 7])}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids = body["record_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].as_str().unwrap().len(), 56);
    assert!(ids[0].as_str().unwrap() < ids[1].as_str().unwrap());

    // One message per record on the delivery subject, the raw bytes.
    let row = app
        .store
        .delivery_stream_by_name(app.acme, "events")
        .await
        .unwrap()
        .unwrap();
    let stream = app
        .nats
        .jetstream
        .get_stream(app.nats.names.delivery_stream(row.id))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.fetch().max_messages(10).messages().await.unwrap();
    let mut payloads = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        assert_eq!(
            message.subject.as_str(),
            app.nats.names.delivery_subject(row.id)
        );
        payloads.push(message.payload.to_vec());
    }
    assert_eq!(payloads, vec![b"one".to_vec(), vec![0u8, 255, 7]]);

    // Destination changes check the version.
    let (status, body) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/events/destination",
            Some(json!({"version_id": 1, "destination": {"buffering_interval_seconds": 60}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version_id"], 2);
    assert_eq!(body["destination"]["buffering_interval_seconds"], 60);
    assert_eq!(body["destination"]["prefix"], "events/");
    let (status, _) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/events/destination",
            Some(json!({"version_id": 1, "destination": {"prefix": "x/"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/events/destination",
            Some(json!({"version_id": 2, "destination": {"compression": "BROTLI"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Tags.
    let (status, body) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/events/tags",
            Some(json!({"tags": {"env": "prod"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tags"], json!({"env": "prod", "team": "data"}));
    let too_many: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (status, _) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/events/tags",
            Some(json!({"tags": too_many})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .call(
            &developer,
            "DELETE",
            "/delivery-streams/events/tags/env",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // List, with a cursor.
    let (status, _) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(create_request("more")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .call(&viewer, "GET", "/delivery-streams?limit=1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["name"], "events");
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let (_, body) = app
        .call(
            &viewer,
            "GET",
            &format!("/delivery-streams?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(body["items"][0]["name"], "more");
    assert!(body.get("next_cursor").is_none());
    assert_eq!(body["items"][0]["tags"], json!({"team": "data"}));

    // Delete, then the reconciler removes it and its storage.
    let (status, _) = app
        .call(&viewer, "DELETE", "/delivery-streams/events", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call(&developer, "DELETE", "/delivery-streams/events", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "DELETING");
    app.nats.reconcile(&app.store).await;
    let (status, _) = app
        .call(&viewer, "GET", "/delivery-streams/events", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        app.nats
            .jetstream
            .get_stream(app.nats.names.delivery_stream(row.id))
            .await
            .is_err()
    );

    // Every change is audited.
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT action FROM audit_log WHERE action LIKE 'delivery-streams:%' ORDER BY action",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "delivery-streams:AddTags",
            "delivery-streams:Create",
            "delivery-streams:Delete",
            "delivery-streams:RemoveTag",
            "delivery-streams:UpdateDestination",
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn idempotent_creates_and_tenants(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let (status, first) = app
        .call_with(
            &developer,
            "POST",
            "/delivery-streams",
            Some(create_request("events")),
            Some("k1"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = app
        .call_with(
            &developer,
            "POST",
            "/delivery-streams",
            Some(create_request("events")),
            Some("k1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["arn"], first["arn"]);
    let (status, _) = app
        .call_with(
            &developer,
            "POST",
            "/delivery-streams",
            Some(create_request("other")),
            Some("k1"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.stored().await.len(), 1);
    let (_, limits) = app.call(&developer, "GET", "/limits", None).await;
    assert_eq!(limits["delivery_stream_count"], 1, "{limits}");
    assert_eq!(limits["delivery_stream_limit"], 50, "{limits}");

    // Another tenant sees none of it and can use the same name.
    let globex = app.token(app.globex, Role::Admin).await;
    let (_, body) = app.call(&globex, "GET", "/delivery-streams", None).await;
    assert_eq!(body["items"], json!([]));
    let (status, _) = app
        .call(&globex, "GET", "/delivery-streams/events", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            &globex,
            "POST",
            "/delivery-streams",
            Some(create_request("events")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A Kinesis-sourced one reads the tenant's own ACTIVE stream; puts go to that stream.
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/streams",
            Some(json!({"name": "clicks", "mode": "provisioned", "shard_count": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.nats.reconcile(&app.store).await;
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(
                json!({"name": "from-clicks", "source": "kinesis_stream", "source_stream": "clicks",
                        "destination": {"bucket_arn": "arn:aws:s3:::lake"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["source_stream_arn"],
        "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    );
    let (status, _) = app
        .call(
            &globex,
            "POST",
            "/delivery-streams",
            Some(
                json!({"name": "steal", "source": "kinesis_stream", "source_stream": "clicks",
                        "destination": {"bucket_arn": "arn:aws:s3:::lake"}}),
            ),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "another tenant's stream is no source"
    );
    app.nats.reconcile(&app.store).await;
    let (status, _) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams/from-clicks/records",
            Some(json!({"records": [{"data": BASE64.encode("x")}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Puts are charged to the tenant's write throughput quota: over it, a 429 and nothing stored.
    let (status, _) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(create_request("limited")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.nats.reconcile(&app.store).await;
    app.store
        .set_quotas(
            app.acme,
            fjord_control_plane::store::quotas::QuotaChange {
                write_records_per_second: Some(Some(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let two = json!({"records": [{"data": BASE64.encode("a")}, {"data": BASE64.encode("b")}]});
    // A full bucket admits one call (even one over the burst); the next waits.
    let path = "/delivery-streams/limited/records";
    let (status, body) = app.call(&developer, "POST", path, Some(two.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(&developer, "POST", path, Some(two)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let row = app
        .store
        .delivery_stream_by_name(app.acme, "limited")
        .await
        .unwrap()
        .unwrap();
    let mut stream = app
        .nats
        .jetstream
        .get_stream(app.nats.names.delivery_stream(row.id))
        .await
        .unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        2,
        "the refused call stored nothing"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn transformation_and_dynamic_partitioning_are_configured_and_shown_over_rest(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(json!({"name": "shaped", "destination": {
                "bucket_arn": "arn:aws:s3:::lake",
                "prefix": "c=!{partitionKeyFromQuery:customer}/",
                "error_output_prefix": "errors/",
                "buffering_size_mib": 64,
                "processing_configuration": {"Enabled": true, "Processors": [
                    {"Type": "Lambda", "Parameters": [
                        {"ParameterName": "LambdaArn", "ParameterValue": "https://functions.example/shape"}]},
                    {"Type": "AppendDelimiterToRecord"},
                    {"Type": "MetadataExtraction", "Parameters": [
                        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer:.customer.id}"},
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]},
                "dynamic_partitioning_configuration": {"Enabled": true}}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["destination"]["processors"],
        json!([
            {"type": "function", "url": "https://functions.example/shape", "retries": 3,
             "batch_bytes": 1_048_576},
            {"type": "append_delimiter", "delimiter": "\n"},
        ])
    );
    assert_eq!(
        body["destination"]["partition_keys"],
        json!([{"name": "customer", "path": ".customer.id"}])
    );
    let (status, described) = app
        .call(&developer, "GET", "/delivery-streams/shaped", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(described["destination"], body["destination"]);

    // The Firehose rules apply over REST too: a Lambda ARN is refused, nothing is stored.
    let (status, refused) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(json!({"name": "arn", "destination": {
                "bucket_arn": "arn:aws:s3:::lake",
                "processing_configuration": {"Enabled": true, "Processors": [
                    {"Type": "Lambda", "Parameters": [
                        {"ParameterName": "LambdaArn",
                         "ParameterValue": "arn:aws:lambda:us-east-1:123456789012:function:f"}]}]}}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("http(s) URL"),
        "{refused}"
    );
    assert_eq!(app.stored().await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn http_endpoint_destinations_are_configured_over_rest_without_showing_the_key(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(json!({"name": "to-endpoint", "destination": {
                "http_endpoint": {"url": "https://ingest.example.com/fh", "name": "ingest",
                    "access_key": "rest-key-7d2e", "content_encoding": "GZIP",
                    "common_attributes": {"team": "data"}, "retry_duration_seconds": 60,
                    "backup_mode": "AllData"},
                "bucket_arn": "arn:aws:s3:::backup",
                "error_output_prefix": "errors/",
                "buffering_size_mib": 2,
                "buffering_interval_seconds": 10}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["destination"]["http_endpoint"],
        json!({"url": "https://ingest.example.com/fh", "name": "ingest", "access_key_set": true,
               "content_encoding": "GZIP", "common_attributes": {"team": "data"},
               "retry_duration_seconds": 60, "backup_mode": "AllData"})
    );
    assert_eq!(body["destination"]["bucket_arn"], "arn:aws:s3:::backup");
    assert_eq!(body["destination"]["buffering_size_mib"], 2);
    assert_eq!(body["destination"]["buffering_interval_seconds"], 10);
    let stored: (String, String) = sqlx::query_as(
        "SELECT destination_configuration::text, destination_spec::text FROM delivery_streams",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        !stored.0.contains("rest-key-7d2e") && !stored.1.contains("rest-key-7d2e"),
        "the key is stored sealed only"
    );
    assert!(stored.1.contains("sealed_access_key"));
    app.nats.reconcile(&app.store).await;

    // An update changes what it names and keeps the key; an empty key removes it.
    let (status, updated) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/to-endpoint/destination",
            Some(json!({"version_id": 1, "destination": {
                "http_endpoint": {"url": "https://ingest.example.com/v2"},
                "prefix": "all/"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["destination"]["http_endpoint"]["url"],
        "https://ingest.example.com/v2"
    );
    assert_eq!(
        updated["destination"]["http_endpoint"]["access_key_set"],
        true
    );
    assert_eq!(updated["destination"]["prefix"], "all/");
    assert_eq!(updated["version_id"], 2);
    let (status, removed) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/to-endpoint/destination",
            Some(json!({"version_id": 2, "destination": {"http_endpoint": {"access_key": ""}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(
        removed["destination"]["http_endpoint"]["access_key_set"],
        false
    );

    // Bad endpoints are refused and change nothing; a bucket update cannot turn it into S3.
    for (destination, says) in [
        (
            json!({"http_endpoint": {"url": "ftp://x/"}, "bucket_arn": "arn:aws:s3:::backup"}),
            "http(s) URL",
        ),
        (
            json!({"http_endpoint": {"url": "https://x/", "retry_duration_seconds": 7201},
                   "bucket_arn": "arn:aws:s3:::backup"}),
            "durationInSeconds",
        ),
        (
            json!({"http_endpoint": {"url": "https://x/"}, "bucket_arn": "arn:aws:s3:::backup",
                   "buffering_size_mib": 65}),
            "sizeInMBs",
        ),
        (json!({"http_endpoint": {"url": "https://x/"}}), "bucketARN"),
    ] {
        app.refused(
            &developer,
            "/delivery-streams",
            json!({"name": "refused", "destination": destination}),
            says,
        )
        .await;
    }
    let (status, refused) = app
        .call(
            &developer,
            "PUT",
            "/delivery-streams/to-endpoint/destination",
            Some(json!({"version_id": 3, "destination": {"compression": "GZIP"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(
        app.stored().await,
        vec![("to-endpoint".to_owned(), "ACTIVE".to_owned(), 3)]
    );
    let (_, listed) = app.call(&developer, "GET", "/delivery-streams", None).await;
    assert!(!listed.to_string().contains("rest-key-7d2e"));
}

#[sqlx::test(migrations = "../migrations")]
async fn catalog_tables_give_format_conversion_its_columns(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let viewer = app.token(app.acme, Role::Viewer).await;
    let table = json!({"database": "analytics", "name": "events", "columns": [
        {"name": "id", "type": "bigint"}, {"name": "name", "type": "varchar(64)"},
        {"name": "at", "type": "TIMESTAMP"}]});
    let (status, refused) = app
        .call(&viewer, "POST", "/tables", Some(table.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, created) = app
        .call(&developer, "POST", "/tables", Some(table.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["columns"],
        json!([{"name": "id", "type": "bigint"}, {"name": "name", "type": "string"},
               {"name": "at", "type": "timestamp"}])
    );
    let (status, _) = app
        .call(&developer, "POST", "/tables", Some(table.clone()))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    for (body, says) in [
        (
            json!({"database": "Analytics", "name": "t", "columns": [{"name": "a", "type": "int"}]}),
            "names are",
        ),
        (
            json!({"database": "a", "name": "t", "columns": []}),
            "1 to 1000",
        ),
        (
            json!({"database": "a", "name": "t", "columns": [{"name": "a", "type": "array<int>"}]}),
            "has type",
        ),
        (
            json!({"database": "a", "name": "t", "columns": [{"name": "a", "type": "int"},
                                                             {"name": "a", "type": "int"}]}),
            "named twice",
        ),
    ] {
        app.refused(&developer, "/tables", body, says).await;
    }

    // A delivery stream converting with it copies its columns; the rules are Firehose's.
    let conversion = json!({"Enabled": true,
        "SchemaConfiguration": {"DatabaseName": "analytics", "TableName": "events",
                                "RoleARN": "arn:aws:iam::123456789012:role/r"},
        "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "GZIP"}}}});
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(json!({"name": "parquet", "destination": {
                "bucket_arn": "arn:aws:s3:::lake", "prefix": "events/",
                "data_format_conversion_configuration": conversion}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["destination"]["conversion"],
        json!({"database": "analytics", "table": "events", "format": "parquet",
               "compression": "GZIP",
               "columns": ["id bigint", "name string", "at timestamp"]})
    );
    assert_eq!(
        body["destination"]["buffering_size_mib"], 128,
        "the converted default"
    );
    for (destination, says) in [
        (
            json!({"bucket_arn": "arn:aws:s3:::lake", "compression": "GZIP",
                   "data_format_conversion_configuration": conversion}),
            "UNCOMPRESSED",
        ),
        (
            json!({"bucket_arn": "arn:aws:s3:::lake", "buffering_size_mib": 5,
                   "data_format_conversion_configuration": conversion}),
            "at least 64",
        ),
        (
            json!({"bucket_arn": "arn:aws:s3:::lake",
                   "data_format_conversion_configuration": {"Enabled": true,
                       "SchemaConfiguration": {"DatabaseName": "analytics", "TableName": "nope"},
                       "InputFormatConfiguration": {"Deserializer": {"HiveJsonSerDe": {}}},
                       "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}}),
            "does not exist",
        ),
    ] {
        app.refused(
            &developer,
            "/delivery-streams",
            json!({"name": "refused", "destination": destination}),
            says,
        )
        .await;
    }

    // Replacing or dropping the table leaves the delivery stream's copy as it was.
    let (status, replaced) = app
        .call(
            &developer,
            "PUT",
            "/tables/analytics/events",
            Some(json!({"columns": [{"name": "id", "type": "int"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let (status, _) = app
        .call(
            &developer,
            "PUT",
            "/tables/analytics/missing",
            Some(json!({"columns": [{"name": "id", "type": "int"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app.call(&viewer, "GET", "/tables", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let (status, _) = app
        .call(&developer, "DELETE", "/tables/analytics/events", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(&viewer, "GET", "/tables/analytics/events", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, described) = app
        .call(&viewer, "GET", "/delivery-streams/parquet", None)
        .await;
    assert_eq!(
        described["destination"]["conversion"]["columns"],
        json!(["id bigint", "name string", "at timestamp"])
    );
}
