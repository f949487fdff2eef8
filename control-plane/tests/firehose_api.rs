//! Firehose delivery stream administration through the internal API, driven with `oneshot`
//! on a real Postgres (a fresh database per test) and, for the reconciler, a real NATS
//! JetStream (a prefix per test, cleaned up at the end).

#[path = "support/nats.rs"]
mod nats;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fjord_common::firehose::DeliveryStreamSpec;
use fjord_common::naming::Names;
use fjord_common::token::TokenSigner;
use fjord_control_plane::http::{InternalState, router};
use fjord_control_plane::kinesis::KinesisAdmin;
use fjord_control_plane::store::quotas::QuotaChange;
use fjord_control_plane::store::{Store, TenantId};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;

const TOKEN: &str = "internal-token-for-tests-0123456789";
const ACCOUNT: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::123456789012:role/firehose";

struct Fixture {
    pool: PgPool,
    store: Store,
    tenant_id: uuid::Uuid,
}

impl Fixture {
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool.clone());
        let tenant = store
            .create_tenant("acme", 10, 1, || ACCOUNT.to_owned())
            .await
            .unwrap();
        Self {
            pool,
            store,
            tenant_id: tenant.id,
        }
    }

    /// Calls `Firehose_20150804.<action>` as the gateway forwards it; status and body.
    async fn call(&self, action: &str, body: Value) -> (StatusCode, Value) {
        self.call_as(self.tenant_id, action, body).await
    }

    async fn call_as(&self, tenant: uuid::Uuid, action: &str, body: Value) -> (StatusCode, Value) {
        let app = router(InternalState {
            admin: KinesisAdmin {
                store: self.store.clone(),
                region: "us-east-1".to_owned(),
                tokens: TokenSigner::new([3; 32]),
                default_retention_hours: 24,
            },
            secret_box: Some(fjord_common::secret::SecretBox::new([5; 32])),
            internal_token: Arc::from(TOKEN),
        });
        let request = Request::post(format!("/internal/v1/firehose/{action}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("x-fjord-tenant-id", tenant.to_string())
            .header("x-fjord-account-id", ACCOUNT)
            .header("x-fjord-access-key-id", "AKIATESTTESTTEST")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// What is stored for the tenant: names with status and version, and tags.
    async fn stored(&self) -> Vec<(String, String, i64, String)> {
        sqlx::query_as(
            "SELECT name, status, version_id, destination_spec::text FROM delivery_streams
             WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(self.tenant_id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    async fn mark_active(&self) {
        sqlx::query("UPDATE delivery_streams SET status = 'ACTIVE' WHERE tenant_id = $1")
            .bind(self.tenant_id)
            .execute(&self.pool)
            .await
            .unwrap();
    }
}

fn s3(extra: Value) -> Value {
    let mut config = json!({"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::lake"});
    if let (Value::Object(config), Value::Object(extra)) = (&mut config, extra) {
        config.extend(extra);
    }
    config
}

fn create_body(name: &str, extra: Value) -> Value {
    json!({"DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": s3(extra)})
}

#[sqlx::test(migrations = "../migrations")]
async fn create_describe_list_and_delete_answer_in_the_aws_shape(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    let (status, body) = fixture
        .call(
            "CreateDeliveryStream",
            json!({
                "DeliveryStreamName": "events",
                "DeliveryStreamType": "DirectPut",
                "ExtendedS3DestinationConfiguration": s3(json!({
                    "Prefix": "raw/!{timestamp:yyyy/MM/dd}/",
                    "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                    "BufferingHints": {"SizeInMBs": 64},
                    "CompressionFormat": "GZIP",
                })),
                "Tags": [{"Key": "team", "Value": "data"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"DeliveryStreamARN": "arn:aws:firehose:us-east-1:123456789012:deliverystream/events"})
    );
    let (status, body) = fixture
        .call(
            "CreateDeliveryStream",
            json!({"DeliveryStreamName": "legacy", "S3DestinationConfiguration": s3(json!({}))}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = fixture
        .call(
            "DescribeDeliveryStream",
            json!({"DeliveryStreamName": "events"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let description = &body["DeliveryStreamDescription"];
    assert_eq!(description["DeliveryStreamName"], "events");
    assert_eq!(description["DeliveryStreamStatus"], "CREATING");
    assert_eq!(description["DeliveryStreamType"], "DirectPut");
    assert_eq!(description["VersionId"], "1");
    assert!(description.get("LastUpdateTimestamp").is_none());
    assert_eq!(description["HasMoreDestinations"], false);
    assert!(description["CreateTimestamp"].as_f64().unwrap() > 1.7e9);
    let destination = &description["Destinations"][0];
    assert_eq!(destination["DestinationId"], "destinationId-000000000001");
    let extended = &destination["ExtendedS3DestinationDescription"];
    assert_eq!(extended["BucketARN"], "arn:aws:s3:::lake");
    assert_eq!(extended["RoleARN"], ROLE);
    assert_eq!(extended["Prefix"], "raw/!{timestamp:yyyy/MM/dd}/");
    assert_eq!(
        extended["BufferingHints"],
        json!({"SizeInMBs": 64, "IntervalInSeconds": 300})
    );
    assert_eq!(extended["CompressionFormat"], "GZIP");
    assert_eq!(extended["S3BackupMode"], "Disabled");
    assert_eq!(
        destination["S3DestinationDescription"]["EncryptionConfiguration"],
        json!({"NoEncryptionConfig": "NoEncryption"})
    );
    assert!(
        destination["S3DestinationDescription"]
            .get("S3BackupMode")
            .is_none()
    );
    // A page after the only destination is empty.
    let (_, body) = fixture
        .call(
            "DescribeDeliveryStream",
            json!({"DeliveryStreamName": "events", "ExclusiveStartDestinationId": "destinationId-000000000001"}),
        )
        .await;
    assert_eq!(body["DeliveryStreamDescription"]["Destinations"], json!([]));

    let (status, body) = fixture
        .call("ListDeliveryStreams", json!({"Limit": 1}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"DeliveryStreamNames": ["events"], "HasMoreDeliveryStreams": true})
    );
    let (_, body) = fixture
        .call(
            "ListDeliveryStreams",
            json!({"ExclusiveStartDeliveryStreamName": "events"}),
        )
        .await;
    assert_eq!(
        body,
        json!({"DeliveryStreamNames": ["legacy"], "HasMoreDeliveryStreams": false})
    );
    let (_, body) = fixture
        .call(
            "ListDeliveryStreams",
            json!({"DeliveryStreamType": "KinesisStreamAsSource"}),
        )
        .await;
    assert_eq!(body["DeliveryStreamNames"], json!([]));

    // A stream still CREATING cannot be deleted; once ACTIVE it goes to DELETING.
    let (status, body) = fixture
        .call(
            "DeleteDeliveryStream",
            json!({"DeliveryStreamName": "events"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["__type"], "ResourceInUseException");
    fixture.mark_active().await;
    let (status, body) = fixture
        .call(
            "DeleteDeliveryStream",
            json!({"DeliveryStreamName": "events", "AllowForceDelete": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({}));
    let stored = fixture.stored().await;
    assert_eq!(stored[0].0, "events");
    assert_eq!(stored[0].1, "DELETING");

    // The mutating calls are in the audit log, with the delivery stream's ARN.
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, outcome, resource FROM audit_log WHERE tenant_id = $1 ORDER BY occurred_at, id",
    )
    .bind(fixture.tenant_id)
    .fetch_all(&fixture.pool)
    .await
    .unwrap();
    let actions: Vec<&str> = audited
        .iter()
        .map(|(action, _, _)| action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "firehose:CreateDeliveryStream",
            "firehose:CreateDeliveryStream",
            "firehose:DeleteDeliveryStream",
            "firehose:DeleteDeliveryStream",
        ]
    );
    assert_eq!(audited[2].1, "failure");
    assert_eq!(
        audited[3].2,
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/events"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_input_gets_the_documented_error_and_stores_nothing(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"ExtendedS3DestinationConfiguration": s3(json!({}))}),
            "ValidationException",
            "deliveryStreamName",
        ),
        (
            create_body("bad name", json!({})),
            "ValidationException",
            "deliveryStreamName",
        ),
        (
            create_body(&"a".repeat(65), json!({})),
            "ValidationException",
            "deliveryStreamName",
        ),
        (
            create_body("s", json!({"BufferingHints": {"SizeInMBs": 0}})),
            "ValidationException",
            "sizeInMBs",
        ),
        (
            create_body("s", json!({"BufferingHints": {"IntervalInSeconds": 901}})),
            "ValidationException",
            "intervalInSeconds",
        ),
        (
            create_body("s", json!({"Prefix": "p".repeat(1025)})),
            "ValidationException",
            "prefix",
        ),
        (
            create_body("s", json!({"ErrorOutputPrefix": "p".repeat(1025)})),
            "ValidationException",
            "errorOutputPrefix",
        ),
        (
            create_body("s", json!({"CompressionFormat": "LZ4"})),
            "ValidationException",
            "compressionFormat",
        ),
        (
            json!({"DeliveryStreamName": "s", "ExtendedS3DestinationConfiguration": {"BucketARN": "arn:aws:s3:::lake"}}),
            "ValidationException",
            "roleARN",
        ),
        (
            json!({"DeliveryStreamName": "s", "DeliveryStreamType": "Push", "ExtendedS3DestinationConfiguration": s3(json!({}))}),
            "ValidationException",
            "deliveryStreamType",
        ),
        (
            json!({"DeliveryStreamName": "s", "ExtendedS3DestinationConfiguration": s3(json!({})), "Tags": [{"Key": "aws:x", "Value": "v"}]}),
            "ValidationException",
            "tags",
        ),
        (
            json!({"DeliveryStreamName": "s", "ExtendedS3DestinationConfiguration": s3(json!({})), "Tags": []}),
            "ValidationException",
            "tags",
        ),
        // Postgres cannot store NUL: refused as invalid, never a 500.
        (
            create_body("s", json!({"Prefix": "a\u{0}b"})),
            "ValidationException",
            "NUL",
        ),
        (
            json!({"DeliveryStreamName": "s", "DeliveryStreamType": "KinesisStreamAsSource", "KinesisStreamSourceConfiguration": {"KinesisStreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/nope", "RoleARN": "arn:aws:iam::123456789012:role/a\u{0}"}, "ExtendedS3DestinationConfiguration": s3(json!({}))}),
            "ValidationException",
            "roleARN",
        ),
        (
            create_body("s", json!({"BucketARN": "arn:aws:s3:::Not_A_Bucket"})),
            "InvalidArgumentException",
            "Not_A_Bucket",
        ),
        (
            create_body(
                "s",
                json!({"ProcessingConfiguration": {"Enabled": true,
                        "Processors": [{"Type": "RecordDeAggregation"}]}}),
            ),
            "InvalidArgumentException",
            "RecordDeAggregation",
        ),
        (
            create_body(
                "s",
                json!({"DataFormatConversionConfiguration": {"Enabled": true}}),
            ),
            "InvalidArgumentException",
            "DataFormatConversionConfiguration",
        ),
        (
            create_body(
                "s",
                json!({"DynamicPartitioningConfiguration": {"Enabled": true}}),
            ),
            "InvalidArgumentException",
            "partitionKeyFromQuery",
        ),
        (
            create_body("s", json!({"Prefix": "!{timestamp:yyyy}/"})),
            "InvalidArgumentException",
            "ErrorOutputPrefix",
        ),
        (
            json!({"DeliveryStreamName": "s", "RedshiftDestinationConfiguration": {}}),
            "InvalidArgumentException",
            "Redshift",
        ),
        (
            json!({"DeliveryStreamName": "s", "HttpEndpointDestinationConfiguration": {}}),
            "ValidationException",
            "httpEndpointDestinationConfiguration.s3Configuration",
        ),
        (
            json!({"DeliveryStreamName": "s", "HttpEndpointDestinationConfiguration": {
                "EndpointConfiguration": {"Url": "gopher://x/", "AccessKey": "not-echoed"},
                "S3Configuration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::backup"}}}),
            "InvalidArgumentException",
            "gopher://x/",
        ),
        (
            json!({"DeliveryStreamName": "s", "SplunkDestinationConfiguration": {}}),
            "InvalidArgumentException",
            "Splunk",
        ),
        (
            json!({"DeliveryStreamName": "s"}),
            "InvalidArgumentException",
            "destination configuration is required",
        ),
        (
            json!({"DeliveryStreamName": "s", "DeliveryStreamType": "KinesisStreamAsSource", "ExtendedS3DestinationConfiguration": s3(json!({}))}),
            "InvalidArgumentException",
            "KinesisStreamSourceConfiguration",
        ),
        (
            json!({"DeliveryStreamName": "s", "DeliveryStreamType": "KinesisStreamAsSource", "KinesisStreamSourceConfiguration": {"KinesisStreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/nope", "RoleARN": ROLE}, "ExtendedS3DestinationConfiguration": s3(json!({}))}),
            "InvalidArgumentException",
            "nope",
        ),
        (
            json!({"DeliveryStreamName": "s", "Surprise": 1, "ExtendedS3DestinationConfiguration": s3(json!({}))}),
            "SerializationException",
            "Surprise",
        ),
        (
            create_body("s", json!({"Surprise": 1})),
            "SerializationException",
            "Surprise",
        ),
    ];
    for (body, kind, mentions) in cases {
        let (status, answer) = fixture.call("CreateDeliveryStream", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["__type"], kind, "{body} → {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(mentions),
            "{body} → {answer}"
        );
    }
    assert!(fixture.stored().await.is_empty());

    // An existing name, and a missing stream, in AWS's words.
    let (status, _) = fixture
        .call("CreateDeliveryStream", create_body("s", json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = fixture
        .call(
            "CreateDeliveryStream",
            create_body("s", json!({"Prefix": "x/"})),
        )
        .await;
    assert_eq!(body["__type"], "ResourceInUseException");
    assert_eq!(
        body["message"],
        "Firehose s under accountId 123456789012 already exists"
    );
    for action in [
        "DescribeDeliveryStream",
        "DeleteDeliveryStream",
        "ListTagsForDeliveryStream",
    ] {
        let (status, body) = fixture
            .call(action, json!({"DeliveryStreamName": "missing"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{action}");
        assert_eq!(body["__type"], "ResourceNotFoundException", "{action}");
        assert_eq!(
            body["message"],
            "Firehose missing under account 123456789012 not found."
        );
    }
    let (_, body) = fixture
        .call("ListDeliveryStreams", json!({"Limit": 0}))
        .await;
    assert_eq!(body["__type"], "ValidationException");
    let (_, body) = fixture.call("PutRecordBatch", json!({})).await;
    assert_eq!(body["__type"], "UnknownOperationException");
    let stored = fixture.stored().await;
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].3.contains("x/"),
        "the refused create changed nothing"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_delivery_stream_quota_is_a_limit_exceeded_exception(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    fixture
        .store
        .set_quotas(
            TenantId(fixture.tenant_id),
            QuotaChange {
                delivery_streams: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, _) = fixture
        .call("CreateDeliveryStream", create_body("one", json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = fixture
        .call("CreateDeliveryStream", create_body("two", json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["__type"], "LimitExceededException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("delivery stream limit for the account 123456789012"),
        "{body}"
    );
    assert_eq!(fixture.stored().await.len(), 1);
    let usage = fixture
        .store
        .usage(TenantId(fixture.tenant_id))
        .await
        .unwrap();
    assert_eq!(usage.delivery_stream_count, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn update_destination_checks_the_version_and_merges(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    fixture
        .call(
            "CreateDeliveryStream",
            create_body(
                "s",
                json!({"Prefix": "a/", "BufferingHints": {"SizeInMBs": 10}}),
            ),
        )
        .await;
    let update = |version: &str, destination: &str, change: Value| {
        json!({
            "DeliveryStreamName": "s",
            "CurrentDeliveryStreamVersionId": version,
            "DestinationId": destination,
            "ExtendedS3DestinationUpdate": change,
        })
    };
    let (_, body) = fixture
        .call(
            "UpdateDestination",
            update("1", "destinationId-000000000001", json!({"Prefix": "b/"})),
        )
        .await;
    assert_eq!(body["__type"], "ResourceInUseException", "CREATING: {body}");
    fixture.mark_active().await;
    let (status, body) = fixture
        .call(
            "UpdateDestination",
            update(
                "1",
                "destinationId-000000000001",
                json!({"Prefix": "b/", "BufferingHints": {"IntervalInSeconds": 60}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The same version again is stale now.
    let (_, body) = fixture
        .call(
            "UpdateDestination",
            update("1", "destinationId-000000000001", json!({"Prefix": "c/"})),
        )
        .await;
    assert_eq!(body["__type"], "ConcurrentModificationException", "{body}");
    let (_, body) = fixture
        .call(
            "UpdateDestination",
            update("2", "destinationId-000000000009", json!({"Prefix": "c/"})),
        )
        .await;
    assert_eq!(body["__type"], "InvalidArgumentException", "{body}");
    let (_, body) = fixture
        .call(
            "UpdateDestination",
            update(
                "2",
                "destinationId-000000000001",
                json!({"BufferingHints": {"SizeInMBs": 500}}),
            ),
        )
        .await;
    assert_eq!(body["__type"], "ValidationException", "{body}");
    let (_, body) = fixture
        .call(
            "UpdateDestination",
            update("x", "destinationId-000000000001", json!({})),
        )
        .await;
    assert_eq!(body["__type"], "ValidationException", "{body}");

    let (_, body) = fixture
        .call("DescribeDeliveryStream", json!({"DeliveryStreamName": "s"}))
        .await;
    let description = &body["DeliveryStreamDescription"];
    assert_eq!(description["VersionId"], "2");
    assert!(description["LastUpdateTimestamp"].as_f64().is_some());
    let extended = &description["Destinations"][0]["ExtendedS3DestinationDescription"];
    assert_eq!(extended["Prefix"], "b/");
    assert_eq!(
        extended["BufferingHints"],
        json!({"SizeInMBs": 10, "IntervalInSeconds": 60})
    );
    let stored = fixture.stored().await;
    assert_eq!(stored[0].2, 2);
    let spec: fjord_common::firehose::DestinationSpec = serde_json::from_str(&stored[0].3).unwrap();
    let target = spec.target.bucket().clone();
    assert_eq!(
        (target.prefix.as_str(), target.buffering.interval_seconds),
        ("b/", 60)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn tags_follow_the_aws_rules(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    fixture
        .call("CreateDeliveryStream", create_body("s", json!({})))
        .await;
    let tags: Vec<Value> = (0..3)
        .map(|i| json!({"Key": format!("k{i}"), "Value": format!("v{i}")}))
        .collect();
    let (status, body) = fixture
        .call(
            "TagDeliveryStream",
            json!({"DeliveryStreamName": "s", "Tags": tags}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = fixture
        .call(
            "ListTagsForDeliveryStream",
            json!({"DeliveryStreamName": "s", "Limit": 2}),
        )
        .await;
    assert_eq!(
        body,
        json!({"Tags": [{"Key": "k0", "Value": "v0"}, {"Key": "k1", "Value": "v1"}], "HasMoreTags": true})
    );
    let (_, body) = fixture
        .call(
            "ListTagsForDeliveryStream",
            json!({"DeliveryStreamName": "s", "ExclusiveStartTagKey": "k1"}),
        )
        .await;
    assert_eq!(
        body,
        json!({"Tags": [{"Key": "k2", "Value": "v2"}], "HasMoreTags": false})
    );
    let (status, _) = fixture
        .call(
            "UntagDeliveryStream",
            json!({"DeliveryStreamName": "s", "TagKeys": ["k0", "absent"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // 48 more would make 50: fine; one more is over.
    let many: Vec<Value> = (0..48)
        .map(|i| json!({"Key": format!("m{i:02}"), "Value": ""}))
        .collect();
    let (status, _) = fixture
        .call(
            "TagDeliveryStream",
            json!({"DeliveryStreamName": "s", "Tags": many}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = fixture
        .call(
            "TagDeliveryStream",
            json!({"DeliveryStreamName": "s", "Tags": [{"Key": "over", "Value": ""}]}),
        )
        .await;
    assert_eq!(body["__type"], "LimitExceededException", "{body}");
    for bad in [
        json!({"DeliveryStreamName": "s", "Tags": []}),
        json!({"DeliveryStreamName": "s"}),
        json!({"DeliveryStreamName": "s", "Tags": [{"Key": "", "Value": ""}]}),
    ] {
        let (_, body) = fixture.call("TagDeliveryStream", bad.clone()).await;
        assert_eq!(body["__type"], "ValidationException", "{bad}");
    }
    let (_, body) = fixture
        .call(
            "ListTagsForDeliveryStream",
            json!({"DeliveryStreamName": "s", "Limit": 51}),
        )
        .await;
    assert_eq!(body["__type"], "ValidationException");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM delivery_stream_tags")
        .fetch_one(&fixture.pool)
        .await
        .unwrap();
    assert_eq!(count, 50);
}

#[sqlx::test(migrations = "../migrations")]
async fn another_tenant_sees_nothing(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    fixture
        .call("CreateDeliveryStream", create_body("s", json!({})))
        .await;
    let other = fixture
        .store
        .create_tenant("other", 10, 1, || "210987654321".to_owned())
        .await
        .unwrap();
    let (_, body) = fixture
        .call_as(other.id, "ListDeliveryStreams", json!({}))
        .await;
    assert_eq!(body["DeliveryStreamNames"], json!([]));
    for action in [
        "DescribeDeliveryStream",
        "DeleteDeliveryStream",
        "ListTagsForDeliveryStream",
    ] {
        let (_, body) = fixture
            .call_as(other.id, action, json!({"DeliveryStreamName": "s"}))
            .await;
        assert_eq!(body["__type"], "ResourceNotFoundException", "{action}");
    }
    // The same name is free in the other tenant.
    let (status, _) = fixture
        .call_as(
            other.id,
            "CreateDeliveryStream",
            create_body("s", json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_reconciler_provisions_publishes_and_deletes(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    let nats = nats::Nats::connect().await;
    let bucket = nats
        .jetstream
        .get_key_value(format!("fjord_{}_config", nats.prefix))
        .await
        .unwrap();
    // A Kinesis-sourced one needs its stream ACTIVE.
    let kinesis = KinesisAdmin {
        store: fixture.store.clone(),
        region: "us-east-1".to_owned(),
        tokens: TokenSigner::new([3; 32]),
        default_retention_hours: 24,
    };
    let caller = fjord_control_plane::kinesis::Caller {
        tenant_id: TenantId(fixture.tenant_id),
        account_id: ACCOUNT.to_owned(),
    };
    kinesis
        .handle(
            &caller,
            "CreateStream",
            br#"{"StreamName":"clicks","ShardCount":1}"#,
        )
        .await
        .unwrap();
    let source = json!({
        "DeliveryStreamName": "from-kinesis",
        "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {
            "KinesisStreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
            "RoleARN": ROLE,
        },
        "ExtendedS3DestinationConfiguration": s3(json!({})),
    });
    let (_, body) = fixture.call("CreateDeliveryStream", source.clone()).await;
    assert_eq!(
        body["__type"], "ResourceInUseException",
        "stream CREATING: {body}"
    );
    nats.reconcile(&fixture.store).await;
    let (status, body) = fixture.call("CreateDeliveryStream", source).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = fixture
        .call(
            "CreateDeliveryStream",
            create_body("events", json!({"CompressionFormat": "GZIP"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    nats.reconcile(&fixture.store).await;
    let stored = fixture.stored().await;
    assert!(
        stored.iter().all(|(_, status, _, _)| status == "ACTIVE"),
        "{stored:?}"
    );
    let row = fixture
        .store
        .delivery_stream_by_name(TenantId(fixture.tenant_id), "events")
        .await
        .unwrap()
        .unwrap();
    let mut stream = nats
        .jetstream
        .get_stream(nats.names.delivery_stream(row.id))
        .await
        .unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(
        info.config.subjects,
        vec![nats.names.delivery_subject(row.id)]
    );
    assert_eq!(info.config.max_age, std::time::Duration::from_secs(86_400));
    assert_eq!(
        info.config.storage,
        async_nats::jetstream::stream::StorageType::File
    );
    let entry = bucket
        .get(Names::delivery_stream_key(fixture.tenant_id, "events"))
        .await
        .unwrap()
        .expect("the spec is published");
    let spec: DeliveryStreamSpec = serde_json::from_slice(&entry).unwrap();
    assert!(spec.accepts_puts());
    assert_eq!(spec.version_id, 1);
    assert_eq!(spec.generation, row.generation);
    assert_eq!(spec.account_id, ACCOUNT);
    let entry = bucket
        .get(Names::delivery_stream_key(
            fixture.tenant_id,
            "from-kinesis",
        ))
        .await
        .unwrap()
        .expect("the Kinesis-sourced spec is published");
    let spec: DeliveryStreamSpec = serde_json::from_slice(&entry).unwrap();
    assert!(!spec.accepts_puts());
    assert!(matches!(
        spec.source,
        fjord_common::firehose::DeliverySource::KinesisStream { .. }
    ));
    // Describe shows the source.
    let (_, body) = fixture
        .call(
            "DescribeDeliveryStream",
            json!({"DeliveryStreamName": "from-kinesis"}),
        )
        .await;
    assert_eq!(
        body["DeliveryStreamDescription"]["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"],
        "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    );

    // An update republishes with the new version.
    let (status, body) = fixture
        .call(
            "UpdateDestination",
            json!({
                "DeliveryStreamName": "events",
                "CurrentDeliveryStreamVersionId": "1",
                "DestinationId": "destinationId-000000000001",
                "S3DestinationUpdate": {"CompressionFormat": "UNCOMPRESSED"},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    nats.reconcile(&fixture.store).await;
    let entry = bucket
        .get(Names::delivery_stream_key(fixture.tenant_id, "events"))
        .await
        .unwrap()
        .unwrap();
    let spec: DeliveryStreamSpec = serde_json::from_slice(&entry).unwrap();
    assert_eq!(spec.version_id, 2);
    let target = spec.destination.target.bucket().clone();
    assert_eq!(
        target.compression,
        fjord_common::firehose::Compression::Uncompressed
    );

    // Deleting withdraws the spec, the JetStream stream and the row; a second pass is a no-op.
    let (status, _) = fixture
        .call(
            "DeleteDeliveryStream",
            json!({"DeliveryStreamName": "events"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    nats.reconcile(&fixture.store).await;
    nats.reconcile(&fixture.store).await;
    assert!(
        bucket
            .get(Names::delivery_stream_key(fixture.tenant_id, "events"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        nats.jetstream
            .get_stream(nats.names.delivery_stream(row.id))
            .await
            .is_err()
    );
    let names: Vec<String> = fixture
        .stored()
        .await
        .into_iter()
        .map(|row| row.0)
        .collect();
    assert_eq!(names, ["from-kinesis"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_source_gone_before_provisioning_fails_creation(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    let nats = nats::Nats::connect().await;
    let kinesis = KinesisAdmin {
        store: fixture.store.clone(),
        region: "us-east-1".to_owned(),
        tokens: TokenSigner::new([3; 32]),
        default_retention_hours: 24,
    };
    let caller = fjord_control_plane::kinesis::Caller {
        tenant_id: TenantId(fixture.tenant_id),
        account_id: ACCOUNT.to_owned(),
    };
    kinesis
        .handle(
            &caller,
            "CreateStream",
            br#"{"StreamName":"clicks","ShardCount":1}"#,
        )
        .await
        .unwrap();
    nats.reconcile(&fixture.store).await;
    let (status, body) = fixture
        .call(
            "CreateDeliveryStream",
            json!({
                "DeliveryStreamName": "from-kinesis",
                "DeliveryStreamType": "KinesisStreamAsSource",
                "KinesisStreamSourceConfiguration": {
                    "KinesisStreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
                    "RoleARN": ROLE,
                },
                "ExtendedS3DestinationConfiguration": s3(json!({})),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The stream goes away before the reconciler provisions the delivery stream.
    sqlx::query("DELETE FROM streams WHERE tenant_id = $1")
        .bind(fixture.tenant_id)
        .execute(&fixture.pool)
        .await
        .unwrap();
    nats.reconcile(&fixture.store).await;
    let (_, body) = fixture
        .call(
            "DescribeDeliveryStream",
            json!({"DeliveryStreamName": "from-kinesis"}),
        )
        .await;
    let description = &body["DeliveryStreamDescription"];
    assert_eq!(
        description["DeliveryStreamStatus"], "CREATING_FAILED",
        "{body}"
    );
    assert!(description["FailureDescription"]["Type"].is_string());
    // A failed one can be deleted.
    let (status, _) = fixture
        .call(
            "DeleteDeliveryStream",
            json!({"DeliveryStreamName": "from-kinesis"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    nats.reconcile(&fixture.store).await;
    assert!(fixture.stored().await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_calls_are_client_errors_never_failures(pool: PgPool) {
    let fixture = Fixture::new(pool).await;
    let bodies = [
        json!([]),
        json!("text"),
        json!(7),
        json!({"DeliveryStreamName": 5}),
        json!({"DeliveryStreamName": "s", "ExtendedS3DestinationConfiguration": []}),
        json!({"DeliveryStreamName": "s", "ExtendedS3DestinationConfiguration": {"BufferingHints": "big"}}),
        json!({"DeliveryStreamName": "s", "Tags": {"a": "b"}}),
        json!({"DeliveryStreamName": "s", "Limit": "ten"}),
        json!({"DeliveryStreamName": "s", "TagKeys": [1]}),
        json!({"DeliveryStreamName": "s", "CurrentDeliveryStreamVersionId": 1}),
        json!({"DeliveryStreamName": "s", "S3DestinationUpdate": {"Bogus": true}}),
    ];
    for action in fjord_common::firehose::ADMIN_ACTIONS {
        for body in &bodies {
            let (status, answer) = fixture.call(action, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{action} {body}: {answer}");
            assert!(answer["__type"].is_string(), "{action} {body}: {answer}");
        }
    }
    assert!(fixture.stored().await.is_empty());

    // The Firehose route has the Kinesis route's guard.
    let app = router(InternalState {
        admin: KinesisAdmin {
            store: fixture.store.clone(),
            region: "us-east-1".to_owned(),
            tokens: TokenSigner::new([3; 32]),
            default_retention_hours: 24,
        },
        secret_box: None,
        internal_token: Arc::from(TOKEN),
    });
    let request = Request::post("/internal/v1/firehose/ListDeliveryStreams")
        .header("authorization", "Bearer wrong")
        .header("x-fjord-tenant-id", fixture.tenant_id.to_string())
        .header("x-fjord-account-id", ACCOUNT)
        .body(Body::from("{}"))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
