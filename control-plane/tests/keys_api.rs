//! The access key endpoints, driven with `oneshot` on a real Postgres (a fresh database per
//! test): the happy paths, each role's allowed and forbidden calls, a second tenant that gets
//! 404 for every key of the first, pagination, idempotency and bad input.

#[path = "support/members.rs"]
mod members;
#[path = "support/rest.rs"]
mod rest;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fjord_common::secret::MasterKey;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, TenantId};
use rest::{Answer, assert_problem};
use serde_json::{Value, json};
use sqlx::PgPool;

const SESSION_KEY: [u8; 32] = [9; 32];
const MASTER_KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

struct TestApp {
    router: axum::Router,
    pool: PgPool,
    acme: TenantId,
    globex: TenantId,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool.clone());
        let master_key = MasterKey::from_hex(MASTER_KEY_HEX).unwrap();
        let state = ApiState::new(
            store.clone(),
            SessionKeys::new(SESSION_KEY),
            RateLimitPolicy::default(),
        )
        .unwrap()
        .with_master_key(&master_key);
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
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
        }
    }

    /// A bearer token for a new member of `tenant` with `role` (a real user and membership:
    /// the role is read from the membership on every request).
    async fn token(&self, tenant: TenantId, role: Role) -> String {
        self.member(tenant, role).await.1
    }

    /// A new member of `tenant` with `role`: their user id and a bearer token.
    async fn member(&self, tenant: TenantId, role: Role) -> (UserId, String) {
        let store = Store::from_pool(self.pool.clone());
        members::member(&store, SESSION_KEY, tenant, role).await
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        rest::send(&self.router, request).await
    }

    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
        rest::raw(&self.router, token, method, path, body).await
    }

    async fn create(&self, token: &str, body: Value) -> Answer {
        self.call(token, "POST", "/keys", Some(body.to_string().into_bytes()))
            .await
    }

    async fn create_with_idempotency(&self, token: &str, key: &str, body: Value) -> Answer {
        let request = Request::post("/api/v1/keys")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// Creates a key in `tenant` as its owner; its id and secret.
    async fn key(&self, tenant: TenantId, role: &str) -> (String, String) {
        let owner = self.token(tenant, Role::Owner).await;
        let answer = self
            .create(&owner, json!({"name": format!("{role} key"), "role": role}))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        (
            answer.body["access_key_id"].as_str().unwrap().to_owned(),
            answer.body["secret_access_key"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    async fn count_keys(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM access_keys")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn key_row(&self, access_key_id: &str) -> (bool, i64, String, bool) {
        sqlx::query_as(
            "SELECT enabled, generation, sealed_secret, deleted_at IS NOT NULL
             FROM access_keys WHERE access_key_id = $1",
        )
        .bind(access_key_id)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }
}

/// Every key endpoint: method and path (with `{id}` to fill in).
const KEY_ROUTES: [(&str, &str); 6] = [
    ("POST", "/keys"),
    ("GET", "/keys"),
    ("POST", "/keys/{id}/disable"),
    ("POST", "/keys/{id}/enable"),
    ("POST", "/keys/{id}/rotate"),
    ("DELETE", "/keys/{id}"),
];

#[sqlx::test(migrations = "../migrations")]
async fn create_list_disable_enable_rotate_delete(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.token(app.acme, Role::Owner).await;

    let created = app.create(&owner, json!({"name": "orders ingest"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key_id = created.body["access_key_id"].as_str().unwrap().to_owned();
    let secret = created.body["secret_access_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key_id.starts_with("AKIA") && key_id.len() == 20, "{key_id}");
    assert_eq!(secret.len(), 40);
    assert_eq!(created.body["name"], "orders ingest");
    assert_eq!(created.body["role"], "developer");
    assert_eq!(created.body["enabled"], true);
    assert!(created.body["created_at"].as_str().is_some());
    // Stored sealed, never in the clear.
    let (enabled, generation, sealed, _) = app.key_row(&key_id).await;
    assert!(enabled);
    assert!(!sealed.contains(&secret));
    let opened = MasterKey::from_hex(MASTER_KEY_HEX)
        .unwrap()
        .secret_box()
        .open(&sealed, &key_id)
        .unwrap();
    assert_eq!(opened, secret);

    let list = app.call(&owner, "GET", "/keys", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(
        list.body,
        json!({
            "items": [{
                "access_key_id": key_id,
                "name": "orders ingest",
                "role": "developer",
                "user_id": null,
                "enabled": true,
                "created_at": created.body["created_at"],
                "last_used_at": null,
            }],
            "next_cursor": null,
        })
    );
    assert!(!list.body.to_string().contains(&secret));

    let disabled = app
        .call(&owner, "POST", &format!("/keys/{key_id}/disable"), None)
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(disabled.body["enabled"], false);
    assert!(disabled.body.get("secret_access_key").is_none());
    let (enabled, disabled_generation, _, _) = app.key_row(&key_id).await;
    assert!(!enabled);
    assert!(disabled_generation > generation, "disabling republishes");

    let enabled = app
        .call(&owner, "POST", &format!("/keys/{key_id}/enable"), None)
        .await;
    assert_eq!(enabled.status, StatusCode::OK);
    assert_eq!(enabled.body["enabled"], true);

    let rotated = app
        .call(&owner, "POST", &format!("/keys/{key_id}/rotate"), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(rotated.body["access_key_id"], key_id);
    let new_secret = rotated.body["secret_access_key"].as_str().unwrap();
    assert_eq!(new_secret.len(), 40);
    assert_ne!(new_secret, secret);
    let (_, rotated_generation, sealed, _) = app.key_row(&key_id).await;
    assert!(rotated_generation > disabled_generation);
    let opened = MasterKey::from_hex(MASTER_KEY_HEX)
        .unwrap()
        .secret_box()
        .open(&sealed, &key_id)
        .unwrap();
    assert_eq!(opened, new_secret);

    let deleted = app
        .call(&owner, "DELETE", &format!("/keys/{key_id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // A tombstone, disabled, until the reconciler has purged it from the config bucket.
    let (enabled, deleted_generation, _, tombstone) = app.key_row(&key_id).await;
    assert!(!enabled && tombstone);
    assert!(deleted_generation > rotated_generation);
    let list = app.call(&owner, "GET", "/keys", None).await;
    assert_eq!(list.body["items"], json!([]));
    for (method, path) in &KEY_ROUTES[2..] {
        let answer = app
            .call(&owner, method, &path.replace("{id}", &key_id), None)
            .await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
    }

    // Every call but the listing is in the audit log, with its outcome, and no secret.
    let audited: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT action, resource, outcome, error_code FROM audit_log
         WHERE tenant_id = $1 ORDER BY occurred_at, id",
    )
    .bind(app.acme.0)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let success = |action: &str| {
        (
            format!("keys:{action}"),
            key_id.clone(),
            "success".to_owned(),
            None,
        )
    };
    let not_found = |action: &str| {
        (
            format!("keys:{action}"),
            key_id.clone(),
            "failure".to_owned(),
            Some("not-found".to_owned()),
        )
    };
    assert_eq!(
        audited,
        [
            success("Create"),
            success("Disable"),
            success("Enable"),
            success("Rotate"),
            success("Delete"),
            not_found("Disable"),
            not_found("Enable"),
            not_found("Rotate"),
            not_found("Delete"),
        ]
    );
    let everything: String =
        sqlx::query_scalar("SELECT string_agg(audit_log::text, ' ') FROM audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!everything.contains(&secret) && !everything.contains(new_secret));
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_and_owners_manage_keys(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (developer_key, _) = app.key(app.acme, "developer").await;
    let before = app.count_keys().await;
    for role in [Role::Viewer, Role::Developer] {
        let token = app.token(app.acme, role).await;
        for (method, path) in KEY_ROUTES {
            let body = (method == "POST" && path == "/keys")
                .then(|| json!({"name": "x"}).to_string().into_bytes());
            let answer = app
                .call(&token, method, &path.replace("{id}", &developer_key), body)
                .await;
            if method == "GET" {
                // Members list their own keys only: none here.
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
                assert_eq!(answer.body["items"], json!([]));
                continue;
            }
            assert_problem(&answer, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(app.count_keys().await, before);
    assert!(app.key_row(&developer_key).await.0);

    // Admins manage keys up to their own role.
    let admin = app.token(app.acme, Role::Admin).await;
    for role in ["viewer", "developer", "admin"] {
        let answer = app.create(&admin, json!({"name": "x", "role": role})).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "{role}: {}",
            answer.body
        );
        assert_eq!(answer.body["role"], role);
    }
    let answer = app
        .create(&admin, json!({"name": "x", "role": "owner"}))
        .await;
    assert_problem(&answer, StatusCode::FORBIDDEN);
    let answer = app.call(&admin, "GET", "/keys", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["items"].as_array().unwrap().len(), 4);
    for (method, path) in &KEY_ROUTES[2..] {
        let answer = app
            .call(&admin, method, &path.replace("{id}", &developer_key), None)
            .await;
        assert!(answer.status.is_success(), "{path}: {}", answer.body);
    }
    // An owner's key is out of an admin's reach (rotating it would hand over an owner secret).
    let (owner_key, _) = app.key(app.acme, "owner").await;
    for (method, path) in &KEY_ROUTES[2..] {
        let answer = app
            .call(&admin, method, &path.replace("{id}", &owner_key), None)
            .await;
        assert_problem(&answer, StatusCode::FORBIDDEN);
    }
    // Owners may do all of it.
    let owner = app.token(app.acme, Role::Owner).await;
    for (method, path) in &KEY_ROUTES[2..] {
        let answer = app
            .call(&owner, method, &path.replace("{id}", &owner_key), None)
            .await;
        assert!(answer.status.is_success(), "{path}: {}", answer.body);
    }
    // Without a token, nothing.
    let answer = app
        .send(Request::get("/api/v1/keys").body(Body::empty()).unwrap())
        .await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn another_tenant_gets_404_for_every_key_endpoint(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme_key, _) = app.key(app.acme, "developer").await;
    let (_, generation, sealed, _) = app.key_row(&acme_key).await;
    let globex_owner = app.token(app.globex, Role::Owner).await;
    // Every key route of the route table (`tests/isolation.rs` checks the table is complete).
    let key_routes = api::TENANT_RESOURCE_ROUTES
        .iter()
        .filter_map(|(method, path)| Some((*method, path.strip_prefix("/api/v1")?)))
        .filter(|(_, path)| path.starts_with("/keys/"));
    for (method, path) in key_routes {
        let answer = app
            .call(
                &globex_owner,
                method,
                &path.replace("{id}", &acme_key),
                None,
            )
            .await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
        assert!(!answer.body.to_string().contains(&acme_key));
        // The same answer as for a key that never existed.
        let unknown = app
            .call(
                &globex_owner,
                method,
                &path.replace("{id}", "AKIANOSUCHKEY0000000"),
                None,
            )
            .await;
        assert_eq!(unknown.body, answer.body);
    }
    let list = app.call(&globex_owner, "GET", "/keys", None).await;
    assert_eq!(list.body["items"], json!([]));
    // Acme's key is untouched.
    let (enabled, after_generation, after_sealed, deleted) = app.key_row(&acme_key).await;
    assert!(enabled && !deleted);
    assert_eq!((after_generation, after_sealed), (generation, sealed));
}

#[sqlx::test(migrations = "../migrations")]
async fn keys_are_listed_in_pages_bound_to_the_tenant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(app.key(app.acme, "viewer").await.0);
    }
    app.key(app.globex, "viewer").await;
    let owner = app.token(app.acme, Role::Owner).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/keys?limit=2&cursor={cursor}"),
            None => "/keys?limit=2".to_owned(),
        };
        let page = app.call(&owner, "GET", &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        pages += 1;
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["access_key_id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = created.clone();
    expected.sort();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "every key once, none of globex's");

    // A cursor is bound to its tenant and cannot be forged.
    let first = app.call(&owner, "GET", "/keys?limit=1", None).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let globex_owner = app.token(app.globex, Role::Owner).await;
    let answer = app
        .call(
            &globex_owner,
            "GET",
            &format!("/keys?cursor={cursor}"),
            None,
        )
        .await;
    assert_problem(&answer, StatusCode::BAD_REQUEST);
    for query in [
        "cursor=garbage",
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=ten",
        "sort=name",
    ] {
        let answer = app
            .call(&owner, "GET", &format!("/keys?{query}"), None)
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn idempotency_keys_create_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.token(app.acme, Role::Owner).await;
    let body = json!({"name": "ingest", "role": "viewer"});
    let first = app
        .create_with_idempotency(&owner, "req-1", body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let replay = app
        .create_with_idempotency(&owner, "req-1", body.clone())
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["access_key_id"], first.body["access_key_id"]);
    assert_eq!(replay.body["role"], "viewer");
    assert!(replay.body.get("secret_access_key").is_none());
    assert_eq!(app.count_keys().await, 1);

    // The same idempotency key in another tenant is another request.
    let globex_owner = app.token(app.globex, Role::Owner).await;
    let other = app
        .create_with_idempotency(&globex_owner, "req-1", body.clone())
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.body["access_key_id"], first.body["access_key_id"]);

    // Reused with another request: refused.
    let conflict = app
        .create_with_idempotency(&owner, "req-1", json!({"name": "other"}))
        .await;
    assert_problem(&conflict, StatusCode::CONFLICT);
    // Its key deleted since: refused too, nothing recreated.
    let key_id = first.body["access_key_id"].as_str().unwrap();
    app.call(&owner, "DELETE", &format!("/keys/{key_id}"), None)
        .await;
    let gone = app
        .create_with_idempotency(&owner, "req-1", body.clone())
        .await;
    assert_problem(&gone, StatusCode::CONFLICT);
    // An expired idempotency key creates again.
    sqlx::query("UPDATE access_key_idempotency SET created_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = app
        .create_with_idempotency(&owner, "req-1", body.clone())
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(app.count_keys().await, 3);
    let bad = app
        .create_with_idempotency(&owner, &"k".repeat(256), body)
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST);
    assert_eq!(app.count_keys().await, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_input_gets_problems_and_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.token(app.acme, Role::Owner).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed", b"{\"name\": ".to_vec()),
        ("empty", Vec::new()),
        ("array", b"[]".to_vec()),
        ("unknown field", br#"{"name":"x","enabled":false}"#.to_vec()),
        ("missing name", br#"{"role":"viewer"}"#.to_vec()),
        ("wrong type", br#"{"name":42}"#.to_vec()),
        ("bad role", br#"{"name":"x","role":"root"}"#.to_vec()),
        (
            "capitalized role",
            br#"{"name":"x","role":"Owner"}"#.to_vec(),
        ),
        ("empty name", br#"{"name":""}"#.to_vec()),
        ("blank name", br#"{"name":"   "}"#.to_vec()),
        ("control character", br#"{"name":"a\u0000b"}"#.to_vec()),
        (
            "name too long",
            json!({"name": "x".repeat(129)}).to_string().into_bytes(),
        ),
        ("invalid utf-8", b"{\"name\":\"\xff\xfe\"}".to_vec()),
    ];
    for (case, body) in cases {
        let answer = app.call(&owner, "POST", "/keys", Some(body)).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        assert!(answer.body["detail"].as_str().is_some(), "{case}");
    }
    let oversize = json!({"name": "x".repeat(70 * 1024)})
        .to_string()
        .into_bytes();
    let answer = app.call(&owner, "POST", "/keys", Some(oversize)).await;
    assert_problem(&answer, StatusCode::PAYLOAD_TOO_LARGE);
    // SQL-looking input is a name like any other; malformed ids name no key.
    let answer = app
        .create(&owner, json!({"name": "x'); DROP TABLE access_keys; --"}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let answer = app
        .call(&owner, "POST", "/keys/x'%20OR%20'1'='1/disable", None)
        .await;
    assert_problem(&answer, StatusCode::NOT_FOUND);
    assert_eq!(app.count_keys().await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_describes_the_key_endpoints(pool: PgPool) {
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
        ("/api/v1/keys", "post"),
        ("/api/v1/keys", "get"),
        ("/api/v1/keys/{id}/disable", "post"),
        ("/api/v1/keys/{id}/enable", "post"),
        ("/api/v1/keys/{id}/rotate", "post"),
        ("/api/v1/keys/{id}", "delete"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    for schema in [
        "CreateKeyRequest",
        "CreatedKey",
        "KeyView",
        "KeyPage",
        "Role",
    ] {
        assert!(
            answer.body["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn members_manage_their_own_personal_keys(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (viewer_id, viewer) = app.member(app.acme, Role::Viewer).await;
    let (developer_id, developer) = app.member(app.acme, Role::Developer).await;
    let (tenant_key, _) = app.key(app.acme, "viewer").await;

    // A viewer's personal key defaults to (and is capped at) the viewer role.
    let created = app
        .create(&viewer, json!({"name": "my laptop", "owner": "self"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["role"], "viewer");
    assert_eq!(created.body["user_id"], viewer_id.0.to_string());
    let viewer_key = created.body["access_key_id"].as_str().unwrap().to_owned();
    let above = app
        .create(
            &viewer,
            json!({"name": "x", "owner": "self", "role": "developer"}),
        )
        .await;
    assert_problem(&above, StatusCode::FORBIDDEN);
    for body in [
        json!({"name": "x", "owner": "someone"}),
        json!({"name": "x", "owner": 1}),
        json!({"name": "x", "owner": "self", "user_id": viewer_id.0.to_string()}),
    ] {
        assert_problem(&app.create(&viewer, body).await, StatusCode::BAD_REQUEST);
    }
    let created = app
        .create(&developer, json!({"name": "ci", "owner": "self"}))
        .await;
    assert_eq!(created.body["role"], "developer");
    assert_eq!(created.body["user_id"], developer_id.0.to_string());
    let developer_key = created.body["access_key_id"].as_str().unwrap().to_owned();

    // Each member lists and manages their own keys, and no one else's.
    let listed = app.call(&viewer, "GET", "/keys", None).await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [viewer_key.as_str()]);
    for key in [&developer_key, &tenant_key] {
        for (method, path) in &KEY_ROUTES[2..] {
            let answer = app
                .call(&viewer, method, &path.replace("{id}", key), None)
                .await;
            assert_problem(&answer, StatusCode::FORBIDDEN);
        }
    }
    for (method, path) in &KEY_ROUTES[2..] {
        let answer = app
            .call(&viewer, method, &path.replace("{id}", &viewer_key), None)
            .await;
        assert!(
            answer.status.is_success(),
            "{method} {path}: {}",
            answer.body
        );
    }
    assert!(app.key_row(&viewer_key).await.3, "deleted");
    // Admins see and manage every key, personal ones included.
    let admin = app.token(app.acme, Role::Admin).await;
    let all = app.call(&admin, "GET", "/keys", None).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    let disabled = app
        .call(
            &admin,
            "POST",
            &format!("/keys/{developer_key}/disable"),
            None,
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);

    // Demoting the developer caps their key at the new role (the gateway follows the
    // generation bump).
    let (_, owner) = app.member(app.acme, Role::Owner).await;
    let (_, generation_before, _, _) = app.key_row(&developer_key).await;
    let demoted = app
        .call(
            &owner,
            "PATCH",
            &format!("/users/{}", developer_id.0),
            Some(json!({"role": "viewer"}).to_string().into_bytes()),
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    let role: String = sqlx::query_scalar("SELECT role FROM access_keys WHERE access_key_id = $1")
        .bind(&developer_key)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(role, "viewer");
    assert_eq!(app.key_row(&developer_key).await.1, generation_before + 1);
    // Audited with the owner.
    let details: Value = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'keys:Create' AND resource = $1",
    )
    .bind(&developer_key)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(details["owner"], "self");
}
