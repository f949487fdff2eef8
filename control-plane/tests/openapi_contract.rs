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

/// Apps may call every operation a bearer token may call by signing with an access key
/// (ADR 008), except those meant for people; the `sigv4` scheme says how to sign.
#[test]
fn operations_for_bearer_tokens_take_signed_access_keys_except_those_for_people() {
    const FOR_PEOPLE_ONLY: [&str; 1] = ["/api/v1/me"];
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
