//! The typed REST client server functions use: in-process calls to the `/api/v1` router with
//! the signed-in person's bearer token. One place maps REST answers to [`ConsoleError`].

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use leptos::prelude::use_context;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

use super::Console;
use super::session::SessionToken;
use crate::api::Problem;
use crate::error::ConsoleError;

const FORWARDED_FOR: &str = "x-forwarded-for";
/// Largest REST answer the console reads (a page of 1,000 records of 1 MiB would not fit; the
/// data viewer asks for small pages).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// A REST client for the current request: the console, the caller's token (if signed in) and
/// the browser's network identity.
#[derive(Clone)]
pub struct Rest {
    api: Router,
    token: Option<String>,
    peer: Option<ConnectInfo<std::net::SocketAddr>>,
    forwarded_for: Option<HeaderValue>,
    extra: Vec<(http::HeaderName, HeaderValue)>,
}

impl Rest {
    /// The client for the request being served (page render or server function).
    pub fn current() -> Result<Rest, ConsoleError> {
        let console = use_context::<Console>()
            .ok_or_else(|| ConsoleError::Unavailable("no console context".to_owned()))?;
        let parts = use_context::<http::request::Parts>()
            .ok_or_else(|| ConsoleError::Unavailable("no request context".to_owned()))?;
        Ok(Rest::for_parts(&console, &parts))
    }

    pub(crate) fn for_parts(console: &Console, parts: &http::request::Parts) -> Rest {
        Rest {
            api: console.api.clone(),
            token: parts
                .extensions
                .get::<SessionToken>()
                .and_then(|t| t.0.clone()),
            peer: parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .cloned(),
            forwarded_for: parts.headers.get(FORWARDED_FOR).cloned(),
            extra: Vec::new(),
        }
    }

    /// Calls as nobody (sign-in, refresh, accepting an invitation).
    pub fn anonymous(mut self) -> Rest {
        self.token = None;
        self
    }

    pub fn with_token(mut self, token: String) -> Rest {
        self.token = Some(token);
        self
    }

    /// Adds a header to every call (e.g. `Idempotency-Key`); ignored when not a valid header.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Rest {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.extra
                .push((http::HeaderName::from_static(name), value));
        }
        self
    }

    pub fn is_signed_in(&self) -> bool {
        self.token.is_some()
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ConsoleError> {
        self.call(Method::GET, path, None::<&()>).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ConsoleError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A call whose answer has no body the console needs (204s, and 200s it ignores).
    pub async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), ConsoleError> {
        self.exchange(method, path, body, Vec::new())
            .await
            .map(drop)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ConsoleError> {
        let bytes = self.exchange(method, path, body, Vec::new()).await?;
        serde_json::from_slice(&bytes).map_err(|error| {
            tracing::error!(%error, path, "the console cannot read a REST answer");
            ConsoleError::Unavailable("an answer the console does not understand".to_owned())
        })
    }

    /// The raw request, for the tail proxy: the REST response as it came.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        extra_headers: Vec<(http::HeaderName, HeaderValue)>,
    ) -> Result<http::Response<Body>, ConsoleError> {
        let request = self.request(method, path, None::<&()>, extra_headers)?;
        let response = self
            .api
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = read_body(response.into_body()).await?;
        Err(problem(status, &bytes))
    }

    async fn exchange<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        extra_headers: Vec<(http::HeaderName, HeaderValue)>,
    ) -> Result<Vec<u8>, ConsoleError> {
        let request = self.request(method, path, body, extra_headers)?;
        let response = self
            .api
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let bytes = read_body(response.into_body()).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        Err(problem(status, &bytes))
    }

    fn request<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        extra_headers: Vec<(http::HeaderName, HeaderValue)>,
    ) -> Result<Request<Body>, ConsoleError> {
        debug_assert!(
            path.starts_with("/api/v1/"),
            "the console only calls the REST API"
        );
        let body = match body {
            Some(body) => Body::from(serde_json::to_vec(body).map_err(|error| {
                ConsoleError::Unavailable(format!("cannot encode the request: {error}"))
            })?),
            None => Body::empty(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|error| ConsoleError::Unavailable(format!("bad request line: {error}")))?;
        if let Some(token) = &self.token {
            let value = HeaderValue::try_from(format!("Bearer {token}"))
                .map_err(|_| ConsoleError::SignedOut)?;
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        if let Some(forwarded_for) = &self.forwarded_for {
            request
                .headers_mut()
                .insert(FORWARDED_FOR, forwarded_for.clone());
        }
        for (name, value) in self.extra.iter().cloned().chain(extra_headers) {
            request.headers_mut().insert(name, value);
        }
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(peer);
        }
        Ok(request)
    }
}

