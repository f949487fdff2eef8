use leptos::prelude::*;

use crate::api::Stream;
use crate::error::ConsoleError;

/// One stream with its shards and tags (`GET /api/v1/streams/{name}`).
#[server(prefix = "/console/fn", endpoint = "describe_stream")]
pub async fn describe_stream(name: String) -> Result<Stream, ConsoleError> {
    use super::super::support::*;
    rest()?
        .get(&format!("/api/v1/streams/{}", segment(&name)))
        .await
        .or_else(refused)
}
