use leptos::prelude::*;

use crate::error::ConsoleError;

/// Revokes the refresh token (`POST /api/v1/auth/sign-out`), clears the cookies and goes to
/// the sign-in page. Signing out always succeeds in the browser, even if the token was gone.
#[server(prefix = "/console/fn", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ConsoleError> {
    use super::super::support::*;
    use crate::server::session::{REFRESH_COOKIE, cleared_session_cookies, cookies};
    let parts = use_context::<http::request::Parts>();
    let refresh_token = parts
        .as_ref()
        .and_then(|p| cookies(&p.headers).remove(REFRESH_COOKIE));
    if let Some(refresh_token) = refresh_token {
        let signed_out = rest()?
            .anonymous()
            .send(
                http::Method::POST,
                "/api/v1/auth/sign-out",
                Some(&serde_json::json!({ "refresh_token": refresh_token })),
            )
            .await;
        if let Err(error) = signed_out {
            tracing::info!(%error, "sign-out: the refresh token was not revoked");
        }
    }
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        let secure = use_context::<crate::server::Console>()
            .map(|console| console.options().secure_cookies)
            .unwrap_or(false);
        for cookie in cleared_session_cookies(secure) {
            if let Ok(value) = http::HeaderValue::try_from(cookie) {
                options.append_header(http::header::SET_COOKIE, value);
            }
        }
    }
    redirect("/sign-in");
    Ok(())
}
