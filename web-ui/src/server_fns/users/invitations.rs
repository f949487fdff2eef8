use leptos::prelude::*;

use crate::api::{Invitation, Page};
use crate::error::ConsoleError;

/// The tenant's invitations, pending and past (`GET /api/v1/invitations`).
#[server(prefix = "/console/fn", endpoint = "list_invitations")]
pub async fn list_invitations() -> Result<Page<Invitation>, ConsoleError> {
    use super::super::support::*;
    rest()?
        .get("/api/v1/invitations?limit=200")
        .await
        .or_else(refused)
}
