use leptos::prelude::*;

use crate::error::ConsoleError;

/// Checks the form like the page does, creates the stream (`POST /api/v1/streams`) and opens
/// its page. `idempotency_key` (rendered into the form) makes a double submit harmless.
#[server(prefix = "/console/fn", endpoint = "create_stream")]
pub async fn create_stream(
    name: String,
    mode: String,
    shard_count: Option<String>,
    retention_hours: Option<String>,
    tags: Option<String>,
    idempotency_key: Option<String>,
) -> Result<(), ConsoleError> {
    use super::super::support::*;
    use crate::model::stream_form::validate;
    let request = match validate(
        &name,
        &mode,
        shard_count.as_deref().unwrap_or_default(),
        retention_hours.as_deref().unwrap_or("24"),
        tags.as_deref().unwrap_or_default(),
    ) {
        Ok(request) => request,
        Err(errors) => {
            return refused(ConsoleError::Problem {
                status: 400,
                kind: "invalid-stream".to_owned(),
                title: "Check the form".to_owned(),
                detail: Some(errors.summary()),
            });
        }
    };
    let mut rest = rest()?;
    if let Some(key) = idempotency_key.filter(|k| !k.is_empty()) {
        rest = rest.with_header("idempotency-key", &key);
    }
    let _created: serde_json::Value = rest
        .post("/api/v1/streams", &request)
        .await
        .or_else(refused)?;
    redirect(&format!("/streams/{}", segment(&request.name)));
    Ok(())
}
