//! Apps calling the REST API with an access key: `Authorization: AWS4-HMAC-SHA256 ...`, signed
//! as on the AWS endpoint ([ADR 008](../../../docs/adr/008-rest-sigv4.md)).
//!
//! [`verify_signed_request`] is a middleware on the `/api/v1` router. A request whose
//! `Authorization` is not SigV4 passes through untouched (the bearer path of
//! [`AuthContext`](crate::auth::context::AuthContext) handles it). A SigV4 request has its body
//! buffered (at most [`MAX_SIGNED_BODY_BYTES`], else a 413 problem), its signature verified with
//! `fjord_common::sigv4` (the gateway's implementation) against the key's secret read from
//! Postgres on every call, and the verified [`SignedAccessKey`] put into the request's
//! extensions; the `AuthContext` extractor turns it into `Principal::AccessKey`. Any failure is
//! a 401 problem in AWS's words; nothing here logs or returns a secret.
//!
//! Credential scope: the configured region, service `fjord` or `execute-api`. The payload must
//! be signed with its real SHA-256 (`UNSIGNED-PAYLOAD` is refused).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fjord_common::sigv4::{self, SigV4Error};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::api::ApiState;
use crate::api::problem::Problem;
use crate::auth::permissions::Role;
use crate::store::TenantId;

/// The service names a REST signature's credential scope may carry: Fjord's own, and the
/// name AWS tooling uses for HTTP APIs (API Gateway), so generic SigV4 signers work.
pub const SERVICES: [&str; 2] = ["fjord", "execute-api"];

/// Largest body buffered for verification: the largest any REST endpoint accepts (a put of
/// records). Each endpoint's own, smaller limit still applies after verification.
pub const MAX_SIGNED_BODY_BYTES: usize = crate::api::records::MAX_PUT_BODY_BYTES;

const CONTENT_SHA256: &str = "x-amz-content-sha256";

/// An access key whose signature over this request verified; set by the middleware only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAccessKey {
    pub tenant_id: TenantId,
    pub access_key_id: String,
    pub role: Role,
}

/// Whether the request claims SigV4 authentication (the same test the AWS endpoint applies).
fn is_signed(request: &Request) -> bool {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes().trim_ascii_start().starts_with(b"AWS4-"))
}

/// The middleware: verifies a SigV4-signed request, or passes any other request on as it is.
pub async fn verify_signed_request(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    if !is_signed(&request) {
        return next.run(request).await;
    }
    match verify(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(problem) => problem.into_response(),
    }
}

async fn verify(state: &ApiState, request: Request) -> Result<Request, Problem> {
    let (mut parts, body) = request.into_parts();
    let authorization =
        sigv4::parse_request(&parts.uri, &parts.headers).map_err(signature_problem)?;
    sigv4::check_clock_skew(&authorization, chrono::Utc::now()).map_err(signature_problem)?;
    sigv4::check_scope(&authorization, &state.region, &SERVICES).map_err(signature_problem)?;
    // The key before the body: an unknown caller never gets a large body buffered.
    let Some(key) = state
        .store
        .signing_key(&authorization.access_key_id)
        .await?
    else {
        return Err(Problem::unrecognized_access_key());
    };
    let key_material = state.key_material.as_ref().ok_or_else(|| {
        Problem::internal(&"access key signatures need the master key, which is not configured")
    })?;
    let secret = key_material
        .secret_box
        .open(&key.sealed_secret, &authorization.access_key_id)
        .map_err(|error| Problem::internal(&error))?;

    let body = read_body(&parts.headers, body).await?;
    let payload_hash = sigv4::sha256_hex(&body);
    if let Some(declared) = parts.headers.get(CONTENT_SHA256) {
        if declared.as_bytes() == b"UNSIGNED-PAYLOAD" {
            return Err(Problem::invalid_signature(
                "UNSIGNED-PAYLOAD is not accepted: sign the SHA-256 of the request body.",
            ));
        }
        if declared.as_bytes() != payload_hash.as_bytes() {
            return Err(Problem::invalid_signature(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
    }
    let signing_key = sigv4::derive_signing_key(
        &secret,
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
    .map_err(signature_problem)?;
    // `last_used_at` for the key list, off the request's path; only ever moves forward.
    let store = state.store.clone();
    let (tenant_id, key_id) = (key.tenant_id, authorization.access_key_id.clone());
    tokio::spawn(async move {
        if let Err(error) = store
            .touch_access_key(tenant_id, &key_id, chrono::Utc::now())
            .await
        {
            tracing::warn!(%error, access_key_id = %key_id, "could not record the key's use");
        }
    });
    parts.extensions.insert(SignedAccessKey {
        tenant_id: key.tenant_id,
        access_key_id: authorization.access_key_id,
        role: key.role,
    });
    Ok(Request::from_parts(parts, Body::from(body)))
}

/// The whole body, at most [`MAX_SIGNED_BODY_BYTES`]; a 413 problem beyond (refused from
/// `Content-Length` before reading when it says so).
async fn read_body(headers: &axum::http::HeaderMap, body: Body) -> Result<bytes::Bytes, Problem> {
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > MAX_SIGNED_BODY_BYTES as u64) {
        return Err(Problem::payload_too_large(MAX_SIGNED_BODY_BYTES));
    }
    match Limited::new(body, MAX_SIGNED_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Problem::payload_too_large(MAX_SIGNED_BODY_BYTES))
        }
        Err(_) => Err(Problem::bad_request("the request body could not be read")),
    }
}

fn signature_problem(error: SigV4Error) -> Problem {
    match error {
        SigV4Error::Missing | SigV4Error::Incomplete(_) => {
            Problem::incomplete_signature(error.to_string())
        }
        SigV4Error::SignatureMismatch | SigV4Error::ClockSkew(_) => {
            Problem::invalid_signature(error.to_string())
        }
    }
}
