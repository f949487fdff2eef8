//! The control plane's end of the gateway's events (ADR 009), on real Postgres (a fresh
//! database per test) and real NATS JetStream: key usage only moves `last_used_at` forward and
//! stays in its tenant; refused calls become audit entries exactly once, even when an event is
//! delivered twice; events published while no control plane consumes are applied when one
//! starts.

// Only the connection and the cleanup of the fixture are used here.
#[allow(dead_code)]
#[path = "support/nats.rs"]
mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use fjord_common::events::{EventBody, GatewayEvent, KeyUse, RefusedCall, SuppressedRefusals};
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::gateway_events::{Applied, EventConsumer, ensure_events_stream};
use fjord_control_plane::store::access_keys::NewAccessKeyRecord;
use fjord_control_plane::store::key_usage;
use fjord_control_plane::store::{Store, TenantId};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const KEY: &str = "AKIAEVENTSTEST000001";

async fn tenant_with_key(store: &Store, name: &str, account: &str, key: &str) -> TenantId {
    let account = account.to_owned();
    let tenant = store
        .create_tenant(name, 10, 1, move || account.clone())
        .await
        .unwrap();
    let tenant_id = TenantId(tenant.id);
    store
        .create_access_key(
            tenant_id,
            NewAccessKeyRecord {
                access_key_id: key.to_owned(),
                sealed_secret: "sealed".to_owned(),
                name: "app".to_owned(),
                role: Role::Developer,
                user_id: None,
            },
            None,
        )
        .await
        .unwrap();
    tenant_id
}

async fn last_used(pool: &PgPool, key: &str) -> Option<DateTime<Utc>> {
    sqlx::query_scalar("SELECT last_used_at FROM access_keys WHERE access_key_id = $1")
        .bind(key)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn key_usage_only_moves_forward_and_stays_in_its_tenant(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let acme = tenant_with_key(&store, "acme", "123456789012", KEY).await;
    let globex = tenant_with_key(&store, "globex", "210987654321", "AKIAEVENTSOTHER00001").await;
    let key_use = |tenant_id, used_at| key_usage::KeyUse {
        tenant_id,
        access_key_id: KEY.to_owned(),
        used_at,
    };
    assert_eq!(last_used(&pool, KEY).await, None);

    let first = at("2026-11-26T10:00:00Z");
    assert_eq!(
        store
            .record_key_usage(&[key_use(acme, first)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(last_used(&pool, KEY).await, Some(first));
    // An older report (a late or redelivered event) changes nothing; neither does a batch
    // repeating the key.
    let older = at("2026-11-26T09:00:00Z");
    let later = at("2026-11-26T11:00:00Z");
    store
        .record_key_usage(&[
            key_use(acme, older),
            key_use(acme, later),
            key_use(acme, older),
        ])
        .await
        .unwrap();
    assert_eq!(last_used(&pool, KEY).await, Some(later));
    // The key id reported under another tenant matches nothing.
    let newest = at("2026-11-26T12:00:00Z");
    assert_eq!(
        store
            .record_key_usage(&[key_use(globex, newest)])
            .await
            .unwrap(),
        0
    );
    assert!(!store.touch_access_key(globex, KEY, newest).await.unwrap());
    assert_eq!(last_used(&pool, KEY).await, Some(later));
    // A single touch (REST callers with keys) moves it forward too.
    assert!(store.touch_access_key(acme, KEY, newest).await.unwrap());
    assert_eq!(last_used(&pool, KEY).await, Some(newest));
    // A gateway clock ahead of the database's is clamped to now.
    let future = Utc::now() + chrono::Duration::days(365);
    store.touch_access_key(acme, KEY, future).await.unwrap();
    assert!(last_used(&pool, KEY).await.unwrap() <= Utc::now());
    assert_eq!(store.record_key_usage(&[]).await.unwrap(), 0);
}

fn refused(tenant_id: TenantId, id: Uuid, occurred_at_ms: i64) -> GatewayEvent {
    GatewayEvent {
        id,
        occurred_at_ms,
        body: EventBody::RefusedCall(RefusedCall {
            tenant_id: tenant_id.0,
            access_key_id: KEY.to_owned(),
            action: "PutRecord".to_owned(),
            resource: "arn:aws:kinesis:us-east-1:123456789012:stream/clicks".to_owned(),
            error_code: "AccessDeniedException".to_owned(),
            source_ip: Some("203.0.113.7".to_owned()),
            user_agent: Some("aws-sdk-rust/1".to_owned()),
            request_id: Some("request-1".to_owned()),
        }),
    }
}

#[derive(Debug, sqlx::FromRow, PartialEq)]
struct Row {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_type: String,
    actor_id: String,
    action: String,
    outcome: String,
    error_code: Option<String>,
    source_ip: Option<String>,
    details: String,
}

async fn rows(pool: &PgPool, tenant_id: TenantId) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, occurred_at, actor_type, actor_id, action, outcome, error_code, source_ip,
                details::text AS details
         FROM audit_log WHERE tenant_id = $1 AND actor_type = 'access_key' ORDER BY id",
    )
    .bind(tenant_id.0)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn events_become_audit_entries_once_and_bad_ones_are_dropped(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let acme = tenant_with_key(&store, "acme", "123456789012", KEY).await;
    let nats = support::Nats::connect().await;
    let consumer = EventConsumer {
        store: store.clone(),
        stream: ensure_events_stream(&nats.jetstream, &nats.names, 1)
            .await
            .unwrap(),
        names: nats.names.clone(),
    };
    let id = Uuid::now_v7();
    let event = refused(acme, id, 1_764_151_200_000);
    let payload = serde_json::to_vec(&event).unwrap();
    assert_eq!(consumer.apply(&payload).await, Applied::Done);
    assert_eq!(consumer.apply(&payload).await, Applied::Done, "redelivered");
    let found = rows(&pool, acme).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, id);
    assert_eq!(found[0].occurred_at, at("2025-11-26T10:00:00Z"));
    assert_eq!(
        (
            found[0].actor_type.as_str(),
            found[0].actor_id.as_str(),
            found[0].action.as_str(),
            found[0].outcome.as_str(),
            found[0].error_code.as_deref(),
            found[0].source_ip.as_deref()
        ),
        (
            "access_key",
            KEY,
            "kinesis:PutRecord",
            "failure",
            Some("AccessDeniedException"),
            Some("203.0.113.7")
        )
    );

    // A summary of suppressed refusals.
    let summary = GatewayEvent {
        id: Uuid::now_v7(),
        occurred_at_ms: 1_764_151_260_000,
        body: EventBody::RefusedCallsSuppressed(SuppressedRefusals {
            tenant_id: acme.0,
            access_key_id: KEY.to_owned(),
            count: 440,
            window_start_ms: 1_764_151_200_000,
            window_end_ms: 1_764_151_260_000,
            last_error_code: "AccessDeniedException".to_owned(),
            last_source_ip: None,
        }),
    };
    assert_eq!(
        consumer.apply(&serde_json::to_vec(&summary).unwrap()).await,
        Applied::Done
    );
    let found = rows(&pool, acme).await;
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].action, "kinesis:RefusedCallsSuppressed");
    let details: serde_json::Value = serde_json::from_str(&found[1].details).unwrap();
    assert_eq!(details["suppressed"], 440);

    // Garbage, and an event of a tenant that does not exist, are done with (not retried).
    assert_eq!(consumer.apply(b"not json").await, Applied::Done);
    let orphan = refused(TenantId(Uuid::now_v7()), Uuid::now_v7(), 1_764_151_200_000);
    assert_eq!(
        consumer.apply(&serde_json::to_vec(&orphan).unwrap()).await,
        Applied::Done
    );
    // A database outage is retried.
    pool.close().await;
    let later = refused(acme, Uuid::now_v7(), 1_764_151_200_000);
    assert_eq!(
        consumer.apply(&serde_json::to_vec(&later).unwrap()).await,
        Applied::Retry
    );
}

