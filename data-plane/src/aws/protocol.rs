//! The AWS JSON 1.1 envelope: `POST /` with `X-Amz-Target: Kinesis_20131202.<Action>` or
//! `Firehose_20150804.<Action>`; the prefix picks the service, and the service the SigV4
//! signing name (`kinesis`, `firehose`) the signature must be scoped to.
//!
//! A request is size-limited while it is read (never buffered whole beyond the limit), its
//! SigV4 signature is verified against the access key the catalog holds, and the action's
//! answer or error is written with AWS's content type, status and `x-amzn-RequestId`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::client_address::FORWARDED_FOR_HEADER;
use fjord_common::events::RefusedCall;
use fjord_common::sigv4::{self, SigV4Error};
use futures::FutureExt as _;
use http_body_util::{BodyExt as _, Limited};

use super::firehose;
use super::kinesis::{self, Answer, Caller, MAX_PUT_RECORDS_BYTES, Origin};
use crate::gateway::Gateway;

/// Largest request body accepted: a full PutRecords (5 MiB of data) base64 encoded, with
/// room for JSON framing and partition keys.
pub(crate) const MAX_BODY_BYTES: usize = MAX_PUT_RECORDS_BYTES * 2;
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The AWS API a request speaks, chosen by its `X-Amz-Target` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Kinesis,
    Firehose,
}

impl Service {
    /// The service and action a target names; a target of no known service reads as Kinesis
    /// with an empty action (answered `UnknownOperationException` once authenticated).
    fn from_target(target: &str) -> (Self, &str) {
        if let Some(action) = target.strip_prefix(fjord_common::firehose::TARGET_PREFIX) {
            return (Self::Firehose, action);
        }
        (
            Self::Kinesis,
            target.strip_prefix("Kinesis_20131202.").unwrap_or_default(),
        )
    }

    /// The name SigV4 signatures are scoped to.
    fn signing_name(self) -> &'static str {
        match self {
            Self::Kinesis => "kinesis",
            Self::Firehose => "firehose",
        }
    }

    fn is_known_action(self, action: &str) -> bool {
        match self {
            Self::Kinesis => kinesis::is_known_action(action),
            Self::Firehose => firehose::is_known_action(action),
        }
    }

    fn authorize(
        self,
        caller: &Caller,
        action: &str,
        region: &str,
        body: &[u8],
    ) -> Result<(), AwsError> {
        match self {
            Self::Kinesis => kinesis::authorize(caller, action, region, body),
            Self::Firehose => firehose::authorize(caller, action, region, body),
        }
    }

    fn resource_arn(self, caller: &Caller, region: &str, body: &[u8]) -> String {
        match self {
            Self::Kinesis => kinesis::resource_arn(caller, region, body),
            Self::Firehose => firehose::resource_arn(caller, region, body),
        }
    }

    async fn dispatch(
        self,
        gateway: &Gateway,
        caller: &Caller,
        action: &str,
        body: bytes::Bytes,
    ) -> Result<Answer, AwsError> {
        match self {
            Self::Kinesis => kinesis::dispatch(gateway, caller, action, body).await,
            Self::Firehose => firehose::dispatch(gateway, caller, action, body).await,
        }
    }
}

pub(crate) fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::disable())
        .with_state(gateway)
}

async fn handle(State(gateway): State<Arc<Gateway>>, request: Request<Body>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (service, action) = Service::from_target(&target);
    let action = action.to_owned();
    // A bug must cost one request, never the process: a panic becomes InternalFailure.
    let outcome =
        std::panic::AssertUnwindSafe(serve(&gateway, request, service, &action, &request_id))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!(%request_id, action, "request handler panicked");
                Err(AwsError::internal())
            });
    let (status, body) = match outcome {
        Ok(answer) => answer,
        Err(error) => {
            if error.kind.http_status() >= 500 {
                tracing::warn!(%request_id, action, kind = error.kind.type_name(), "request failed");
            }
            (
                error.kind.http_status(),
                bytes::Bytes::from(error.to_body()),
            )
        }
    };
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

