//! Delivery per delivery stream and UTC minute (`delivery_metrics`) and the latest delivery
//! failures (`delivery_failures`): what the console's delivery monitoring shows.
//!
//! Workers report through the events stream; a report is applied once (its event id is
//! recorded in `applied_gateway_events` in the same transaction). Counters add up, freshness
//! keeps the highest value. A report for a delivery stream that is gone (or not the tenant's)
//! changes nothing. Each delivery stream keeps its newest [`FAILURES_KEPT`] failures; minutes
//! are pruned with the stream metrics.

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::metrics::{METRICS_RETENTION_DAYS, minute_start};
use super::{Store, StoreResult, TenantId};

/// Failures kept per delivery stream.
pub const FAILURES_KEPT: i64 = 100;

/// One delivery stream's delivery in one minute, as a report gives it or the store holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryMinuteRow {
    pub minute: DateTime<Utc>,
    pub read_records: i64,
    pub read_bytes: i64,
    pub delivered_records: i64,
    pub delivered_bytes: i64,
    pub deliveries: i64,
    pub failed_attempts: i64,
    pub duplicates: i64,
    pub freshness_ms_max: i64,
}

/// A report's minute for a delivery stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryMinuteReport {
    pub tenant_id: TenantId,
    pub delivery_stream_id: Uuid,
    pub counts: DeliveryMinuteRow,
}

/// A stored failure.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryFailureRow {
    pub occurred_at: DateTime<Utc>,
    pub stage: String,
    pub message: String,
    pub records: i64,
    pub suppressed: i64,
}

/// Claims `event_id`; whether this is its first application.
async fn first_application(
    connection: &mut sqlx::PgConnection,
    event_id: Uuid,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "INSERT INTO applied_gateway_events (event_id) VALUES ($1)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .execute(&mut *connection)
    .await?
    .rows_affected()
        == 1)
}

impl Store {
    /// Adds a worker's delivery counts unless the event `event_id` was applied before; `false`
    /// when it was.
    pub async fn apply_delivery_metrics_once(
        &self,
        event_id: Uuid,
        minutes: &[DeliveryMinuteReport],
    ) -> StoreResult<bool> {
        let minutes = minutes.to_vec();
        self.transaction(move |connection| {
            async move {
                if !first_application(connection, event_id).await? {
                    return Ok(false);
                }
                for report in &minutes {
                    let counts = &report.counts;
                    sqlx::query(
                        "INSERT INTO delivery_metrics AS m
                                (delivery_stream_id, tenant_id, minute, read_records, read_bytes,
                                 delivered_records, delivered_bytes, deliveries, failed_attempts,
                                 duplicates, freshness_ms_max)
                         SELECT d.id, d.tenant_id, $3, $4, $5, $6, $7, $8, $9, $10, $11
                         FROM delivery_streams AS d
                         WHERE d.id = $2 AND d.tenant_id = $1
                           AND $3 >= now() - make_interval(days => $12)
                         ON CONFLICT (delivery_stream_id, minute) DO UPDATE SET
                             read_records = m.read_records + EXCLUDED.read_records,
                             read_bytes = m.read_bytes + EXCLUDED.read_bytes,
                             delivered_records = m.delivered_records + EXCLUDED.delivered_records,
                             delivered_bytes = m.delivered_bytes + EXCLUDED.delivered_bytes,
                             deliveries = m.deliveries + EXCLUDED.deliveries,
                             failed_attempts = m.failed_attempts + EXCLUDED.failed_attempts,
                             duplicates = m.duplicates + EXCLUDED.duplicates,
                             freshness_ms_max = GREATEST(m.freshness_ms_max, EXCLUDED.freshness_ms_max)",
                    )
                    .bind(report.tenant_id.0)
                    .bind(report.delivery_stream_id)
                    .bind(minute_start(counts.minute))
                    .bind(counts.read_records.max(0))
                    .bind(counts.read_bytes.max(0))
                    .bind(counts.delivered_records.max(0))
                    .bind(counts.delivered_bytes.max(0))
                    .bind(counts.deliveries.max(0))
                    .bind(counts.failed_attempts.max(0))
                    .bind(counts.duplicates.max(0))
                    .bind(counts.freshness_ms_max.max(0))
                    .bind(METRICS_RETENTION_DAYS)
                    .execute(&mut *connection)
                    .await?;
                }
                Ok(true)
            }
            .boxed()
        })
        .await
    }

    /// Records a worker's failure report unless the event `event_id` was applied before,
    /// keeping the delivery stream's newest [`FAILURES_KEPT`].
    pub async fn record_delivery_failure_once(
        &self,
        event_id: Uuid,
        tenant_id: TenantId,
        delivery_stream_id: Uuid,
        failure: DeliveryFailureRow,
    ) -> StoreResult<bool> {
        self.transaction(move |connection| {
            async move {
                if !first_application(connection, event_id).await? {
                    return Ok(false);
                }
                let message: String = failure.message.chars().take(2048).collect();
                sqlx::query(
                    "INSERT INTO delivery_failures
                            (id, delivery_stream_id, tenant_id, occurred_at, stage, message,
                             records, suppressed)
                     SELECT $3, d.id, d.tenant_id, $4, $5, $6, $7, $8
                     FROM delivery_streams AS d WHERE d.id = $2 AND d.tenant_id = $1",
                )
                .bind(tenant_id.0)
                .bind(delivery_stream_id)
                .bind(event_id)
                .bind(failure.occurred_at)
                .bind(&failure.stage)
                .bind(&message)
                .bind(failure.records.max(0))
                .bind(failure.suppressed.max(0))
                .execute(&mut *connection)
                .await?;
                sqlx::query(
                    "DELETE FROM delivery_failures WHERE delivery_stream_id = $1 AND id NOT IN (
                         SELECT id FROM delivery_failures WHERE delivery_stream_id = $1
                         ORDER BY occurred_at DESC, id DESC LIMIT $2)",
                )
                .bind(delivery_stream_id)
                .bind(FAILURES_KEPT)
                .execute(&mut *connection)
                .await?;
                Ok(true)
            }
            .boxed()
        })
        .await
    }

    /// The tenant's delivery stream's stored minutes in `from..=to`, oldest first.
    pub async fn delivery_minutes(
        &self,
        tenant_id: TenantId,
        delivery_stream_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<DeliveryMinuteRow>> {
        Ok(sqlx::query_as::<_, DeliveryMinuteRow>(
            "SELECT minute, read_records, read_bytes, delivered_records, delivered_bytes,
                    deliveries, failed_attempts, duplicates, freshness_ms_max
             FROM delivery_metrics
             WHERE tenant_id = $1 AND delivery_stream_id = $2 AND minute >= $3 AND minute <= $4
             ORDER BY minute",
        )
        .bind(tenant_id.0)
        .bind(delivery_stream_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The tenant's delivery stream's newest `limit` failures, newest first.
    pub async fn delivery_failures(
        &self,
        tenant_id: TenantId,
        delivery_stream_id: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryFailureRow>> {
        Ok(sqlx::query_as::<_, DeliveryFailureRow>(
            "SELECT occurred_at, stage, message, records, suppressed FROM delivery_failures
             WHERE tenant_id = $1 AND delivery_stream_id = $2
             ORDER BY occurred_at DESC, id DESC LIMIT $3",
        )
        .bind(tenant_id.0)
        .bind(delivery_stream_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
