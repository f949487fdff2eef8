//! The REST API's identity endpoints, driven with `oneshot` on a real Postgres (a fresh
//! database per test): sign-in, sessions, rate limiting, bad input and the OpenAPI document.

#[path = "support/members.rs"]
mod members;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use fjord_common::secret::MasterKey;
use fjord_control_plane::admin;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::password;
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::{Claims, SessionKeys};
use fjord_control_plane::store::access_keys::NewAccessKeyRecord;
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, TenantId};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";
const KEY: [u8; 32] = [9; 32];

struct TestApp {
    router: axum::Router,
    store: Store,
    pool: PgPool,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        Self::with_policy(pool, RateLimitPolicy::default()).await
    }

    async fn with_policy(pool: PgPool, policy: RateLimitPolicy) -> Self {
        let store = Store::from_pool(pool.clone());
        let state = ApiState::new(store.clone(), SessionKeys::new(KEY), policy).unwrap();
        Self {
            router: api::router(state),
            store,
            pool,
        }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(post_from(
            path,
            body.to_string().into_bytes(),
            "127.0.0.1:5000",
        ))
        .await
    }

    async fn sign_in(&self, email: &str, password: &str, tenant: Option<&str>) -> Answer {
        let mut body = json!({"email": email, "password": password});
        if let Some(tenant) = tenant {
            body["tenant"] = json!(tenant);
        }
        self.post("/api/v1/auth/sign-in", body).await
    }

    async fn me(&self, authorization: Option<&str>) -> Answer {
        let mut request = Request::get("/api/v1/me");
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

fn post_from(path: &str, body: Vec<u8>, address: &str) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let address: SocketAddr = address.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(address));
    request
}

fn assert_problem(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(answer.body["status"], status.as_u16());
    assert!(answer.body["type"].as_str().is_some(), "{}", answer.body);
    assert!(answer.body["title"].as_str().is_some(), "{}", answer.body);
}

