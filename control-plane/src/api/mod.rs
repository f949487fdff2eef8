//! The REST API under `/api/v1`: JSON in, JSON out, every error an RFC 9457 problem.
//!
//! This module owns the wire: routing, request parsing and the mapping of outcomes to HTTP.
//! Who a caller is and what they may do is decided in [`crate::auth`]; data lives in
//! [`crate::store`]. The OpenAPI 3.1 document is generated from the handlers' annotations and
//! served at `/api/v1/openapi.json`.

pub mod audit;
pub mod auth;
pub mod extract;
pub mod keys;
pub mod problem;

use axum::Router;
use axum::extract::FromRef;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use fjord_common::secret::{MasterKey, random_bytes};
use fjord_common::token::TokenSigner;
use utoipa::OpenApi as _;

use crate::auth::password::{PasswordError, Passwords};
use crate::auth::rate_limit::{RateLimitPolicy, SignInLimiter};
use crate::auth::session::SessionKeys;
use crate::store::Store;
use problem::Problem;

/// What the REST handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub sessions: SessionKeys,
    pub passwords: Passwords,
    pub sign_in_limiter: SignInLimiter,
    /// Signs the audit log's pagination cursors.
    pub audit_cursors: TokenSigner,
    /// Seals access key secrets and signs key-list cursors; `None` until a master key is
    /// given (then the key endpoints answer 500).
    pub key_material: Option<KeyMaterial>,
}

/// What the access key endpoints derive from the master key.
#[derive(Clone)]
pub struct KeyMaterial {
    pub secret_box: fjord_common::secret::SecretBox,
    pub cursors: TokenSigner,
}

impl KeyMaterial {
    pub fn from_master_key(master_key: &MasterKey) -> Self {
        Self {
            secret_box: master_key.secret_box(),
            cursors: TokenSigner::new(master_key.derive("key-list-cursors")),
        }
    }
}

impl ApiState {
    /// Builds the state; spends one password hash (the dummy for unknown users).
    pub fn new(
        store: Store,
        sessions: SessionKeys,
        policy: RateLimitPolicy,
    ) -> Result<Self, PasswordError> {
        Ok(Self {
            sign_in_limiter: SignInLimiter::new(store.clone(), policy),
            store,
            sessions,
            passwords: Passwords::new()?,
            // A per-process key; `from_master_key` replaces it with one every process shares.
            audit_cursors: TokenSigner::new(random_bytes()?),
            key_material: None,
        })
    }

    /// The production state: session keys derived from the master key, default limits.
    pub fn from_master_key(store: Store, master_key: &MasterKey) -> Result<Self, PasswordError> {
        let mut state = Self::new(
            store,
            SessionKeys::from_master_key(master_key),
            RateLimitPolicy::default(),
        )?;
        state.audit_cursors = TokenSigner::new(master_key.derive("audit-cursors"));
        state.key_material = Some(KeyMaterial::from_master_key(master_key));
        Ok(state)
    }

    /// The same state with access key secrets sealed under `master_key` (tests build the
    /// state with [`ApiState::new`] and add this).
    pub fn with_master_key(mut self, master_key: &MasterKey) -> Self {
        self.key_material = Some(KeyMaterial::from_master_key(master_key));
        self
    }
}

impl FromRef<ApiState> for SessionKeys {
    fn from_ref(state: &ApiState) -> Self {
        state.sessions.clone()
    }
}

/// The generated OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Fjord REST API", version = "1", description = "Fjord's control-plane REST API."),
    // One `paths(...)` and one `components(...)`: utoipa keeps only the last of repeated ones.
    paths(
        auth::sign_in, auth::refresh, auth::sign_out, auth::me, openapi_json,
        audit::list_audit,
        keys::create_key, keys::list_keys, keys::disable_key, keys::enable_key, keys::rotate_key, keys::delete_key,
    ),
    components(schemas(
        Problem,
        audit::AuditPage, audit::AuditEntryView,
        keys::CreateKeyRequest, keys::CreatedKey, keys::KeyView, keys::KeyPage,
    )),
    modifiers(&BearerSecurity),
    tags((name = "auth", description = "Sign-in and sessions"), (name = "meta", description = "The API itself"), (name = "audit", description = "Who changed what"), (name = "keys", description = "Access keys for the AWS endpoint"))
)]
pub struct ApiDoc;

struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
async fn openapi_json() -> impl IntoResponse {
    match ApiDoc::openapi().to_json() {
        Ok(document) => ([(header::CONTENT_TYPE, "application/json")], document).into_response(),
        Err(error) => Problem::internal(&error).into_response(),
    }
}

/// The REST API, mounted at `/api/v1`; unknown paths and methods under it get problems.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/auth/sign-in", post(auth::sign_in))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/sign-out", post(auth::sign_out))
        .route("/me", get(auth::me))
        .route("/audit", get(audit::list_audit))
        .route("/keys", get(keys::list_keys).post(keys::create_key))
        .route("/keys/{id}", delete(keys::delete_key))
        .route("/keys/{id}/disable", post(keys::disable_key))
        .route("/keys/{id}/enable", post(keys::enable_key))
        .route("/keys/{id}/rotate", post(keys::rotate_key))
        .route("/openapi.json", get(openapi_json))
        .fallback(|| async { Problem::not_found() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .with_state(state);
    Router::new().nest("/api/v1", api)
}
