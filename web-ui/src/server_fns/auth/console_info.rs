use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ConsoleError;

/// Where apps reach this installation, for the getting-started page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleInfo {
    pub kinesis_endpoint: String,
    pub region: String,
    /// `http(s)://<the host the browser used>/api/v1`.
    pub rest_base: String,
}

#[server(prefix = "/console/fn", endpoint = "console_info")]
pub async fn load_console_info() -> Result<ConsoleInfo, ConsoleError> {
    let console = use_context::<crate::server::Console>()
        .ok_or_else(|| ConsoleError::Unavailable("no console context".to_owned()))?;
    let host = use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let scheme = if console.options().secure_cookies {
        "https"
    } else {
        "http"
    };
    Ok(ConsoleInfo {
        kinesis_endpoint: console.options().kinesis_endpoint.clone(),
        region: console.options().region.clone(),
        rest_base: format!("{scheme}://{host}/api/v1"),
    })
}
