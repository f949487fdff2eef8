use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{DeliveryCounts, DeliveryFailure};
use crate::error::ConsoleError;
use crate::server_fns::streams::Chart;

/// What a delivery stream's monitoring section shows: the last hour's totals, charts per
/// minute, and the newest failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryOverview {
    pub totals: DeliveryCounts,
    pub charts: Vec<Chart>,
    pub failures: Vec<DeliveryFailure>,
}

/// The last hour of delivery (`GET /api/v1/delivery-streams/{name}/metrics?minutes=60`) and
/// the newest ten failures (`GET …/failures?limit=10`).
#[server(prefix = "/console/fn", endpoint = "delivery_monitoring")]
pub async fn delivery_monitoring(name: String) -> Result<DeliveryOverview, ConsoleError> {
    use super::super::support::*;
    use crate::api::{DeliveryFailures, DeliveryMetrics, DeliveryMinute};
    use crate::server::charts::Unit;
    let path = format!("/api/v1/delivery-streams/{}", segment(&name));
    let rest = rest()?;
    let metrics: DeliveryMetrics = rest
        .get(&format!("{path}/metrics?minutes=60"))
        .await
        .or_else(refused)?;
    let failures: DeliveryFailures = rest
        .get(&format!("{path}/failures?limit=10"))
        .await
        .or_else(refused)?;
    let minutes: Vec<String> = metrics.points.iter().map(|p| p.minute_label()).collect();
    let series = |pick: fn(&DeliveryMinute) -> u64| -> Vec<u64> {
        metrics.points.iter().map(pick).collect()
    };
    let charts = crate::server::charts::titled_charts(
        &minutes,
        vec![
            (
                "Delivered records",
                Unit::Count,
                series(|p| p.counts.delivered_records),
            ),
            (
                "Delivered bytes",
                Unit::Bytes,
                series(|p| p.counts.delivered_bytes),
            ),
            (
                "Data freshness (max per minute)",
                Unit::Milliseconds,
                series(|p| p.counts.freshness_ms_max),
            ),
            (
                "Failed delivery attempts",
                Unit::Count,
                series(|p| p.counts.failed_attempts),
            ),
        ],
    );
    Ok(DeliveryOverview {
        totals: metrics.totals,
        charts,
        failures: failures.items,
    })
}