async fn read_body(body: Body) -> Result<Vec<u8>, ConsoleError> {
    let limited = http_body_util::Limited::new(body, MAX_ANSWER_BYTES);
    limited
        .collect()
        .await
        .map(|collected| collected.to_bytes().to_vec())
        .map_err(|error| ConsoleError::Unavailable(format!("cannot read the answer: {error}")))
}

/// A REST refusal as the console reports it.
fn problem(status: StatusCode, body: &[u8]) -> ConsoleError {
    if status == StatusCode::UNAUTHORIZED {
        // Wrong credentials at sign-in are a problem to show, not a lost session.
        if let Ok(problem) = serde_json::from_slice::<Problem>(body)
            && problem.kind.ends_with(":invalid-credentials")
        {
            return from_problem(problem);
        }
        return ConsoleError::SignedOut;
    }
    match serde_json::from_slice::<Problem>(body) {
        Ok(problem) => from_problem(problem),
        Err(_) => ConsoleError::Problem {
            status: status.as_u16(),
            kind: "unknown".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            detail: None,
        },
    }
}

fn from_problem(problem: Problem) -> ConsoleError {
    ConsoleError::Problem {
        status: problem.status,
        kind: problem
            .kind
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned(),
        title: problem.title,
        detail: problem.detail,
    }
}

/// Percent-encodes one path segment (stream names are `[a-zA-Z0-9_.-]`, but the console
/// never trusts what came from a URL).
pub fn segment(text: &str) -> String {
    crate::model::format::url_encode(text)
}

/// Builds `?a=1&b=2` from the pairs whose value is set.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| format!("{key}={}", segment(v)))
        })
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(segment("orders.v1"), "orders.v1");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(
            query(&[("from", Some("latest")), ("cursor", None), ("x", Some(""))]),
            "?from=latest"
        );
        assert_eq!(
            query(&[("timestamp", Some("2026-11-26T18:00:00+01:00"))]),
            "?timestamp=2026-11-26T18%3A00%3A00%2B01%3A00"
        );
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn refusals_map_to_console_errors() {
        assert_eq!(
            problem(StatusCode::UNAUTHORIZED, b"{}"),
            ConsoleError::SignedOut
        );
        let wrong_password = br#"{"type":"urn:fjord:problem:invalid-credentials","title":"Invalid email or password","status":401}"#;
        assert!(matches!(
            problem(StatusCode::UNAUTHORIZED, wrong_password),
            ConsoleError::Problem { status: 401, .. }
        ));
        let quota = br#"{"type":"urn:fjord:problem:quota-exceeded","title":"Quota exceeded","status":403,"detail":"streams: 5 of 5"}"#;
        assert_eq!(
            problem(StatusCode::FORBIDDEN, quota),
            ConsoleError::Problem {
                status: 403,
                kind: "quota-exceeded".into(),
                title: "Quota exceeded".into(),
                detail: Some("streams: 5 of 5".into())
            }
        );
        assert!(matches!(
            problem(StatusCode::BAD_GATEWAY, b"<html>"),
            ConsoleError::Problem { status: 502, .. }
        ));
    }
}
