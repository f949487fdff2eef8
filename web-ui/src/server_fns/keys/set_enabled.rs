use leptos::prelude::*;

use crate::error::ConsoleError;

/// Disables or enables an access key (`POST /api/v1/keys/{id}/disable|enable`); the
/// endpoint refuses a disabled key within a second.
#[server(prefix = "/console/fn", endpoint = "set_key_enabled")]
pub async fn set_key_enabled(access_key_id: String, enabled: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    let action = if enabled == "true" {
        "enable"
    } else {
        "disable"
    };
    rest()?
        .send(
            http::Method::POST,
            &format!("/api/v1/keys/{}/{action}", segment(&access_key_id)),
            None::<&()>,
        )
        .await
        .or_else(refused)
}
