//! RFC 9457 problem details: the one error shape of the REST API.
//!
//! Every REST error is a [`Problem`] served as `application/problem+json`. A 5xx never
//! carries internals: [`Problem::internal`] logs the cause and answers with a generic detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem details object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    #[schema(example = "urn:fjord:problem:invalid-credentials")]
    pub problem_type: String,
    /// A short summary of the kind of problem; the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A URI naming this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Seconds to wait before trying again (sent as `Retry-After`).
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after_seconds: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: Option<String>) -> Self {
        Self {
            problem_type: format!("urn:fjord:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            instance: None,
            retry_after_seconds: None,
        }
    }

    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Malformed or invalid input; `detail` says what (and is shown to the caller).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            Some(detail.into()),
        )
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            Some(format!(
                "the request body must be at most {limit_bytes} bytes"
            )),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            Some("the request body must be JSON (content-type: application/json)".to_owned()),
        )
    }

    /// Wrong password, unknown email and disabled user alike.
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "Unauthorized",
            Some("invalid email or password".to_owned()),
        )
    }

    /// A missing, malformed, forged or expired access token.
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-token",
            "Unauthorized",
            Some("a valid bearer access token is required".to_owned()),
        )
    }

    /// A SigV4-signed call whose access key is unknown, disabled or deleted. AWS's wording,
    /// which does not tell these apart.
    pub fn unrecognized_access_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unrecognized-access-key",
            "Unauthorized",
            Some("The security token included in the request is invalid.".to_owned()),
        )
    }

    /// A SigV4 signature that does not match, a body that does not match its signed hash, or
    /// a request time more than 15 minutes off; `detail` in AWS's words.
    pub fn invalid_signature(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-signature",
            "Unauthorized",
            Some(detail.into()),
        )
    }

    /// A malformed SigV4 `Authorization` header, or a credential scope naming another region
    /// or service; `detail` in AWS's words.
    pub fn incomplete_signature(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "incomplete-signature",
            "Unauthorized",
            Some(detail.into()),
        )
    }

    pub fn invalid_refresh_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-refresh-token",
            "Unauthorized",
            Some("the refresh token is invalid, expired or revoked".to_owned()),
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            Some(detail.into()),
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            Some("no such resource".to_owned()),
        )
    }

    /// The request clashes with the resource's current state (a taken name, a stream that
    /// is not `ACTIVE`).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            Some(detail.into()),
        )
    }

    /// A tenant count quota (streams, shards, on-demand streams, ...) would be exceeded: a
    /// 403, since retrying does not help until something is deleted or the quota raised.
    pub fn quota_exceeded(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "quota-exceeded",
            "Quota exceeded",
            Some(detail.into()),
        )
    }

    /// The tenant's write throughput quota is used up for now; nothing was stored.
    pub fn throughput_exceeded(detail: impl Into<String>, retry_after_seconds: u64) -> Self {
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throughput-exceeded",
            "Throughput exceeded",
            Some(detail.into()),
        );
        problem.retry_after_seconds = Some(retry_after_seconds.max(1));
        problem
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            None,
        )
    }

    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            Some("too many failed sign-ins; try again later".to_owned()),
        );
        problem.retry_after_seconds = Some(retry_after_seconds.max(1));
        problem
    }

    /// A failure of ours. The cause is logged here, where it is handled; the caller gets a
    /// generic answer.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
            Some("the request could not be completed; try again later".to_owned()),
        )
    }

    /// A backing service (JetStream) failed or is missing. The cause is logged here; the
    /// caller is told to retry.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "backing service unavailable");
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            Some("the request could not be completed; try again shortly".to_owned()),
        );
        problem.retry_after_seconds = Some(1);
        problem
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(error: crate::store::StoreError) -> Self {
        Problem::internal(&error)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            let kind = self.problem_type.rsplit(':').next().unwrap_or_default();
            let challenge = match kind {
                "invalid-token" => Some("Bearer"),
                "unrecognized-access-key" | "invalid-signature" | "incomplete-signature" => {
                    Some("AWS4-HMAC-SHA256")
                }
                _ => None,
            };
            if let Some(challenge) = challenge {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_serialize_per_rfc_9457() {
        let value = serde_json::to_value(Problem::not_found().with_instance("/x")).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "urn:fjord:problem:not-found",
                "title": "Not found",
                "status": 404,
                "detail": "no such resource",
                "instance": "/x",
            })
        );
    }

    #[test]
    fn internal_problems_do_not_leak_the_cause() {
        let problem = Problem::internal(&"password authentication failed for user postgres");
        let body = serde_json::to_string(&problem).unwrap();
        assert!(!body.contains("postgres"));
        assert_eq!(problem.status, 500);
    }

    #[test]
    fn count_quotas_are_403s_and_throughput_429s_with_retry_after() {
        let quota = Problem::quota_exceeded("too many streams").into_response();
        assert_eq!(quota.status(), StatusCode::FORBIDDEN);
        assert!(quota.headers().get(header::RETRY_AFTER).is_none());
        let throttled = Problem::throughput_exceeded("rate exceeded", 0);
        assert_eq!(
            throttled.problem_type,
            "urn:fjord:problem:throughput-exceeded"
        );
        let response = throttled.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers()[header::RETRY_AFTER],
            "1",
            "at least one second"
        );
    }

    #[test]
    fn unauthorized_problems_name_the_scheme_to_use() {
        let challenge = |problem: Problem| {
            let response = problem.into_response();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        assert_eq!(
            challenge(Problem::invalid_token()).as_deref(),
            Some("Bearer")
        );
        for problem in [
            Problem::unrecognized_access_key(),
            Problem::invalid_signature("x"),
            Problem::incomplete_signature("y"),
        ] {
            assert_eq!(challenge(problem).as_deref(), Some("AWS4-HMAC-SHA256"));
        }
        assert_eq!(challenge(Problem::invalid_credentials()), None);
    }

    #[test]
    fn rate_limited_problems_carry_retry_after() {
        let response = Problem::too_many_requests(42).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }
}
