use leptos::prelude::*;

use crate::error::ConsoleError;

/// What [`delete_named`] deletes: the REST collection, which is also the console page the
/// browser returns to.
pub const DELETABLE: [&str; 2] = ["streams", "delivery-streams"];

/// Deletes a data stream or a delivery stream (`DELETE /api/v1/{kind}/{name}`) once its name
/// was typed to confirm, and returns to the list.
#[server(prefix = "/console/fn", endpoint = "delete_named")]
pub async fn delete_named(kind: String, name: String, confirm: String) -> Result<(), ConsoleError> {
    use super::support::*;
    let problem = |kind: &str, detail: String| ConsoleError::Problem {
        status: 400,
        kind: kind.to_owned(),
        title: "Not deleted".to_owned(),
        detail: Some(detail),
    };
    if !DELETABLE.contains(&kind.as_str()) {
        return refused(problem("unknown-kind", format!("cannot delete {kind}")));
    }
    if confirm.trim() != name {
        return refused(problem(
            "confirmation-mismatch",
            format!("type “{name}” to confirm"),
        ));
    }
    rest()?
        .send(
            http::Method::DELETE,
            &format!("/api/v1/{kind}/{}", segment(&name)),
            None::<&()>,
        )
        .await
        .or_else(refused)?;
    redirect(&format!("/{kind}"));
    Ok(())
}
