//! The REST contract is checked in: `docs/openapi.json` must equal the document the code
//! generates, so every API change shows up in review as a change to that file.
//!
//! After changing the API: `FJORD_UPDATE_OPENAPI=1 cargo test -p fjord-control-plane --test openapi_contract`.

use fjord_control_plane::api::ApiDoc;
use utoipa::OpenApi as _;

#[test]
fn the_checked_in_openapi_document_matches_the_code() {
    let generated = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serializes")
        + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    if std::env::var_os("FJORD_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("docs/openapi.json is writable");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/openapi.json is not what the code generates; run \
         FJORD_UPDATE_OPENAPI=1 cargo test -p fjord-control-plane --test openapi_contract \
         and commit the result"
    );
}

/// The reference page is served, is HTML, loads nothing from elsewhere, and shows every path
/// of the document.
#[tokio::test]
async fn the_reference_page_is_served_from_the_document() {
    use fjord_control_plane::api::{self, ApiState};
    use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
    use fjord_control_plane::auth::session::SessionKeys;
    use fjord_control_plane::store::Store;
    use tower::ServiceExt as _;

    // The page never touches the database; a lazy pool is never connected.
    let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
    let state = ApiState::new(
        Store::from_pool(pool),
        SessionKeys::new([7; 32]),
        RateLimitPolicy::default(),
    )
    .unwrap();
    let response = api::router(state)
        .oneshot(
            axum::http::Request::get("/api/v1/reference")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let page = String::from_utf8(body.to_vec()).unwrap();
    assert!(!page.contains("<script"), "the page runs no script");
    assert!(!page.contains("http://") && !page.contains("https://"));
    let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
    for path in document["paths"].as_object().unwrap().keys() {
        assert!(page.contains(&format!("<code>{path}</code>")), "{path}");
    }
}

/// Apps may call every operation a bearer token may call by signing with an access key
/// (ADR 008), except those meant for people; the `sigv4` scheme says how to sign.
#[test]
fn operations_for_bearer_tokens_take_signed_access_keys_except_those_for_people() {
    // Managing people is for people (ADR 007): access keys get a 403 there.
    const FOR_PEOPLE_ONLY: [&str; 7] = [
        "/api/v1/auth/switch-tenant",
        "/api/v1/me",
        "/api/v1/me/password",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/invitations",
        "/api/v1/invitations/{id}",
    ];
    let document = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    let scheme = &document["components"]["securitySchemes"]["sigv4"];
    assert_eq!(scheme["type"], "apiKey", "{scheme}");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], "Authorization");
    let description = scheme["description"].as_str().unwrap_or_default();
    for needle in [
        "AWS4-HMAC-SHA256",
        "`fjord`",
        "`execute-api`",
        "UNSIGNED-PAYLOAD",
        "15 minutes",
    ] {
        assert!(description.contains(needle), "{needle} in {description}");
    }
    let mut signed = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let schemes: Vec<&str> = operation["security"]
                .as_array()
                .map(|requirements| {
                    requirements
                        .iter()
                        .filter_map(|requirement| requirement.as_object())
                        .flat_map(|requirement| requirement.keys().map(String::as_str))
                        .collect()
                })
                .unwrap_or_default();
            if !schemes.contains(&"bearer") {
                assert!(!schemes.contains(&"sigv4"), "{method} {path}");
                continue;
            }
            let for_people = FOR_PEOPLE_ONLY.contains(&path.as_str());
            assert_eq!(
                schemes.contains(&"sigv4"),
                !for_people,
                "{method} {path}: {schemes:?}"
            );
            signed += usize::from(!for_people);
        }
    }
    assert!(signed >= 18, "only {signed} operations take signed keys");
}
