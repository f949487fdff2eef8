//! The browser session: two HttpOnly, SameSite=Strict cookies holding the REST API's own
//! tokens (the access token, and the refresh token that renews it), a same-origin check on
//! every state-changing request, and a one-shot "flash" cookie that carries a form's result
//! across the redirect a browser without JavaScript follows.
//!
//! Nothing here is a private way in: the tokens are the ones `POST /api/v1/auth/sign-in`
//! answers, and every call the console makes presents them to the REST API.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tokio::sync::Mutex;

use super::Console;
use super::rest::Rest;
use crate::api::Session;
pub use crate::server_fns::Flash;

pub const ACCESS_COOKIE: &str = "fjord_access";
pub const REFRESH_COOKIE: &str = "fjord_refresh";
pub const FLASH_COOKIE: &str = "fjord_flash";
/// How long the refresh cookie lives; the server decides how long the token is good for.
const REFRESH_COOKIE_SECS: i64 = 30 * 24 * 60 * 60;
/// The access cookie expires this much before the token, so the browser stops sending it
/// while the token still works and the next request renews it.
const ACCESS_MARGIN_SECS: i64 = 30;
/// A refresh token used in the last this-long is answered from memory: the REST API rotates
/// refresh tokens and revokes the session when one is used twice, and a page that fires
/// several requests at once would otherwise present the same token twice.
const REFRESH_REUSE_WINDOW: Duration = Duration::from_secs(60);

/// The bearer token of the request, when signed in; set by [`session_layer`].
#[derive(Debug, Clone)]
pub struct SessionToken(pub Option<String>);

/// Sessions renewed in the last minute, by refresh token.
#[derive(Default)]
pub struct RefreshCache {
    recent: Mutex<HashMap<String, (Instant, Session)>>,
}

