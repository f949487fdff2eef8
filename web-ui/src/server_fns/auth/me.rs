use leptos::prelude::*;

use crate::api::Me;
use crate::error::ConsoleError;

/// Who is signed in, to which tenant, as what (`GET /api/v1/me`).
#[server(prefix = "/console/fn", endpoint = "who_am_i")]
pub async fn who_am_i() -> Result<Me, ConsoleError> {
    use super::super::support::*;
    rest()?.get("/api/v1/me").await.or_else(refused)
}
