use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{Page, StreamSummary};
use crate::error::ConsoleError;

/// A stream's last hour of incoming records, for its row in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sparkline {
    pub svg: String,
    pub last_hour: u64,
}

/// The streams page: a page of streams by name and, per stream, its sparkline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamsOverview {
    pub page: Page<StreamSummary>,
    pub sparklines: BTreeMap<String, Sparkline>,
}

/// `GET /api/v1/streams` and `GET /api/v1/metrics/streams?minutes=60` (one query for every
/// stream's sparkline). Metrics failing to load leaves the sparklines out, not the list.
#[server(prefix = "/console/fn", endpoint = "list_streams")]
pub async fn list_streams(cursor: Option<String>) -> Result<StreamsOverview, ConsoleError> {
    use super::super::support::*;
    use crate::api::StreamsMetrics;
    let rest = rest()?;
    let path = format!(
        "/api/v1/streams{}",
        query(&[("limit", Some("100")), ("cursor", cursor.as_deref())])
    );
    let (page, metrics) = tokio::join!(
        rest.get::<Page<StreamSummary>>(&path),
        rest.get::<StreamsMetrics>("/api/v1/metrics/streams?minutes=60"),
    );
    let page = page.or_else(refused)?;
    let sparklines = match metrics {
        Ok(metrics) => metrics
            .streams
            .into_iter()
            .map(|stream| {
                let sparkline = Sparkline {
                    svg: crate::server::charts::sparkline(&stream.incoming_records),
                    last_hour: stream.incoming_records.iter().sum(),
                };
                (stream.name, sparkline)
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "stream sparklines unavailable");
            BTreeMap::new()
        }
    };
    Ok(StreamsOverview { page, sparklines })
}
