//! The REST API under `/api/v1`: JSON in, JSON out, every error an RFC 9457 problem.
//!
//! This module owns the wire: routing, request parsing and the mapping of outcomes to HTTP.
//! Who a caller is and what they may do is decided in [`crate::auth`]; data lives in
//! [`crate::store`]. The OpenAPI 3.1 document is generated from the handlers' annotations and
//! served at `/api/v1/openapi.json`.

pub mod audit;
pub mod auth;
pub mod buckets;
pub mod delivery_streams;
pub mod extract;
pub mod idempotency;
pub mod invitations;
pub mod keys;
pub mod metrics;
pub mod password;
pub mod problem;
pub mod records;
pub mod reference;
pub mod streams;
pub mod switch_tenant;
pub mod tables;
pub mod users;

use axum::Router;
use axum::extract::FromRef;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use fjord_common::secret::{MasterKey, random_bytes};
use fjord_common::token::TokenSigner;
use utoipa::OpenApi as _;

use crate::auth::password::{PasswordError, Passwords};
use crate::auth::rate_limit::{RateLimitPolicy, SignInLimiter};
use crate::auth::session::SessionKeys;
use crate::shards::Shards;
use crate::store::{Store, TenantId};
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
    /// Signs the stream list's pagination cursors.
    pub stream_cursors: TokenSigner,
    /// The region stream ARNs name.
    pub region: String,
    /// Seals access key secrets and signs key-list cursors; `None` until a master key is
    /// given (then the key endpoints answer 500).
    pub key_material: Option<KeyMaterial>,
    /// JetStream, for the record endpoints; `None` when the API runs without NATS (then
    /// they answer 503). The control plane gives it the reconciler's connection.
    pub shards: Option<Shards>,
    /// Signs the record endpoints' read cursors.
    pub record_cursors: TokenSigner,
    /// Signs the member and invitation lists' pagination cursors.
    pub member_cursors: TokenSigner,
    /// Tenants' write throughput buckets for records over REST, in this process (ADR 010).
    pub write_limiter: std::sync::Arc<fjord_common::throughput::WriteLimiter>,
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
            stream_cursors: TokenSigner::new(random_bytes()?),
            record_cursors: TokenSigner::new(random_bytes()?),
            member_cursors: TokenSigner::new(random_bytes()?),
            shards: None,
            write_limiter: Default::default(),
            region: "us-east-1".to_owned(),
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
        state.stream_cursors = TokenSigner::new(master_key.derive("stream-list-cursors"));
        state.record_cursors = TokenSigner::new(master_key.derive("record-cursors"));
        state.member_cursors = TokenSigner::new(master_key.derive("member-list-cursors"));
        state.key_material = Some(KeyMaterial::from_master_key(master_key));
        Ok(state)
    }

    /// The same state serving records from `shards` (JetStream).
    pub fn with_shards(mut self, shards: Shards) -> Self {
        self.shards = Some(shards);
        self
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

/// Default and largest page of the REST list endpoints.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// The page size a list call asked for (`default` when absent); a 400 problem unless it is
/// between 1 and `max`.
pub(crate) fn page_limit(requested: Option<u32>, default: u32, max: u32) -> Result<u32, Problem> {
    let limit = requested.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::bad_request(format!(
            "limit must be between 1 and {max}"
        )))
    }
}

/// What a name-ordered list's cursor carries, under the stream cursor MAC: the tenant and the
/// last name of the page (streams and delivery streams alike).
#[derive(serde::Serialize, serde::Deserialize)]
struct NameCursor {
    #[serde(rename = "t")]
    tenant_id: uuid::Uuid,
    #[serde(rename = "n")]
    after_name: String,
}

/// The name a list call's `cursor` says to continue after; a 400 problem for a cursor that is
/// forged, damaged or another tenant's.
pub(crate) fn name_after(
    state: &ApiState,
    tenant_id: TenantId,
    cursor: Option<&str>,
) -> Result<Option<String>, Problem> {
    cursor
        .map(|token| {
            state
                .stream_cursors
                .verify::<NameCursor>(token)
                .filter(|cursor| cursor.tenant_id == tenant_id.0)
                .map(|cursor| cursor.after_name)
                .ok_or_else(|| Problem::bad_request("invalid cursor"))
        })
        .transpose()
}

