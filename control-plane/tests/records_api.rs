//! Records over REST, driven with `oneshot` on a real Postgres (a fresh database per test) and
//! a real NATS JetStream (a prefix per test, cleaned up at the end): put and read back, every
//! start position, cursors, limits, roles, tenants and the server-sent-events tail.

#[path = "support/members.rs"]
mod members;
#[path = "support/nats.rs"]
mod nats;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::{Store, TenantId};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;
use uuid::Uuid;

const SESSION_KEY: [u8; 32] = [5; 32];
const STREAM: &str = "orders";
const SHARD: &str = "shardId-000000000000";

struct TestApp {
    router: axum::Router,
    store: Store,
    nats: nats::Nats,
    acme: TenantId,
    globex: TenantId,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool);
        let nats = nats::Nats::connect().await;
        let state = ApiState::new(
            store.clone(),
            SessionKeys::new(SESSION_KEY),
            RateLimitPolicy::default(),
        )
        .unwrap()
        .with_shards(nats.shards());
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
            store,
            nats,
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
        }
    }

    async fn token(&self, tenant: TenantId, role: Role) -> String {
        members::member_token(&self.store, SESSION_KEY, tenant, role).await
    }

    fn request(token: &str, method: &str, path: &str, body: Option<Vec<u8>>) -> Request<Body> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        request.body(Body::from(body.unwrap_or_default())).unwrap()
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Self::request(
            token,
            method,
            path,
            body.map(|b| b.to_string().into_bytes()),
        );
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// An ACTIVE stream of `shards` shards in `tenant`, with its shard streams in JetStream.
    async fn active_stream(&self, tenant: TenantId, name: &str, shards: u32) {
        let developer = self.token(tenant, Role::Developer).await;
        let (status, body) = self
            .call(
                &developer,
                "POST",
                "/streams",
                Some(json!({"name": name, "mode": "provisioned", "shard_count": shards})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.nats.reconcile(&self.store).await;
        let (_, body) = self
            .call(&developer, "GET", &format!("/streams/{name}"), None)
            .await;
        assert_eq!(body["status"], "ACTIVE", "{body}");
    }

    async fn put(&self, token: &str, records: Value) -> (StatusCode, Value) {
        self.call(
            token,
            "POST",
            &format!("/streams/{STREAM}/records"),
            Some(json!({"records": records})),
        )
        .await
    }

    /// Puts records with keys `key-{i}` and text data `record-{i}`; their sequence numbers.
    async fn put_texts(&self, token: &str, range: std::ops::Range<usize>) -> Vec<String> {
        let records: Vec<Value> = range
            .map(|i| {
                json!({"partition_key": format!("key-{i}"), "data_base64": BASE64.encode(format!("record-{i}"))})
            })
            .collect();
        let (status, body) = self.put(token, Value::Array(records)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|record| record["sequence_number"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn read(&self, token: &str, query: &str) -> (StatusCode, Value) {
        self.call(
            token,
            "GET",
            &format!("/streams/{STREAM}/shards/{SHARD}/records?{query}"),
            None,
        )
        .await
    }
}

fn texts(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["data_text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn json_and_base64_records_read_back_with_text_json_and_base64(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let (status, body) = app
        .put(
            &developer,
            json!([
                {"partition_key": "a", "data": {"order": 1, "items": ["x"]}},
                {"partition_key": "b", "data_base64": BASE64.encode([0xff, 0x00, 0x10])},
                {"partition_key": "c", "data_base64": BASE64.encode("plain text")},
                {"partition_key": "d", "data": null, "explicit_hash_key": "0"},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let written = body["records"].as_array().unwrap();
    assert_eq!(written.len(), 4);
    assert!(written.iter().all(|record| record["shard_id"] == SHARD));

    let viewer = app.token(app.acme, Role::Viewer).await;
    let (status, page) = app.read(&viewer, "from=trim_horizon").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 4);
    for (read, put) in records.iter().zip(written) {
        assert_eq!(read["sequence_number"], put["sequence_number"]);
    }
    assert_eq!(records[0]["partition_key"], "a");
    assert_eq!(records[0]["data_text"], r#"{"items":["x"],"order":1}"#);
    assert_eq!(records[0]["data_json"], json!({"order": 1, "items": ["x"]}));
    assert_eq!(
        records[0]["data_base64"],
        BASE64.encode(r#"{"items":["x"],"order":1}"#)
    );
    assert_eq!(records[1]["data_base64"], "/wAQ");
    assert!(records[1].get("data_text").is_none());
    assert!(records[1].get("data_json").is_none());
    assert_eq!(records[2]["data_text"], "plain text");
    assert!(records[2].get("data_json").is_none());
    assert_eq!(records[3]["data_text"], "null");
    assert!(
        chrono::DateTime::parse_from_rfc3339(records[0]["arrival_time"].as_str().unwrap()).is_ok()
    );
    assert_eq!(page["millis_behind_latest"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_start_position_reads_from_where_it_says(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let first = app.put_texts(&developer, 0..3).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = app.put_texts(&developer, 3..5).await;

    let (_, page) = app.read(&developer, "from=trim_horizon").await;
    assert_eq!(
        texts(&page),
        ["record-0", "record-1", "record-2", "record-3", "record-4"]
    );
    let (_, page) = app
        .read(
            &developer,
            &format!("from=at_sequence&sequence={}", first[1]),
        )
        .await;
    assert_eq!(
        texts(&page),
        ["record-1", "record-2", "record-3", "record-4"]
    );
    let (_, page) = app
        .read(
            &developer,
            &format!("from=after_sequence&sequence={}", first[2]),
        )
        .await;
    assert_eq!(texts(&page), ["record-3", "record-4"]);
    let (_, page) = app
        .read(
            &developer,
            &format!("from=after_sequence&sequence={}", second[1]),
        )
        .await;
    assert_eq!(texts(&page), Vec::<String>::new());
    let timestamp = encode_query(&between.to_rfc3339());
    let (status, page) = app
        .read(
            &developer,
            &format!("from=at_timestamp&timestamp={timestamp}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(texts(&page), ["record-3", "record-4"]);

    // latest: nothing now; the cursor then sees what is written after.
    let (status, page) = app.read(&developer, "from=latest").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(texts(&page), Vec::<String>::new());
    app.put_texts(&developer, 5..6).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page) = app.read(&developer, &format!("cursor={cursor}")).await;
    assert_eq!(texts(&page), ["record-5"]);

    // Bad positions are 400s.
    for query in [
        "from=at_sequence",
        "from=at_sequence&sequence=12",
        "from=at_timestamp",
        "from=at_timestamp&timestamp=yesterday",
        "from=sometime",
        "limit=0",
        "limit=1001",
    ] {
        let (status, body) = app.read(&developer, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
    // A sequence number of another shard.
    let other_shard = format!("{}{}", &first[0][..22], "000000000100000");
    let (status, _) = app
        .read(
            &developer,
            &format!("from=at_sequence&sequence={other_shard}"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = "../migrations")]
async fn cursors_continue_in_order_across_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let mut written = app.put_texts(&developer, 0..13).await;
    written.extend(app.put_texts(&developer, 13..25).await);

    let mut read = Vec::new();
    let (status, mut page) = app.read(&developer, "from=trim_horizon&limit=10").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut pages = 0;
    loop {
        let records = page["records"].as_array().unwrap().clone();
        assert!(records.len() <= 10);
        if records.is_empty() {
            break;
        }
        pages += 1;
        read.extend(
            records
                .iter()
                .map(|record| record["sequence_number"].as_str().unwrap().to_owned()),
        );
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let (status, next) = app
            .read(&developer, &format!("cursor={cursor}&limit=10"))
            .await;
        assert_eq!(status, StatusCode::OK, "{next}");
        page = next;
    }
    assert_eq!(pages, 3);
    assert_eq!(read, written, "every record once, in order");
    let mut sorted = read.clone();
    sorted.sort();
    assert_eq!(read, sorted);
}

#[sqlx::test(migrations = "../migrations")]
async fn limits_are_400s_naming_the_record(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let ok = json!({"partition_key": "k", "data": 1});
    let megabyte = BASE64.encode(vec![7u8; 1024 * 1024]);
    let almost_megabyte = BASE64.encode(vec![7u8; 1000 * 1024]);
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "1 to 500"),
        (Value::Array(vec![ok.clone(); 501]), "1 to 500"),
        (
            json!([ok, {"partition_key": "k"}]),
            "records[1]: exactly one",
        ),
        (
            json!([ok, ok, {"partition_key": "k", "data": 1, "data_base64": "AA=="}]),
            "records[2]: exactly one",
        ),
        (
            json!([{"partition_key": "", "data": 1}]),
            "records[0]: partition_key",
        ),
        (
            json!([ok, {"partition_key": "x".repeat(257), "data": 1}]),
            "records[1]: partition_key",
        ),
        (
            json!([{"partition_key": "k", "data_base64": "not base64!"}]),
            "records[0]: data_base64",
        ),
        (
            json!([ok, {"partition_key": "k", "data_base64": megabyte}]),
            "records[1]: the record passes",
        ),
        (
            Value::Array(
                (0..6)
                    .map(|_| json!({"partition_key": "k", "data_base64": almost_megabyte}))
                    .collect(),
            ),
            "records[5]: the records pass",
        ),
        (
            json!([{"partition_key": "k", "data": 1, "explicit_hash_key": "340282366920938463463374607431768211456"}]),
            "records[0]: explicit_hash_key",
        ),
    ];
    for (records, expected) in cases {
        let (status, body) = app.put(&developer, records).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{expected}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{detail} should say {expected}");
    }
    // 256 characters (not bytes) is the partition key limit; nothing was stored before.
    let (status, body) = app
        .put(
            &developer,
            json!([{"partition_key": "é".repeat(256), "data": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = app.read(&developer, "from=trim_horizon").await;
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn viewers_read_but_cannot_write_and_unready_streams_conflict(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    let viewer = app.token(app.acme, Role::Viewer).await;
    let (status, body) = app
        .put(&viewer, json!([{"partition_key": "k", "data": 1}]))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = app.read(&viewer, "").await;
    assert_eq!(status, StatusCode::OK);

    // A stream still CREATING (no reconciler pass) refuses records; unknown ones are 404s.
    let developer = app.token(app.acme, Role::Developer).await;
    let (status, _) = app
        .call(
            &developer,
            "POST",
            "/streams",
            Some(json!({"name": "fresh", "mode": "provisioned", "shard_count": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .call(
            &developer,
            "POST",
            "/streams/fresh/records",
            Some(json!({"records": [{"partition_key": "k", "data": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = app
        .call(
            &developer,
            "POST",
            "/streams/nope/records",
            Some(json!({"records": [{"partition_key": "k", "data": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            &developer,
            "GET",
            &format!("/streams/{STREAM}/shards/shardId-000000000001/records"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn other_tenants_get_404s_and_cursors_do_not_cross(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    app.active_stream(app.globex, "theirs", 1).await;
    let acme = app.token(app.acme, Role::Owner).await;
    app.put_texts(&acme, 0..2).await;
    let globex = app.token(app.globex, Role::Owner).await;
    let (status, _) = app
        .put(&globex, json!([{"partition_key": "k", "data": 1}]))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.read(&globex, "from=trim_horizon").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.get("records").is_none());
    let (status, _) = app
        .call(
            &globex,
            "GET",
            &format!("/streams/{STREAM}/shards/{SHARD}/tail"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Acme's cursor on globex's own stream, and on another stream of acme's, is refused.
    let (_, page) = app.read(&acme, "from=trim_horizon&limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, body) = app
        .call(
            &globex,
            "GET",
            &format!("/streams/theirs/shards/{SHARD}/records?cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A forged or altered cursor is refused too.
    let mut altered = cursor.to_owned();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for forged in [altered.as_str(), "eyJ0IjoxfQ", "garbage"] {
        let (status, body) = app.read(&acme, &format!("cursor={forged}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{forged}: {body}");
    }
}

/// Reads server-sent events from `body` until `count` events arrived; fails after 15 s.
async fn sse_events(
    body: &mut Body,
    buffer: &mut String,
    count: usize,
) -> Vec<(String, String, Value)> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut name, mut id, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("id:") {
                    id = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim());
                }
            }
            if !name.is_empty() {
                events.push((name, id, serde_json::from_str(&data).unwrap()));
            }
        }
        if events.len() >= count {
            return events;
        }
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("events arrive within 15 s")
            .expect("the event stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            buffer.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_tail_streams_records_as_they_arrive_and_resumes_after_last_event_id(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    let developer = app.token(app.acme, Role::Developer).await;
    app.put_texts(&developer, 0..2).await;
    let viewer = app.token(app.acme, Role::Viewer).await;
    let tail = format!("/streams/{STREAM}/shards/{SHARD}/tail");

    // From latest (the default): only what is written after connecting.
    let response = app
        .router
        .clone()
        .oneshot(TestApp::request(&viewer, "GET", &tail, None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = response.into_body();
    let sequences = app.put_texts(&developer, 2..5).await;
    let mut buffer = String::new();
    let events = sse_events(&mut body, &mut buffer, 3).await;
    let ids: Vec<_> = events.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(ids, sequences);
    for (index, (name, _, record)) in events.iter().enumerate() {
        assert_eq!(name, "record");
        assert_eq!(record["data_text"], format!("record-{}", index + 2));
        assert_eq!(record["data_json"], Value::Null);
    }
    drop(body);

    // Last-Event-ID resumes after that record, whatever `from` says.
    let mut request = TestApp::request(&viewer, "GET", &format!("{tail}?from=latest"), None);
    request
        .headers_mut()
        .insert("last-event-id", sequences[0].parse().unwrap());
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut buffer = String::new();
    let events = sse_events(&mut body, &mut buffer, 2).await;
    let ids: Vec<_> = events.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(ids, sequences[1..]);

    // A malformed Last-Event-ID is a 400.
    let mut request = TestApp::request(&viewer, "GET", &tail, None);
    request
        .headers_mut()
        .insert("last-event-id", "nope".parse().unwrap());
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_tail_ends_when_the_shard_stream_is_deleted(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM, 1).await;
    let viewer = app.token(app.acme, Role::Viewer).await;
    let tail = format!("/streams/{STREAM}/shards/{SHARD}/tail?from=trim_horizon");
    let response = app
        .router
        .clone()
        .oneshot(TestApp::request(&viewer, "GET", &tail, None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let stream_id: Uuid = sqlx::query_scalar("SELECT id FROM streams WHERE name = $1")
        .bind(STREAM)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    app.nats
        .jetstream
        .delete_stream(app.nats.names.shard_stream(stream_id, 0))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the event stream ends once the shard is gone"
    );
}
