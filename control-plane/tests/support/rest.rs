//! Calling the REST router in API tests: one answer type, one way to send, one problem check.

#![allow(dead_code)] // Each test file uses part of it.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

/// A response: status, headers and the JSON body (`Null` when it is not JSON).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

/// Sends `request` through `router`.
pub(crate) async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// `method /api/v1{path}` as the bearer of `token`, with a JSON `body` if given (sent as is).
pub(crate) async fn raw(
    router: &Router,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("/api/v1{path}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    send(
        router,
        request.body(Body::from(body.unwrap_or_default())).unwrap(),
    )
    .await
}

/// Asserts an RFC 9457 problem with `status`.
pub(crate) fn assert_problem(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(answer.body["status"], status.as_u16());
    assert!(answer.body["type"].as_str().is_some(), "{}", answer.body);
}