async fn serve(
    gateway: &Gateway,
    request: Request<Body>,
    service: Service,
    action: &str,
    request_id: &str,
) -> Result<(u16, bytes::Bytes), AwsError> {
    let (parts, body) = request.into_parts();
    let declared_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let body = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                AwsError::new(
                    AwsErrorKind::SerializationException,
                    "The request body could not be read.",
                )
            }
        })?
        .to_bytes();
    let origin = origin(gateway, &parts, request_id);
    let (mut caller, region) = match authenticate(gateway, &parts, &body, service).await {
        Ok(authenticated) => authenticated,
        Err(Refusal {
            error,
            key: Some(key),
        }) => {
            // A known key whose signature, clock or state failed: its tenant hears of it. The
            // body is not authenticated, so no resource is taken from it.
            report_refusal(
                gateway,
                &key,
                service,
                action,
                String::new(),
                &error,
                &origin,
            );
            return Err(error);
        }
        Err(Refusal { error, key: None }) => return Err(error),
    };
    gateway
        .events
        .key_used(caller.tenant_id, &caller.access_key_id);
    caller.origin = origin;
    if !service.is_known_action(action) {
        return Err(AwsError::new(
            AwsErrorKind::UnknownOperationException,
            if action.is_empty() {
                "Missing or unknown X-Amz-Target.".to_owned()
            } else {
                format!("Unknown operation {action}")
            },
        ));
    }
    if let Err(error) = service.authorize(&caller, action, &region, &body) {
        let key = KnownKey {
            tenant_id: caller.tenant_id,
            access_key_id: caller.access_key_id.clone(),
        };
        let resource = service.resource_arn(&caller, &region, &body);
        report_refusal(
            gateway,
            &key,
            service,
            action,
            resource,
            &error,
            &caller.origin,
        );
        return Err(error);
    }
    service.dispatch(gateway, &caller, action, body).await
}

fn too_large() -> AwsError {
    AwsError::invalid_argument(format!(
        "The request body exceeds the maximum allowed size of {MAX_BODY_BYTES} bytes."
    ))
}

/// An access key the catalog knows, named by a request that was refused.
struct KnownKey {
    tenant_id: uuid::Uuid,
    access_key_id: String,
}

/// Why authentication failed, and the key the request named if the catalog knows it (then the
/// refusal goes to that key's tenant's audit log).
struct Refusal {
    error: AwsError,
    key: Option<KnownKey>,
}

impl From<AwsError> for Refusal {
    fn from(error: AwsError) -> Self {
        Self { error, key: None }
    }
}

/// Sends a refused call of a known key to its tenant's audit log (bounded per key).
fn report_refusal(
    gateway: &Gateway,
    key: &KnownKey,
    service: Service,
    action: &str,
    resource: String,
    error: &AwsError,
    origin: &Origin,
) {
    let action = if service.is_known_action(action) {
        action
    } else {
        "Unknown"
    };
    gateway.events.refused(RefusedCall {
        tenant_id: key.tenant_id,
        access_key_id: key.access_key_id.clone(),
        action: action.to_owned(),
        resource,
        error_code: error.kind.type_name().to_owned(),
        source_ip: origin.source_ip.clone(),
        user_agent: origin.user_agent.clone(),
        request_id: origin.request_id.clone(),
    });
}

