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
