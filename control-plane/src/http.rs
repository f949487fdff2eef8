//! The control plane's HTTP surface: the internal API the gateway forwards stream
//! administration to, and a health check.
//!
//! The internal API trusts the tenant headers only behind the shared internal token, which the
//! gateway sends after it has verified the caller's signature.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fjord_common::aws_error::AwsError;
use futures::FutureExt as _;
use uuid::Uuid;

use crate::kinesis::{Caller, KinesisAdmin};
use crate::store::TenantId;

/// Headers the gateway sets on forwarded calls.
pub const TENANT_HEADER: &str = "x-fjord-tenant-id";
pub const ACCOUNT_HEADER: &str = "x-fjord-account-id";

#[derive(Clone)]
pub struct InternalState {
    pub admin: KinesisAdmin,
    pub internal_token: Arc<str>,
}

pub fn router(state: InternalState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/internal/v1/kinesis/{action}", post(kinesis_action))
        .with_state(state)
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(presented) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Constant-time: the comparison must not leak how much of the token matched.
    fjord_common::token::constant_time_eq(presented.as_bytes(), token.as_bytes())
}

async fn kinesis_action(
    State(state): State<InternalState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers, &state.internal_token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let tenant_id = headers
        .get(TENANT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Uuid::parse_str(value).ok());
    let account_id = headers
        .get(ACCOUNT_HEADER)
        .and_then(|value| value.to_str().ok());
    let (Some(tenant_id), Some(account_id)) = (tenant_id, account_id) else {
        return (StatusCode::BAD_REQUEST, "missing tenant headers").into_response();
    };
    let caller = Caller {
        tenant_id: TenantId(tenant_id),
        account_id: account_id.to_owned(),
    };
    // A bug must cost one request, never the process: a panic becomes InternalFailure.
    let outcome = std::panic::AssertUnwindSafe(state.admin.handle(&caller, &action, &body))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(action, "kinesis action panicked");
            Err(AwsError::internal())
        });
    match outcome {
        Ok(value) => aws_json(
            StatusCode::OK,
            serde_json::to_vec(&value).unwrap_or_default(),
        ),
        Err(error) => aws_error(&error),
    }
}

fn aws_json(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/x-amz-json-1.1",
        )],
        body,
    )
        .into_response()
}

fn aws_error(error: &AwsError) -> Response {
    let status =
        StatusCode::from_u16(error.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    aws_json(status, error.to_body())
}
