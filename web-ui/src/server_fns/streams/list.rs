use leptos::prelude::*;

use crate::api::{Page, StreamSummary};
use crate::error::ConsoleError;

/// A page of the tenant's streams by name (`GET /api/v1/streams`).
#[server(prefix = "/console/fn", endpoint = "list_streams")]
pub async fn list_streams(cursor: Option<String>) -> Result<Page<StreamSummary>, ConsoleError> {
    use super::super::support::*;
    let path = format!(
        "/api/v1/streams{}",
        query(&[("limit", Some("100")), ("cursor", cursor.as_deref())])
    );
    rest()?.get(&path).await.or_else(refused)
}
