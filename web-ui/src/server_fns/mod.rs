//! Server functions: one per file, grouped by the REST resource they call. Each runs on the
//! server (in the page render, or when the browser calls it) and talks to `/api/v1` through
//! [`crate::server::rest::Rest`] with the signed-in person's token. No other way in.

pub mod audit;
pub mod auth;
pub mod buckets;
pub mod delete;
pub mod delivery_streams;
pub mod keys;
pub mod records;
pub mod streams;
pub mod users;

use serde::{Deserialize, Serialize};

/// A form's result carried across the redirect a browser without JavaScript follows
/// (see `server::session`): which form, and its answer as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub form: String,
    pub value: serde_json::Value,
}

impl Flash {
    /// The answer of `form`, if this flash is its.
    pub fn value_of<T: for<'de> Deserialize<'de>>(&self, form: &str) -> Option<T> {
        (self.form == form)
            .then(|| serde_json::from_value(self.value.clone()).ok())
            .flatten()
    }
}

#[cfg(feature = "ssr")]
pub mod support {
    //! What every server function body needs on the server.

    use http::StatusCode;
    use http::header::{ACCEPT, SET_COOKIE};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;
    use serde::Serialize;

    use super::Flash;
    use crate::error::ConsoleError;
    pub use crate::server::rest::{Rest, query, segment};

    pub fn rest() -> Result<Rest, ConsoleError> {
        Rest::current()
    }

    /// A browser posting a form without JavaScript (it accepts HTML and follows a redirect),
    /// as opposed to the hydrated page calling the function with `fetch`.
    pub fn is_form_post() -> bool {
        use_context::<http::request::Parts>()
            .map(|parts| {
                parts.method == http::Method::POST
                    && parts
                        .headers
                        .get(ACCEPT)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("text/html"))
            })
            .unwrap_or(false)
    }

    /// Fails with `error`, answering a `fetch` caller with the matching status (a form post
    /// gets the redirect back to its page instead, with the error in the address).
    pub fn refused<T>(error: ConsoleError) -> Result<T, ConsoleError> {
        if !is_form_post()
            && let Some(options) = use_context::<ResponseOptions>()
        {
            options.set_status(
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_GATEWAY),
            );
        }
        Err(error)
    }

    /// For a form post, keeps `value` for the page the browser is sent back to.
    pub fn flash(form: &str, value: &impl Serialize) {
        if !is_form_post() {
            return;
        }
        let Some(options) = use_context::<ResponseOptions>() else {
            return;
        };
        let Some(console) = use_context::<crate::server::Console>() else {
            return;
        };
        let flash = Flash {
            form: form.to_owned(),
            value: serde_json::to_value(value).unwrap_or_default(),
        };
        let cookie = crate::server::session::flash_cookie(&flash, console.options().secure_cookies);
        if let Ok(value) = http::HeaderValue::try_from(cookie) {
            options.append_header(SET_COOKIE, value);
        }
    }

    /// Sends a form-posting browser to `path` (a hydrated page navigates there itself).
    pub fn redirect(path: &str) {
        leptos_axum::redirect(path);
    }
}
