//! Record traffic per stream and UTC minute (`stream_metrics`, ADR 013): what the monitoring
//! charts show.
//!
//! Counters only ever add up; the iterator age keeps the highest value. Gateways report
//! through the events stream ([`Store::apply_stream_metrics_once`], deduplicated by event id
//! in the same transaction, since delivery is at least once); records over REST add
//! directly ([`Store::add_stream_traffic`]). Rows are keyed by stream id and go with their
//! stream; traffic for a stream that no longer exists (or is not the tenant's) is dropped.
//! Rows older than [`METRICS_RETENTION_DAYS`] are pruned ([`Store::prune_metrics`]).

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::{Store, StoreResult, TenantId};

/// How long per-minute traffic is kept, as CloudWatch keeps one-minute data.
pub const METRICS_RETENTION_DAYS: i32 = 15;
/// How long the ids of applied events are kept: longer than the events stream keeps an
/// event (24 h), so a redelivery always finds its id.
pub const APPLIED_EVENTS_RETENTION_HOURS: i32 = 48;

/// Traffic to add to one stream's minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub incoming_records: i64,
    pub incoming_bytes: i64,
    pub outgoing_records: i64,
    pub outgoing_bytes: i64,
    /// The highest `MillisBehindLatest` a read reported.
    pub iterator_age_ms_max: i64,
}

/// Traffic of one stream in one minute, as a report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamMinuteTraffic {
    pub tenant_id: TenantId,
    pub stream_id: Uuid,
    /// Any time in the minute; stored as the minute's start.
    pub minute: DateTime<Utc>,
    pub traffic: Traffic,
}

/// One stored minute.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MinuteRow {
    pub minute: DateTime<Utc>,
    pub incoming_records: i64,
    pub incoming_bytes: i64,
    pub outgoing_records: i64,
    pub outgoing_bytes: i64,
    pub iterator_age_ms_max: i64,
}

/// A stream's incoming records per stored minute, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingRecords {
    pub stream_name: String,
    /// (minute, records) for minutes with a row.
    pub minutes: Vec<(DateTime<Utc>, i64)>,
}

/// The start of the UTC minute `time` falls in.
pub fn minute_start(time: DateTime<Utc>) -> DateTime<Utc> {
    let ms = fjord_common::events::minute_of(time.timestamp_millis());
    DateTime::from_timestamp_millis(ms).unwrap_or(time)
}

