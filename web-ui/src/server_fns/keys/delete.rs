use leptos::prelude::*;

use crate::error::ConsoleError;

/// Deletes an access key for good (`DELETE /api/v1/keys/{id}`).
#[server(prefix = "/console/fn", endpoint = "delete_key")]
pub async fn delete_key(access_key_id: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    rest()?
        .send(
            http::Method::DELETE,
            &format!("/api/v1/keys/{}", segment(&access_key_id)),
            None::<&()>,
        )
        .await
        .or_else(refused)
}
