//! SigV4-signed REST calls, driven with `oneshot` on a real Postgres and signed by the
//! official `aws-sigv4` signer: what the black-box test (`e2e/tests/rest_sigv4.rs`) cannot
//! reach — a scope naming another region, secrets that cannot be unsealed, a state without a
//! master key — and a signed caller's tenant and role.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fjord_common::secret::MasterKey;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::access_keys::NewAccessKeyRecord;
use fjord_control_plane::store::{Store, TenantId};
use http_body_util::BodyExt as _;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt as _;

const MASTER_KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_MASTER_KEY_HEX: &str =
    "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
const HOST: &str = "fjord.test";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn state(store: &Store, master_key: Option<&str>) -> ApiState {
    let state = ApiState::new(
        store.clone(),
        SessionKeys::new([7; 32]),
        RateLimitPolicy::default(),
    )
    .unwrap();
    match master_key {
        Some(hex) => state.with_master_key(&MasterKey::from_hex(hex).unwrap()),
        None => state,
    }
}

/// Stores a key of `tenant` with `role` whose secret is sealed under `master_key_hex`.
async fn store_key(store: &Store, tenant: TenantId, id: &str, role: Role, master_key_hex: &str) {
    let sealed_secret = MasterKey::from_hex(master_key_hex)
        .unwrap()
        .secret_box()
        .seal(SECRET, id)
        .unwrap();
    let key = NewAccessKeyRecord {
        access_key_id: id.to_owned(),
        sealed_secret,
        name: "app".to_owned(),
        role,
        user_id: None,
    };
    store.create_access_key(tenant, key, None).await.unwrap();
}

/// `GET /api/v1{path}` signed by `id` for `region` and service `fjord`.
fn signed_get(id: &str, path: &str, region: &str) -> Request<Body> {
    let url = format!("http://{HOST}/api/v1{path}");
    let identity = aws_credential_types::Credentials::new(id, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("fjord")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", HOST)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = Request::get(format!("/api/v1{path}")).header(header::HOST, HOST);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    request.body(Body::empty()).unwrap()
}

async fn send(state: ApiState, request: Request<Body>) -> (StatusCode, Value) {
    let response = api::router(state).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn signed_callers_get_their_keys_tenant_and_role(pool: PgPool) {
    let store = Store::from_pool(pool);
    let acme = store
        .create_tenant("acme", 10, 1, || "123456789012".to_owned())
        .await
        .unwrap();
    let acme = TenantId(acme.id);
    store_key(
        &store,
        acme,
        "AKIAVIEWER0000000001",
        Role::Viewer,
        MASTER_KEY_HEX,
    )
    .await;
    store_key(
        &store,
        acme,
        "AKIAADMIN00000000001",
        Role::Admin,
        MASTER_KEY_HEX,
    )
    .await;
    let state = state(&store, Some(MASTER_KEY_HEX));

    let (status, page) = send(
        state.clone(),
        signed_get("AKIAVIEWER0000000001", "/streams", "us-east-1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The viewer may not read the audit log; the admin may, and sees its keys' creation.
    let (status, _) = send(
        state.clone(),
        signed_get("AKIAVIEWER0000000001", "/audit", "us-east-1"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, keys) = send(
        state.clone(),
        signed_get("AKIAADMIN00000000001", "/keys", "us-east-1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    assert_eq!(keys["items"].as_array().map(Vec::len), Some(2), "{keys}");
    // Managing people is for people: even an admin key gets a 403 there.
    for path in ["/users", "/invitations", "/me"] {
        let (status, problem) = send(
            state.clone(),
            signed_get("AKIAADMIN00000000001", path, "us-east-1"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
        assert_eq!(problem["type"], "urn:fjord:problem:forbidden", "{problem}");
    }

    // Another region in the scope.
    let (status, problem) = send(
        state.clone(),
        signed_get("AKIAVIEWER0000000001", "/streams", "eu-west-1"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["type"], "urn:fjord:problem:incomplete-signature");
    assert_eq!(
        problem["detail"],
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn secrets_that_cannot_be_opened_are_a_500_that_leaks_nothing(pool: PgPool) {
    let store = Store::from_pool(pool);
    let acme = store
        .create_tenant("acme", 10, 1, || "123456789012".to_owned())
        .await
        .unwrap();
    let acme = TenantId(acme.id);
    store_key(
        &store,
        acme,
        "AKIAOTHERMASTER00001",
        Role::Owner,
        OTHER_MASTER_KEY_HEX,
    )
    .await;
    store_key(
        &store,
        acme,
        "AKIAGOODKEY000000001",
        Role::Owner,
        MASTER_KEY_HEX,
    )
    .await;

    let (status, problem) = send(
        state(&store, Some(MASTER_KEY_HEX)),
        signed_get("AKIAOTHERMASTER00001", "/streams", "us-east-1"),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(problem["type"], "urn:fjord:problem:internal");
    assert!(!problem.to_string().contains(SECRET));

    // Without a master key no signature can be checked: 500, not a pass.
    let (status, problem) = send(
        state(&store, None),
        signed_get("AKIAGOODKEY000000001", "/streams", "us-east-1"),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{problem}");
}
