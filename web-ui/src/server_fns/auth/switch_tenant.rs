use leptos::prelude::*;

use crate::error::ConsoleError;

/// Moves the session to another tenant the person belongs to
/// (`POST /api/v1/auth/switch-tenant`), then shows that tenant's streams.
#[server(prefix = "/console/fn", endpoint = "switch_tenant")]
pub async fn switch_tenant(tenant: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    use crate::api::Session;
    let session: Session = rest()?
        .post(
            "/api/v1/auth/switch-tenant",
            &serde_json::json!({ "tenant": tenant }),
        )
        .await
        .or_else(refused)?;
    super::sign_in::set_session_cookies(&session);
    redirect("/streams");
    Ok(())
}
