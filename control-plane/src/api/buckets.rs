//! Registered buckets under `/api/v1/buckets`: where a bucket that delivery streams name
//! (`arn:aws:s3:::<name>`) really lives — S3 or an S3-compatible store, GCS or Azure — with
//! the credentials to write there. A bucket that is not registered is the embedded local
//! filesystem store. See `fjord_common::buckets` and `docs/firehose-compatibility.md`.
//!
//! Listing and reading need `ReadStreams` (viewers and up); registering, replacing and
//! deleting need `ManageKeys` (admins and owners), since a registration holds credentials.
//! Secrets are write-only: sealed with the master key for the registration, never answered
//! (`secret_set` says whether one is held) and never logged. A registration is checked before
//! it is stored: Fjord writes and deletes a probe object, and a store that refuses answers 400
//! with what it said. Replacing a registration republishes every delivery stream naming the
//! bucket; one that a delivery stream (not being deleted) names cannot be deleted (409).
//!
//! Every change is recorded in the audit log (`buckets:<Action>`), refused ones with their
//! problem kind. A bucket of another tenant is a 404 like one that was never registered.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use fjord_common::buckets::{
    AzureLocation, BucketLocation, GcsLocation, RegisteredBucket, S3Location, seal_context,
};
use fjord_common::secret::SecretBox;
use object_store::ObjectStore as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::extract::ApiJson;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::firehose::destination::is_valid_bucket_name;
use crate::store::StoreError;
use crate::store::buckets::BucketRow;

/// Where a bucket lives and how to sign in there. Secrets are write-only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreRequest {
    /// Amazon S3 or an S3-compatible store (MinIO, Ceph, Garage, …).
    S3 {
        /// The bucket's name at the store; default: the registered name.
        #[serde(default)]
        bucket: Option<String>,
        /// Default `us-east-1`.
        #[serde(default)]
        region: Option<String>,
        /// `http(s)://host[:port]` of an S3-compatible store; default: AWS.
        #[serde(default)]
        endpoint: Option<String>,
        /// Path-style requests; default: true with an `endpoint`, false without.
        #[serde(default)]
        path_style: Option<bool>,
        /// With `secret_access_key`; both absent: the workers' environment credentials.
        #[serde(default)]
        access_key_id: Option<String>,
        /// Write-only. Left out on a replace with the same `access_key_id`: kept.
        #[serde(default)]
        secret_access_key: Option<String>,
    },
    /// Google Cloud Storage.
    Gcs {
        /// Default: the registered name.
        #[serde(default)]
        bucket: Option<String>,
        /// A service account key (its JSON text). Write-only; absent: the environment's
        /// credentials; left out on a replace: kept.
        #[serde(default)]
        service_account_key: Option<String>,
    },
    /// Azure Blob Storage.
    Azure {
        /// The storage account (3-24 lowercase letters and digits).
        account: String,
        /// Default: the registered name.
        #[serde(default)]
        container: Option<String>,
        /// `http(s)://…` (Azurite, sovereign clouds); default: Azure's endpoint for the account.
        #[serde(default)]
        endpoint: Option<String>,
        /// The account's access key (base64). Write-only; left out on a replace: kept.
        #[serde(default)]
        access_key: Option<String>,
    },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBucketRequest {
    /// The name delivery streams use (`arn:aws:s3:::<name>`): an S3 bucket name, unique in
    /// the tenant.
    #[schema(example = "lake")]
    pub name: String,
    pub store: StoreRequest,
}