/// Tenants acme (123456789012) and globex (210987654321); ada is a developer of acme.
async fn seed(store: &Store) -> (TenantId, TenantId, UserId) {
    let acme = store
        .create_tenant("acme", 10, 1, || "123456789012".to_owned())
        .await
        .unwrap();
    let globex = store
        .create_tenant("globex", 10, 1, || "210987654321".to_owned())
        .await
        .unwrap();
    let user = store
        .create_user("ada@example.com", &password::hash(PASSWORD).unwrap(), false)
        .await
        .unwrap();
    store
        .put_membership(TenantId(acme.id), UserId(user.id), Role::Developer)
        .await
        .unwrap();
    (TenantId(acme.id), TenantId(globex.id), UserId(user.id))
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_in_returns_a_session_that_works_on_me(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, _, user_id) = seed(&app.store).await;

    let answer = app.sign_in("  Ada@Example.com ", PASSWORD, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 900);
    assert_eq!(answer.body["role"], "developer");
    assert_eq!(answer.body["tenant"]["account_id"], "123456789012");
    assert_eq!(answer.body["tenant"]["name"], "acme");
    assert_eq!(answer.body["memberships"].as_array().unwrap().len(), 1);
    let refresh_token = answer.body["refresh_token"].as_str().unwrap();
    assert_eq!(refresh_token.len(), 43);
    // Only the hash of the refresh token is stored.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(stored, refresh_token.as_bytes());

    let access_token = answer.body["access_token"].as_str().unwrap();
    let me = app.me(Some(&format!("Bearer {access_token}"))).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["user"]["id"], user_id.0.to_string());
    assert_eq!(me.body["user"]["email"], "ada@example.com");
    assert_eq!(me.body["user"]["is_operator"], false);
    assert_eq!(me.body["tenant"]["id"], acme.0.to_string());
    assert_eq!(me.body["role"], "developer");
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_password_unknown_email_and_disabled_user_look_the_same(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app.store).await;
    let wrong_password = app.sign_in("ada@example.com", "wrong", None).await;
    let unknown_email = app.sign_in("bob@example.com", PASSWORD, None).await;
    let not_an_email = app.sign_in("nobody", PASSWORD, None).await;
    sqlx::query("UPDATE users SET disabled = true")
        .execute(&app.pool)
        .await
        .unwrap();
    let disabled = app.sign_in("ada@example.com", PASSWORD, None).await;
    for answer in [&wrong_password, &unknown_email, &not_an_email, &disabled] {
        assert_problem(answer, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body, wrong_password.body);
        assert_eq!(answer.body["detail"], "invalid email or password");
    }
    assert_eq!(app.count("refresh_tokens").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn failed_sign_ins_are_limited_per_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, _, _) = seed(&app.store).await;
    let other = app
        .store
        .create_user("bob@example.com", &password::hash(PASSWORD).unwrap(), false)
        .await
        .unwrap();
    app.store
        .put_membership(acme, UserId(other.id), Role::Viewer)
        .await
        .unwrap();

    for _ in 0..5 {
        let answer = app.sign_in("ada@example.com", "wrong", None).await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now, with a hint when to come back.
    let limited = app.sign_in("ada@example.com", PASSWORD, None).await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // Another account from the same address is unaffected.
    let answer = app.sign_in("bob@example.com", PASSWORD, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Unknown emails are limited the same way, so the limiter reveals nothing.
    for _ in 0..5 {
        app.sign_in("ghost@example.com", "wrong", None).await;
    }
    let answer = app.sign_in("ghost@example.com", "wrong", None).await;
    assert_problem(&answer, StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrations = "../migrations")]
async fn failed_sign_ins_are_limited_per_address(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app.store).await;
    let attempt = |email: String, password: &str, address: &str| {
        let body = json!({"email": email, "password": password});
        post_from(
            "/api/v1/auth/sign-in",
            body.to_string().into_bytes(),
            address,
        )
    };
    for index in 0..20 {
        let answer = app
            .send(attempt(
                format!("user{index}@example.com"),
                "wrong",
                "10.0.0.1:1234",
            ))
            .await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
    }
    let answer = app
        .send(attempt(
            "ada@example.com".to_owned(),
            PASSWORD,
            "10.0.0.1:9999",
        ))
        .await;
    assert_problem(&answer, StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    let answer = app
        .send(attempt(
            "ada@example.com".to_owned(),
            PASSWORD,
            "10.0.0.2:1234",
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_limit_lifts_when_the_window_ends(pool: PgPool) {
    let policy = RateLimitPolicy {
        failures_per_account: 2,
        failures_per_address: 100,
        window: Duration::from_secs(1),
    };
    let app = TestApp::with_policy(pool, policy).await;
    seed(&app.store).await;
    for _ in 0..2 {
        app.sign_in("ada@example.com", "wrong", None).await;
    }
    let answer = app.sign_in("ada@example.com", PASSWORD, None).await;
    assert_problem(&answer, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = app.sign_in("ada@example.com", PASSWORD, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn refresh_rotates_and_reuse_revokes_the_chain(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app.store).await;
    let first = app.sign_in("ada@example.com", PASSWORD, None).await;
    let first_token = first.body["refresh_token"].as_str().unwrap().to_owned();

    let second = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first_token}),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let second_token = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first_token);
    assert_eq!(second.body["role"], "developer");
    let access = second.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.me(Some(&format!("Bearer {access}"))).await.status,
        StatusCode::OK
    );

    // The first token was used: presenting it again is refused and ends the whole chain.
    let reused = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first_token}),
        )
        .await;
    assert_problem(&reused, StatusCode::UNAUTHORIZED);
    let after_reuse = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": second_token}),
        )
        .await;
    assert_problem(&after_reuse, StatusCode::UNAUTHORIZED);
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(live, 0);
    let unknown = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": "not-a-token"}),
        )
        .await;
    assert_problem(&unknown, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_out_revokes_the_refresh_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app.store).await;
    let session = app.sign_in("ada@example.com", PASSWORD, None).await;
    let token = session.body["refresh_token"].as_str().unwrap().to_owned();
    let answer = app
        .post("/api/v1/auth/sign-out", json!({"refresh_token": token}))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let answer = app
        .post("/api/v1/auth/refresh", json!({"refresh_token": token}))
        .await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED);
    // Signing out twice, or with an unknown token, is still fine.
    for token in [token.as_str(), "unknown"] {
        let answer = app
            .post("/api/v1/auth/sign-out", json!({"refresh_token": token}))
            .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn forged_expired_and_foreign_access_tokens_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, _, user_id) = seed(&app.store).await;
    let now = Utc::now().timestamp();
    let claims = |exp: i64| Claims {
        iss: "fjord".to_owned(),
        sub: user_id.0,
        tid: acme.0,
        role: Role::Owner,
        iat: exp - 900,
        exp,
        jti: Uuid::new_v4(),
        sep: 0,
    };
    let valid = SessionKeys::new(KEY).sign(&claims(now + 600)).unwrap();
    assert_eq!(
        app.me(Some(&format!("Bearer {valid}"))).await.status,
        StatusCode::OK
    );

    let expired = SessionKeys::new(KEY).sign(&claims(now - 5)).unwrap();
    let other_key = SessionKeys::new([1; 32]).sign(&claims(now + 600)).unwrap();
    let (header_part, rest) = valid.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_claims = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut forged = claims(now + 600);
        forged.tid = Uuid::new_v4();
        engine.encode(serde_json::to_vec(&forged).unwrap())
    };
    let forged = format!("{header_part}.{forged_claims}.{signature}");
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{forged_claims}.");
    for authorization in [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer garbage".to_owned()),
        Some(format!("Basic {valid}")),
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {other_key}")),
        Some(format!("Bearer {forged}")),
        Some(format!("Bearer {unsigned}")),
    ] {
        let answer = app.me(authorization.as_deref()).await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_member_of_one_tenant_cannot_pick_another(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, globex, _) = seed(&app.store).await;
    let refused = app
        .sign_in("ada@example.com", PASSWORD, Some("globex"))
        .await;
    assert_problem(&refused, StatusCode::FORBIDDEN);
    for tenant in ["210987654321", "no-such-tenant"] {
        let answer = app.sign_in("ada@example.com", PASSWORD, Some(tenant)).await;
        // Existing and missing tenants are refused alike.
        assert_eq!(answer.status, refused.status);
        assert_eq!(answer.body, refused.body);
    }
    assert!(!refused.body.to_string().contains(&globex.0.to_string()));
    assert_eq!(app.count("refresh_tokens").await, 0);

    // A member of both picks by account id or name; without a choice, the first by name.
    let grace = app
        .store
        .create_user(
            "grace@example.com",
            &password::hash(PASSWORD).unwrap(),
            false,
        )
        .await
        .unwrap();
    app.store
        .put_membership(globex, UserId(grace.id), Role::Owner)
        .await
        .unwrap();
    let (acme_id,) = sqlx::query_as::<_, (Uuid,)>("SELECT id FROM tenants WHERE name = 'acme'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    app.store
        .put_membership(TenantId(acme_id), UserId(grace.id), Role::Viewer)
        .await
        .unwrap();
    let default = app.sign_in("grace@example.com", PASSWORD, None).await;
    assert_eq!(default.body["tenant"]["name"], "acme");
    assert_eq!(default.body["role"], "viewer");
    assert_eq!(default.body["memberships"].as_array().unwrap().len(), 2);
    let chosen = app
        .sign_in("grace@example.com", PASSWORD, Some("210987654321"))
        .await;
    assert_eq!(chosen.body["tenant"]["name"], "globex");
    assert_eq!(chosen.body["role"], "owner");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_bodies_get_problems_and_store_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app.store).await;
    let oversize = json!({"email": "ada@example.com", "password": "x".repeat(70 * 1024)});
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        (
            "malformed",
            b"{\"email\": ".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        ("empty", Vec::new(), StatusCode::BAD_REQUEST),
        (
            "unknown field",
            br#"{"email":"ada@example.com","password":"p","admin":true}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong type",
            br#"{"email":"ada@example.com","password":42}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "missing field",
            br#"{"email":"ada@example.com"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid utf-8",
            b"{\"email\":\"ada@example.com\",\"password\":\"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        ("array", b"[]".to_vec(), StatusCode::BAD_REQUEST),
        (
            "sql-looking",
            br#"{"email":"x' OR '1'='1","password":"' OR 1=1 --"}"#.to_vec(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "very long email",
            json!({"email": format!("{}@example.com", "a".repeat(300)), "password": "p"})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "oversize",
            oversize.to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (case, body, status) in cases {
        for path in [
            "/api/v1/auth/sign-in",
            "/api/v1/auth/refresh",
            "/api/v1/auth/sign-out",
        ] {
            let answer = app.send(post_from(path, body.clone(), "127.0.0.1:1")).await;
            assert!(
                answer.status.is_client_error(),
                "{case} {path}: {}",
                answer.status
            );
            assert_problem(&answer, answer.status);
            if path.ends_with("sign-in") {
                assert_eq!(answer.status, status, "{case}: {}", answer.body);
            }
        }
    }
    let not_json = Request::post("/api/v1/auth/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("email=ada%40example.com&password=p"))
        .unwrap();
    assert_problem(
        &app.send(not_json).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    assert_eq!(app.count("refresh_tokens").await, 0);
    assert_eq!(app.count("users").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_routes_are_problems_and_the_internal_api_still_answers(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let answer = app
        .send(Request::get("/api/v1/nope").body(Body::empty()).unwrap())
        .await;
    assert_problem(&answer, StatusCode::NOT_FOUND);
    let answer = app
        .send(
            Request::get("/api/v1/auth/sign-in")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_problem(&answer, StatusCode::METHOD_NOT_ALLOWED);

    // The REST API is merged beside the internal API, as `run` serves them.
    let internal = fjord_control_plane::http::router(fjord_control_plane::http::InternalState {
        admin: fjord_control_plane::kinesis::KinesisAdmin {
            store: Store::from_pool(pool),
            region: "us-east-1".to_owned(),
            tokens: fjord_common::token::TokenSigner::new([3; 32]),
            default_retention_hours: 24,
        },
        secret_box: None,
        internal_token: std::sync::Arc::from("internal-token-for-tests-0123456789"),
    });
    let merged = internal.merge(app.router.clone());
    let health = merged
        .clone()
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let me = merged
        .oneshot(Request::get("/api/v1/me").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_is_3_1(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let answer = app
        .send(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let version = answer.body["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1"), "{version}");
    for path in [
        "/api/v1/auth/sign-in",
        "/api/v1/auth/refresh",
        "/api/v1/auth/sign-out",
        "/api/v1/auth/switch-tenant",
        "/api/v1/me",
    ] {
        assert!(answer.body["paths"][path].is_object(), "{path}");
    }
    assert!(answer.body["components"]["schemas"]["Problem"].is_object());
    assert!(answer.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[sqlx::test(migrations = "../migrations")]
async fn operators_create_users_and_reset_passwords(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app.store).await;
    let created = admin::create_user(&app.store, "Lin@Example.com", "globex", Role::Admin, true)
        .await
        .unwrap();
    let generated = created.password.clone().unwrap();
    assert_eq!(generated.len(), 20);
    assert_eq!(created.email, "lin@example.com");
    // Adding a membership to an existing user keeps the password and prints none.
    let again = admin::create_user(&app.store, "lin@example.com", "acme", Role::Viewer, false)
        .await
        .unwrap();
    assert!(again.password.is_none());
    assert!(again.is_operator);
    assert!(
        admin::create_user(&app.store, "x@example.com", "missing", Role::Viewer, false)
            .await
            .is_err()
    );

    let session = app
        .sign_in("lin@example.com", &generated, Some("globex"))
        .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    assert_eq!(session.body["role"], "admin");
    let refresh_token = session.body["refresh_token"].as_str().unwrap().to_owned();

    let reset = admin::reset_password(&app.store, "lin@example.com")
        .await
        .unwrap();
    assert_ne!(reset.password, generated);
    let answer = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refresh_token}),
        )
        .await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED);
    assert_problem(
        &app.sign_in("lin@example.com", &generated, None).await,
        StatusCode::UNAUTHORIZED,
    );
    let answer = app.sign_in("lin@example.com", &reset.password, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        admin::reset_password(&app.store, "nobody@example.com")
            .await
            .is_err()
    );
}

// ---- POST /api/v1/auth/switch-tenant ----

impl TestApp {
    /// `method path` as the bearer of `token`, with a JSON body if given.
    async fn as_bearer(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        self.send(request.body(Body::from(body.unwrap_or_default())).unwrap())
            .await
    }

    async fn switch_tenant(&self, token: &str, tenant: &str) -> Answer {
        let body = json!({"tenant": tenant}).to_string().into_bytes();
        self.as_bearer(token, "POST", "/api/v1/auth/switch-tenant", Some(body))
            .await
    }

    /// The audit entries with `action`: tenant, actor id, outcome, error code and details.
    async fn audited(&self, action: &str) -> Vec<(Uuid, String, String, Option<String>, Value)> {
        sqlx::query_as(
            "SELECT tenant_id, actor_id, outcome, error_code, details FROM audit_log
             WHERE action = $1 ORDER BY occurred_at, id",
        )
        .bind(action)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

/// [`seed`], with ada a viewer of globex too, and a stream in each tenant.
async fn seed_two_memberships(app: &TestApp) -> (TenantId, TenantId, UserId) {
    let (acme, globex, ada) = seed(&app.store).await;
    app.store
        .put_membership(globex, ada, Role::Viewer)
        .await
        .unwrap();
    for (tenant, name) in [(acme, "acme-orders"), (globex, "globex-orders")] {
        let owner = members::member_token(&app.store, KEY, tenant, Role::Owner).await;
        let create = json!({"name": name, "mode": "provisioned", "shard_count": 1});
        let answer = app
            .as_bearer(
                &owner,
                "POST",
                "/api/v1/streams",
                Some(create.to_string().into_bytes()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    (acme, globex, ada)
}

fn stream_names(answer: &Answer) -> Vec<&str> {
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn switching_tenant_opens_a_session_in_the_other_tenant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, globex, ada) = seed_two_memberships(&app).await;
    let signed_in = app.sign_in("ada@example.com", PASSWORD, None).await;
    assert_eq!(signed_in.body["tenant"]["name"], "acme");
    let acme_access = signed_in.body["access_token"].as_str().unwrap().to_owned();
    let acme_refresh = signed_in.body["refresh_token"].as_str().unwrap().to_owned();

    let switched = app.switch_tenant(&acme_access, "globex").await;
    assert_eq!(switched.status, StatusCode::OK, "{}", switched.body);
    let body = &switched.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["tenant"]["id"], globex.0.to_string());
    assert_eq!(body["tenant"]["account_id"], "210987654321");
    assert_eq!(body["tenant"]["name"], "globex");
    assert_eq!(body["role"], "viewer");
    assert_eq!(body["memberships"].as_array().unwrap().len(), 2);
    assert_eq!(body["refresh_token"].as_str().unwrap().len(), 43);
    let globex_access = body["access_token"].as_str().unwrap().to_owned();
    let globex_refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // The new token reads globex's streams, as a viewer: it may not create one.
    let streams = app
        .as_bearer(&globex_access, "GET", "/api/v1/streams", None)
        .await;
    assert_eq!(streams.status, StatusCode::OK, "{}", streams.body);
    assert_eq!(stream_names(&streams), ["globex-orders"]);
    let create = json!({"name": "more", "mode": "provisioned", "shard_count": 1});
    let refused = app
        .as_bearer(
            &globex_access,
            "POST",
            "/api/v1/streams",
            Some(create.to_string().into_bytes()),
        )
        .await;
    assert_problem(&refused, StatusCode::FORBIDDEN);
    let me = app.me(Some(&format!("Bearer {globex_access}"))).await;
    assert_eq!(me.body["tenant"]["name"], "globex");
    assert_eq!(me.body["role"], "viewer");

    // The old session goes on in acme, and its refresh token still works.
    let streams = app
        .as_bearer(&acme_access, "GET", "/api/v1/streams", None)
        .await;
    assert_eq!(stream_names(&streams), ["acme-orders"]);
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": acme_refresh}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.body["tenant"]["name"], "acme");
    assert_eq!(refreshed.body["role"], "developer");
    // The new refresh token renews the globex session.
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": globex_refresh}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.body["tenant"]["name"], "globex");
    assert_eq!(refreshed.body["role"], "viewer");

    // Back by account id, and to the current tenant: a fresh session each time.
    let back = app.switch_tenant(&globex_access, "123456789012").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["tenant"]["name"], "acme");
    assert_eq!(back.body["role"], "developer");
    let same = app.switch_tenant(&globex_access, "globex").await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(same.body["tenant"]["name"], "globex");
    assert_ne!(same.body["refresh_token"], switched.body["refresh_token"]);
    assert_ne!(same.body["access_token"], switched.body["access_token"]);

    // Each switch is audited in the tenant switched to, by ada.
    let audited = app.audited("auth:SwitchTenant").await;
    let tenants: Vec<Uuid> = audited.iter().map(|entry| entry.0).collect();
    assert_eq!(tenants, [globex.0, acme.0, globex.0]);
    for (_, actor_id, outcome, error_code, details) in &audited {
        assert_eq!(actor_id, &ada.0.to_string());
        assert_eq!(outcome, "success");
        assert_eq!(error_code, &None);
        assert!(details["role"].is_string(), "{details}");
    }
    assert_eq!(audited[0].4["role"], "viewer");
    let resource: String = sqlx::query_scalar(
        "SELECT resource FROM audit_log WHERE action = 'auth:SwitchTenant' LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(resource, "ada@example.com");
}

#[sqlx::test(migrations = "../migrations")]
async fn switching_to_a_tenant_one_is_not_a_member_of_is_a_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (acme, globex, ada) = seed(&app.store).await;
    let signed_in = app.sign_in("ada@example.com", PASSWORD, None).await;
    let access = signed_in.body["access_token"].as_str().unwrap().to_owned();

    let existing = app.switch_tenant(&access, "globex").await;
    assert_problem(&existing, StatusCode::NOT_FOUND);
    // Existing tenants, by name or account id, and missing ones are refused alike.
    for tenant in ["210987654321", "no-such-tenant", "999999999999"] {
        let answer = app.switch_tenant(&access, tenant).await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
        assert_eq!(answer.body, existing.body, "{tenant}");
    }
    assert!(!existing.body.to_string().contains(&globex.0.to_string()));
    assert_eq!(app.count("refresh_tokens").await, 1, "only sign-in's");

    // Refusals are audited in the caller's tenant, with what was asked for.
    let audited = app.audited("auth:SwitchTenant").await;
    assert_eq!(audited.len(), 4);
    for (tenant, actor_id, outcome, error_code, _) in &audited {
        assert_eq!(
            (*tenant, actor_id.as_str()),
            (acme.0, ada.0.to_string().as_str())
        );
        assert_eq!(outcome, "failure");
        assert_eq!(error_code.as_deref(), Some("not-found"));
    }
    assert_eq!(audited[0].4["requested_tenant"], "globex");
}

#[sqlx::test(migrations = "../migrations")]
async fn switching_tenant_needs_a_current_session_and_a_good_body(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed_two_memberships(&app).await;
    let signed_in = app.sign_in("ada@example.com", PASSWORD, None).await;
    let access = signed_in.body["access_token"].as_str().unwrap().to_owned();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed", b"{\"tenant\": ".to_vec()),
        ("empty body", Vec::new()),
        ("missing field", b"{}".to_vec()),
        (
            "unknown field",
            br#"{"tenant":"globex","role":"owner"}"#.to_vec(),
        ),
        ("wrong type", br#"{"tenant":210987654321}"#.to_vec()),
        ("array", b"[]".to_vec()),
        ("empty tenant", br#"{"tenant":""}"#.to_vec()),
        (
            "control character",
            br#"{"tenant":"glo\u0000bex"}"#.to_vec(),
        ),
        (
            "very long tenant",
            json!({"tenant": "g".repeat(129)}).to_string().into_bytes(),
        ),
    ];
    for (case, body) in cases {
        let answer = app
            .as_bearer(&access, "POST", "/api/v1/auth/switch-tenant", Some(body))
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        assert!(answer.body["detail"].is_string(), "{case}: {}", answer.body);
    }
    assert_eq!(app.count("refresh_tokens").await, 1);

    // No token, or a refresh token in its place.
    let refresh_token = signed_in.body["refresh_token"].as_str().unwrap();
    let body = json!({"tenant": "globex"}).to_string().into_bytes();
    let anonymous = app
        .send(post_from("/api/v1/auth/switch-tenant", body, "127.0.0.1:1"))
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED);
    let wrong_token = app.switch_tenant(refresh_token, "globex").await;
    assert_problem(&wrong_token, StatusCode::UNAUTHORIZED);

    // A password change ends the session: it cannot open another one.
    sqlx::query("UPDATE users SET session_epoch = session_epoch + 1")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_problem(
        &app.switch_tenant(&access, "globex").await,
        StatusCode::UNAUTHORIZED,
    );
    // Nor can a disabled user switch, with a token of the current epoch.
    let signed_in = app.sign_in("ada@example.com", PASSWORD, None).await;
    let access = signed_in.body["access_token"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE users SET disabled = true")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_problem(
        &app.switch_tenant(&access, "globex").await,
        StatusCode::UNAUTHORIZED,
    );
    assert_eq!(app.count("refresh_tokens").await, 2, "only sign-ins'");
}

#[sqlx::test(migrations = "../migrations")]
async fn access_keys_cannot_switch_tenant(pool: PgPool) {
    const MASTER_KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const KEY_ID: &str = "AKIAOWNER00000000001";
    const HOST: &str = "fjord.test";
    let store = Store::from_pool(pool.clone());
    let (acme, _, _) = seed(&store).await;
    let master_key = MasterKey::from_hex(MASTER_KEY_HEX).unwrap();
    let sealed_secret = master_key.secret_box().seal(SECRET, KEY_ID).unwrap();
    let key = NewAccessKeyRecord {
        access_key_id: KEY_ID.to_owned(),
        sealed_secret,
        name: "app".to_owned(),
        role: Role::Owner,
        user_id: None,
    };
    store.create_access_key(acme, key, None).await.unwrap();
    let state = ApiState::new(store, SessionKeys::new(KEY), RateLimitPolicy::default())
        .unwrap()
        .with_master_key(&master_key);
    let router = api::router(state);

    let signed_post = |path: &str, body: &[u8]| {
        let url = format!("http://{HOST}{path}");
        let identity =
            aws_credential_types::Credentials::new(KEY_ID, SECRET, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("fjord")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            [("host", HOST), ("content-type", "application/json")].into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        request.body(Body::from(body.to_vec())).unwrap()
    };
    let send = |request: Request<Body>| {
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };

    // The key signs well: it may create a stream (an owner key) ...
    let create = json!({"name": "orders", "mode": "provisioned", "shard_count": 1}).to_string();
    let (status, body) = send(signed_post("/api/v1/streams", create.as_bytes())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // ... but switching tenant is for people, whatever the body.
    for body in [br#"{"tenant":"acme"}"#.as_slice(), b"{}".as_slice()] {
        let (status, problem) = send(signed_post("/api/v1/auth/switch-tenant", body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert_eq!(problem["type"], "urn:fjord:problem:forbidden", "{problem}");
    }
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(live, 0);
}