/// Verifies the request's signature; the access key selects the tenant and the role. Also
/// returns the region the request was signed for.
async fn authenticate(
    gateway: &Gateway,
    parts: &axum::http::request::Parts,
    body: &[u8],
    service: Service,
) -> Result<(Caller, String), Refusal> {
    let authorization =
        sigv4::parse_request(&parts.uri, &parts.headers).map_err(signature_error)?;
    let clock = sigv4::check_clock_skew(&authorization, chrono::Utc::now());
    let Some(key) = gateway
        .catalog
        .access_key(&authorization.access_key_id)
        .await
    else {
        tracing::info!(
            access_key_id = %authorization.access_key_id,
            "refused a call signed with an unknown access key"
        );
        return Err(clock
            .map_or_else(signature_error, |()| unrecognized_client())
            .into());
    };
    let known = || KnownKey {
        tenant_id: key.tenant_id,
        access_key_id: authorization.access_key_id.clone(),
    };
    let refuse = |error: AwsError| Refusal {
        error,
        key: Some(known()),
    };
    clock.map_err(|error| refuse(signature_error(error)))?;
    if !key.enabled {
        return Err(refuse(unrecognized_client()));
    }
    sigv4::check_scope(
        &authorization,
        &authorization.region,
        &[service.signing_name()],
    )
    .map_err(|error| refuse(signature_error(error)))?;
    let payload_hash = sigv4::sha256_hex(body);
    if let Some(declared) = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|value| value.to_str().ok())
        && declared != "UNSIGNED-PAYLOAD"
        && declared != payload_hash
    {
        return Err(refuse(AwsError::new(
            AwsErrorKind::InvalidSignatureException,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )));
    }
    let signing_key = gateway.signing_keys.get_or_derive(
        &authorization.access_key_id,
        &key.secret,
        &authorization.date,
        &authorization.region,
        &authorization.service,
    );
    sigv4::verify(
        &authorization,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &payload_hash,
        &signing_key,
    )
    .map_err(|error| refuse(signature_error(error)))?;
    Ok((
        Caller {
            tenant_id: key.tenant_id,
            account_id: key.account_id.clone(),
            access_key_id: authorization.access_key_id.clone(),
            role: key.role,
            origin: Origin::default(),
        },
        authorization.region.clone(),
    ))
}

fn unrecognized_client() -> AwsError {
    AwsError::new(
        AwsErrorKind::UnrecognizedClientException,
        "The security token included in the request is invalid.",
    )
}

/// The client's address (the peer's, or behind a trusted proxy the one it forwarded; absent
/// when the server does not record peers: tests may not), its `User-Agent` and the request id.
fn origin(gateway: &Gateway, parts: &axum::http::request::Parts, request_id: &str) -> Origin {
    let forwarded_for = parts
        .headers
        .get_all(FORWARDED_FOR_HEADER)
        .iter()
        .map(|value| value.as_bytes());
    Origin {
        source_ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| {
                gateway
                    .trusted_proxies
                    .client_address(peer.ip(), forwarded_for)
                    .to_string()
            }),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        request_id: Some(request_id.to_owned()),
    }
}

fn signature_error(error: SigV4Error) -> AwsError {
    let kind = match error {
        SigV4Error::Missing => AwsErrorKind::MissingAuthenticationTokenException,
        SigV4Error::Incomplete(_) => AwsErrorKind::IncompleteSignatureException,
        SigV4Error::SignatureMismatch | SigV4Error::ClockSkew(_) => {
            AwsErrorKind::InvalidSignatureException
        }
    };
    AwsError::new(kind, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_prefix_picks_the_service_and_its_signing_name() {
        assert_eq!(
            Service::from_target("Firehose_20150804.PutRecordBatch"),
            (Service::Firehose, "PutRecordBatch")
        );
        assert_eq!(
            Service::from_target("Kinesis_20131202.PutRecords"),
            (Service::Kinesis, "PutRecords")
        );
        assert_eq!(
            Service::from_target("Nope.PutRecord"),
            (Service::Kinesis, "")
        );
        assert_eq!(Service::Firehose.signing_name(), "firehose");
        assert_eq!(Service::Kinesis.signing_name(), "kinesis");
        assert!(Service::Firehose.is_known_action("PutRecordBatch"));
        assert!(Service::Firehose.is_known_action("CreateDeliveryStream"));
        assert!(!Service::Firehose.is_known_action("PutRecords"));
        assert!(!Service::Kinesis.is_known_action("PutRecordBatch"));
    }
}