impl Store {
    /// Adds a gateway event's traffic unless the event `event_id` was applied before; `false`
    /// when it was (nothing changes). The id is recorded in the same transaction as the
    /// counters, so a crash between the two cannot count an event twice or lose it.
    pub async fn apply_stream_metrics_once(
        &self,
        event_id: Uuid,
        minutes: &[StreamMinuteTraffic],
    ) -> StoreResult<bool> {
        let minutes = minutes.to_vec();
        self.transaction(move |connection| {
            async move {
                let first_time = sqlx::query(
                    "INSERT INTO applied_gateway_events (event_id) VALUES ($1)
                     ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(event_id)
                .execute(&mut *connection)
                .await?
                .rows_affected()
                    == 1;
                if first_time {
                    add_minutes(connection, &minutes).await?;
                }
                Ok(first_time)
            }
            .boxed()
        })
        .await
    }

    /// Adds traffic served over REST to the tenant's stream, in the current minute (not
    /// deduplicated: each call counts once by construction).
    pub async fn add_stream_traffic(
        &self,
        tenant_id: TenantId,
        stream_id: Uuid,
        traffic: Traffic,
    ) -> StoreResult<()> {
        let minute = StreamMinuteTraffic {
            tenant_id,
            stream_id,
            minute: Utc::now(),
            traffic,
        };
        let mut connection = self.pool.acquire().await?;
        add_minutes(&mut connection, &[minute]).await
    }

    /// The tenant's stream's stored minutes in `from..=to`, oldest first (minutes without
    /// traffic have no row).
    pub async fn stream_minutes(
        &self,
        tenant_id: TenantId,
        stream_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<MinuteRow>> {
        Ok(sqlx::query_as::<_, MinuteRow>(
            "SELECT minute, incoming_records, incoming_bytes, outgoing_records, outgoing_bytes,
                    iterator_age_ms_max
             FROM stream_metrics
             WHERE tenant_id = $1 AND stream_id = $2 AND minute >= $3 AND minute <= $4
             ORDER BY minute",
        )
        .bind(tenant_id.0)
        .bind(stream_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every stream of the tenant by name, with its incoming records per stored minute in
    /// `from..=to` (oldest first; streams without traffic have none), in one query.
    pub async fn incoming_records_by_stream(
        &self,
        tenant_id: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<IncomingRecords>> {
        let rows = sqlx::query_as::<_, (String, Option<DateTime<Utc>>, Option<i64>)>(
            "SELECT s.name, m.minute, m.incoming_records
             FROM streams AS s
             LEFT JOIN stream_metrics AS m
                    ON m.stream_id = s.id AND m.tenant_id = s.tenant_id
                   AND m.minute >= $2 AND m.minute <= $3
             WHERE s.tenant_id = $1
             ORDER BY s.name, m.minute",
        )
        .bind(tenant_id.0)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut streams: Vec<IncomingRecords> = Vec::new();
        for (name, minute, incoming_records) in rows {
            if streams.last().is_none_or(|last| last.stream_name != name) {
                streams.push(IncomingRecords {
                    stream_name: name,
                    minutes: Vec::new(),
                });
            }
            if let (Some(minute), Some(records), Some(stream)) =
                (minute, incoming_records, streams.last_mut())
            {
                stream.minutes.push((minute, records));
            }
        }
        Ok(streams)
    }

    /// Deletes traffic and delivery minutes older than [`METRICS_RETENTION_DAYS`] and applied event ids older than
    /// [`APPLIED_EVENTS_RETENTION_HOURS`], across tenants (housekeeping, not a tenant's
    /// request); how many rows of each went.
    pub async fn prune_metrics(&self) -> StoreResult<(u64, u64)> {
        let mut minutes = 0;
        for table in ["stream_metrics", "delivery_metrics"] {
            minutes += sqlx::query(&format!(
                "DELETE FROM {table} WHERE minute < now() - make_interval(days => $1)"
            ))
            .bind(METRICS_RETENTION_DAYS)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        let events = sqlx::query(
            "DELETE FROM applied_gateway_events
             WHERE applied_at < now() - make_interval(hours => $1)",
        )
        .bind(APPLIED_EVENTS_RETENTION_HOURS)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((minutes, events))
    }
}

/// Adds `minutes` in one statement: repeats of a (stream, minute) are folded first; each
/// stream must exist in the tenant the report names (others are skipped, so a stream deleted
/// meanwhile, or an id reported under the wrong tenant, changes nothing). The streams' rows are
/// locked against deletion until the transaction ends, and minutes past the retention are
/// not stored.
async fn add_minutes(
    connection: &mut sqlx::PgConnection,
    minutes: &[StreamMinuteTraffic],
) -> StoreResult<()> {
    if minutes.is_empty() {
        return Ok(());
    }
    let column = |value: fn(&StreamMinuteTraffic) -> i64| -> Vec<i64> {
        minutes.iter().map(|minute| value(minute).max(0)).collect()
    };
    let tenants: Vec<Uuid> = minutes.iter().map(|minute| minute.tenant_id.0).collect();
    let streams: Vec<Uuid> = minutes.iter().map(|minute| minute.stream_id).collect();
    let starts: Vec<DateTime<Utc>> = minutes
        .iter()
        .map(|minute| minute_start(minute.minute))
        .collect();
    sqlx::query(
        "INSERT INTO stream_metrics AS m
                (stream_id, tenant_id, minute, incoming_records, incoming_bytes,
                 outgoing_records, outgoing_bytes, iterator_age_ms_max)
         SELECT s.id, s.tenant_id, u.minute, u.incoming_records, u.incoming_bytes,
                u.outgoing_records, u.outgoing_bytes, u.iterator_age_ms_max
         FROM (SELECT tenant_id, stream_id, minute,
                      sum(incoming_records)::bigint AS incoming_records,
                      sum(incoming_bytes)::bigint AS incoming_bytes,
                      sum(outgoing_records)::bigint AS outgoing_records,
                      sum(outgoing_bytes)::bigint AS outgoing_bytes,
                      max(iterator_age_ms_max) AS iterator_age_ms_max
               FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::int8[], $5::int8[],
                           $6::int8[], $7::int8[], $8::int8[])
                    AS t(tenant_id, stream_id, minute, incoming_records, incoming_bytes,
                         outgoing_records, outgoing_bytes, iterator_age_ms_max)
               WHERE minute >= now() - make_interval(days => $9)
               GROUP BY tenant_id, stream_id, minute) AS u
         JOIN streams AS s ON s.id = u.stream_id AND s.tenant_id = u.tenant_id
         ORDER BY s.id, u.minute
         FOR KEY SHARE OF s
         ON CONFLICT (stream_id, minute) DO UPDATE SET
             incoming_records = m.incoming_records + EXCLUDED.incoming_records,
             incoming_bytes = m.incoming_bytes + EXCLUDED.incoming_bytes,
             outgoing_records = m.outgoing_records + EXCLUDED.outgoing_records,
             outgoing_bytes = m.outgoing_bytes + EXCLUDED.outgoing_bytes,
             iterator_age_ms_max = GREATEST(m.iterator_age_ms_max, EXCLUDED.iterator_age_ms_max)",
    )
    .bind(&tenants)
    .bind(&streams)
    .bind(&starts)
    .bind(column(|minute| minute.traffic.incoming_records))
    .bind(column(|minute| minute.traffic.incoming_bytes))
    .bind(column(|minute| minute.traffic.outgoing_records))
    .bind(column(|minute| minute.traffic.outgoing_bytes))
    .bind(column(|minute| minute.traffic.iterator_age_ms_max))
    .bind(METRICS_RETENTION_DAYS)
    .execute(connection)
    .await?;
    Ok(())
}
