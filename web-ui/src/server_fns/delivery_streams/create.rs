// One argument per form field, as the form posts them (the `server` macro also generates the
// browser-side caller with the same arguments, so the allowance is module-wide).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ConsoleError;

/// Checks the form like the page does, creates the delivery stream
/// (`POST /api/v1/delivery-streams`) and opens its page. `idempotency_key` (rendered into the
/// form) makes a double submit harmless.
#[server(prefix = "/console/fn", endpoint = "create_delivery_stream")]
pub async fn create_delivery_stream(
    name: String,
    source: String,
    source_stream: Option<String>,
    bucket: String,
    prefix: Option<String>,
    error_output_prefix: Option<String>,
    size_mib: String,
    interval_seconds: String,
    compression: String,
    tags: Option<String>,
    destination: Option<String>,
    endpoint_url: Option<String>,
    endpoint_name: Option<String>,
    access_key: Option<String>,
    content_encoding: Option<String>,
    retry_seconds: Option<String>,
    backup_mode: Option<String>,
    idempotency_key: Option<String>,
) -> Result<(), ConsoleError> {
    use super::super::support::*;
    use crate::model::delivery_form::{DeliveryForm, validate};
    let form = DeliveryForm {
        name: &name,
        source: &source,
        source_stream: source_stream.as_deref().unwrap_or_default(),
        bucket: &bucket,
        prefix: prefix.as_deref().unwrap_or_default(),
        error_output_prefix: error_output_prefix.as_deref().unwrap_or_default(),
        size_mib: &size_mib,
        interval_seconds: &interval_seconds,
        compression: &compression,
        tags: tags.as_deref().unwrap_or_default(),
        destination: destination.as_deref().unwrap_or("bucket"),
        endpoint_url: endpoint_url.as_deref().unwrap_or_default(),
        endpoint_name: endpoint_name.as_deref().unwrap_or_default(),
        access_key: access_key.as_deref().unwrap_or_default(),
        content_encoding: content_encoding.as_deref().unwrap_or("NONE"),
        retry_seconds: retry_seconds.as_deref().unwrap_or("300"),
        backup_mode: backup_mode.as_deref().unwrap_or("FailedDataOnly"),
    };
    let request = match validate(&form) {
        Ok(request) => request,
        Err(problems) => {
            return refused(ConsoleError::Problem {
                status: 400,
                kind: "invalid-delivery-stream".to_owned(),
                title: "Check the form".to_owned(),
                detail: Some(problems),
            });
        }
    };
    let mut rest = rest()?;
    if let Some(key) = idempotency_key.filter(|k| !k.is_empty()) {
        rest = rest.with_header("idempotency-key", &key);
    }
    let _created: serde_json::Value = rest
        .post("/api/v1/delivery-streams", &request)
        .await
        .or_else(refused)?;
    redirect(&format!("/delivery-streams/{}", segment(&request.name)));
    Ok(())
}
