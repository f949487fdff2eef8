use leptos::prelude::*;

use crate::error::ConsoleError;

/// Withdraws a pending invitation (`DELETE /api/v1/invitations/{id}`).
#[server(prefix = "/console/fn", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(id: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    rest()?
        .send(
            http::Method::DELETE,
            &format!("/api/v1/invitations/{}", segment(&id)),
            None::<&()>,
        )
        .await
        .or_else(refused)
}