/// Where a registered bucket lives, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreView {
    S3 {
        bucket: String,
        region: String,
        endpoint: Option<String>,
        path_style: bool,
        access_key_id: Option<String>,
        secret_set: bool,
    },
    Gcs {
        bucket: String,
        secret_set: bool,
    },
    Azure {
        account: String,
        container: String,
        endpoint: Option<String>,
        secret_set: bool,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BucketView {
    pub name: String,
    /// What a delivery stream's `BucketARN` names it by.
    #[schema(example = "arn:aws:s3:::lake")]
    pub arn: String,
    pub store: StoreView,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BucketList {
    pub items: Vec<BucketView>,
}

fn view(row: &BucketRow) -> Result<BucketView, Problem> {
    let registered = row
        .registered()
        .ok_or_else(|| Problem::internal(&"a bucket row holds an unreadable location"))?;
    let store = match registered.location {
        BucketLocation::S3(s3) => StoreView::S3 {
            bucket: s3.bucket,
            region: s3.region,
            endpoint: s3.endpoint,
            path_style: s3.path_style,
            access_key_id: s3.access_key_id,
            secret_set: s3.sealed_secret_access_key.is_some(),
        },
        BucketLocation::Gcs(gcs) => StoreView::Gcs {
            bucket: gcs.bucket,
            secret_set: gcs.sealed_service_account_key.is_some(),
        },
        BucketLocation::Azure(azure) => StoreView::Azure {
            account: azure.account,
            container: azure.container,
            endpoint: azure.endpoint,
            secret_set: azure.sealed_access_key.is_some(),
        },
    };
    Ok(BucketView {
        name: row.name.clone(),
        arn: format!("arn:aws:s3:::{}", row.name),
        store,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn secret_box(state: &ApiState) -> Result<&SecretBox, Problem> {
    crate::api::keys::key_material(state).map(|material| &material.secret_box)
}

/// An `http(s)://host[:port][/path]` endpoint without credentials, query or fragment.
fn check_endpoint(endpoint: &str) -> Result<(), Problem> {
    let url = url::Url::parse(endpoint)
        .map_err(|_| Problem::bad_request("endpoint must be an http:// or https:// URL"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || endpoint.len() > 1024
    {
        return Err(Problem::bad_request(
            "endpoint must be an http:// or https:// URL without credentials, query or fragment (at most 1024 characters)",
        ));
    }
    Ok(())
}

/// 1-`max` printable ASCII characters.
fn check_text(value: &str, field: &str, max: usize) -> Result<(), Problem> {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::bad_request(format!(
            "{field} must be 1-{max} printable ASCII characters"
        )));
    }
    Ok(())
}

/// The location a request describes, its secrets sealed for `id`. A secret left out keeps
/// the one `current` holds (a replace), when the identity it belongs to did not change.
fn location(
    secret_box: &SecretBox,
    id: Uuid,
    name: &str,
    request: StoreRequest,
    current: Option<&BucketLocation>,
) -> Result<BucketLocation, Problem> {
    let seal = |secret: &str| {
        secret_box
            .seal(secret, &seal_context(id))
            .map_err(|error| Problem::internal(&error))
    };
    let remote_name = |given: Option<String>, field: &str| -> Result<String, Problem> {
        let remote = given.unwrap_or_else(|| name.to_owned());
        check_text(&remote, field, 255)?;
        Ok(remote)
    };
    Ok(match request {
        StoreRequest::S3 {
            bucket,
            region,
            endpoint,
            path_style,
            access_key_id,
            secret_access_key,
        } => {
            let bucket = remote_name(bucket, "bucket")?;
            let region = region.unwrap_or_else(|| "us-east-1".to_owned());
            if region.is_empty()
                || region.len() > 64
                || !region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(Problem::bad_request(
                    "region must be 1-64 lowercase letters, digits and hyphens",
                ));
            }
            if let Some(endpoint) = &endpoint {
                check_endpoint(endpoint)?;
            }
            if let Some(access_key_id) = &access_key_id {
                check_text(access_key_id, "access_key_id", 128)?;
            }
            let kept = match current {
                Some(BucketLocation::S3(current))
                    if secret_access_key.is_none()
                        && access_key_id.is_some()
                        && current.access_key_id == access_key_id =>
                {
                    current.sealed_secret_access_key.clone()
                }
                _ => None,
            };
            let sealed = match &secret_access_key {
                Some(secret) => {
                    check_text(secret, "secret_access_key", 256)?;
                    Some(seal(secret)?)
                }
                None => kept,
            };
            if access_key_id.is_some() != sealed.is_some() {
                return Err(Problem::bad_request(
                    "access_key_id and secret_access_key go together: give both, or neither for the workers' environment credentials",
                ));
            }
            BucketLocation::S3(S3Location {
                bucket,
                region,
                path_style: path_style.unwrap_or(endpoint.is_some()),
                endpoint,
                access_key_id,
                sealed_secret_access_key: sealed,
            })
        }
        StoreRequest::Gcs {
            bucket,
            service_account_key,
        } => {
            let bucket = remote_name(bucket, "bucket")?;
            let sealed = match &service_account_key {
                Some(key) => {
                    let parsed: Option<serde_json::Map<String, Value>> =
                        serde_json::from_str(key).ok();
                    if parsed.is_none() || key.len() > 16 * 1024 {
                        return Err(Problem::bad_request(
                            "service_account_key must be a service account key's JSON text (at most 16 KiB)",
                        ));
                    }
                    Some(seal(key)?)
                }
                None => match current {
                    Some(BucketLocation::Gcs(current)) => {
                        current.sealed_service_account_key.clone()
                    }
                    _ => None,
                },
            };
            BucketLocation::Gcs(GcsLocation {
                bucket,
                sealed_service_account_key: sealed,
            })
        }
        StoreRequest::Azure {
            account,
            container,
            endpoint,
            access_key,
        } => {
            if !(3..=24).contains(&account.len())
                || !account
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(Problem::bad_request(
                    "account must be 3-24 lowercase letters and digits",
                ));
            }
            let container = remote_name(container, "container")?;
            if let Some(endpoint) = &endpoint {
                check_endpoint(endpoint)?;
            }
            let sealed = match &access_key {
                Some(key) => {
                    if key.is_empty()
                        || base64::engine::general_purpose::STANDARD
                            .decode(key)
                            .is_err()
                    {
                        return Err(Problem::bad_request("access_key must be base64"));
                    }
                    Some(seal(key)?)
                }
                None => match current {
                    Some(BucketLocation::Azure(current)) if current.account == account => {
                        current.sealed_access_key.clone()
                    }
                    _ => None,
                },
            };
            BucketLocation::Azure(AzureLocation {
                account,
                container,
                endpoint,
                sealed_access_key: sealed,
            })
        }
    })
}

/// Writes and deletes a probe object: a registration that cannot be written to is refused.
async fn probe(secret_box: &SecretBox, bucket: &RegisteredBucket) -> Result<(), Problem> {
    let refused = |what: String| {
        let mut what: String = what.chars().filter(|c| !c.is_control()).collect();
        if what.len() > 600 {
            let cut = what.floor_char_boundary(600);
            what.truncate(cut);
        }
        Problem::bad_request(format!("the bucket cannot be written to: {what}"))
    };
    let store = bucket
        .open(secret_box)
        .map_err(|error| refused(error.to_string()))?;
    let path = object_store::path::Path::from(format!(".fjord-probe/{}", Uuid::new_v4()));
    store
        .put(&path, bytes::Bytes::from_static(b"fjord probe\n").into())
        .await
        .map_err(|error| refused(error.to_string()))?;
    if let Err(error) = store.delete(&path).await {
        tracing::warn!(%error, "cannot delete a bucket probe object");
    }
    Ok(())
}

/// Records a bucket change in the audit log, with its outcome.
async fn audit(
    state: &ApiState,
    context: &AuthContext,
    origin: &RequestOrigin,
    action: &str,
    name: &str,
    failure: Option<&Problem>,
    details: Value,
) {
    crate::api::audit::record_change(
        state,
        context,
        origin,
        format!("buckets:{action}"),
        name,
        failure,
        details,
    )
    .await;
}

fn store_problem(error: StoreError) -> Problem {
    match error {
        StoreError::NotFound => Problem::not_found(),
        StoreError::AlreadyExists => Problem::conflict("a bucket of that name is registered"),
        StoreError::InUse(user) => Problem::conflict(format!(
            "delivery stream {user} delivers to this bucket; delete it or move its destination first"
        )),
        other => Problem::from(other),
    }
}

fn kind_name(request: &StoreRequest) -> &'static str {
    match request {
        StoreRequest::S3 { .. } => "s3",
        StoreRequest::Gcs { .. } => "gcs",
        StoreRequest::Azure { .. } => "azure",
    }
}

/// Register a bucket: checked with a probe write, then stored.
#[utoipa::path(
    post,
    path = "/api/v1/buckets",
    tag = "buckets",
    security(("bearer" = []), ("sigv4" = [])),
    request_body = RegisterBucketRequest,
    responses(
        (status = 201, description = "Registered", body = BucketView),
        (status = 400, description = "Invalid request, or the store refused the probe write (the detail says what it answered)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A bucket of that name is registered", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn register_bucket(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<RegisterBucketRequest>,
) -> Result<Response, Problem> {
    let name = request.name.clone();
    let kind = kind_name(&request.store);
    let result = register(&state, &context, request).await;
    audit(
        &state,
        &context,
        &origin,
        "Register",
        &name,
        result.as_ref().err(),
        json!({"kind": kind}),
    )
    .await;
    result
}

async fn register(
    state: &ApiState,
    context: &AuthContext,
    request: RegisterBucketRequest,
) -> Result<Response, Problem> {
    context.require(Action::ManageKeys)?;
    if !is_valid_bucket_name(&request.name) {
        return Err(Problem::bad_request(
            "name must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
        ));
    }
    let secret_box = secret_box(state)?;
    if state
        .store
        .bucket_by_name(context.tenant_id, &request.name)
        .await?
        .is_some()
    {
        return Err(store_problem(StoreError::AlreadyExists));
    }
    let id = Uuid::now_v7();
    let location = location(secret_box, id, &request.name, request.store, None)?;
    probe(
        secret_box,
        &RegisteredBucket {
            id,
            location: location.clone(),
        },
    )
    .await?;
    let row = state
        .store
        .create_bucket(context.tenant_id, id, &request.name, &location)
        .await
        .map_err(store_problem)?;
    Ok((StatusCode::CREATED, Json(view(&row)?)).into_response())
}

/// The tenant's registered buckets, by name.
#[utoipa::path(
    get,
    path = "/api/v1/buckets",
    tag = "buckets",
    security(("bearer" = []), ("sigv4" = [])),
    responses(
        (status = 200, description = "The registered buckets", body = BucketList),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_buckets(
    State(state): State<ApiState>,
    context: AuthContext,
) -> Result<Json<BucketList>, Problem> {
    context.require(Action::ReadStreams)?;
    let rows = state.store.list_buckets(context.tenant_id).await?;
    Ok(Json(BucketList {
        items: rows.iter().map(view).collect::<Result<_, _>>()?,
    }))
}

/// One registered bucket.
#[utoipa::path(
    get,
    path = "/api/v1/buckets/{name}",
    tag = "buckets",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The registered name")),
    responses(
        (status = 200, description = "The bucket", body = BucketView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such bucket registered", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn describe_bucket(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
) -> Result<Json<BucketView>, Problem> {
    context.require(Action::ReadStreams)?;
    let row = state
        .store
        .bucket_by_name(context.tenant_id, &name)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(Json(view(&row)?))
}

/// Replace where a bucket lives (checked with a probe write); the delivery streams naming it
/// deliver there from then on.
#[utoipa::path(
    put,
    path = "/api/v1/buckets/{name}",
    tag = "buckets",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The registered name")),
    request_body = StoreRequest,
    responses(
        (status = 200, description = "Replaced", body = BucketView),
        (status = 400, description = "Invalid request, or the store refused the probe write", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such bucket registered", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn replace_bucket(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<StoreRequest>,
) -> Result<Json<BucketView>, Problem> {
    let kind = kind_name(&request);
    let result = replace(&state, &context, &name, request).await;
    audit(
        &state,
        &context,
        &origin,
        "Replace",
        &name,
        result.as_ref().err(),
        json!({"kind": kind}),
    )
    .await;
    result
}

async fn replace(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
    request: StoreRequest,
) -> Result<Json<BucketView>, Problem> {
    context.require(Action::ManageKeys)?;
    let secret_box = secret_box(state)?;
    let current = state
        .store
        .bucket_by_name(context.tenant_id, name)
        .await?
        .ok_or_else(Problem::not_found)?;
    let registered = current
        .registered()
        .ok_or_else(|| Problem::internal(&"a bucket row holds an unreadable location"))?;
    let location = location(
        secret_box,
        current.id,
        name,
        request,
        Some(&registered.location),
    )?;
    probe(
        secret_box,
        &RegisteredBucket {
            id: current.id,
            location: location.clone(),
        },
    )
    .await?;
    let row = state
        .store
        .replace_bucket(context.tenant_id, name, &location)
        .await
        .map_err(store_problem)?;
    Ok(Json(view(&row)?))
}

/// Forget a registered bucket (its objects stay where they are).
#[utoipa::path(
    delete,
    path = "/api/v1/buckets/{name}",
    tag = "buckets",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The registered name")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such bucket registered", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A delivery stream delivers to it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn delete_bucket(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    let result = async {
        context.require(Action::ManageKeys)?;
        state
            .store
            .delete_bucket(context.tenant_id, &name)
            .await
            .map_err(store_problem)?;
        Ok(StatusCode::NO_CONTENT)
    }
    .await;
    audit(
        &state,
        &context,
        &origin,
        "Delete",
        &name,
        result.as_ref().err(),
        json!({}),
    )
    .await;
    result
}
