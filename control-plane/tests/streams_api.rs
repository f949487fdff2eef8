//! The stream endpoints, driven with `oneshot` on a real Postgres (a fresh database per test):
//! the happy paths, each role's allowed and forbidden calls, bad input (a problem, nothing
//! stored), quotas, pagination and the audit trail. Cross-tenant checks are in `isolation.rs`.

#[path = "support/rest.rs"]
mod rest;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::quotas::{Quota, QuotaChange};
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, StoreError, TenantId};
use rest::{Answer, assert_problem};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const SESSION_KEY: [u8; 32] = [9; 32];

struct TestApp {
    router: axum::Router,
    pool: PgPool,
    acme: TenantId,
    globex: TenantId,
    /// One member per tenant and role: tokens are only honoured for members.
    members: Vec<(TenantId, Role, UserId)>,
}

impl TestApp {
    /// Two tenants; acme may have 10 shards and 1 on-demand stream.
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool.clone());
        let state = ApiState::new(
            store.clone(),
            SessionKeys::new(SESSION_KEY),
            RateLimitPolicy::default(),
        )
        .unwrap();
        let acme = store
            .create_tenant("acme", 10, 1, || "123456789012".to_owned())
            .await
            .unwrap();
        let globex = store
            .create_tenant("globex", 10, 1, || "210987654321".to_owned())
            .await
            .unwrap();
        let mut members = Vec::new();
        for tenant in [TenantId(acme.id), TenantId(globex.id)] {
            for role in Role::ALL {
                let email = format!("{role}-{}@example.com", tenant.0.simple());
                let user = store
                    .create_user(&email, "$argon2id$unused", false)
                    .await
                    .unwrap();
                store
                    .put_membership(tenant, UserId(user.id), role)
                    .await
                    .unwrap();
                members.push((tenant, role, UserId(user.id)));
            }
        }
        Self {
            router: api::router(state),
            pool,
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
            members,
        }
    }

    fn token(&self, tenant: TenantId, role: Role) -> String {
        let user = self
            .members
            .iter()
            .find(|(member_tenant, member_role, _)| {
                *member_tenant == tenant && *member_role == role
            })
            .map(|(_, _, user)| *user)
            .unwrap_or(UserId(Uuid::now_v7()));
        SessionKeys::new(SESSION_KEY)
            .issue(user, tenant, role, 0, Utc::now())
            .unwrap()
            .token
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        rest::send(&self.router, request).await
    }

    async fn raw(&self, token: &str, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
        rest::raw(&self.router, token, method, path, body).await
    }

    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.raw(
            token,
            method,
            path,
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    async fn create(&self, token: &str, body: Value) -> Answer {
        self.call(token, "POST", "/streams", Some(body)).await
    }

    /// Creates a provisioned stream of `shards` shards in `tenant` and makes it `ACTIVE`, as
    /// the reconciler would.
    async fn active_stream(&self, tenant: TenantId, name: &str, shards: u32) {
        let developer = self.token(tenant, Role::Developer);
        let answer = self
            .create(
                &developer,
                json!({"name": name, "mode": "provisioned", "shard_count": shards}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        self.activate(name).await;
    }

    async fn activate(&self, name: &str) {
        sqlx::query("UPDATE streams SET status = 'ACTIVE' WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    async fn count_streams(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM streams")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn create_describe_list_and_delete(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);

    let created = app
        .create(
            &developer,
            json!({"name": "orders", "mode": "provisioned", "shard_count": 2,
                   "retention_hours": 48, "tags": {"team": "payments"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let body = &created.body;
    assert_eq!(body["name"], "orders");
    assert_eq!(
        body["arn"],
        "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
    );
    assert_eq!(body["status"], "CREATING");
    assert_eq!(body["mode"], "provisioned");
    assert_eq!(body["retention_hours"], 48);
    assert_eq!(body["open_shard_count"], 2);
    assert_eq!(body["tags"], json!({"team": "payments"}));
    let shards = body["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    assert_eq!(shards[0]["shard_id"], "shardId-000000000000");
    assert_eq!(shards[0]["starting_hash_key"], "0");
    assert_eq!(
        shards[1]["ending_hash_key"],
        "340282366920938463463374607431768211455"
    );
    assert_eq!(shards[0]["open"], true);
    assert!(shards[0].get("ending_sequence_number").is_none());
    assert!(shards[0]["starting_sequence_number"].as_str().is_some());

    let described = app.call(&developer, "GET", "/streams/orders", None).await;
    assert_eq!(described.status, StatusCode::OK, "{}", described.body);
    assert_eq!(described.body, created.body);

    let list = app.call(&developer, "GET", "/streams", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["name"], "orders");
    assert_eq!(list.body["items"][0]["status"], "CREATING");
    assert_eq!(list.body["next_cursor"], Value::Null);

    // Not yet ACTIVE: cannot be deleted.
    let early = app
        .call(&developer, "DELETE", "/streams/orders", None)
        .await;
    assert_problem(&early, StatusCode::CONFLICT);

    app.activate("orders").await;
    let deleted = app
        .call(&developer, "DELETE", "/streams/orders", None)
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    assert_eq!(deleted.body["status"], "DELETING");
    let again = app
        .call(&developer, "DELETE", "/streams/orders", None)
        .await;
    assert_problem(&again, StatusCode::CONFLICT);

    let missing = app.call(&developer, "GET", "/streams/nothing", None).await;
    assert_problem(&missing, StatusCode::NOT_FOUND);
    let missing = app
        .call(&developer, "DELETE", "/streams/nothing", None)
        .await;
    assert_problem(&missing, StatusCode::NOT_FOUND);

    let duplicate = app
        .create(
            &developer,
            json!({"name": "orders", "mode": "provisioned", "shard_count": 1}),
        )
        .await;
    assert_problem(&duplicate, StatusCode::CONFLICT);

    let on_demand = app
        .create(&developer, json!({"name": "clicks", "mode": "on_demand"}))
        .await;
    assert_eq!(on_demand.status, StatusCode::CREATED, "{}", on_demand.body);
    assert_eq!(on_demand.body["mode"], "on_demand");
    assert_eq!(on_demand.body["retention_hours"], 24);
    assert_eq!(on_demand.body["shards"].as_array().unwrap().len(), 4);
}

#[sqlx::test(migrations = "../migrations")]
async fn viewers_read_and_developers_and_up_write(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, "orders", 1).await;
    let viewer = app.token(app.acme, Role::Viewer);
    for path in ["/streams", "/streams/orders", "/limits"] {
        let answer = app.call(&viewer, "GET", path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    }
    let writes: [(&str, &str, Option<Value>); 5] = [
        (
            "POST",
            "/streams",
            Some(json!({"name": "x", "mode": "provisioned", "shard_count": 1})),
        ),
        ("DELETE", "/streams/orders", None),
        (
            "PUT",
            "/streams/orders/retention",
            Some(json!({"retention_hours": 48})),
        ),
        (
            "PUT",
            "/streams/orders/tags",
            Some(json!({"tags": {"a": "b"}})),
        ),
        ("DELETE", "/streams/orders/tags/a", None),
    ];
    for (method, path, body) in &writes {
        let answer = app.call(&viewer, method, path, body.clone()).await;
        assert_problem(&answer, StatusCode::FORBIDDEN);
        assert_eq!(answer.body["type"], "urn:fjord:problem:forbidden");
    }
    assert_eq!(app.count_streams().await, 1);

    for (index, role) in [Role::Developer, Role::Admin, Role::Owner]
        .into_iter()
        .enumerate()
    {
        let token = app.token(app.acme, role);
        let name = format!("s{index}");
        let created = app
            .create(
                &token,
                json!({"name": name, "mode": "provisioned", "shard_count": 1}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{role:?}");
        app.activate(&name).await;
        let path = format!("/streams/{name}");
        let tagged = app
            .call(
                &token,
                "PUT",
                &format!("{path}/tags"),
                Some(json!({"tags": {"a": "b"}})),
            )
            .await;
        assert_eq!(tagged.status, StatusCode::OK, "{role:?}");
        let untagged = app
            .call(&token, "DELETE", &format!("{path}/tags/a"), None)
            .await;
        assert_eq!(untagged.status, StatusCode::NO_CONTENT, "{role:?}");
        let retention = app
            .call(
                &token,
                "PUT",
                &format!("{path}/retention"),
                Some(json!({"retention_hours": 72})),
            )
            .await;
        assert_eq!(retention.status, StatusCode::OK, "{role:?}");
        app.activate(&name).await;
        let deleted = app.call(&token, "DELETE", &path, None).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED, "{role:?}");
    }

    let anonymous = app
        .send(Request::get("/api/v1/streams").body(Body::empty()).unwrap())
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_input_gets_problems_and_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);
    let long_name = "a".repeat(129);
    let too_many_tags: serde_json::Map<String, Value> = (0..51)
        .map(|index| (format!("k{index}"), json!("v")))
        .collect();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "bad name", "mode": "provisioned", "shard_count": 1}),
            "'name'",
        ),
        (
            json!({"name": "x'; DROP TABLE streams; --", "mode": "provisioned", "shard_count": 1}),
            "'name'",
        ),
        (
            json!({"name": long_name, "mode": "provisioned", "shard_count": 1}),
            "'name'",
        ),
        (
            json!({"name": "", "mode": "provisioned", "shard_count": 1}),
            "'name'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 0}),
            "'shard_count'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 100001}),
            "'shard_count'",
        ),
        (json!({"name": "s", "mode": "provisioned"}), "'shard_count'"),
        (
            json!({"name": "s", "mode": "on_demand", "shard_count": 2}),
            "'shard_count'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 1, "retention_hours": 23}),
            "'retention_hours'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 1, "retention_hours": 8761}),
            "'retention_hours'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 1, "tags": {"": "v"}}),
            "'tags.key'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 1, "tags": too_many_tags}),
            "'tags'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 1, "extra": true}),
            "unknown field",
        ),
        (
            json!({"name": "s", "mode": "sometimes", "shard_count": 1}),
            "unknown variant",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": "two"}),
            "invalid type",
        ),
        (json!({"mode": "provisioned", "shard_count": 1}), "name"),
        (
            json!({"name": "s\0", "mode": "provisioned", "shard_count": 1}),
            "'name'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 1, "tags": {"k": "a\0b"}}),
            "'tags.value'",
        ),
        (
            json!({"name": "s", "mode": "provisioned", "shard_count": 1, "tags": {"\0": "v"}}),
            "'tags.key'",
        ),
    ];
    for (body, expected) in cases {
        let answer = app.create(&developer, body.clone()).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    for raw in [
        b"{not json".to_vec(),
        b"".to_vec(),
        b"{\"name\": \"\xff\xfe\", \"mode\": \"provisioned\", \"shard_count\": 1}".to_vec(),
    ] {
        let answer = app.raw(&developer, "POST", "/streams", Some(raw)).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
    let oversize = vec![b' '; 70 * 1024];
    let answer = app
        .raw(&developer, "POST", "/streams", Some(oversize))
        .await;
    assert_problem(&answer, StatusCode::PAYLOAD_TOO_LARGE);
    let form = app
        .send(
            Request::post("/api/v1/streams")
                .header(header::AUTHORIZATION, format!("Bearer {developer}"))
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("name=s"))
                .unwrap(),
        )
        .await;
    assert_problem(&form, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count_streams().await, 0);

    // Malformed names in paths name no stream.
    for path in ["/streams/a%20b", "/streams/x'%3B%20DROP%20TABLE%20streams"] {
        let answer = app.call(&developer, "GET", path, None).await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
    }
    let path = format!("/streams/{long_name}");
    assert_problem(
        &app.call(&developer, "GET", &path, None).await,
        StatusCode::NOT_FOUND,
    );

    // Bad changes to an existing stream.
    app.active_stream(app.acme, "orders", 1).await;
    for hours in [23, 8761, -1] {
        let answer = app
            .call(
                &developer,
                "PUT",
                "/streams/orders/retention",
                Some(json!({"retention_hours": hours})),
            )
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        assert!(
            answer.body["detail"]
                .as_str()
                .unwrap()
                .contains("retention_hours")
        );
    }
    for body in [
        json!({"tags": {}}),
        json!({"tags": {"k": "v".repeat(257)}}),
        json!({"tags": {"k": "v"}, "more": 1}),
        json!({"labels": {"k": "v"}}),
        json!({"tags": {"k\0": "v"}}),
    ] {
        let answer = app
            .call(
                &developer,
                "PUT",
                "/streams/orders/tags",
                Some(body.clone()),
            )
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
    let nul_key = app
        .call(&developer, "DELETE", "/streams/orders/tags/a%00b", None)
        .await;
    assert_problem(&nul_key, StatusCode::BAD_REQUEST);
    let list = app.call(&developer, "GET", "/streams?limit=0", None).await;
    assert_problem(&list, StatusCode::BAD_REQUEST);
    let list = app
        .call(&developer, "GET", "/streams?cursor=forged", None)
        .await;
    assert_problem(&list, StatusCode::BAD_REQUEST);
    let list = app.call(&developer, "GET", "/streams?page=2", None).await;
    assert_problem(&list, StatusCode::BAD_REQUEST);
    let stored: (i32, i64) = sqlx::query_as(
        "SELECT s.retention_hours, (SELECT count(*) FROM stream_tags) FROM streams s",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, (24, 0));
}

#[sqlx::test(migrations = "../migrations")]
async fn quotas_are_403_problems_and_limits_report_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);
    let too_many = app
        .create(
            &developer,
            json!({"name": "big", "mode": "provisioned", "shard_count": 11}),
        )
        .await;
    assert_problem(&too_many, StatusCode::FORBIDDEN);
    assert_eq!(too_many.body["type"], "urn:fjord:problem:quota-exceeded");
    let detail = too_many.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("shard limit") && detail.contains("123456789012"),
        "{detail}"
    );

    let first = app
        .create(&developer, json!({"name": "od1", "mode": "on_demand"}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = app
        .create(&developer, json!({"name": "od2", "mode": "on_demand"}))
        .await;
    assert_problem(&second, StatusCode::FORBIDDEN);
    assert_eq!(second.body["type"], "urn:fjord:problem:quota-exceeded");
    assert_eq!(app.count_streams().await, 1);

    let limits = app.call(&developer, "GET", "/limits", None).await;
    assert_eq!(limits.status, StatusCode::OK, "{}", limits.body);
    assert_eq!(
        limits.body,
        json!({"stream_limit": 500, "stream_count": 1,
               "shard_limit": 10, "open_shard_count": 4,
               "on_demand_stream_limit": 1, "on_demand_stream_count": 1,
               "delivery_stream_limit": 50, "delivery_stream_count": 0,
               "app_limit": 50, "app_count": 0,
               "write_records_per_second": null, "write_bytes_per_second": null})
    );
    // Another tenant's usage is its own.
    let globex = app.token(app.globex, Role::Viewer);
    let theirs = app.call(&globex, "GET", "/limits", None).await;
    assert_eq!(theirs.body["open_shard_count"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_stream_count_quota_holds_under_concurrent_creates(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let store = Store::from_pool(app.pool.clone());
    let developer = app.token(app.acme, Role::Developer);
    store
        .set_quotas(
            app.acme,
            QuotaChange {
                streams: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Ten creates at once, one shard each (well within the 10-shard quota): exactly three win.
    let answers = futures::future::join_all((0..10).map(|index| {
        app.create(
            &developer,
            json!({"name": format!("s{index}"), "mode": "provisioned", "shard_count": 1}),
        )
    }))
    .await;
    let created = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 3, "{answers:?}");
    for refused in answers
        .iter()
        .filter(|answer| answer.status != StatusCode::CREATED)
    {
        assert_problem(refused, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["type"], "urn:fjord:problem:quota-exceeded");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("stream count limit") && detail.contains("123456789012"),
            "{detail}"
        );
    }
    assert_eq!(app.count_streams().await, 3);

    // Lowering the quota below usage keeps the streams and refuses the next create.
    store
        .set_quotas(
            app.acme,
            QuotaChange {
                streams: Some(1),
                write_records_per_second: Some(Some(50)),
                write_bytes_per_second: Some(Some(65536)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let refused = app
        .create(
            &developer,
            json!({"name": "late", "mode": "provisioned", "shard_count": 1}),
        )
        .await;
    assert_problem(&refused, StatusCode::FORBIDDEN);
    assert_eq!(app.count_streams().await, 3);
    let limits = app.call(&developer, "GET", "/limits", None).await;
    assert_eq!(limits.body["stream_limit"], 1);
    assert_eq!(limits.body["stream_count"], 3);
    assert_eq!(limits.body["write_records_per_second"], 50);
    assert_eq!(limits.body["write_bytes_per_second"], 65536);
    // Another tenant is not affected.
    let theirs = app
        .create(
            &app.token(app.globex, Role::Developer),
            json!({"name": "late", "mode": "provisioned", "shard_count": 1}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn delivery_stream_and_app_quotas_are_checked_against_the_tenant_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let store = Store::from_pool(app.pool.clone());
    // Defaults: 50 of each, none used yet.
    store
        .check_quota(app.acme, Quota::DeliveryStreams, 50)
        .await
        .unwrap();
    assert!(matches!(
        store.check_quota(app.acme, Quota::Apps, 51).await,
        Err(StoreError::QuotaExceeded(message)) if message.contains("application limit")
    ));
    let updated = store
        .set_quotas(
            app.acme,
            QuotaChange {
                delivery_streams: Some(0),
                apps: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((updated.delivery_stream_limit, updated.app_limit), (0, 2));
    assert!(matches!(
        store.check_quota(app.acme, Quota::DeliveryStreams, 1).await,
        Err(StoreError::QuotaExceeded(message)) if message.contains("delivery stream limit")
    ));
    store.check_quota(app.acme, Quota::Apps, 2).await.unwrap();
    assert!(store.check_quota(app.acme, Quota::Apps, 3).await.is_err());
    // Only acme changed.
    store
        .check_quota(app.globex, Quota::DeliveryStreams, 1)
        .await
        .unwrap();
    assert!(matches!(
        store
            .check_quota(TenantId(Uuid::now_v7()), Quota::Apps, 1)
            .await,
        Err(StoreError::NotFound)
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn changed_quotas_wait_for_publication(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let store = Store::from_pool(app.pool.clone());
    let pending = store.unpublished_tenants().await.unwrap();
    assert_eq!(pending.len(), 2, "new tenants are published once");
    for tenant in &pending {
        store
            .mark_tenant_published(TenantId(tenant.id), tenant.generation)
            .await
            .unwrap();
    }
    assert!(store.tenant_published(app.acme).await.unwrap());
    let updated = store
        .set_quotas(
            app.acme,
            QuotaChange {
                write_records_per_second: Some(Some(10)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!store.tenant_published(app.acme).await.unwrap());
    let pending = store.unpublished_tenants().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].write_records_per_second, Some(10));
    // A stale generation does not mark the newer one published.
    store
        .mark_tenant_published(app.acme, updated.generation - 1)
        .await
        .unwrap();
    assert!(!store.tenant_published(app.acme).await.unwrap());
    store
        .mark_tenant_published(app.acme, updated.generation)
        .await
        .unwrap();
    assert!(store.tenant_published(app.acme).await.unwrap());
    // Back to unlimited.
    let unlimited = store
        .set_quotas(
            app.acme,
            QuotaChange {
                write_records_per_second: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(unlimited.write_records_per_second, None);
    assert!(unlimited.quotas().write_rate().is_unlimited());
}

#[sqlx::test(migrations = "../migrations")]
async fn retention_goes_up_and_down_and_tags_change(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);
    app.active_stream(app.acme, "orders", 1).await;

    let up = app
        .call(
            &developer,
            "PUT",
            "/streams/orders/retention",
            Some(json!({"retention_hours": 8760})),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    assert_eq!(up.body["retention_hours"], 8760);
    assert_eq!(up.body["status"], "UPDATING");
    // While UPDATING, another change waits.
    let busy = app
        .call(
            &developer,
            "PUT",
            "/streams/orders/retention",
            Some(json!({"retention_hours": 24})),
        )
        .await;
    assert_problem(&busy, StatusCode::CONFLICT);
    app.activate("orders").await;
    let down = app
        .call(
            &developer,
            "PUT",
            "/streams/orders/retention",
            Some(json!({"retention_hours": 24})),
        )
        .await;
    assert_eq!(down.status, StatusCode::OK, "{}", down.body);
    assert_eq!(down.body["retention_hours"], 24);

    let tagged = app
        .call(
            &developer,
            "PUT",
            "/streams/orders/tags",
            Some(json!({"tags": {"team": "payments", "tier": "gold"}})),
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.body);
    assert_eq!(
        tagged.body,
        json!({"tags": {"team": "payments", "tier": "gold"}})
    );
    let overwritten = app
        .call(
            &developer,
            "PUT",
            "/streams/orders/tags",
            Some(json!({"tags": {"tier": "silver"}})),
        )
        .await;
    assert_eq!(
        overwritten.body,
        json!({"tags": {"team": "payments", "tier": "silver"}})
    );
    let removed = app
        .call(&developer, "DELETE", "/streams/orders/tags/team", None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let absent = app
        .call(&developer, "DELETE", "/streams/orders/tags/team", None)
        .await;
    assert_eq!(absent.status, StatusCode::NO_CONTENT);
    let described = app.call(&developer, "GET", "/streams/orders", None).await;
    assert_eq!(described.body["tags"], json!({"tier": "silver"}));

    // 50 tags at most in all.
    let many: serde_json::Map<String, Value> = (0..50)
        .map(|index| (format!("k{index}"), json!("v")))
        .collect();
    let full = app
        .call(
            &developer,
            "PUT",
            "/streams/orders/tags",
            Some(json!({"tags": many})),
        )
        .await;
    assert_problem(&full, StatusCode::BAD_REQUEST);
    assert!(full.body["detail"].as_str().unwrap().contains("50"));
    let described = app.call(&developer, "GET", "/streams/orders", None).await;
    assert_eq!(described.body["tags"], json!({"tier": "silver"}));
}

#[sqlx::test(migrations = "../migrations")]
async fn streams_are_listed_in_pages_bound_to_the_tenant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);
    for name in ["e", "c", "a", "d", "b"] {
        let answer = app
            .create(
                &developer,
                json!({"name": name, "mode": "provisioned", "shard_count": 1}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    app.active_stream(app.globex, "globex-only", 1).await;

    let mut names = Vec::new();
    let mut path = "/streams?limit=2".to_owned();
    let mut first_cursor = None;
    loop {
        let page = app.call(&developer, "GET", &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        names.extend(
            items
                .iter()
                .map(|item| item["name"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                first_cursor.get_or_insert_with(|| cursor.to_owned());
                path = format!("/streams?limit=2&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);

    // A cursor of one tenant means nothing to another.
    let globex = app.token(app.globex, Role::Admin);
    let stolen = app
        .call(
            &globex,
            "GET",
            &format!("/streams?cursor={}", first_cursor.unwrap()),
            None,
        )
        .await;
    assert_problem(&stolen, StatusCode::BAD_REQUEST);
    let theirs = app.call(&globex, "GET", "/streams", None).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(theirs.body["items"][0]["name"], "globex-only");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_list_counts_open_shards_as_describe_does(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);
    app.active_stream(app.acme, "provisioned", 3).await;
    let on_demand = app
        .create(
            &developer,
            json!({"name": "on-demand", "mode": "on_demand"}),
        )
        .await;
    assert_eq!(on_demand.status, StatusCode::CREATED, "{}", on_demand.body);
    app.active_stream(app.acme, "resharded", 2).await;
    // A reshard closed one of its shards: it is still listed by describe, but not open.
    sqlx::query(
        "UPDATE shards SET ending_sequence_number = '49000000000000000000000000000000000000000000000000000000'
         WHERE shard_index = 0
           AND stream_id = (SELECT id FROM streams WHERE name = 'resharded')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // Another tenant's shards count only for its own stream.
    app.active_stream(app.globex, "provisioned", 5).await;

    let list = app.call(&developer, "GET", "/streams", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let counts: Vec<(String, Value)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["name"].as_str().unwrap().to_owned(),
                item["open_shard_count"].clone(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("on-demand".to_owned(), json!(4)),
            ("provisioned".to_owned(), json!(3)),
            ("resharded".to_owned(), json!(1)),
        ]
    );
    for (name, count) in &counts {
        let described = app
            .call(&developer, "GET", &format!("/streams/{name}"), None)
            .await;
        assert_eq!(described.status, StatusCode::OK, "{}", described.body);
        assert_eq!(&described.body["open_shard_count"], count, "{name}");
    }
    let resharded = app
        .call(&developer, "GET", "/streams/resharded", None)
        .await;
    assert_eq!(resharded.body["shards"].as_array().unwrap().len(), 2);

    // Deleting answers the summary too, with the same count.
    let deleted = app
        .call(&developer, "DELETE", "/streams/provisioned", None)
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    assert_eq!(deleted.body["open_shard_count"], 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn changes_are_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);
    let viewer = app.token(app.acme, Role::Viewer);
    app.active_stream(app.acme, "orders", 1).await;
    app.call(
        &developer,
        "PUT",
        "/streams/orders/tags",
        Some(json!({"tags": {"a": "b"}})),
    )
    .await;
    app.call(&developer, "DELETE", "/streams/orders/tags/a", None)
        .await;
    app.call(
        &developer,
        "PUT",
        "/streams/orders/retention",
        Some(json!({"retention_hours": 48})),
    )
    .await;
    app.call(&viewer, "DELETE", "/streams/orders", None).await;
    app.call(&developer, "GET", "/streams/orders", None).await;

    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT action, resource, outcome, error_code FROM audit_log
         WHERE tenant_id = $1 ORDER BY occurred_at, id",
    )
    .bind(app.acme.0)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let expected = [
        ("streams:Create", "success", None),
        ("streams:AddTags", "success", None),
        ("streams:RemoveTag", "success", None),
        ("streams:SetRetention", "success", None),
        ("streams:Delete", "failure", Some("forbidden")),
    ];
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for (row, (action, outcome, error_code)) in rows.iter().zip(expected) {
        assert_eq!(row.0, action);
        assert_eq!(row.1, "orders");
        assert_eq!(row.2, outcome);
        assert_eq!(row.3.as_deref(), error_code);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_describes_the_stream_endpoints(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let answer = app
        .send(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let paths = &answer.body["paths"];
    for (path, method) in [
        ("/api/v1/streams", "post"),
        ("/api/v1/streams", "get"),
        ("/api/v1/streams/{name}", "get"),
        ("/api/v1/streams/{name}", "delete"),
        ("/api/v1/streams/{name}/retention", "put"),
        ("/api/v1/streams/{name}/tags", "put"),
        ("/api/v1/streams/{name}/tags/{key}", "delete"),
        ("/api/v1/limits", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    let schemas = &answer.body["components"]["schemas"];
    for schema in [
        "CreateStreamRequest",
        "StreamView",
        "StreamPage",
        "LimitsView",
    ] {
        assert!(schemas[schema].is_object(), "{schema}");
    }
    // The key endpoints are still there.
    assert!(paths["/api/v1/keys"]["post"].is_object());
}

#[sqlx::test(migrations = "../migrations")]
async fn idempotency_keys_create_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let developer = app.token(app.acme, Role::Developer);
    let create = |key: &'static str, body: Value| {
        let request = Request::post("/api/v1/streams")
            .header(header::AUTHORIZATION, format!("Bearer {developer}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(Body::from(body.to_string()))
            .unwrap();
        app.send(request)
    };
    let body = json!({"name": "orders", "mode": "provisioned", "shard_count": 2,
                      "tags": {"b": "2", "a": "1"}});
    let first = create("req-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let replay = create("req-1", body.clone()).await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body, first.body);
    assert_eq!(app.count_streams().await, 1);

    let other = create(
        "req-1",
        json!({"name": "orders", "mode": "provisioned", "shard_count": 3}),
    )
    .await;
    assert_problem(&other, StatusCode::CONFLICT);
    assert!(
        other.body["detail"]
            .as_str()
            .unwrap()
            .contains("different request")
    );

    // Without the key, the same request is a taken name.
    let plain = app.create(&developer, body.clone()).await;
    assert_problem(&plain, StatusCode::CONFLICT);

    // Keys belong to a tenant: globex's "req-1" is its own.
    let globex = app.token(app.globex, Role::Developer);
    let theirs = app
        .send(
            Request::post("/api/v1/streams")
                .header(header::AUTHORIZATION, format!("Bearer {globex}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header("Idempotency-Key", "req-1")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    assert!(
        theirs.body["arn"]
            .as_str()
            .unwrap()
            .contains("210987654321")
    );

    // A failed creation is not remembered: after the quota frees up, the key works.
    let od = json!({"name": "od", "mode": "on_demand"});
    assert_eq!(create("od-1", od.clone()).await.status, StatusCode::CREATED);
    let quota = create("od-2", json!({"name": "od2", "mode": "on_demand"})).await;
    assert_problem(&quota, StatusCode::FORBIDDEN);
    sqlx::query("DELETE FROM streams WHERE name = 'od'")
        .execute(&app.pool)
        .await
        .unwrap();
    let retried = create("od-2", json!({"name": "od2", "mode": "on_demand"})).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);

    // Once the stream is gone, a replay is a conflict.
    app.activate("orders").await;
    app.call(&developer, "DELETE", "/streams/orders", None)
        .await;
    sqlx::query("DELETE FROM streams WHERE name = 'orders' AND status = 'DELETING'")
        .execute(&app.pool)
        .await
        .unwrap();
    let gone = create("req-1", body).await;
    assert_problem(&gone, StatusCode::CONFLICT);
    assert!(gone.body["detail"].as_str().unwrap().contains("deleted"));

    let bad = create("", json!({"name": "x", "mode": "on_demand"})).await;
    assert_problem(&bad, StatusCode::BAD_REQUEST);
}
