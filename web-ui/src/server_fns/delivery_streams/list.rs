use leptos::prelude::*;

use crate::api::{DeliveryStream, Page};
use crate::error::ConsoleError;

/// A page of delivery streams by name (`GET /api/v1/delivery-streams`).
#[server(prefix = "/console/fn", endpoint = "list_delivery_streams")]
pub async fn list_delivery_streams(
    cursor: Option<String>,
) -> Result<Page<DeliveryStream>, ConsoleError> {
    use super::super::support::*;
    let path = format!(
        "/api/v1/delivery-streams{}",
        query(&[("limit", Some("100")), ("cursor", cursor.as_deref())])
    );
    rest()?.get(&path).await.or_else(refused)
}
