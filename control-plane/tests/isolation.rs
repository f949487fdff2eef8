//! Cross-tenant checks generated from the route table: for every route that names a tenant
//! resource ([`api::TENANT_RESOURCE_ROUTES`]), the resource is created in one tenant and the
//! route is called by an admin of another, who must get the plain 404 problem (not 403, not
//! data) and change nothing. The list itself is checked against the OpenAPI document: a
//! templated path the document has and the list lacks fails here, so a new endpoint cannot
//! skip these checks.
//!
//! The record routes need JetStream: the fixture connects to NATS with a prefix of its own and
//! provisions tenant A's stream with a reconciler pass.

#[path = "support/members.rs"]
mod members;
#[path = "support/nats.rs"]
mod nats;
#[path = "support/s3.rs"]
mod s3;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fjord_common::secret::MasterKey;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, TenantId};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;
use uuid::Uuid;

const SESSION_KEY: [u8; 32] = [7; 32];
const MASTER_KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const HTTP_METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The stream, tag and key tenant A owns.
const STREAM: &str = "isolated-orders";
const TAG_KEY: &str = "isolated-tag";
/// Tenant A's catalog table.
const TABLE_DATABASE: &str = "isolated";
const TABLE: &str = "orders";

struct TestApp {
    router: axum::Router,
    pool: PgPool,
    store: Store,
    nats: nats::Nats,
    acme: TenantId,
    globex: TenantId,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool.clone());
        let state = ApiState::new(
            store.clone(),
            SessionKeys::new(SESSION_KEY),
            RateLimitPolicy::default(),
        )
        .unwrap()
        .with_master_key(&MasterKey::from_hex(MASTER_KEY_HEX).unwrap());
        let nats = nats::Nats::connect().await;
        let state = state.with_shards(nats.shards());
        let acme = store
            .create_tenant("acme", 10, 1, || "123456789012".to_owned())
            .await
            .unwrap();
        let globex = store
            .create_tenant("globex", 10, 1, || "210987654321".to_owned())
            .await
            .unwrap();
        Self {
            router: api::router(state),
            pool,
            store,
            nats,
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
        }
    }

    /// A bearer token for a new member of `tenant` with `role` (a real user and membership:
    /// the role is read from the membership on every request).
    async fn token(&self, tenant: TenantId, role: Role) -> String {
        members::member_token(&self.store, SESSION_KEY, tenant, role).await
    }

    /// Calls `path` (under the document's full path) as `token`; status and JSON body.
    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = Body::from(body.map(|b| b.to_string()).unwrap_or_default());
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let is_event_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
        if is_event_stream {
            // A live tail never ends by itself; the status is the answer.
            return (status, Value::Null);
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Tenant A's resources: an ACTIVE stream (with its shard in JetStream) holding a record,
    /// with a tag, an access key, a member and an open invitation; their ids.
    async fn tenant_a_resources(&self) -> Ids {
        let owner = self.token(self.acme, Role::Owner).await;
        let (status, body) = self
            .call(
                &owner,
                "POST",
                "/api/v1/streams",
                Some(
                    json!({"name": STREAM, "mode": "provisioned", "shard_count": 1,
                            "tags": {TAG_KEY: "v"}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.nats.reconcile(&self.store).await;
        let (status, body) = self
            .call(
                &owner,
                "POST",
                &format!("/api/v1/streams/{STREAM}/records"),
                body_for("POST", "/api/v1/streams/{name}/records"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // A delivery stream of the same name, ACTIVE, with the same tag.
        let (status, body) = self
            .call(
                &owner,
                "POST",
                "/api/v1/delivery-streams",
                Some(
                    json!({"name": STREAM, "destination": {"bucket_arn": "arn:aws:s3:::lake"},
                            "tags": {TAG_KEY: "v"}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.nats.reconcile(&self.store).await;
        let (status, body) = self
            .call(
                &owner,
                "POST",
                "/api/v1/keys",
                Some(json!({"name": "isolated key"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let key_id = body["access_key_id"].as_str().unwrap().to_owned();
        // A registered bucket of the same name.
        let (status, body) = self
            .call(
                &owner,
                "POST",
                "/api/v1/buckets",
                Some(json!({"name": STREAM, "store": test_bucket_store()})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // A catalog table (the one table routes name).
        let (status, body) = self
            .call(
                &owner,
                "POST",
                "/api/v1/tables",
                Some(json!({"database": TABLE_DATABASE, "name": TABLE,
                            "columns": [{"name": "id", "type": "bigint"}]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self
            .call(
                &owner,
                "POST",
                "/api/v1/invitations",
                Some(json!({"email": "isolated@example.com", "role": "viewer"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let invitation_id = body["id"].as_str().unwrap().to_owned();
        let member = self
            .store
            .create_user("member@example.com", "$argon2id$unused", false)
            .await
            .unwrap();
        self.store
            .put_membership(self.acme, UserId(member.id), Role::Developer)
            .await
            .unwrap();
        Ids {
            key_id,
            member_id: member.id.to_string(),
            invitation_id,
        }
    }

    /// What tenant A's resources look like in the database.
    async fn snapshot(&self) -> Value {
        let streams: Vec<(String, String, i32)> =
            sqlx::query_as("SELECT name, status, retention_hours FROM streams ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        let tags: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM stream_tags ORDER BY key")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        let keys: Vec<(String, bool, i64, bool)> = sqlx::query_as(
            "SELECT access_key_id, enabled, generation, deleted_at IS NOT NULL
             FROM access_keys ORDER BY access_key_id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let members: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT user_id, role FROM memberships WHERE tenant_id = $1 ORDER BY user_id",
        )
        .bind(self.acme.0)
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let invitations: Vec<(Uuid, bool)> =
            sqlx::query_as("SELECT id, revoked_at IS NOT NULL FROM invitations ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        let delivery_streams: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT name, status, version_id, destination_spec::text FROM delivery_streams ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let delivery_tags: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM delivery_stream_tags ORDER BY key")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        let buckets: Vec<(String, String)> =
            sqlx::query_as("SELECT name, location::text FROM buckets ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        let tables: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT database_name, table_name, columns::text FROM catalog_tables ORDER BY 1, 2",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        json!({"streams": streams, "tags": tags, "keys": keys, "members": members,
               "invitations": invitations, "delivery_streams": delivery_streams,
               "delivery_tags": delivery_tags, "buckets": buckets, "tables": tables})
    }
}

/// The ids of tenant A's resources that routes name by `{id}`.
struct Ids {
    key_id: String,
    member_id: String,
    invitation_id: String,
}

/// Where tenant A's registered bucket lives: a bucket of the test S3 server.
fn test_bucket_store() -> Value {
    let s3 = s3::S3::from_env();
    let remote = s3.create_bucket("isolated");
    s3.store(&remote)
}

/// A valid request body for a route, so that only the tenant can be wrong.
fn body_for(method: &str, template: &str) -> Option<Value> {
    match (method, template) {
        ("PUT", "/api/v1/buckets/{name}") => Some(test_bucket_store()),
        ("PUT", "/api/v1/tables/{database}/{name}") => {
            Some(json!({"columns": [{"name": "other", "type": "string"}]}))
        }
        ("PUT", path) if path.ends_with("/retention") => Some(json!({"retention_hours": 48})),
        ("PUT", path) if path.ends_with("/tags") => Some(json!({"tags": {"other": "x"}})),
        ("PATCH", path) if path.starts_with("/api/v1/users/") => Some(json!({"role": "viewer"})),
        ("PUT", path) if path.ends_with("/destination") => {
            Some(json!({"version_id": 1, "destination": {"prefix": "moved/"}}))
        }
        ("POST", "/api/v1/delivery-streams/{name}/records") => {
            Some(json!({"records": [{"data": "aXNvbGF0ZWQ="}]}))
        }
        ("POST", path) if path.ends_with("/records") => {
            Some(json!({"records": [{"partition_key": "k", "data": {"isolated": true}}]}))
        }
        _ => None,
    }
}

fn fill(template: &str, ids: &Ids) -> String {
    if template.starts_with("/api/v1/tables/") {
        return template
            .replace("{database}", TABLE_DATABASE)
            .replace("{name}", TABLE);
    }
    let id = if template.starts_with("/api/v1/users/") {
        &ids.member_id
    } else if template.starts_with("/api/v1/invitations/") {
        &ids.invitation_id
    } else {
        &ids.key_id
    };
    template
        .replace("{name}", STREAM)
        .replace("{key}", TAG_KEY)
        .replace("{id}", id)
        .replace("{shard_id}", "shardId-000000000000")
}

#[sqlx::test(migrations = "../migrations")]
async fn another_tenant_gets_404_for_every_tenant_resource_route(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ids = app.tenant_a_resources().await;
    let before = app.snapshot().await;
    let globex_admin = app.token(app.globex, Role::Admin).await;
    let not_found = json!({
        "type": "urn:fjord:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no such resource",
    });
    assert!(!api::TENANT_RESOURCE_ROUTES.is_empty());
    for (method, template) in api::TENANT_RESOURCE_ROUTES {
        let path = fill(template, &ids);
        let (status, body) = app
            .call(&globex_admin, method, &path, body_for(method, template))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        // The plain problem: nothing of tenant A's resource in it.
        assert_eq!(body, not_found, "{method} {path}");
    }
    assert_eq!(app.snapshot().await, before, "tenant B changed nothing");

    // The same calls by tenant A's owner reach the resources (so the 404s above are about
    // the tenant, not about a wrong path or body). Deleting ones go last.
    let acme_owner = app.token(app.acme, Role::Owner).await;
    let mut routes: Vec<_> = api::TENANT_RESOURCE_ROUTES.to_vec();
    routes.sort_by_key(|(method, template)| {
        let deletes = *method == "DELETE";
        (deletes, deletes && !template.ends_with("{key}"))
    });
    for (method, template) in routes {
        let path = fill(template, &ids);
        if method == "DELETE" && template.ends_with("{name}") {
            // Deleting needs an ACTIVE stream; earlier calls may have left it UPDATING.
            sqlx::query("UPDATE streams SET status = 'ACTIVE'")
                .execute(&app.pool)
                .await
                .unwrap();
            sqlx::query("UPDATE delivery_streams SET status = 'ACTIVE'")
                .execute(&app.pool)
                .await
                .unwrap();
        }
        let (status, body) = app
            .call(&acme_owner, method, &path, body_for(method, template))
            .await;
        assert!(
            status.is_success(),
            "{method} {path} as the owner: {status} {body}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_templated_path_of_the_document_is_in_the_route_table(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (status, document) = app.call("", "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for method in HTTP_METHODS {
            if operations.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = api::TENANT_RESOURCE_ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes taking a tenant resource but missing from api::TENANT_RESOURCE_ROUTES: {missing:?}"
    );
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "listed routes the document lacks: {undocumented:?}"
    );
}
