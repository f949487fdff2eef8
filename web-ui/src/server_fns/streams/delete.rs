use leptos::prelude::*;

use crate::error::ConsoleError;

/// Deletes a stream (`DELETE /api/v1/streams/{name}`) once its name was typed to confirm.
#[server(prefix = "/console/fn", endpoint = "delete_stream")]
pub async fn delete_stream(name: String, confirm: String) -> Result<(), ConsoleError> {
    use super::super::support::*;
    if confirm.trim() != name {
        return refused(ConsoleError::Problem {
            status: 400,
            kind: "confirmation-mismatch".to_owned(),
            title: "Not deleted".to_owned(),
            detail: Some(format!("type “{name}” to confirm")),
        });
    }
    rest()?
        .send(
            http::Method::DELETE,
            &format!("/api/v1/streams/{}", segment(&name)),
            None::<&()>,
        )
        .await
        .or_else(refused)?;
    redirect("/streams");
    Ok(())
}
