use leptos::prelude::*;

use crate::error::ConsoleError;

/// Gives a member another role (`PATCH /api/v1/users/{id}`).
#[server(prefix = "/console/fn", endpoint = "change_role")]
pub async fn change_role(user_id: String, role: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    rest()?
        .send(
            http::Method::PATCH,
            &format!("/api/v1/users/{}", segment(&user_id)),
            Some(&serde_json::json!({ "role": role })),
        )
        .await
        .or_else(refused)
}
