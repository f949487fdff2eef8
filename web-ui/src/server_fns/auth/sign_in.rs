use leptos::prelude::*;

use crate::error::ConsoleError;

/// Signs in with `POST /api/v1/auth/sign-in` and keeps the session in HttpOnly cookies, then
/// goes to `next` (a path on this site) or the streams page.
#[server(prefix = "/console/fn", endpoint = "sign_in")]
pub async fn sign_in(
    email: String,
    password: String,
    tenant: Option<String>,
    next: Option<String>,
) -> Result<(), ConsoleError> {
    use super::super::support::*;
    use crate::api::Session;
    let tenant = tenant.filter(|t| !t.trim().is_empty());
    let session: Session = rest()?
        .anonymous()
        .post(
            "/api/v1/auth/sign-in",
            &serde_json::json!({ "email": email.trim(), "password": password, "tenant": tenant }),
        )
        .await
        .or_else(refused)?;
    set_session_cookies(&session);
    redirect(&crate::model::format::local_path(next.as_deref()));
    Ok(())
}

#[cfg(feature = "ssr")]
pub(crate) fn set_session_cookies(session: &crate::api::Session) {
    let Some(options) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let secure = use_context::<crate::server::Console>()
        .map(|console| console.options().secure_cookies)
        .unwrap_or(false);
    for cookie in crate::server::session::session_cookies(session, secure) {
        if let Ok(value) = http::HeaderValue::try_from(cookie) {
            options.append_header(http::header::SET_COOKIE, value);
        }
    }
}
