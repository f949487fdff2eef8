use leptos::prelude::*;

use crate::api::{Key, Page};
use crate::error::ConsoleError;

/// The tenant's access keys (a member without admin: their own), oldest first.
#[server(prefix = "/console/fn", endpoint = "list_keys")]
pub async fn list_keys(cursor: Option<String>) -> Result<Page<Key>, ConsoleError> {
    use super::super::support::*;
    let path = format!(
        "/api/v1/keys{}",
        query(&[("limit", Some("200")), ("cursor", cursor.as_deref())])
    );
    rest()?.get(&path).await.or_else(refused)
}
