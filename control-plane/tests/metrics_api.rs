//! Stream metrics (ADR 013) on a real Postgres (a fresh database per test) and real NATS
//! JetStream: gateway events add up once each, whatever the redeliveries, and only to the
//! tenant's live streams; records over REST count too; the REST endpoints answer whole,
//! zero-filled minutes, check their bounds, and keep tenants apart; a deleted stream takes its
//! metrics with it; old minutes are pruned. Delivery workers' reports (delivery per delivery
//! stream and minute, failures) take the same path to their own endpoints.

#[path = "support/members.rs"]
mod members;
#[path = "support/nats.rs"]
mod nats;
#[path = "support/rest.rs"]
mod rest;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, Utc};
use fjord_common::events::{
    DeliveryFailure, DeliveryMinute, EventBody, GatewayEvent, StreamMinute,
};
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::gateway_events::{Applied, EventConsumer, ensure_events_stream};
use fjord_control_plane::store::metrics::minute_start;
use fjord_control_plane::store::{Store, TenantId};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;
use uuid::Uuid;

const SESSION_KEY: [u8; 32] = [9; 32];
const STREAM: &str = "orders";

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
            pool,
            store,
            nats,
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
        }
    }

    async fn token(&self, tenant: TenantId, role: Role) -> String {
        members::member_token(&self.store, SESSION_KEY, tenant, role).await
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> rest::Answer {
        rest::raw(
            &self.router,
            token,
            method,
            path,
            body.map(|body| body.to_string().into_bytes()),
        )
        .await
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let answer = self.call(token, "GET", path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        answer.body
    }

    /// An ACTIVE one-shard stream in `tenant`, with its shard stream in JetStream; its id.
    async fn active_stream(&self, tenant: TenantId, name: &str) -> Uuid {
        let developer = self.token(tenant, Role::Developer).await;
        let answer = self
            .call(
                &developer,
                "POST",
                "/streams",
                Some(json!({"name": name, "mode": "provisioned", "shard_count": 1})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        self.nats.reconcile(&self.store).await;
        self.store
            .stream_by_name(tenant, name)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn consumer(&self) -> EventConsumer {
        EventConsumer {
            store: self.store.clone(),
            stream: ensure_events_stream(&self.nats.jetstream, &self.nats.names, 1)
                .await
                .unwrap(),
            names: self.nats.names.clone(),
        }
    }

    /// Every stored minute of `stream_id`: (minute, in records, in bytes, out records, out
    /// bytes, iterator age).
    async fn rows(&self, stream_id: Uuid) -> Vec<(DateTime<Utc>, i64, i64, i64, i64, i64)> {
        sqlx::query_as(
            "SELECT minute, incoming_records, incoming_bytes, outgoing_records, outgoing_bytes,
                    iterator_age_ms_max
             FROM stream_metrics WHERE stream_id = $1 ORDER BY minute",
        )
        .bind(stream_id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

/// One stream minute as a gateway reports it.
fn minute(
    tenant: TenantId,
    stream_id: Uuid,
    at: DateTime<Utc>,
    incoming: (u64, u64),
    outgoing: (u64, u64),
    iterator_age_ms_max: i64,
) -> StreamMinute {
    StreamMinute {
        tenant_id: tenant.0,
        stream_id,
        minute_ms: minute_start(at).timestamp_millis(),
        incoming_records: incoming.0,
        incoming_bytes: incoming.1,
        outgoing_records: outgoing.0,
        outgoing_bytes: outgoing.1,
        iterator_age_ms_max,
    }
}

fn metrics_event(minutes: Vec<StreamMinute>) -> Vec<u8> {
    serde_json::to_vec(&GatewayEvent {
        id: Uuid::now_v7(),
        occurred_at_ms: Utc::now().timestamp_millis(),
        body: EventBody::StreamMetrics { minutes },
    })
    .unwrap()
}

/// The point of `minute` in a `GET /streams/{name}/metrics` answer.
fn point(body: &Value, minute: DateTime<Utc>) -> &Value {
    let minute = minute_start(minute);
    body["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|point| {
            point["minute"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                == minute
        })
        .unwrap_or_else(|| panic!("no point for {minute}: {body}"))
}

fn total(body: &Value, field: &str) -> i64 {
    body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point[field].as_i64().unwrap())
        .sum()
}

#[sqlx::test(migrations = "../migrations")]
async fn gateway_metrics_add_up_once_per_event_and_only_to_the_tenants_live_streams(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let orders = app.active_stream(app.acme, STREAM).await;
    let theirs = app.active_stream(app.globex, "theirs").await;
    let consumer = app.consumer().await;
    let now = Utc::now();
    let earlier = now - Duration::minutes(3);

    let first = metrics_event(vec![
        minute(app.acme, orders, now, (3, 300), (2, 200), 50),
        minute(app.acme, orders, earlier, (1, 10), (0, 0), 0),
    ]);
    assert_eq!(consumer.apply(&first).await, Applied::Done);
    assert_eq!(consumer.apply(&first).await, Applied::Done, "redelivered");
    let rows = app.rows(orders).await;
    assert_eq!(
        rows,
        [
            (minute_start(earlier), 1, 10, 0, 0, 0),
            (minute_start(now), 3, 300, 2, 200, 50)
        ],
        "a redelivered event counts once"
    );

    // Another gateway's (or the next flush's) count for the same minute adds up; the
    // iterator age keeps the highest. A report repeating a minute is folded.
    let second = metrics_event(vec![
        minute(app.acme, orders, now, (2, 20), (5, 50), 30),
        minute(app.acme, orders, now, (1, 1), (0, 0), 70),
    ]);
    assert_eq!(consumer.apply(&second).await, Applied::Done);
    assert_eq!(
        app.rows(orders).await.last(),
        Some(&(minute_start(now), 6, 321, 7, 250, 70))
    );

    // A stream id reported under another tenant, a stream that does not exist, and a minute
    // past the retention change nothing, and the rest of the event still applies.
    let mixed = metrics_event(vec![
        minute(app.acme, theirs, now, (100, 100), (0, 0), 0),
        minute(app.acme, Uuid::now_v7(), now, (100, 100), (0, 0), 0),
        minute(
            app.acme,
            orders,
            now - Duration::days(16),
            (100, 100),
            (0, 0),
            0,
        ),
        minute(app.acme, orders, now, (1, 1), (0, 0), 0),
    ]);
    assert_eq!(consumer.apply(&mixed).await, Applied::Done);
    assert!(app.rows(theirs).await.is_empty());
    let rows = app.rows(orders).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1], (minute_start(now), 7, 322, 7, 250, 70));

    // An event of a tenant that is gone is done with.
    let orphan = metrics_event(vec![minute(
        TenantId(Uuid::now_v7()),
        Uuid::now_v7(),
        now,
        (1, 1),
        (0, 0),
        0,
    )]);
    assert_eq!(consumer.apply(&orphan).await, Applied::Done);

    // A database outage is retried, and the event then applies once.
    let later = metrics_event(vec![minute(app.acme, orders, now, (1, 1), (0, 0), 0)]);
    app.pool.close().await;
    assert_eq!(consumer.apply(&later).await, Applied::Retry);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_stream_metrics_endpoint_answers_whole_zero_filled_minutes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let orders = app.active_stream(app.acme, STREAM).await;
    let consumer = app.consumer().await;
    let now = Utc::now();
    let five_ago = now - Duration::minutes(5);
    let event = metrics_event(vec![
        minute(app.acme, orders, now, (4, 400), (3, 300), 1_200),
        minute(app.acme, orders, five_ago, (2, 20), (0, 0), 0),
        // Older than the default hour: only a longer window shows it.
        minute(
            app.acme,
            orders,
            now - Duration::minutes(90),
            (7, 70),
            (0, 0),
            0,
        ),
    ]);
    assert_eq!(consumer.apply(&event).await, Applied::Done);

    // A viewer reads it.
    let viewer = app.token(app.acme, Role::Viewer).await;
    let body = app
        .get(&viewer, &format!("/streams/{STREAM}/metrics"))
        .await;
    assert_eq!(body["period_seconds"], 60);
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 60);
    let minutes: Vec<DateTime<Utc>> = points
        .iter()
        .map(|point| point["minute"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        minutes
            .windows(2)
            .all(|pair| pair[1] - pair[0] == Duration::minutes(1)),
        "consecutive minutes, oldest first: {minutes:?}"
    );
    let last = *minutes.last().unwrap();
    assert_eq!(last, minute_start(last), "whole minutes");
    assert!(last >= minute_start(now) && last <= minute_start(Utc::now()));
    assert_eq!(
        point(&body, now),
        &json!({
            "minute": point(&body, now)["minute"],
            "incoming_records": 4,
            "incoming_bytes": 400,
            "outgoing_records": 3,
            "outgoing_bytes": 300,
            "iterator_age_ms": 1_200,
        })
    );
    assert_eq!(point(&body, five_ago)["incoming_records"], 2);
    assert_eq!(point(&body, five_ago)["iterator_age_ms"], 0);
    assert_eq!(total(&body, "incoming_records"), 6, "the rest are zeros");
    let quiet = point(&body, now - Duration::minutes(2));
    for field in [
        "incoming_records",
        "incoming_bytes",
        "outgoing_records",
        "outgoing_bytes",
        "iterator_age_ms",
    ] {
        assert_eq!(quiet[field], 0, "{field}");
    }

    // The window's length.
    let body = app
        .get(&viewer, &format!("/streams/{STREAM}/metrics?minutes=1"))
        .await;
    assert_eq!(body["points"].as_array().unwrap().len(), 1);
    let body = app
        .get(&viewer, &format!("/streams/{STREAM}/metrics?minutes=1440"))
        .await;
    assert_eq!(body["points"].as_array().unwrap().len(), 1440);
    assert_eq!(total(&body, "incoming_records"), 13);

    // Bad windows and unknown parameters are 400 problems, not 500s.
    for query in [
        "minutes=0",
        "minutes=1441",
        "minutes=-1",
        "minutes=ten",
        "minutes=99999999999999999999",
        "from=yesterday",
    ] {
        let answer = app
            .call(
                &viewer,
                "GET",
                &format!("/streams/{STREAM}/metrics?{query}"),
                None,
            )
            .await;
        rest::assert_problem(&answer, StatusCode::BAD_REQUEST);
    }

    // An unknown stream, a malformed name, and another tenant's stream are 404s.
    for name in ["nope", "bad%20name"] {
        let answer = app
            .call(&viewer, "GET", &format!("/streams/{name}/metrics"), None)
            .await;
        rest::assert_problem(&answer, StatusCode::NOT_FOUND);
    }
    let globex_admin = app.token(app.globex, Role::Admin).await;
    let answer = app
        .call(
            &globex_admin,
            "GET",
            &format!("/streams/{STREAM}/metrics"),
            None,
        )
        .await;
    rest::assert_problem(&answer, StatusCode::NOT_FOUND);
    // Without a token: 401.
    let answer = app
        .call("", "GET", &format!("/streams/{STREAM}/metrics"), None)
        .await;
    rest::assert_problem(&answer, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_streams_endpoint_gives_every_stream_of_the_tenant_its_incoming_records(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let orders = app.active_stream(app.acme, STREAM).await;
    app.active_stream(app.acme, "clicks").await;
    let theirs = app.active_stream(app.globex, "theirs").await;
    let consumer = app.consumer().await;
    let now = Utc::now();
    let event = metrics_event(vec![
        minute(app.acme, orders, now, (5, 50), (1, 10), 0),
        minute(
            app.acme,
            orders,
            now - Duration::minutes(2),
            (3, 30),
            (0, 0),
            0,
        ),
        minute(app.globex, theirs, now, (9, 90), (0, 0), 0),
    ]);
    assert_eq!(consumer.apply(&event).await, Applied::Done);

    let viewer = app.token(app.acme, Role::Viewer).await;
    let body = app.get(&viewer, "/metrics/streams?minutes=10").await;
    assert_eq!(body["period_seconds"], 60);
    let from: DateTime<Utc> = body["from"].as_str().unwrap().parse().unwrap();
    assert_eq!(from, minute_start(from));
    let streams = body["streams"].as_array().unwrap();
    let names: Vec<&str> = streams
        .iter()
        .map(|stream| stream["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["clicks", STREAM], "by name, the tenant's only");
    let clicks = streams[0]["incoming_records"].as_array().unwrap();
    assert_eq!(clicks.len(), 10);
    assert!(clicks.iter().all(|value| value == 0));
    let series: Vec<i64> = streams[1]["incoming_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_i64().unwrap())
        .collect();
    assert_eq!(series.len(), 10);
    let at =
        |time: DateTime<Utc>| usize::try_from((minute_start(time) - from).num_minutes()).unwrap();
    assert_eq!(series[at(now)], 5);
    assert_eq!(series[at(now - Duration::minutes(2))], 3);
    assert_eq!(series.iter().sum::<i64>(), 8);

    // The other tenant sees its own stream only.
    let globex_viewer = app.token(app.globex, Role::Viewer).await;
    let body = app.get(&globex_viewer, "/metrics/streams").await;
    let streams = body["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["name"], "theirs");
    assert_eq!(streams[0]["incoming_records"].as_array().unwrap().len(), 60);

    for query in ["minutes=0", "minutes=1441", "minutes=x", "limit=5"] {
        let answer = app
            .call(&viewer, "GET", &format!("/metrics/streams?{query}"), None)
            .await;
        rest::assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn records_put_and_read_over_rest_count_as_incoming_and_outgoing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.active_stream(app.acme, STREAM).await;
    let developer = app.token(app.acme, Role::Developer).await;
    let records: Vec<Value> = (0..3)
        .map(
            |i| json!({"partition_key": format!("key-{i}"), "data_base64": BASE64.encode("12345")}),
        )
        .collect();
    let answer = app
        .call(
            &developer,
            "POST",
            &format!("/streams/{STREAM}/records"),
            Some(json!({"records": records})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = app
        .call(
            &developer,
            "GET",
            &format!("/streams/{STREAM}/shards/shardId-000000000000/records?limit=2"),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    let body = app
        .get(&developer, &format!("/streams/{STREAM}/metrics?minutes=5"))
        .await;
    assert_eq!(total(&body, "incoming_records"), 3);
    assert_eq!(
        total(&body, "incoming_bytes"),
        15,
        "data bytes, without keys"
    );
    assert_eq!(total(&body, "outgoing_records"), 2);
    assert_eq!(total(&body, "outgoing_bytes"), 10);

    // A tail counts what it sends (before sending it).
    let request = axum::http::Request::builder()
        .uri(format!(
            "/api/v1/streams/{STREAM}/shards/shardId-000000000000/tail?from=trim_horizon"
        ))
        .header("authorization", format!("Bearer {developer}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut events = response.into_body();
    let mut text = String::new();
    while text.matches("event: record").count() < 3 {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(15), events.frame())
            .await
            .expect("the records arrive within 15 s")
            .expect("the event stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    drop(events);
    let body = app
        .get(&developer, &format!("/streams/{STREAM}/metrics?minutes=5"))
        .await;
    assert_eq!(total(&body, "outgoing_records"), 5);
    assert_eq!(total(&body, "outgoing_bytes"), 25);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deleted_stream_takes_its_metrics_and_one_created_under_its_name_starts_at_zero(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let old = app.active_stream(app.acme, STREAM).await;
    let consumer = app.consumer().await;
    let now = Utc::now();
    let event = metrics_event(vec![minute(app.acme, old, now, (5, 50), (0, 0), 0)]);
    assert_eq!(consumer.apply(&event).await, Applied::Done);
    assert_eq!(app.rows(old).await.len(), 1);

    let developer = app.token(app.acme, Role::Developer).await;
    let answer = app
        .call(&developer, "DELETE", &format!("/streams/{STREAM}"), None)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    app.nats.reconcile(&app.store).await;
    assert!(app.rows(old).await.is_empty(), "gone with the stream");
    let answer = app
        .call(
            &developer,
            "GET",
            &format!("/streams/{STREAM}/metrics"),
            None,
        )
        .await;
    rest::assert_problem(&answer, StatusCode::NOT_FOUND);

    let new = app.active_stream(app.acme, STREAM).await;
    assert_ne!(new, old);
    // A late report about the old stream does not reach the new one.
    let late = metrics_event(vec![minute(app.acme, old, now, (5, 50), (0, 0), 0)]);
    assert_eq!(consumer.apply(&late).await, Applied::Done);
    let body = app
        .get(&developer, &format!("/streams/{STREAM}/metrics"))
        .await;
    assert_eq!(total(&body, "incoming_records"), 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn pruning_drops_minutes_past_the_retention_and_old_event_ids(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let orders = app.active_stream(app.acme, STREAM).await;
    let now = minute_start(Utc::now());
    for age in [Duration::days(16), Duration::days(14), Duration::zero()] {
        sqlx::query(
            "INSERT INTO stream_metrics (stream_id, tenant_id, minute, incoming_records)
             VALUES ($1, $2, $3, 1)",
        )
        .bind(orders)
        .bind(app.acme.0)
        .bind(now - age)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let (old_event, new_event) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "INSERT INTO applied_gateway_events (event_id, applied_at)
         VALUES ($1, now() - interval '3 days'), ($2, now())",
    )
    .bind(old_event)
    .bind(new_event)
    .execute(&app.pool)
    .await
    .unwrap();

    assert_eq!(app.store.prune_metrics().await.unwrap(), (1, 1));
    let minutes: Vec<DateTime<Utc>> = app.rows(orders).await.iter().map(|row| row.0).collect();
    assert_eq!(minutes, [now - Duration::days(14), now]);
    let kept: Vec<Uuid> = sqlx::query_scalar("SELECT event_id FROM applied_gateway_events")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept, [new_event]);
    assert_eq!(app.store.prune_metrics().await.unwrap(), (0, 0));
}

/// A delivery stream of `tenant` (as created over REST); its id.
async fn delivery_stream(app: &TestApp, tenant: TenantId, name: &str) -> Uuid {
    let developer = app.token(tenant, Role::Developer).await;
    let answer = app
        .call(
            &developer,
            "POST",
            "/delivery-streams",
            Some(json!({"name": name, "destination": {"bucket_arn": "arn:aws:s3:::lake"}})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    app.store
        .delivery_stream_by_name(tenant, name)
        .await
        .unwrap()
        .unwrap()
        .id
}

fn delivery_event(body: EventBody) -> Vec<u8> {
    serde_json::to_vec(&GatewayEvent {
        id: Uuid::now_v7(),
        occurred_at_ms: Utc::now().timestamp_millis(),
        body,
    })
    .unwrap()
}

fn delivery_minute(
    tenant: TenantId,
    delivery_stream_id: Uuid,
    at: DateTime<Utc>,
    delivered: u64,
    freshness_ms_max: i64,
) -> DeliveryMinute {
    DeliveryMinute {
        tenant_id: tenant.0,
        delivery_stream_id,
        minute_ms: minute_start(at).timestamp_millis(),
        read_records: delivered + 1,
        read_bytes: 10 * (delivered + 1),
        delivered_records: delivered,
        delivered_bytes: 10 * delivered,
        deliveries: 1,
        failed_attempts: 2,
        duplicates: 1,
        freshness_ms_max,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn delivery_reports_add_up_once_and_failures_are_kept_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let id = delivery_stream(&app, app.acme, "events").await;
    let consumer = app.consumer().await;
    let now = Utc::now();
    let earlier = now - Duration::minutes(2);
    let first = delivery_event(EventBody::DeliveryMetrics {
        minutes: vec![
            delivery_minute(app.acme, id, now, 100, 1_500),
            delivery_minute(app.acme, id, earlier, 40, 900),
        ],
    });
    assert_eq!(consumer.apply(&first).await, Applied::Done);
    assert_eq!(consumer.apply(&first).await, Applied::Done, "redelivered");
    let second = delivery_event(EventBody::DeliveryMetrics {
        minutes: vec![delivery_minute(app.acme, id, now, 50, 700)],
    });
    assert_eq!(consumer.apply(&second).await, Applied::Done);
    // Another tenant's id for the same delivery stream changes nothing.
    let forged = delivery_event(EventBody::DeliveryMetrics {
        minutes: vec![delivery_minute(app.globex, id, now, 1_000, 9_000)],
    });
    assert_eq!(consumer.apply(&forged).await, Applied::Done);

    let viewer = app.token(app.acme, Role::Viewer).await;
    let body = app
        .get(&viewer, "/delivery-streams/events/metrics?minutes=5")
        .await;
    assert_eq!(body["period_seconds"], 60);
    assert_eq!(body["points"].as_array().unwrap().len(), 5);
    let current = &point(&body, now)["counts"];
    assert_eq!(current["delivered_records"], 150, "added once per event");
    assert_eq!(current["delivered_bytes"], 1_500);
    assert_eq!(current["read_records"], 152);
    assert_eq!(current["deliveries"], 2);
    assert_eq!(current["failed_attempts"], 4);
    assert_eq!(current["duplicates"], 2);
    assert_eq!(current["freshness_ms_max"], 1_500, "the highest freshness");
    assert_eq!(point(&body, earlier)["counts"]["delivered_records"], 40);
    assert_eq!(
        point(&body, now - Duration::minutes(1))["counts"]["delivered_records"],
        0
    );
    assert_eq!(body["totals"]["delivered_records"], 190);
    assert_eq!(body["totals"]["freshness_ms_max"], 1_500);

    for at in 0..3 {
        let failure = delivery_event(EventBody::DeliveryFailed(DeliveryFailure {
            tenant_id: app.acme.0,
            delivery_stream_id: id,
            stage: "delivery".to_owned(),
            message: format!("the store refused ({at})"),
            records: 10,
            suppressed: at,
        }));
        assert_eq!(consumer.apply(&failure).await, Applied::Done);
        assert_eq!(consumer.apply(&failure).await, Applied::Done, "redelivered");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let failures = app
        .get(&viewer, "/delivery-streams/events/failures?limit=2")
        .await;
    let items = failures["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["message"], "the store refused (2)", "newest first");
    assert_eq!(items[0]["stage"], "delivery");
    assert_eq!(items[0]["records"], 10);
    assert_eq!(items[0]["suppressed"], 2);
    assert_eq!(items[1]["message"], "the store refused (1)");
    let all = app.get(&viewer, "/delivery-streams/events/failures").await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        3,
        "each applied once"
    );

    for bad in [
        "/delivery-streams/events/failures?limit=0",
        "/delivery-streams/events/failures?limit=101",
        "/delivery-streams/events/failures?colour=blue",
        "/delivery-streams/events/metrics?minutes=0",
    ] {
        rest::assert_problem(
            &app.call(&viewer, "GET", bad, None).await,
            StatusCode::BAD_REQUEST,
        );
    }
    let globex = app.token(app.globex, Role::Admin).await;
    for path in [
        "/delivery-streams/events/metrics",
        "/delivery-streams/events/failures",
    ] {
        rest::assert_problem(
            &app.call(&globex, "GET", path, None).await,
            StatusCode::NOT_FOUND,
        );
    }
}
