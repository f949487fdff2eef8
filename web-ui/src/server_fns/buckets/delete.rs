use leptos::prelude::*;

use crate::error::ConsoleError;

/// Forgets a registered bucket (`DELETE /api/v1/buckets/{name}`); its objects stay.
#[server(prefix = "/console/fn", endpoint = "delete_bucket")]
pub async fn delete_bucket(name: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    rest()?
        .send(
            http::Method::DELETE,
            &format!("/api/v1/buckets/{}", segment(&name)),
            None::<&()>,
        )
        .await
        .or_else(refused)
}
