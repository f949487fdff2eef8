//! `Idempotency-Key` on the creating endpoints (keys, streams, invitations): the header, and
//! the answers to a repeat (ADR 007 and the keys/streams ADRs describe the 24-hour window).

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use crate::store::idempotency::IdempotencyKey;

const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The request's `Idempotency-Key`, with a hash of what it asks for (`fingerprint`), so a
/// reused key with a different request is told apart. Shared by the creating endpoints.
pub(crate) fn idempotency_key(
    headers: &HeaderMap,
    fingerprint: &serde_json::Value,
) -> Result<Option<IdempotencyKey>, Problem> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| {
            (1..=MAX_IDEMPOTENCY_KEY_LENGTH).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            Problem::bad_request("Idempotency-Key must be 1-255 visible ASCII characters")
        })?;
    let digest = ring::digest::digest(&ring::digest::SHA256, fingerprint.to_string().as_bytes());
    let mut request_hash = [0u8; 32];
    request_hash.copy_from_slice(digest.as_ref());
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        request_hash,
    }))
}

/// The answer to a repeated create: what was created before, marked `Idempotent-Replayed`.
pub(crate) fn replayed(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// A 409 problem: the key was used with a different request.
pub(crate) fn reused_key() -> Problem {
    Problem::conflict("this Idempotency-Key was used with a different request in the last 24 hours")
}
