use leptos::prelude::*;

use crate::error::ConsoleError;

/// Changes how long records are kept (`PUT /api/v1/streams/{name}/retention`).
#[server(prefix = "/console/fn", endpoint = "set_retention")]
pub async fn set_retention(name: String, retention_hours: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    if let Some(problem) = crate::model::stream_form::retention_error(&retention_hours) {
        return refused(ConsoleError::Problem {
            status: 400,
            kind: "invalid-retention".to_owned(),
            title: "Retention not changed".to_owned(),
            detail: Some(problem),
        });
    }
    let hours: i64 = retention_hours.trim().parse().unwrap_or_default();
    rest()?
        .send(
            http::Method::PUT,
            &format!("/api/v1/streams/{}/retention", segment(&name)),
            Some(&serde_json::json!({ "retention_hours": hours })),
        )
        .await
        .or_else(refused)
}
