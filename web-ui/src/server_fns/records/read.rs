use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::RecordPage;
use crate::error::ConsoleError;

/// Where the data viewer starts reading, as the form (and the page address) carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPosition {
    pub shard: String,
    /// `trim_horizon`, `latest`, `at_sequence`, `after_sequence` or `at_timestamp`.
    pub from: String,
    pub sequence: Option<String>,
    pub timestamp: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// A page of a shard's records
/// (`GET /api/v1/streams/{name}/shards/{shard}/records`).
#[server(prefix = "/console/fn", endpoint = "read_records")]
pub async fn read_records(
    name: String,
    position: ReadPosition,
) -> Result<RecordPage, ConsoleError> {
    use super::super::support::*;
    let path = format!(
        "/api/v1/streams/{}/shards/{}/records{}",
        segment(&name),
        segment(&position.shard),
        query(&[
            ("from", Some(position.from.as_str())),
            ("sequence", position.sequence.as_deref()),
            ("timestamp", position.timestamp.as_deref()),
            ("cursor", position.cursor.as_deref()),
            ("limit", Some(position.limit.as_deref().unwrap_or("25"))),
        ])
    );
    rest()?.get(&path).await.or_else(refused)
}
