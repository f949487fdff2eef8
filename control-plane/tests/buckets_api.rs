//! Registered buckets over REST, on a real Postgres (a fresh database per test) against the
//! real S3-compatible test server: registration checked by a probe write, secrets sealed and
//! never answered, validation, roles, tenants, replacing (republishing the delivery streams
//! that name the bucket) and deleting (refused while a delivery stream names it).

#[path = "support/members.rs"]
mod members;
#[path = "support/rest.rs"]
mod rest;
#[path = "support/s3.rs"]
mod s3;

use axum::http::StatusCode;
use fjord_common::secret::MasterKey;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::{Store, TenantId};
use rest::{Answer, assert_problem};
use serde_json::{Value, json};
use sqlx::PgPool;

const SESSION_KEY: [u8; 32] = [5; 32];
const MASTER_KEY_HEX: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

struct TestApp {
    router: axum::Router,
    pool: PgPool,
    store: Store,
    s3: s3::S3,
    acme: TenantId,
    globex: TenantId,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool.clone());
        let state = ApiState::new(
            store.clone(),
            SessionKeys::new(SESSION_KEY),
            RateLimitPolicy::default(),
        )
        .unwrap()
        .with_master_key(&MasterKey::from_hex(MASTER_KEY_HEX).unwrap());
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
            s3: s3::S3::from_env(),
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
        }
    }

    async fn token(&self, tenant: TenantId, role: Role) -> String {
        members::member_token(&self.store, SESSION_KEY, tenant, role).await
    }

    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        rest::raw(
            &self.router,
            token,
            method,
            path,
            body.map(|body| body.to_string().into_bytes()),
        )
        .await
    }

    /// `POST /buckets` of `lake` at `store`, as the bearer of `token`.
    async fn register(&self, token: &str, store: Value) -> Answer {
        self.call(
            token,
            "POST",
            "/buckets",
            Some(json!({"name": "lake", "store": store})),
        )
        .await
    }

    /// Every registration as stored: name, kind, location text.
    async fn stored(&self) -> Vec<(String, String, String)> {
        sqlx::query_as("SELECT name, kind, location::text FROM buckets ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bucket_is_registered_after_a_probe_write_and_its_secret_is_never_shown(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = app.token(app.acme, Role::Admin).await;
    let remote = app.s3.create_bucket("lake");
    let answer = app.register(&admin, app.s3.store(&remote)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.body["name"], "lake");
    assert_eq!(answer.body["arn"], "arn:aws:s3:::lake");
    assert_eq!(
        answer.body["store"],
        json!({"kind": "s3", "bucket": remote, "region": "us-east-1", "endpoint": app.s3.url,
               "path_style": true, "access_key_id": app.s3.access_key_id, "secret_set": true})
    );
    let secret = &app.s3.secret_access_key;
    assert!(!answer.body.to_string().contains(secret.as_str()));
    // Sealed in the database; the probe object is gone again.
    let stored = app.stored().await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].2.contains(secret.as_str()), "{}", stored[0].2);
    assert!(
        app.s3.objects(&remote).is_empty(),
        "{:?}",
        app.s3.objects(&remote)
    );

    let viewer = app.token(app.acme, Role::Viewer).await;
    let listed = app.call(&viewer, "GET", "/buckets", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["items"][0], answer.body);
    let described = app.call(&viewer, "GET", "/buckets/lake", None).await;
    assert_eq!(described.body, answer.body);

    // The name is taken; another tenant has its own namespace and does not see this one.
    let again = app.register(&admin, app.s3.store(&remote)).await;
    assert_problem(&again, StatusCode::CONFLICT);
    let globex = app.token(app.globex, Role::Admin).await;
    assert_eq!(
        app.call(&globex, "GET", "/buckets", None).await.body["items"],
        json!([])
    );
    assert_problem(
        &app.call(&globex, "GET", "/buckets/lake", None).await,
        StatusCode::NOT_FOUND,
    );
    let theirs = app.register(&globex, app.s3.store(&remote)).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);

    // Audited (the refused repeat too), without the secret.
    let audit: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT action, resource, outcome, details::text FROM audit_log
         WHERE action LIKE 'buckets:%' ORDER BY occurred_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let outcomes: Vec<&str> = audit.iter().map(|entry| entry.2.as_str()).collect();
    assert_eq!(outcomes, ["success", "failure", "success"], "{audit:?}");
    assert!(audit.iter().all(
        |(action, resource, _, details)| action == "buckets:Register"
            && resource == "lake"
            && !details.contains(secret.as_str())
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_store_that_refuses_the_probe_or_a_bad_request_registers_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = app.token(app.acme, Role::Admin).await;
    let remote = app.s3.create_bucket("lake");
    let wrong_secret = "not-the-secret-at-all-0123456789";
    let mut store = app.s3.store(&remote);
    store["secret_access_key"] = json!(wrong_secret);
    // (The test server makes a missing bucket on the first write, so that case is not here.)
    let mut unreachable = app.s3.store(&remote);
    unreachable["endpoint"] = json!("http://127.0.0.1:9");
    for store in [store, unreachable] {
        let answer = app.register(&admin, store).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("the bucket cannot be written to: "),
            "{detail}"
        );
        assert!(!detail.contains(wrong_secret) && !detail.contains(&app.s3.secret_access_key));
    }
    let bad_requests = [
        json!({"name": "Lake_Upper", "store": app.s3.store(&remote)}),
        json!({"name": "lake", "store": {"kind": "s3", "endpoint": "ftp://127.0.0.1"}}),
        json!({"name": "lake", "store": {"kind": "s3", "endpoint": "http://user:pw@127.0.0.1"}}),
        json!({"name": "lake", "store": {"kind": "s3", "access_key_id": "AKID"}}),
        json!({"name": "lake", "store": {"kind": "s3", "region": "US EAST"}}),
        json!({"name": "lake", "store": {"kind": "s3", "colour": "blue"}}),
        json!({"name": "lake", "store": {"kind": "ftp"}}),
        json!({"name": "lake", "store": {"kind": "gcs", "service_account_key": "not json"}}),
        json!({"name": "lake", "store": {"kind": "azure", "account": "UPPER"}}),
        json!({"name": "lake", "store": {"kind": "azure", "account": "acct", "access_key": "***"}}),
        json!({"name": "lake"}),
    ];
    for request in bad_requests {
        let answer = app
            .call(&admin, "POST", "/buckets", Some(request.clone()))
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        assert!(
            answer.status != StatusCode::INTERNAL_SERVER_ERROR,
            "{request}"
        );
    }
    // Registering needs admin.
    let developer = app.token(app.acme, Role::Developer).await;
    let refused = app.register(&developer, app.s3.store(&remote)).await;
    assert_problem(&refused, StatusCode::FORBIDDEN);
    assert!(app.stored().await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn replacing_keeps_an_omitted_secret_and_republishes_and_deleting_waits_for_users(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let admin = app.token(app.acme, Role::Admin).await;
    let remote = app.s3.create_bucket("lake");
    let created = app.register(&admin, app.s3.store(&remote)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let delivery = app
        .call(
            &admin,
            "POST",
            "/delivery-streams",
            Some(json!({"name": "events", "destination": {"bucket_arn": "arn:aws:s3:::lake"}})),
        )
        .await;
    assert_eq!(delivery.status, StatusCode::CREATED, "{}", delivery.body);
    let generation = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT generation FROM delivery_streams WHERE name = 'events'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let before = generation().await;

    // The secret left out with the same access key id: kept (the probe still passes).
    let mut store = app.s3.store(&remote);
    store.as_object_mut().unwrap().remove("secret_access_key");
    store["region"] = json!("eu-north-1");
    let replaced = app.call(&admin, "PUT", "/buckets/lake", Some(store)).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["store"]["region"], "eu-north-1");
    assert_eq!(replaced.body["store"]["secret_set"], true);
    assert_eq!(
        generation().await,
        before + 1,
        "the delivery stream is republished"
    );

    // A replacement the store refuses changes nothing.
    let stored = app.stored().await;
    let mut wrong = app.s3.store(&remote);
    wrong["secret_access_key"] = json!("wrong-secret-wrong-secret");
    let refused = app.call(&admin, "PUT", "/buckets/lake", Some(wrong)).await;
    assert_problem(&refused, StatusCode::BAD_REQUEST);
    assert_eq!(app.stored().await, stored);
    assert_eq!(generation().await, before + 1);

    // In use: not deleted. Once the delivery stream is being deleted, it can go.
    let in_use = app.call(&admin, "DELETE", "/buckets/lake", None).await;
    assert_problem(&in_use, StatusCode::CONFLICT);
    assert!(in_use.body["detail"].as_str().unwrap().contains("events"));
    sqlx::query("UPDATE delivery_streams SET status = 'DELETING'")
        .execute(&app.pool)
        .await
        .unwrap();
    let developer = app.token(app.acme, Role::Developer).await;
    assert_problem(
        &app.call(&developer, "DELETE", "/buckets/lake", None).await,
        StatusCode::FORBIDDEN,
    );
    let deleted = app.call(&admin, "DELETE", "/buckets/lake", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert!(app.stored().await.is_empty());
    assert_problem(
        &app.call(&admin, "DELETE", "/buckets/lake", None).await,
        StatusCode::NOT_FOUND,
    );
}
