use leptos::prelude::*;

use super::super::Flash;
use crate::error::ConsoleError;

/// The result a no-JavaScript form post left for this page load, if any (read once).
#[server(prefix = "/console/fn", endpoint = "take_flash")]
pub async fn take_flash() -> Result<Option<Flash>, ConsoleError> {
    Ok(use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Flash>().cloned()))
}