/// Every request to the console passes here.
pub async fn session_layer(
    State(console): State<Console>,
    mut request: Request,
    next: Next,
) -> Response {
    if !is_safe(request.method()) && !same_origin(request.headers()) {
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    let cookies = cookies(request.headers());
    let secure = console.options.secure_cookies;
    let mut set_cookies: Vec<String> = Vec::new();
    let mut token = cookies.get(ACCESS_COOKIE).cloned();
    if token.is_none()
        && let Some(refresh_token) = cookies.get(REFRESH_COOKIE)
    {
        let (parts, body) = request.into_parts();
        let rest = Rest::for_parts(&console, &parts).anonymous();
        request = Request::from_parts(parts, body);
        match renew(&console, &rest, refresh_token).await {
            Some(session) => {
                set_cookies.extend(session_cookies(&session, secure));
                token = Some(session.access_token);
            }
            None => set_cookies.extend(cleared_session_cookies(secure)),
        }
    }
    let page_load = request.method() == Method::GET && is_page(request.uri().path());
    if page_load && let Some(flash) = cookies.get(FLASH_COOKIE) {
        if let Some(flash) = decode_flash(flash) {
            request.extensions_mut().insert(flash);
        }
        set_cookies.push(cookie(FLASH_COOKIE, "", 0, secure));
    }
    if page_load && token.is_none() && !is_public(request.uri().path()) {
        let next_path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut response = Redirect::to(&format!(
            "/sign-in?next={}",
            super::rest::segment(next_path)
        ))
        .into_response();
        append_cookies(response.headers_mut(), &set_cookies);
        return response;
    }
    request.extensions_mut().insert(SessionToken(token));
    let path_is_wasm = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    append_cookies(response.headers_mut(), &set_cookies);
    // Pages and answers hold the person's data: never cached. The wasm and its glue keep their
    // names across builds, so browsers revalidate them (a 304 when unchanged).
    let cache = if path_is_wasm { "no-cache" } else { "no-store" };
    response
        .headers_mut()
        .entry(http::header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(cache));
    response
}

async fn renew(console: &Console, rest: &Rest, refresh_token: &str) -> Option<Session> {
    let mut recent = console.refreshes.recent.lock().await;
    recent.retain(|_, (at, _)| at.elapsed() < REFRESH_REUSE_WINDOW);
    if let Some((_, session)) = recent.get(refresh_token) {
        return Some(session.clone());
    }
    // Held across the call on purpose: renewals are rare (one per person per 15 minutes) and
    // must not race each other with the same token.
    let renewed: Result<Session, _> = rest
        .post(
            "/api/v1/auth/refresh",
            &serde_json::json!({ "refresh_token": refresh_token }),
        )
        .await;
    match renewed {
        Ok(session) => {
            recent.insert(refresh_token.to_owned(), (Instant::now(), session.clone()));
            Some(session)
        }
        Err(error) => {
            tracing::info!(%error, "console session could not be renewed");
            None
        }
    }
}

/// The cookies a new session sets.
pub fn session_cookies(session: &Session, secure: bool) -> Vec<String> {
    vec![
        cookie(
            ACCESS_COOKIE,
            &session.access_token,
            (session.expires_in - ACCESS_MARGIN_SECS).max(1),
            secure,
        ),
        cookie(
            REFRESH_COOKIE,
            &session.refresh_token,
            REFRESH_COOKIE_SECS,
            secure,
        ),
    ]
}

/// The cookies that end a session in the browser.
pub fn cleared_session_cookies(secure: bool) -> Vec<String> {
    vec![
        cookie(ACCESS_COOKIE, "", 0, secure),
        cookie(REFRESH_COOKIE, "", 0, secure),
    ]
}

/// The flash cookie carrying `flash` to the next page load (a session cookie: never written
/// to disk by the browser, cleared when read).
pub fn flash_cookie(flash: &Flash, secure: bool) -> String {
    let json = serde_json::to_vec(flash).unwrap_or_default();
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    format!(
        "{FLASH_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

fn decode_flash(value: &str) -> Option<Flash> {
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

fn cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

fn append_cookies(headers: &mut HeaderMap, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::try_from(cookie.as_str()) {
            headers.append(SET_COOKIE, value);
        }
    }
}

/// The request's cookies by name (the first of each name wins).
pub fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                found
                    .entry(name.to_owned())
                    .or_insert_with(|| value.to_owned());
            }
        }
    }
    found
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A state-changing request must come from the console's own pages: its `Origin` (which
/// browsers send on every POST) names the host it was sent to, and no browser says it was
/// sent cross-site. With SameSite=Strict cookies this is the CSRF defence (docs/adr/013).
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser (browsers send Origin on POST); cookies are SameSite=Strict anyway.
        return true;
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("null");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Paths that render a page (as opposed to assets, the wasm, server functions, the tail).
fn is_page(path: &str) -> bool {
    !(path.starts_with("/console/") || path.starts_with("/pkg/"))
}

/// Pages anyone may see.
fn is_public(path: &str) -> bool {
    matches!(path, "/sign-in" | "/accept-invitation")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn only_same_origin_posts_pass() {
        assert!(same_origin(&headers(&[
            ("host", "localhost:4566"),
            ("origin", "http://localhost:4566")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "localhost:4566"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "localhost:4566"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "localhost:4566"),
            ("origin", "http://localhost:4566"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(same_origin(&headers(&[("host", "localhost:4566")])));
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let session = Session {
            access_token: "a.b.c".into(),
            refresh_token: "r".into(),
            expires_in: 900,
        };
        let set = session_cookies(&session, false);
        assert_eq!(
            set[0],
            "fjord_access=a.b.c; Path=/; Max-Age=870; HttpOnly; SameSite=Strict"
        );
        assert!(session_cookies(&session, true)[1].ends_with("; Secure"));
        let parsed = cookies(&headers(&[
            ("cookie", "fjord_access=x; other=y"),
            ("cookie", "fjord_refresh=z"),
        ]));
        assert_eq!(parsed["fjord_access"], "x");
        assert_eq!(parsed["fjord_refresh"], "z");
    }

    #[test]
    fn flash_round_trips() {
        let flash = Flash {
            form: "create_key".into(),
            value: serde_json::json!({"a": 1}),
        };
        let set = flash_cookie(&flash, false);
        let value = set.split(';').next().unwrap().split_once('=').unwrap().1;
        assert_eq!(decode_flash(value), Some(flash));
        assert_eq!(decode_flash("%%%"), None);
    }
}