/// The cursor of the page after one whose last name is `last`, when there is more.
pub(crate) fn cursor_after(
    state: &ApiState,
    tenant_id: TenantId,
    last: Option<&str>,
    more: bool,
) -> Option<String> {
    last.filter(|_| more).map(|name| {
        state.stream_cursors.sign(&NameCursor {
            tenant_id: tenant_id.0,
            after_name: name.to_owned(),
        })
    })
}

/// The generated OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Fjord REST API", version = "1", description = "Fjord's control-plane REST API."),
    // One `paths(...)` and one `components(...)`: utoipa keeps only the last of repeated ones.
    paths(
        auth::sign_in, auth::refresh, auth::sign_out, switch_tenant::switch_tenant, auth::me, openapi_json, reference::reference,
        audit::list_audit,
        keys::create_key, keys::list_keys, keys::disable_key, keys::enable_key, keys::rotate_key, keys::delete_key,
        streams::create_stream, streams::list_streams, streams::describe_stream, streams::delete_stream,
        streams::set_retention, streams::add_tags, streams::remove_tag, streams::describe_limits,
        records::put_records, records::read_records, records::tail_records,
        delivery_streams::create_delivery_stream, delivery_streams::list_delivery_streams,
        delivery_streams::describe_delivery_stream, delivery_streams::delete_delivery_stream,
        delivery_streams::update_destination, delivery_streams::add_delivery_stream_tags,
        delivery_streams::remove_delivery_stream_tag, delivery_streams::put_delivery_records,
        delivery_streams::delivery_stream_metrics, delivery_streams::delivery_stream_failures,
        buckets::register_bucket, buckets::list_buckets, buckets::describe_bucket,
        buckets::replace_bucket, buckets::delete_bucket,
        tables::create_table, tables::list_tables, tables::describe_table, tables::replace_table,
        tables::delete_table,
        metrics::stream_metrics, metrics::streams_metrics,
        users::list_users, users::change_role, users::remove_user, password::change_password,
        invitations::create_invitation, invitations::list_invitations,
        invitations::revoke_invitation, invitations::accept_invitation,
    ),
    components(schemas(
        Problem,
        audit::AuditPage, audit::AuditEntryView,
        keys::CreateKeyRequest, keys::CreatedKey, keys::KeyView, keys::KeyPage,
        streams::CreateStreamRequest, streams::StreamMode, streams::StreamView, streams::ShardView,
        streams::StreamSummary, streams::StreamPage, streams::RetentionRequest, streams::TagsRequest,
        streams::TagsView, streams::LimitsView,
        records::PutRecordsRequest, records::PutRecordEntry, records::PutRecordsResponse,
        records::PutRecordResult, records::ReadFrom, records::RecordView, records::RecordPage,
        delivery_streams::DeliverySourceKind, delivery_streams::DestinationRequest,
        delivery_streams::CreateDeliveryStreamRequest, delivery_streams::UpdateDestinationRequest,
        delivery_streams::DestinationView, delivery_streams::ProcessorView,
        delivery_streams::HttpEndpointRequest, delivery_streams::HttpEndpointView,
        delivery_streams::ConversionView,
        delivery_streams::PartitionKeyView, delivery_streams::DeliveryStreamView,
        delivery_streams::DeliveryStreamPage, delivery_streams::DeliveryRecordEntry,
        delivery_streams::PutDeliveryRecordsRequest, delivery_streams::PutDeliveryRecordsResponse,
        delivery_streams::DeliveryCounts, delivery_streams::DeliveryMinuteView,
        delivery_streams::DeliveryMetricsView, delivery_streams::DeliveryFailureView,
        delivery_streams::DeliveryFailurePage,
        buckets::StoreRequest, buckets::RegisterBucketRequest, buckets::StoreView,
        buckets::BucketView, buckets::BucketList,
        tables::ColumnRequest, tables::CreateTableRequest, tables::ReplaceTableRequest,
        tables::ColumnView, tables::TableView,
        tables::TableList,
        metrics::StreamMetricsView, metrics::MetricsPoint, metrics::StreamsMetricsView,
        metrics::StreamSparkline,
        users::MemberView, users::MemberPage, users::ChangeRoleRequest,
        password::ChangePasswordRequest,
        invitations::CreateInvitationRequest, invitations::AcceptInvitationRequest,
        invitations::InvitationState, invitations::InvitationView,
        invitations::CreatedInvitation, invitations::InvitationPage,
    )),
    modifiers(&Security),
    tags((name = "auth", description = "Sign-in and sessions"), (name = "meta", description = "The API itself"), (name = "audit", description = "Who changed what"), (name = "keys", description = "Access keys for the AWS endpoint"), (name = "streams", description = "Streams, their retention and tags, and the tenant's quotas"), (name = "records", description = "Put, read and tail a stream's records"), (name = "delivery-streams", description = "Delivery streams (Firehose): their destination and tags, and putting records for delivery"), (name = "buckets", description = "Where the buckets delivery streams name live (S3 and S3-compatible, GCS, Azure), with their credentials"), (name = "tables", description = "The catalog: the tables whose columns format conversion writes Parquet with"), (name = "metrics", description = "Record traffic per stream and minute"), (name = "users", description = "The tenant's members and invitations"))
)]
pub struct ApiDoc;

