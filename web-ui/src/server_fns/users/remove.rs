use leptos::prelude::*;

use crate::error::ConsoleError;

/// Removes a member from the tenant (`DELETE /api/v1/users/{id}`).
#[server(prefix = "/console/fn", endpoint = "remove_member")]
pub async fn remove_member(user_id: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    rest()?
        .send(
            http::Method::DELETE,
            &format!("/api/v1/users/{}", segment(&user_id)),
            None::<&()>,
        )
        .await
        .or_else(refused)
}
