use leptos::prelude::*;

use crate::error::ConsoleError;

/// Makes the stream's tags exactly what the edit box says: adds or overwrites the given ones
/// (`PUT /api/v1/streams/{name}/tags`) and removes the rest
/// (`DELETE /api/v1/streams/{name}/tags/{key}`).
#[server(prefix = "/console/fn", endpoint = "set_tags")]
pub async fn set_tags(name: String, tags: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    let wanted = match crate::model::tags::parse_tags(&tags) {
        Ok(wanted) => wanted,
        Err(problem) => {
            return refused(ConsoleError::Problem {
                status: 400,
                kind: "invalid-tags".to_owned(),
                title: "Tags not changed".to_owned(),
                detail: Some(problem),
            });
        }
    };
    let rest = rest()?;
    let stream: crate::api::Stream = rest
        .get(&format!("/api/v1/streams/{}", segment(&name)))
        .await
        .or_else(refused)?;
    for key in stream.tags.keys().filter(|key| !wanted.contains_key(*key)) {
        rest.send(
            http::Method::DELETE,
            &format!("/api/v1/streams/{}/tags/{}", segment(&name), segment(key)),
            None::<&()>,
        )
        .await
        .or_else(refused)?;
    }
    if !wanted.is_empty() {
        rest.send(
            http::Method::PUT,
            &format!("/api/v1/streams/{}/tags", segment(&name)),
            Some(&serde_json::json!({ "tags": wanted })),
        )
        .await
        .or_else(refused)?;
    }
    Ok(())
}
