// One argument per form field, as the form posts them (the `server` macro also generates the
// browser-side caller with the same arguments, so the allowance is module-wide).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;

/// Registers an S3 or S3-compatible bucket (`POST /api/v1/buckets`; the API writes a probe
/// object first and refuses a store that does not take it). Empty fields take the API's
/// defaults; the secret goes to the API and nowhere else.
#[server(prefix = "/console/fn", endpoint = "register_bucket")]
pub async fn register_bucket(
    name: String,
    bucket: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    path_style: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
) -> Result<(), ConsoleError> {
    use super::super::support::*;
    let given =
        |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut store = serde_json::json!({ "kind": "s3" });
    for (field, value) in [
        ("bucket", given(bucket)),
        ("region", given(region)),
        ("endpoint", given(endpoint)),
        ("access_key_id", given(access_key_id)),
        // Secrets are taken as typed, not trimmed.
        (
            "secret_access_key",
            secret_access_key.filter(|v| !v.is_empty()),
        ),
    ] {
        if let Some(value) = value {
            store[field] = serde_json::Value::from(value);
        }
    }
    if store.get("endpoint").is_some() {
        store["path_style"] = serde_json::Value::from(path_style.is_some());
    }
    let _registered: serde_json::Value = rest()?
        .post(
            "/api/v1/buckets",
            &serde_json::json!({ "name": name.trim(), "store": store }),
        )
        .await
        .or_else(refused)?;
    Ok(())
}
