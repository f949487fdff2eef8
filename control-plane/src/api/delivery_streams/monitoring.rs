//! A delivery stream's delivery per minute and its recent failures, for the console's
//! monitoring panel: `GET /api/v1/delivery-streams/{name}/metrics` and
//! `GET /api/v1/delivery-streams/{name}/failures`. Both need `ReadStreams` (viewers and up).
//!
//! Workers report every `delivery.metrics_flush_ms` (10 s by default), so the current minute
//! is still filling. Freshness is the age of a delivery's oldest record when the destination
//! accepted it (the highest in the minute), as Firehose's `DataFreshness` measures it.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::find_delivery_stream;
use crate::api::ApiState;
use crate::api::metrics::{MetricsQuery, PERIOD_SECONDS, minutes_from, window};
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::store::delivery_metrics::{DeliveryMinuteRow, FAILURES_KEPT};

/// One minute of a delivery stream's delivery (or the sum of a window's minutes).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DeliveryCounts {
    /// Records workers took from JetStream into a buffer (again after a worker died).
    pub read_records: i64,
    pub read_bytes: i64,
    /// Records the destination accepted, and their bytes before compression.
    pub delivered_records: i64,
    pub delivered_bytes: i64,
    /// Objects written (or requests accepted) that carried them.
    pub deliveries: i64,
    /// Attempts that failed (each is retried; nothing is acknowledged before it succeeds).
    pub failed_attempts: i64,
    /// Delivered records an earlier delivery had already brought to the destination.
    pub duplicates: i64,
    /// The highest age, in milliseconds, of a delivery's oldest record when it was accepted.
    pub freshness_ms_max: i64,
}

impl DeliveryCounts {
    fn of(row: &DeliveryMinuteRow) -> Self {
        Self {
            read_records: row.read_records,
            read_bytes: row.read_bytes,
            delivered_records: row.delivered_records,
            delivered_bytes: row.delivered_bytes,
            deliveries: row.deliveries,
            failed_attempts: row.failed_attempts,
            duplicates: row.duplicates,
            freshness_ms_max: row.freshness_ms_max,
        }
    }

    fn add(&mut self, other: &Self) {
        self.read_records += other.read_records;
        self.read_bytes += other.read_bytes;
        self.delivered_records += other.delivered_records;
        self.delivered_bytes += other.delivered_bytes;
        self.deliveries += other.deliveries;
        self.failed_attempts += other.failed_attempts;
        self.duplicates += other.duplicates;
        self.freshness_ms_max = self.freshness_ms_max.max(other.freshness_ms_max);
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryMinuteView {
    /// The start of the minute (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub minute: DateTime<Utc>,
    pub counts: DeliveryCounts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryMetricsView {
    /// Always 60.
    pub period_seconds: u32,
    /// The window's minutes added up (freshness: the highest).
    pub totals: DeliveryCounts,
    /// One point per minute, oldest first, ending with the current minute; minutes without
    /// delivery as zeros.
    pub points: Vec<DeliveryMinuteView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FailuresQuery {
    /// How many, newest first: 1-100 (default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryFailureView {
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime<Utc>,
    /// `delivery` (the destination refused or could not be reached) or `preparation` (the
    /// records could not be made into a delivery).
    pub stage: String,
    /// What went wrong, as the destination answered.
    pub message: String,
    /// Records the failed attempt held: retried, not dropped.
    pub records: i64,
    /// Further failed attempts of the same worker before this report that were not reported
    /// one by one.
    pub suppressed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryFailurePage {
    pub items: Vec<DeliveryFailureView>,
}

/// A delivery stream's delivery per minute
///
/// Records and bytes read and delivered, deliveries, failed attempts, duplicates and data
/// freshness, one point per minute for the last `minutes` minutes, with their totals.
#[utoipa::path(
    get,
    path = "/api/v1/delivery-streams/{name}/metrics",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The delivery stream's name"), MetricsQuery),
    responses(
        (status = 200, description = "One point per minute, oldest first", body = DeliveryMetricsView),
        (status = 400, description = "minutes outside 1-1440, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn delivery_stream_metrics(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
    query: Result<Query<MetricsQuery>, QueryRejection>,
) -> Result<Json<DeliveryMetricsView>, Problem> {
    context.require(Action::ReadStreams)?;
    let row = find_delivery_stream(&state, &context, &name).await?;
    let (first, last, count) = window(query, Utc::now())?;
    let stored: HashMap<DateTime<Utc>, DeliveryCounts> = state
        .store
        .delivery_minutes(context.tenant_id, row.id, first, last)
        .await?
        .iter()
        .map(|minute| (minute.minute, DeliveryCounts::of(minute)))
        .collect();
    let mut totals = DeliveryCounts::default();
    let points = minutes_from(first, count)
        .map(|minute| {
            let counts = stored
                .get(&minute)
                .map_or_else(DeliveryCounts::default, |c| {
                    totals.add(c);
                    c.clone()
                });
            DeliveryMinuteView { minute, counts }
        })
        .collect();
    Ok(Json(DeliveryMetricsView {
        period_seconds: PERIOD_SECONDS,
        totals,
        points,
    }))
}

/// A delivery stream's recent delivery failures
///
/// The newest first; the store keeps the last 100 reports of each delivery stream.
#[utoipa::path(
    get,
    path = "/api/v1/delivery-streams/{name}/failures",
    tag = "delivery-streams",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The delivery stream's name"), FailuresQuery),
    responses(
        (status = 200, description = "Newest first", body = DeliveryFailurePage),
        (status = 400, description = "limit outside 1-100, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn delivery_stream_failures(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
    query: Result<Query<FailuresQuery>, QueryRejection>,
) -> Result<Json<DeliveryFailurePage>, Problem> {
    context.require(Action::ReadStreams)?;
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let limit = crate::api::page_limit(query.limit, 20, FAILURES_KEPT as u32)?;
    let row = find_delivery_stream(&state, &context, &name).await?;
    let items = state
        .store
        .delivery_failures(context.tenant_id, row.id, i64::from(limit))
        .await?
        .into_iter()
        .map(|failure| DeliveryFailureView {
            occurred_at: failure.occurred_at,
            stage: failure.stage,
            message: failure.message,
            records: failure.records,
            suppressed: failure.suppressed,
        })
        .collect();
    Ok(Json(DeliveryFailurePage { items }))
}