/// How the SigV4 scheme is described in the document (ADR 008).
const SIGV4_DESCRIPTION: &str = "An access key, signed with AWS Signature Version 4 as on the \
    AWS endpoint: `Authorization: AWS4-HMAC-SHA256 Credential=<access key id>/<yyyymmdd>/<region>/<service>/aws4_request, \
    SignedHeaders=<...;host;...;x-amz-date>, Signature=<hex>` with an `X-Amz-Date` (or `Date`) header. \
    The region is the installation's region; the service is `fjord` or `execute-api`. The \
    payload hash is the SHA-256 of the body (`UNSIGNED-PAYLOAD` is refused); `X-Amz-Content-Sha256`, \
    if sent, must equal it. The request time must be within 15 minutes of the server clock. The \
    key's role and tenant apply; endpoints for people (`/api/v1/me`, `/api/v1/users`, \
    `/api/v1/auth/switch-tenant`) answer 403.";

/// The two ways to call the API: a user's bearer token, or an access key signing with SigV4.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "sigv4",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                SIGV4_DESCRIPTION,
            ))),
        );
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

/// Every route that names one tenant resource in its path (method, path template as in the
/// OpenAPI document). Another tenant must get a 404 for each; `tests/isolation.rs` checks
/// that, and that no templated path of the document is missing here.
pub const TENANT_RESOURCE_ROUTES: &[(&str, &str)] = &[
    ("DELETE", "/api/v1/keys/{id}"),
    ("POST", "/api/v1/keys/{id}/disable"),
    ("POST", "/api/v1/keys/{id}/enable"),
    ("POST", "/api/v1/keys/{id}/rotate"),
    ("GET", "/api/v1/streams/{name}"),
    ("DELETE", "/api/v1/streams/{name}"),
    ("PUT", "/api/v1/streams/{name}/retention"),
    ("PUT", "/api/v1/streams/{name}/tags"),
    ("DELETE", "/api/v1/streams/{name}/tags/{key}"),
    ("POST", "/api/v1/streams/{name}/records"),
    ("GET", "/api/v1/streams/{name}/shards/{shard_id}/records"),
    ("GET", "/api/v1/streams/{name}/shards/{shard_id}/tail"),
    ("GET", "/api/v1/streams/{name}/metrics"),
    ("GET", "/api/v1/delivery-streams/{name}"),
    ("DELETE", "/api/v1/delivery-streams/{name}"),
    ("PUT", "/api/v1/delivery-streams/{name}/destination"),
    ("PUT", "/api/v1/delivery-streams/{name}/tags"),
    ("DELETE", "/api/v1/delivery-streams/{name}/tags/{key}"),
    ("POST", "/api/v1/delivery-streams/{name}/records"),
    ("GET", "/api/v1/delivery-streams/{name}/metrics"),
    ("GET", "/api/v1/delivery-streams/{name}/failures"),
    ("GET", "/api/v1/buckets/{name}"),
    ("PUT", "/api/v1/buckets/{name}"),
    ("DELETE", "/api/v1/buckets/{name}"),
    ("GET", "/api/v1/tables/{database}/{name}"),
    ("PUT", "/api/v1/tables/{database}/{name}"),
    ("DELETE", "/api/v1/tables/{database}/{name}"),
    ("PATCH", "/api/v1/users/{id}"),
    ("DELETE", "/api/v1/users/{id}"),
    ("DELETE", "/api/v1/invitations/{id}"),
];

