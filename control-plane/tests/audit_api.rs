//! The audit log, driven with `oneshot` on a real Postgres (a fresh database per test): what
//! the internal API and the auth endpoints record, and `GET /api/v1/audit` (roles, filters,
//! pagination, tenant-bound cursors, bad input).

#[path = "support/members.rs"]
mod members;
#[path = "support/rest.rs"]
mod rest;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use fjord_common::token::TokenSigner;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::password;
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::http::{self, InternalState};
use fjord_control_plane::kinesis::KinesisAdmin;
use fjord_control_plane::store::audit::{ActorType, AuditEntry};
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, TenantId};
use rest::{Answer, assert_problem};
use serde_json::{Value, json};
use sqlx::PgPool;

const TOKEN: &str = "internal-token-for-tests-0123456789";
const KEY: [u8; 32] = [9; 32];
const PASSWORD: &str = "correct horse battery staple";
const ACCESS_KEY: &str = "AKIAAUDITTEST0000001";

struct TestApp {
    router: axum::Router,
    store: Store,
    pool: PgPool,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool.clone());
        let state = ApiState::new(
            store.clone(),
            SessionKeys::new(KEY),
            RateLimitPolicy::default(),
        )
        .unwrap();
        let internal = http::router(InternalState {
            admin: KinesisAdmin {
                store: store.clone(),
                region: "us-east-1".to_owned(),
                tokens: TokenSigner::new([3; 32]),
                default_retention_hours: 24,
            },
            secret_box: None,
            internal_token: Arc::from(TOKEN),
        });
        Self {
            router: internal.merge(api::router(state)),
            store,
            pool,
        }
    }

    async fn send(&self, mut request: Request<Body>) -> Answer {
        let address: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(address));
        rest::send(&self.router, request).await
    }

    /// A forwarded Kinesis call, as the gateway sends it.
    async fn kinesis(&self, tenant: TenantId, action: &str, body: Value) -> Answer {
        let request = Request::post(format!("/internal/v1/kinesis/{action}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("x-fjord-tenant-id", tenant.0.to_string())
            .header("x-fjord-account-id", "123456789012")
            .header("x-fjord-access-key-id", ACCESS_KEY)
            .header("x-fjord-source-ip", "203.0.113.9")
            .header("x-fjord-user-agent", "aws-sdk-rust/1.0")
            .header("x-fjord-request-id", "request-1")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "audit-test/1")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// A bearer token of a new member of `tenant` with `role` (the role is read from the
    /// membership on every request, so the member must exist).
    async fn token(&self, tenant: TenantId, role: Role) -> String {
        members::member_token(&self.store, KEY, tenant, role).await
    }

    async fn audit(&self, token: &str, query: &str) -> Answer {
        let request = Request::get(format!("/api/v1/audit{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// Every row of the tenant's log as JSON text (the whole row, to search for secrets).
    async fn raw_rows(&self, tenant: TenantId) -> Vec<String> {
        sqlx::query_scalar("SELECT to_jsonb(a)::text FROM audit_log a WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// Waits for `count` rows of `action` in the tenant (refused sign-ins are recorded in the
    /// background).
    async fn wait_for(&self, tenant: TenantId, action: &str, count: i64) {
        for _ in 0..100 {
            let found: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2",
            )
            .bind(tenant.0)
            .bind(action)
            .fetch_one(&self.pool)
            .await
            .unwrap();
            if found >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{action} was not recorded {count} times");
    }
}

async fn tenants(store: &Store) -> (TenantId, TenantId) {
    let acme = store
        .create_tenant("acme", 10, 1, || "123456789012".to_owned())
        .await
        .unwrap();
    let globex = store
        .create_tenant("globex", 10, 1, || "210987654321".to_owned())
        .await
        .unwrap();
    (TenantId(acme.id), TenantId(globex.id))
}

fn items(answer: &Answer) -> &Vec<Value> {
    answer.body["items"].as_array().expect("items")
}

#[sqlx::test(migrations = "../migrations")]
async fn mutating_internal_calls_are_recorded_and_reads_are_not(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, _) = tenants(&app.store).await;

    let created = app
        .kinesis(
            acme,
            "CreateStream",
            json!({"StreamName": "clicks", "ShardCount": 1}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let described = app
        .kinesis(
            acme,
            "DescribeStreamSummary",
            json!({"StreamName": "clicks"}),
        )
        .await;
    assert_eq!(described.status, StatusCode::OK);
    app.kinesis(acme, "ListStreams", json!({})).await;
    let missing = app
        .kinesis(acme, "DeleteStream", json!({"StreamName": "nope"}))
        .await;
    assert_eq!(missing.body["__type"], "ResourceNotFoundException");
    let tagged = app
        .kinesis(
            acme,
            "AddTagsToStream",
            json!({"StreamName": "clicks", "Tags": {"team": "growth"}}),
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.body);

    let page = app.audit(&app.token(acme, Role::Admin).await, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let entries = items(&page);
    let actions: Vec<&str> = entries
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    // Newest first; the reads left nothing.
    assert_eq!(
        actions,
        [
            "kinesis:AddTagsToStream",
            "kinesis:DeleteStream",
            "kinesis:CreateStream"
        ]
    );
    let created = &entries[2];
    assert_eq!(created["actor_type"], "access_key");
    assert_eq!(created["actor_id"], ACCESS_KEY);
    assert_eq!(
        created["resource"],
        "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    );
    assert_eq!(created["outcome"], "success");
    assert_eq!(created["error_code"], Value::Null);
    assert_eq!(created["source_ip"], "203.0.113.9");
    assert_eq!(created["user_agent"], "aws-sdk-rust/1.0");
    assert_eq!(created["request_id"], "request-1");
    assert_eq!(created["details"], json!({"ShardCount": 1}));
    let failed = &entries[1];
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["error_code"], "ResourceNotFoundException");
    assert_eq!(
        failed["resource"],
        "arn:aws:kinesis:us-east-1:123456789012:stream/nope"
    );
    // Tag values are not kept, only their keys.
    assert_eq!(entries[0]["details"], json!({"TagKeys": ["team"]}));
    assert!(!entries[0].to_string().contains("growth"));
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_ins_and_sign_outs_are_recorded_without_the_password(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, globex) = tenants(&app.store).await;
    let user = app
        .store
        .create_user("ada@example.com", &password::hash(PASSWORD).unwrap(), false)
        .await
        .unwrap();
    app.store
        .put_membership(acme, UserId(user.id), Role::Admin)
        .await
        .unwrap();

    let wrong_password = "wrong horse battery staple";
    let refused = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "ada@example.com", "password": wrong_password}),
        )
        .await;
    assert_problem(&refused, StatusCode::UNAUTHORIZED);
    let unknown = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(&unknown, StatusCode::UNAUTHORIZED);
    let signed_in = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let refresh_token = signed_in.body["refresh_token"].as_str().unwrap().to_owned();
    let access_token = signed_in.body["access_token"].as_str().unwrap().to_owned();
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let rotated_token = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    let signed_out = app
        .post(
            "/api/v1/auth/sign-out",
            json!({"refresh_token": rotated_token}),
        )
        .await;
    assert_eq!(signed_out.status, StatusCode::NO_CONTENT);
    // Presenting the token that was rotated away is reuse: a security event.
    let reused = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refresh_token}),
        )
        .await;
    assert_problem(&reused, StatusCode::UNAUTHORIZED);
    app.wait_for(acme, "auth:SignIn", 2).await;

    let page = app.audit(&access_token, "?action=auth:").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let entries = items(&page);
    let summary: Vec<(&str, &str, Option<&str>)> = entries
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap(),
                entry["outcome"].as_str().unwrap(),
                entry["error_code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "auth:RefreshTokenReuse",
                "failure",
                Some("invalid-refresh-token")
            ),
            ("auth:SignOut", "success", None),
            ("auth:SignIn", "success", None),
            ("auth:SignIn", "failure", Some("invalid-credentials")),
        ]
    );
    for entry in entries {
        assert_eq!(entry["actor_type"], "user");
        assert_eq!(entry["actor_id"], user.id.to_string());
        assert_eq!(entry["resource"], "ada@example.com");
        assert_eq!(entry["source_ip"], "198.51.100.7");
        assert_eq!(entry["user_agent"], "audit-test/1");
    }
    // No secret anywhere in any row; the unknown email left nothing.
    let rows = app.raw_rows(acme).await;
    assert_eq!(rows.len(), 4);
    for row in &rows {
        for secret in [PASSWORD, wrong_password, &refresh_token, &access_token] {
            assert!(!row.contains(secret), "{row}");
        }
        assert!(!row.contains("bob@example.com"), "{row}");
    }
    assert!(app.raw_rows(globex).await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_and_owners_read_the_log(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, _) = tenants(&app.store).await;
    for role in [Role::Viewer, Role::Developer] {
        let answer = app.audit(&app.token(acme, role).await, "").await;
        assert_problem(&answer, StatusCode::FORBIDDEN);
    }
    for role in [Role::Admin, Role::Owner] {
        let answer = app.audit(&app.token(acme, role).await, "").await;
        assert_eq!(answer.status, StatusCode::OK, "{role}: {}", answer.body);
        assert_eq!(answer.body, json!({"items": [], "next_cursor": null}));
    }
    let anonymous = app
        .send(Request::get("/api/v1/audit").body(Body::empty()).unwrap())
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED);
}

