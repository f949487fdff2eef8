use leptos::prelude::*;

use crate::api::{Member, Page};
use crate::error::ConsoleError;

/// The tenant's members (`GET /api/v1/users`).
#[server(prefix = "/console/fn", endpoint = "list_members")]
pub async fn list_members(cursor: Option<String>) -> Result<Page<Member>, ConsoleError> {
    use super::super::support::*;
    let path = format!(
        "/api/v1/users{}",
        query(&[("limit", Some("200")), ("cursor", cursor.as_deref())])
    );
    rest()?.get(&path).await.or_else(refused)
}
