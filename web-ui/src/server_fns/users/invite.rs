use leptos::prelude::*;

use crate::api::CreatedInvitation;
use crate::error::ConsoleError;

/// Invites someone (`POST /api/v1/invitations`); the answer holds the one-time token.
#[server(prefix = "/console/fn", endpoint = "invite")]
pub async fn invite(email: String, role: String) -> Result<CreatedInvitation, ConsoleError> {
    use super::super::support::*;
    let created: CreatedInvitation = rest()?
        .post(
            "/api/v1/invitations",
            &serde_json::json!({ "email": email.trim(), "role": role }),
        )
        .await
        .or_else(refused)?;
    flash("invite", &created);
    Ok(created)
}