/// The REST API, mounted at `/api/v1`; unknown paths and methods under it get problems.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/auth/sign-in", post(auth::sign_in))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/sign-out", post(auth::sign_out))
        .route("/auth/switch-tenant", post(switch_tenant::switch_tenant))
        .route(
            "/auth/accept-invitation",
            post(invitations::accept_invitation),
        )
        .route("/me", get(auth::me))
        .route("/me/password", put(password::change_password))
        .route("/users", get(users::list_users))
        .route(
            "/users/{id}",
            patch(users::change_role).delete(users::remove_user),
        )
        .route(
            "/invitations",
            get(invitations::list_invitations).post(invitations::create_invitation),
        )
        .route("/invitations/{id}", delete(invitations::revoke_invitation))
        .route("/audit", get(audit::list_audit))
        .route("/keys", get(keys::list_keys).post(keys::create_key))
        .route("/keys/{id}", delete(keys::delete_key))
        .route("/keys/{id}/disable", post(keys::disable_key))
        .route("/keys/{id}/enable", post(keys::enable_key))
        .route("/keys/{id}/rotate", post(keys::rotate_key))
        .route(
            "/streams",
            get(streams::list_streams).post(streams::create_stream),
        )
        .route(
            "/streams/{name}",
            get(streams::describe_stream).delete(streams::delete_stream),
        )
        .route("/streams/{name}/retention", put(streams::set_retention))
        .route("/streams/{name}/tags", put(streams::add_tags))
        .route("/streams/{name}/tags/{key}", delete(streams::remove_tag))
        .route("/streams/{name}/records", post(records::put_records))
        .route(
            "/streams/{name}/shards/{shard_id}/records",
            get(records::read_records),
        )
        .route(
            "/streams/{name}/shards/{shard_id}/tail",
            get(records::tail_records),
        )
        .route("/streams/{name}/metrics", get(metrics::stream_metrics))
        .route(
            "/delivery-streams",
            get(delivery_streams::list_delivery_streams)
                .post(delivery_streams::create_delivery_stream),
        )
        .route(
            "/delivery-streams/{name}",
            get(delivery_streams::describe_delivery_stream)
                .delete(delivery_streams::delete_delivery_stream),
        )
        .route(
            "/delivery-streams/{name}/destination",
            put(delivery_streams::update_destination),
        )
        .route(
            "/delivery-streams/{name}/tags",
            put(delivery_streams::add_delivery_stream_tags),
        )
        .route(
            "/delivery-streams/{name}/tags/{key}",
            delete(delivery_streams::remove_delivery_stream_tag),
        )
        .route(
            "/delivery-streams/{name}/records",
            post(delivery_streams::put_delivery_records),
        )
        .route(
            "/delivery-streams/{name}/metrics",
            get(delivery_streams::delivery_stream_metrics),
        )
        .route(
            "/delivery-streams/{name}/failures",
            get(delivery_streams::delivery_stream_failures),
        )
        .route(
            "/buckets",
            get(buckets::list_buckets).post(buckets::register_bucket),
        )
        .route(
            "/buckets/{name}",
            get(buckets::describe_bucket)
                .put(buckets::replace_bucket)
                .delete(buckets::delete_bucket),
        )
        .route(
            "/tables",
            get(tables::list_tables).post(tables::create_table),
        )
        .route(
            "/tables/{database}/{name}",
            get(tables::describe_table)
                .put(tables::replace_table)
                .delete(tables::delete_table),
        )
        .route("/metrics/streams", get(metrics::streams_metrics))
        .route("/limits", get(streams::describe_limits))
        .route("/openapi.json", get(openapi_json))
        .route("/reference", get(reference::reference))
        .fallback(|| async { Problem::not_found() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .with_state(state.clone());
    // On the outer router, so the middleware sees the full path the client signed.
    Router::new()
        .nest("/api/v1", api)
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::sigv4::verify_signed_request,
        ))
}
