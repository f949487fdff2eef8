//! The console's own static files, compiled into the binary so the console works offline and
//! air-gapped with nothing from a CDN: the stylesheet and the favicon. (The wasm and its JS
//! glue are served from the site folder under `/pkg`.)

use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{StatusCode, Uri};

const CONSOLE_CSS: &str = include_str!("../../style/console.css");
const FAVICON_SVG: &str = include_str!("../../style/favicon.svg");

pub(super) async fn asset(Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "console.css" => ("text/css; charset=utf-8", CONSOLE_CSS),
        "favicon.svg" => ("image/svg+xml", FAVICON_SVG),
        _ => return (StatusCode::NOT_FOUND, "No such asset.").into_response(),
    };
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Paths nobody serves: a page for people, an RFC 9457 problem under `/api/`.
pub(super) async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, "application/problem+json")],
            r#"{"type":"urn:fjord:problem:not-found","title":"Not found","status":404}"#,
        )
            .into_response();
    }
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · Fjord</title>\
             <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head><body><main class=\"narrow\">\
             <h1>Page not found</h1><p>There is nothing at this address.</p>\
             <p><a href=\"/streams\">Go to your streams</a></p></main></body></html>",
        ),
    )
        .into_response()
}
