use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ConsoleError;

/// One chart of the monitoring tab: its title, a one-line summary (also the chart's text
/// alternative), and the SVG drawn on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chart {
    pub title: String,
    pub summary: String,
    pub svg: String,
}

/// The monitoring tab: incoming records and bytes, outgoing records, iterator age, per minute
/// over the last hour (`GET /api/v1/streams/{name}/metrics?minutes=60`).
#[server(prefix = "/console/fn", endpoint = "stream_charts")]
pub async fn stream_charts(name: String) -> Result<Vec<Chart>, ConsoleError> {
    use super::super::support::*;
    use crate::api::StreamMetrics;
    use crate::server::charts::Unit;
    let metrics: StreamMetrics = rest()?
        .get(&format!(
            "/api/v1/streams/{}/metrics?minutes=60",
            segment(&name)
        ))
        .await
        .or_else(refused)?;
    let minutes: Vec<String> = metrics.points.iter().map(|p| p.minute_label()).collect();
    let series = |pick: fn(&crate::api::MetricsPoint) -> u64| -> Vec<u64> {
        metrics.points.iter().map(pick).collect()
    };
    Ok(crate::server::charts::titled_charts(
        &minutes,
        vec![
            (
                "Incoming records",
                Unit::Count,
                series(|p| p.incoming_records),
            ),
            ("Incoming bytes", Unit::Bytes, series(|p| p.incoming_bytes)),
            (
                "Outgoing records",
                Unit::Count,
                series(|p| p.outgoing_records),
            ),
            (
                "Iterator age (max per minute)",
                Unit::Milliseconds,
                series(|p| p.iterator_age_ms),
            ),
        ],
    ))
}
