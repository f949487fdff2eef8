//! The internal API, driven with `oneshot` on a real Postgres (a fresh database per test).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fjord_common::token::TokenSigner;
use fjord_control_plane::http::{InternalState, router};
use fjord_control_plane::kinesis::KinesisAdmin;
use fjord_control_plane::store::Store;
use http_body_util::BodyExt as _;
use sqlx::PgPool;
use tower::ServiceExt as _;

const TOKEN: &str = "internal-token-for-tests-0123456789";

fn app(pool: PgPool) -> axum::Router {
    router(InternalState {
        admin: KinesisAdmin {
            store: Store::from_pool(pool),
            region: "us-east-1".to_owned(),
            tokens: TokenSigner::new([3; 32]),
            default_retention_hours: 24,
        },
        secret_box: None,
        internal_token: Arc::from(TOKEN),
    })
}

fn call(action: &str, token: Option<&str>, tenant: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(format!("/internal/v1/kinesis/{action}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(tenant) = tenant {
        request = request
            .header("x-fjord-tenant-id", tenant)
            .header("x-fjord-account-id", "123456789012");
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

async fn json(response: axum::response::Response) -> serde_json::Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}

#[sqlx::test(migrations = "../migrations")]
async fn calls_without_the_internal_token_are_refused(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let tenant = store
        .create_tenant("acme", 10, 1, || "123456789012".to_owned())
        .await
        .unwrap();
    let tenant_id = tenant.id.to_string();

    for token in [None, Some("wrong-token"), Some("")] {
        let response = app(pool.clone())
            .oneshot(call(
                "CreateStream",
                token,
                Some(&tenant_id),
                r#"{"StreamName":"s","ShardCount":1}"#,
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
    }
    let response = app(pool.clone())
        .oneshot(call("ListStreams", Some(TOKEN), None, "{}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Nothing was created by the refused calls.
    let response = app(pool.clone())
        .oneshot(call("ListStreams", Some(TOKEN), Some(&tenant_id), "{}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["StreamNames"], serde_json::json!([]));
}

#[sqlx::test(migrations = "../migrations")]
async fn actions_answer_in_the_aws_shape(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let tenant = store
        .create_tenant("acme", 10, 1, || "123456789012".to_owned())
        .await
        .unwrap();
    let tenant_id = tenant.id.to_string();
    let response = app(pool.clone())
        .oneshot(call(
            "CreateStream",
            Some(TOKEN),
            Some(&tenant_id),
            r#"{"StreamName":"s","ShardCount":2}"#,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app(pool.clone())
        .oneshot(call(
            "DescribeStreamSummary",
            Some(TOKEN),
            Some(&tenant_id),
            r#"{"StreamName":"s"}"#,
        ))
        .await
        .unwrap();
    let body = json(response).await;
    assert_eq!(body["StreamDescriptionSummary"]["StreamStatus"], "CREATING");
    assert_eq!(body["StreamDescriptionSummary"]["OpenShardCount"], 2);
    assert_eq!(
        body["StreamDescriptionSummary"]["StreamARN"],
        "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    );
    let response = app(pool.clone())
        .oneshot(call(
            "CreateStream",
            Some(TOKEN),
            Some(&tenant_id),
            r#"{"StreamName":"t","ShardCount":9}"#,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response).await["__type"], "LimitExceededException");
    let response = app(pool)
        .oneshot(call("NoSuchAction", Some(TOKEN), Some(&tenant_id), "{}"))
        .await
        .unwrap();
    assert_eq!(json(response).await["__type"], "UnknownOperationException");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_stream_count_quota_is_a_limit_exceeded_exception(pool: PgPool) {
    use fjord_control_plane::store::TenantId;
    use fjord_control_plane::store::quotas::QuotaChange;
    let store = Store::from_pool(pool.clone());
    let tenant = store
        .create_tenant("acme", 10, 1, || "123456789012".to_owned())
        .await
        .unwrap();
    store
        .set_quotas(
            TenantId(tenant.id),
            QuotaChange {
                streams: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tenant_id = tenant.id.to_string();
    let create = |name: &str| {
        call(
            "CreateStream",
            Some(TOKEN),
            Some(&tenant_id),
            &format!(r#"{{"StreamName":"{name}","ShardCount":1}}"#),
        )
    };
    for name in ["one", "two"] {
        let response = app(pool.clone()).oneshot(create(name)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
    }
    let response = app(pool.clone()).oneshot(create("three")).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["__type"], "LimitExceededException", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("stream count limit for the account 123456789012")
            && message.contains("Limit: 2"),
        "{message}"
    );
    // Nothing was created; DescribeLimits keeps AWS's shape.
    let response = app(pool.clone())
        .oneshot(call("ListStreams", Some(TOKEN), Some(&tenant_id), "{}"))
        .await
        .unwrap();
    assert_eq!(
        json(response).await["StreamNames"],
        serde_json::json!(["one", "two"])
    );
    let response = app(pool.clone())
        .oneshot(call("DescribeLimits", Some(TOKEN), Some(&tenant_id), "{}"))
        .await
        .unwrap();
    assert_eq!(
        json(response).await,
        serde_json::json!({
            "ShardLimit": 10,
            "OpenShardCount": 2,
            "OnDemandStreamCount": 0,
            "OnDemandStreamCountLimit": 1,
        })
    );
}
