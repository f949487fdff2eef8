//! Record traffic per stream and minute for the console's monitoring charts (ADR 013):
//! `GET /api/v1/streams/{name}/metrics` (one stream, every series) and
//! `GET /api/v1/metrics/streams` (every stream's incoming records, for the list's sparklines).
//!
//! Both need `ReadStreams` (viewers and up) and answer the last `minutes` whole UTC minutes
//! (1-1440, default 60) ending with the current one, oldest first, with minutes without
//! traffic as zeros. The current minute is still filling: gateways report every
//! `gateway.metrics_flush_ms`. A stream of another tenant is a 404 like one that never
//! existed.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::ApiState;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::store::metrics::minute_start;

/// The width of one point, in seconds.
pub const PERIOD_SECONDS: u32 = 60;
pub const DEFAULT_MINUTES: u32 = 60;
/// A day of minutes.
pub const MAX_MINUTES: u32 = 1440;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// How many minutes, ending with the current one: 1-1440 (default 60).
    pub minutes: Option<u32>,
}

/// One minute of a stream's record traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsPoint {
    /// The start of the minute (UTC).
    #[schema(value_type = String, format = DateTime, example = "2026-11-26T18:01:00Z")]
    pub minute: DateTime<Utc>,
    /// Records stored by PutRecord, PutRecords and REST puts.
    pub incoming_records: i64,
    /// Their data bytes (without partition keys).
    pub incoming_bytes: i64,
    /// Records returned by GetRecords and REST reads (and tails).
    pub outgoing_records: i64,
    /// Their data bytes (without partition keys).
    pub outgoing_bytes: i64,
    /// The highest `MillisBehindLatest` a read answered in the minute; 0 without reads.
    pub iterator_age_ms: i64,
}

/// A stream's record traffic per minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamMetricsView {
    /// Always 60.
    pub period_seconds: u32,
    /// One point per minute, oldest first, ending with the current minute.
    pub points: Vec<MetricsPoint>,
}

/// One stream's incoming records per minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamSparkline {
    pub name: String,
    /// One number per minute from `from`, oldest first.
    pub incoming_records: Vec<i64>,
}

/// Every stream's incoming records per minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamsMetricsView {
    /// Always 60.
    pub period_seconds: u32,
    /// The first minute (UTC); the last is the current one.
    #[schema(value_type = String, format = DateTime, example = "2026-11-26T17:02:00Z")]
    pub from: DateTime<Utc>,
    /// Every stream of the tenant, by name.
    pub streams: Vec<StreamSparkline>,
}

/// The minutes a query asks for: the first and the last (current) one, and how many.
pub(crate) fn window(
    query: Result<Query<MetricsQuery>, QueryRejection>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>, u32), Problem> {
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let minutes = query.minutes.unwrap_or(DEFAULT_MINUTES);
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(Problem::bad_request(format!(
            "minutes must be between 1 and {MAX_MINUTES}"
        )));
    }
    let last = minute_start(now);
    let first = last - Duration::minutes(i64::from(minutes) - 1);
    Ok((first, last, minutes))
}

/// The minutes from `first`, `count` of them.
pub(crate) fn minutes_from(
    first: DateTime<Utc>,
    count: u32,
) -> impl Iterator<Item = DateTime<Utc>> {
    (0..i64::from(count)).map(move |offset| first + Duration::minutes(offset))
}

/// A stream's traffic per minute
///
/// Incoming and outgoing records and bytes and the iterator age, one point per minute for
/// the last `minutes` minutes, minutes without traffic as zeros.
#[utoipa::path(
    get,
    path = "/api/v1/streams/{name}/metrics",
    tag = "metrics",
    security(("bearer" = []), ("sigv4" = [])),
    params(("name" = String, Path, description = "The stream's name"), MetricsQuery),
    responses(
        (status = 200, description = "One point per minute, oldest first", body = StreamMetricsView),
        (status = 400, description = "minutes outside 1-1440, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in the tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn stream_metrics(
    State(state): State<ApiState>,
    context: AuthContext,
    Path(name): Path<String>,
    query: Result<Query<MetricsQuery>, QueryRejection>,
) -> Result<Json<StreamMetricsView>, Problem> {
    context.require(Action::ReadStreams)?;
    let stream = crate::api::streams::find_stream(&state, &context, &name).await?;
    let (first, last, count) = window(query, Utc::now())?;
    let stored: HashMap<DateTime<Utc>, _> = state
        .store
        .stream_minutes(context.tenant_id, stream.id, first, last)
        .await?
        .into_iter()
        .map(|row| (row.minute, row))
        .collect();
    let points = minutes_from(first, count)
        .map(|minute| match stored.get(&minute) {
            Some(row) => MetricsPoint {
                minute,
                incoming_records: row.incoming_records,
                incoming_bytes: row.incoming_bytes,
                outgoing_records: row.outgoing_records,
                outgoing_bytes: row.outgoing_bytes,
                iterator_age_ms: row.iterator_age_ms_max,
            },
            None => MetricsPoint {
                minute,
                incoming_records: 0,
                incoming_bytes: 0,
                outgoing_records: 0,
                outgoing_bytes: 0,
                iterator_age_ms: 0,
            },
        })
        .collect();
    Ok(Json(StreamMetricsView {
        period_seconds: PERIOD_SECONDS,
        points,
    }))
}

/// Every stream's incoming records per minute
///
/// For the stream list's sparklines: each stream of the tenant with its incoming records per
/// minute for the last `minutes` minutes, minutes without traffic as zeros.
#[utoipa::path(
    get,
    path = "/api/v1/metrics/streams",
    tag = "metrics",
    security(("bearer" = []), ("sigv4" = [])),
    params(MetricsQuery),
    responses(
        (status = 200, description = "Every stream with one number per minute, oldest first", body = StreamsMetricsView),
        (status = 400, description = "minutes outside 1-1440, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn streams_metrics(
    State(state): State<ApiState>,
    context: AuthContext,
    query: Result<Query<MetricsQuery>, QueryRejection>,
) -> Result<Json<StreamsMetricsView>, Problem> {
    context.require(Action::ReadStreams)?;
    let (first, last, count) = window(query, Utc::now())?;
    let streams = state
        .store
        .incoming_records_by_stream(context.tenant_id, first, last)
        .await?
        .into_iter()
        .map(|stream| {
            let mut incoming_records = vec![0; count as usize];
            for (minute, records) in stream.minutes {
                let offset = (minute - first).num_minutes();
                if let Some(slot) = usize::try_from(offset)
                    .ok()
                    .and_then(|offset| incoming_records.get_mut(offset))
                {
                    *slot = records;
                }
            }
            StreamSparkline {
                name: stream.stream_name,
                incoming_records,
            }
        })
        .collect();
    Ok(Json(StreamsMetricsView {
        period_seconds: PERIOD_SECONDS,
        from: first,
        streams,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_with_the_current_minute() {
        let now: DateTime<Utc> = "2026-11-26T18:01:42.5Z".parse().unwrap();
        let query = |minutes| Ok(Query(MetricsQuery { minutes }));
        let (first, last, count) = window(query(None), now).unwrap();
        assert_eq!(
            last,
            "2026-11-26T18:01:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            first,
            "2026-11-26T17:02:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(count, 60);
        assert_eq!(minutes_from(first, count).last(), Some(last));
        let (first, last, _) = window(query(Some(1)), now).unwrap();
        assert_eq!(first, last);
        assert!(window(query(Some(0)), now).is_err());
        assert!(window(query(Some(MAX_MINUTES + 1)), now).is_err());
        assert!(window(query(Some(MAX_MINUTES)), now).is_ok());
    }
}
