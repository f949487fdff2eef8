use leptos::prelude::*;

use crate::api::DeliveryStream;
use crate::error::ConsoleError;

/// One delivery stream with its destination and tags (`GET /api/v1/delivery-streams/{name}`).
#[server(prefix = "/console/fn", endpoint = "describe_delivery_stream")]
pub async fn describe_delivery_stream(name: String) -> Result<DeliveryStream, ConsoleError> {
    use super::super::support::*;
    rest()?
        .get(&format!("/api/v1/delivery-streams/{}", segment(&name)))
        .await
        .or_else(refused)
}
