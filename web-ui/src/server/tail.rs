//! `GET /console/tail/{stream}/{shard}`: the REST API's live tail
//! (`GET /api/v1/streams/{name}/shards/{shard}/tail`, server-sent events) passed through for
//! the browser's `EventSource`, which cannot send an `Authorization` header but does send the
//! session cookie.

use axum::Extension;
use axum::extract::{Path, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderName, Method, StatusCode};

use super::Console;
use super::rest::{Rest, segment};
use crate::error::ConsoleError;

pub(super) async fn tail(
    Extension(console): Extension<Console>,
    Path((stream, shard)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let rest = Rest::for_parts(&console, &parts);
    if !rest.is_signed_in() {
        return (StatusCode::UNAUTHORIZED, "Sign in to tail a stream.").into_response();
    }
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let path = format!(
        "/api/v1/streams/{}/shards/{}/tail{query}",
        segment(&stream),
        segment(&shard)
    );
    let last_event_id = HeaderName::from_static("last-event-id");
    let resume: Vec<_> = parts
        .headers
        .get(&last_event_id)
        .map(|value| (last_event_id.clone(), value.clone()))
        .into_iter()
        .collect();
    match rest.raw(Method::GET, &path, resume).await {
        Ok(response) => response.into_response(),
        Err(error @ ConsoleError::SignedOut) => {
            (StatusCode::UNAUTHORIZED, error.to_string()).into_response()
        }
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, error.to_string()).into_response()
        }
    }
}