/// Publishes `event` on the events stream, as the gateway does.
async fn publish(nats: &support::Nats, event: &GatewayEvent) {
    nats.jetstream
        .publish(
            nats.names.events_subject(event.body.subject_token()),
            serde_json::to_vec(event).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn wait_for(pool: &PgPool, tenant_id: TenantId, count: usize) {
    for _ in 0..100 {
        if rows(pool, tenant_id).await.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{:?}", rows(pool, tenant_id).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn events_published_while_no_control_plane_consumes_are_applied_later(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let acme = tenant_with_key(&store, "acme", "123456789012", KEY).await;
    let nats = support::Nats::connect().await;
    let stream = ensure_events_stream(&nats.jetstream, &nats.names, 1)
        .await
        .unwrap();
    let start = |cancel: CancellationToken| {
        let consumer = EventConsumer {
            store: store.clone(),
            stream: stream.clone(),
            names: nats.names.clone(),
        };
        tokio::spawn(consumer.run(cancel))
    };

    // Published before any control plane ran.
    let first = refused(acme, Uuid::now_v7(), Utc::now().timestamp_millis());
    publish(&nats, &first).await;
    let used_at = at("2026-11-26T10:00:00Z");
    publish(
        &nats,
        &GatewayEvent {
            id: Uuid::now_v7(),
            occurred_at_ms: used_at.timestamp_millis(),
            body: EventBody::KeyUsage {
                keys: vec![KeyUse {
                    tenant_id: acme.0,
                    access_key_id: KEY.to_owned(),
                    last_used_ms: used_at.timestamp_millis(),
                }],
            },
        },
    )
    .await;
    let cancel = CancellationToken::new();
    let running = start(cancel.clone());
    wait_for(&pool, acme, 1).await;
    for _ in 0..100 {
        if last_used(&pool, KEY).await.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last_used(&pool, KEY).await, Some(used_at));

    // The control plane stops; events published meanwhile wait in the stream.
    cancel.cancel();
    running.await.unwrap().unwrap();
    let second = refused(acme, Uuid::now_v7(), Utc::now().timestamp_millis());
    publish(&nats, &second).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rows(&pool, acme).await.len(), 1);

    // Two control planes start and share the durable consumer: each event is applied once.
    let cancel = CancellationToken::new();
    let (one, two) = (start(cancel.clone()), start(cancel.clone()));
    wait_for(&pool, acme, 2).await;
    let found = rows(&pool, acme).await;
    assert_eq!(
        found.iter().map(|row| row.id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    // Everything was acknowledged.
    let info_stream = stream.clone();
    let consumer_name = nats.names.events_consumer();
    let mut acknowledged = false;
    for _ in 0..100 {
        let info = info_stream
            .consumer_info(&consumer_name)
            .await
            .unwrap()
            .clone();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            acknowledged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(acknowledged);
    cancel.cancel();
    one.await.unwrap().unwrap();
    two.await.unwrap().unwrap();
}
