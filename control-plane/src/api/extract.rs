//! Request extractors of the REST API whose rejections are problems: a size-limited,
//! strict JSON body and the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use crate::api::problem::Problem;

/// Largest JSON body the REST API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body: `application/json`, at most `LIMIT` bytes ([`MAX_BODY_BYTES`] unless the
/// handler says otherwise), parsed strictly (the DTOs deny unknown fields). Every rejection is
/// a 4xx problem.
#[derive(Debug, Clone)]
pub struct ApiJson<T, const LIMIT: usize = MAX_BODY_BYTES>(pub T);

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
}

impl<S, T, const LIMIT: usize> FromRequest<S> for ApiJson<T, LIMIT>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(Problem::unsupported_media_type());
        }
        let body = Limited::new(request.into_body(), LIMIT);
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(Problem::payload_too_large(LIMIT));
            }
            Err(_) => return Err(Problem::bad_request("the request body could not be read")),
        };
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|error| match error.classify() {
                serde_json::error::Category::Data => {
                    Problem::bad_request(format!("invalid request body: {error}"))
                }
                _ => Problem::bad_request("the request body is not valid JSON"),
            })
    }
}

/// The peer address of the connection, when the server records it (tests may not).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for accepted in [
            "application/json",
            "application/json; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json(accepted), "{accepted}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
            "json",
        ] {
            assert!(!is_json(refused), "{refused}");
        }
    }
}