async fn seed_entries(store: &Store, tenant: TenantId, count: usize) {
    for index in 0..count {
        let mut entry = AuditEntry::new(
            ActorType::AccessKey,
            if index % 2 == 0 {
                "AKIAEVEN"
            } else {
                "AKIAODD"
            },
            if index % 3 == 0 {
                "kinesis:CreateStream"
            } else {
                "kinesis:DeleteStream"
            },
            format!("arn:aws:kinesis:us-east-1:123456789012:stream/s{index}"),
        );
        if index % 5 == 0 {
            entry = entry.failed("LimitExceededException");
        }
        store.append_audit(tenant, &entry).await.unwrap();
    }
}

/// Walks every page of `query` with `limit`, returning the ids in order.
async fn walk(app: &TestApp, token: &str, query: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.audit(token, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(items(&page).len() <= limit as usize);
        ids.extend(
            items(&page)
                .iter()
                .map(|entry| entry["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items(&page).len(), limit as usize);
                cursor = Some(next.to_owned());
            }
            None => return ids,
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_walk_the_whole_log_without_gaps_or_duplicates(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, _) = tenants(&app.store).await;
    seed_entries(&app.store, acme, 23).await;
    let token = app.token(acme, Role::Owner).await;

    let all = walk(&app, &token, "", 500).await;
    assert_eq!(all.len(), 23);
    for limit in [1, 4, 10, 23] {
        assert_eq!(walk(&app, &token, "", limit).await, all, "limit {limit}");
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 23);

    // Filters, alone and combined, paginated.
    let expectations: [(&str, usize); 6] = [
        ("&action=kinesis:Create", 8),
        ("&action=kinesis:", 23),
        ("&action=auth:", 0),
        ("&actor=AKIAODD", 11),
        ("&outcome=failure", 5),
        (
            "&actor=AKIAEVEN&outcome=failure&action=kinesis:DeleteStream",
            2,
        ),
    ];
    for (query, expected) in expectations {
        assert_eq!(
            walk(&app, &token, query, 3).await.len(),
            expected,
            "{query}"
        );
    }
    let later = (Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let earlier = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let encode = |time: &str| time.replace('+', "%2B").replace(':', "%3A");
    let window = format!("&from={}&to={}", encode(&earlier), encode(&later));
    assert_eq!(walk(&app, &token, &window, 7).await.len(), 23);
    let future = format!("&from={}", encode(&later));
    assert_eq!(walk(&app, &token, &future, 7).await.len(), 0);
    let past = format!("&to={}", encode(&earlier));
    assert_eq!(walk(&app, &token, &past, 7).await.len(), 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn tenants_see_only_their_own_entries_and_cursors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, globex) = tenants(&app.store).await;
    seed_entries(&app.store, acme, 5).await;
    let acme_token = app.token(acme, Role::Admin).await;
    let globex_token = app.token(globex, Role::Admin).await;

    let globex_page = app.audit(&globex_token, "").await;
    assert_eq!(globex_page.body, json!({"items": [], "next_cursor": null}));
    let acme_page = app.audit(&acme_token, "?limit=2").await;
    let cursor = acme_page.body["next_cursor"].as_str().unwrap();
    let replayed = app
        .audit(&globex_token, &format!("?limit=2&cursor={cursor}"))
        .await;
    assert_problem(&replayed, StatusCode::BAD_REQUEST);
    // The same cursor works for its tenant.
    let next = app
        .audit(&acme_token, &format!("?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(items(&next).len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_queries_are_problems(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, _) = tenants(&app.store).await;
    seed_entries(&app.store, acme, 3).await;
    let token = app.token(acme, Role::Admin).await;
    let cursor = app.audit(&token, "?limit=1").await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let long = "a".repeat(2000);
    for query in [
        "?limit=0".to_owned(),
        "?limit=501".to_owned(),
        "?limit=-1".to_owned(),
        "?limit=ten".to_owned(),
        "?outcome=maybe".to_owned(),
        "?from=yesterday".to_owned(),
        "?to=2026-02-30T00:00:00Z".to_owned(),
        "?from=2026-11-26T12:00:00Z&to=2026-11-26T11:00:00Z".to_owned(),
        "?cursor=not-a-cursor".to_owned(),
        format!("?cursor={tampered}"),
        format!("?cursor={long}"),
        format!("?actor={long}"),
        "?action=%27%3B%20DROP%20TABLE%20audit_log%3B--%00".to_owned(),
        "?limit=1&limit=2".to_owned(),
    ] {
        let answer = app.audit(&token, &query).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
    // SQL-looking filters are just text.
    let answer = app.audit(&token, "?actor=%27%20OR%201%3D1%20--").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(items(&answer).is_empty());
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_endpoint_is_in_the_openapi_document(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let document = app
        .send(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(document.status, StatusCode::OK);
    let operation = &document.body["paths"]["/api/v1/audit"]["get"];
    assert!(operation.is_object(), "{}", document.body["paths"]);
    let parameters: Vec<&str> = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parameters,
        [
            "action", "actor", "outcome", "from", "to", "limit", "cursor"
        ]
    );
    let limit = &operation["parameters"][5]["schema"];
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64()),
        (Some(1), Some(500))
    );
    assert!(document.body["components"]["schemas"]["AuditPage"].is_object());
    // The earlier paths are still there.
    assert!(document.body["paths"]["/api/v1/auth/sign-in"].is_object());
}
