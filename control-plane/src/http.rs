//! The control plane's HTTP surface: the internal API the gateway forwards stream and
//! delivery stream administration to (`/internal/v1/kinesis/{action}`,
//! `/internal/v1/firehose/{action}`), and a health check.
//!
//! The internal API trusts the tenant headers only behind the shared internal token, which the
//! gateway sends after it has verified the caller's signature.
//! Forwarded calls that change state are recorded in the tenant's audit log
//! ([`AUDITED_ACTIONS`], ADR 004); reads are not.

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

use crate::firehose::FirehoseAdmin;
use crate::kinesis::{Caller, KinesisAdmin};
use crate::store::TenantId;
use crate::store::audit::{ActorType, AuditEntry};

/// Headers the gateway sets on forwarded calls.
pub const TENANT_HEADER: &str = "x-fjord-tenant-id";
pub const ACCOUNT_HEADER: &str = "x-fjord-account-id";
/// The access key that signed the forwarded call (the audit log's actor).
pub const ACCESS_KEY_HEADER: &str = "x-fjord-access-key-id";
/// The caller's address as the gateway saw it.
pub const SOURCE_IP_HEADER: &str = "x-fjord-source-ip";
/// The caller's `User-Agent`.
pub const USER_AGENT_HEADER: &str = "x-fjord-user-agent";
/// The gateway's `x-amzn-RequestId` for the call.
pub const REQUEST_ID_HEADER: &str = "x-fjord-request-id";

/// The forwarded actions that change state, and so are audited. Reads are not.
pub const AUDITED_ACTIONS: [&str; 6] = [
    "CreateStream",
    "DeleteStream",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "AddTagsToStream",
    "RemoveTagsFromStream",
];

#[derive(Clone)]
pub struct InternalState {
    pub admin: KinesisAdmin,
    /// Seals secrets in delivery stream destinations (HTTP endpoint access keys).
    pub secret_box: Option<fjord_common::secret::SecretBox>,
    pub internal_token: Arc<str>,
}

pub fn router(state: InternalState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/internal/v1/kinesis/{action}", post(kinesis_action))
        .route("/internal/v1/firehose/{action}", post(firehose_action))
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

/// The AWS API a forwarded call belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Kinesis,
    Firehose,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Kinesis => "kinesis",
            Self::Firehose => "firehose",
        }
    }

    fn audited(self, action: &str) -> bool {
        match self {
            Self::Kinesis => AUDITED_ACTIONS.contains(&action),
            Self::Firehose => crate::firehose::AUDITED_ACTIONS.contains(&action),
        }
    }
}

async fn kinesis_action(
    State(state): State<InternalState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forwarded(state, Service::Kinesis, action, headers, body).await
}

async fn firehose_action(
    State(state): State<InternalState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forwarded(state, Service::Firehose, action, headers, body).await
}

/// Delivery stream administration shares the stream administration's store and region.
fn firehose_admin(state: &InternalState) -> FirehoseAdmin {
    FirehoseAdmin {
        store: state.admin.store.clone(),
        region: state.admin.region.clone(),
        secret_box: state.secret_box.clone(),
    }
}

async fn forwarded(
    state: InternalState,
    service: Service,
    action: String,
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
    let firehose = firehose_admin(&state);
    let handled = async {
        match service {
            Service::Kinesis => state.admin.handle(&caller, &action, &body).await,
            Service::Firehose => firehose.handle(&caller, &action, &body).await,
        }
    };
    let outcome = std::panic::AssertUnwindSafe(handled)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(
                action,
                service = service.name(),
                "forwarded action panicked"
            );
            Err(AwsError::internal())
        });
    if service.audited(&action) {
        let resource = resource(&state.admin, &firehose, service, &caller, &body);
        let entry = audit_entry(service, resource, &action, &headers, &body, &outcome);
        state
            .admin
            .store
            .record_audit(caller.tenant_id, entry)
            .await;
    }
    match outcome {
        Ok(value) => aws_json(
            StatusCode::OK,
            serde_json::to_vec(&value).unwrap_or_default(),
        ),
        Err(error) => aws_error(&error),
    }
}

/// The ARN a forwarded mutating call is about, from its input.
fn resource(
    kinesis: &KinesisAdmin,
    firehose: &FirehoseAdmin,
    service: Service,
    caller: &Caller,
    body: &[u8],
) -> String {
    let input = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
    let text = |field: &str| input.get(field).and_then(|value| value.as_str());
    match service {
        Service::Kinesis => match (text("StreamARN"), text("StreamName")) {
            (Some(arn), _) => arn.to_owned(),
            (None, Some(name)) => kinesis.arn(caller, name),
            (None, None) => String::new(),
        },
        Service::Firehose => text("DeliveryStreamName")
            .filter(|name| fjord_common::firehose::is_valid_name(name))
            .map(|name| firehose.arn(caller, name))
            .unwrap_or_default(),
    }
}

/// The audit entry of a forwarded mutating call: the access key as actor, the stream's ARN
/// as resource, the AWS error type as error code.
fn audit_entry(
    service: Service,
    resource: String,
    action: &str,
    headers: &HeaderMap,
    body: &[u8],
    outcome: &Result<serde_json::Value, AwsError>,
) -> AuditEntry {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let input = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
    let entry = AuditEntry::new(
        ActorType::AccessKey,
        header(ACCESS_KEY_HEADER).unwrap_or_else(|| "unknown".to_owned()),
        format!("{}:{action}", service.name()),
        resource,
    )
    .from_address(header(SOURCE_IP_HEADER), header(USER_AGENT_HEADER))
    .with_request_id(header(REQUEST_ID_HEADER))
    .with_details(audit_details(&input));
    match outcome {
        Ok(_) => entry,
        Err(error) => entry.failed(error.kind.type_name()),
    }
}

/// The inputs worth keeping: sizes, modes and retention as given, tag keys without values.
fn audit_details(input: &serde_json::Value) -> serde_json::Value {
    let mut details = serde_json::Map::new();
    for field in [
        "ShardCount",
        "StreamModeDetails",
        "RetentionPeriodHours",
        "TagKeys",
        "DeliveryStreamType",
        "CurrentDeliveryStreamVersionId",
        "DestinationId",
    ] {
        if let Some(value) = input.get(field) {
            details.insert(field.to_owned(), value.clone());
        }
    }
    if let Some(tags) = input.get("Tags").and_then(|tags| tags.as_object()) {
        let keys = tags
            .keys()
            .cloned()
            .map(serde_json::Value::String)
            .collect();
        details.insert("TagKeys".to_owned(), serde_json::Value::Array(keys));
    }
    // Firehose tags are a list of {Key, Value}.
    if let Some(tags) = input.get("Tags").and_then(|tags| tags.as_array()) {
        let keys = tags
            .iter()
            .filter_map(|tag| tag.get("Key").cloned())
            .collect();
        details.insert("TagKeys".to_owned(), serde_json::Value::Array(keys));
    }
    serde_json::Value::Object(details)
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
