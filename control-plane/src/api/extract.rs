//! Request extractors of the REST API whose rejections are problems: a size-limited,
//! strict JSON body and the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use fjord_common::client_address::{FORWARDED_FOR_HEADER, TrustedProxies};
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

/// The client's address: the connection's peer, or, when the peer is one of the trusted
/// proxies (a [`TrustedProxies`] request extension, which the control plane adds from
/// `http.trusted_proxies`), the address it forwarded. `None` when the server does not record
/// peers (tests may not).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_address(parts)))
    }
}

fn client_address(parts: &Parts) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    let Some(trusted) = parts.extensions.get::<TrustedProxies>() else {
        return Some(peer.ip().to_canonical());
    };
    let forwarded_for = parts
        .headers
        .get_all(FORWARDED_FOR_HEADER)
        .iter()
        .map(|value| value.as_bytes());
    Some(trusted.client_address(peer.ip(), forwarded_for))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, forwarded_for: &[&str], trusted: Option<&[&str]>) -> Parts {
        let mut request = axum::http::Request::builder();
        for value in forwarded_for {
            request = request.header(FORWARDED_FOR_HEADER, *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1234)));
        if let Some(trusted) = trusted {
            parts
                .extensions
                .insert(TrustedProxies::parse(trusted).unwrap());
        }
        parts
    }

    #[test]
    fn the_client_address_believes_only_trusted_proxies() {
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        let proxies: &[&str] = &["127.0.0.1/32"];
        /// Peer, `X-Forwarded-For` lines, trusted proxies (if configured), the answer.
        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            Option<&'a [&'a str]>,
            Option<IpAddr>,
        );
        let cases: &[Case] = &[
            ("127.0.0.1", &["203.0.113.7"], None, ip("127.0.0.1")),
            ("127.0.0.1", &["203.0.113.7"], Some(&[]), ip("127.0.0.1")),
            (
                "127.0.0.1",
                &["203.0.113.7"],
                Some(proxies),
                ip("203.0.113.7"),
            ),
            (
                "127.0.0.1",
                &["9.9.9.9", "203.0.113.7"],
                Some(proxies),
                ip("203.0.113.7"),
            ),
            (
                "192.0.2.5",
                &["203.0.113.7"],
                Some(proxies),
                ip("192.0.2.5"),
            ),
            ("::ffff:127.0.0.1", &[], None, ip("127.0.0.1")),
        ];
        for (peer, headers, trusted, expected) in cases {
            assert_eq!(
                client_address(&parts(peer, headers, *trusted)),
                *expected,
                "{peer} {headers:?} {trusted:?}"
            );
        }
        let (no_peer, ()) = axum::http::Request::new(()).into_parts();
        assert_eq!(client_address(&no_peer), None);
    }

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
