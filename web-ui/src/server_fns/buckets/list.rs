use leptos::prelude::*;

use crate::api::BucketList;
use crate::error::ConsoleError;

/// The tenant's registered buckets (`GET /api/v1/buckets`).
#[server(prefix = "/console/fn", endpoint = "list_buckets")]
pub async fn list_buckets() -> Result<BucketList, ConsoleError> {
    use super::super::support::*;
    rest()?.get("/api/v1/buckets").await.or_else(refused)
}
