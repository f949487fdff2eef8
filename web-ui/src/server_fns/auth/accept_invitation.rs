use leptos::prelude::*;

use crate::error::ConsoleError;

/// Joins a tenant with an invitation's token (`POST /api/v1/auth/accept-invitation`): a new
/// account gets `password` as its password, an existing one proves it. Signs in on success.
#[server(prefix = "/console/fn", endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String, password: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    use crate::api::Session;
    let session: Session = rest()?
        .anonymous()
        .post(
            "/api/v1/auth/accept-invitation",
            &serde_json::json!({ "token": token.trim(), "password": password }),
        )
        .await
        .or_else(refused)?;
    super::sign_in::set_session_cookies(&session);
    redirect("/streams");
    Ok(())
}
