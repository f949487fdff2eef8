use leptos::prelude::*;

use crate::api::CreatedKey;
use crate::error::ConsoleError;

/// Creates an access key (`POST /api/v1/keys`); the answer holds its secret, shown once.
/// `owner` is `tenant` (needs admin) or `self` (a personal key).
#[server(prefix = "/console/fn", endpoint = "create_key")]
pub async fn create_key(
    name: String,
    role: String,
    owner: Option<String>,
) -> Result<CreatedKey, ConsoleError> {
    use super::super::support::*;
    let Some(role) = crate::api::Role::parse(&role) else {
        return refused(ConsoleError::Problem {
            status: 400,
            kind: "invalid-role".to_owned(),
            title: "Key not created".to_owned(),
            detail: Some("pick a role".to_owned()),
        });
    };
    let owner = match owner.as_deref() {
        Some("self") => "self",
        _ => "tenant",
    };
    let created: CreatedKey = rest()?
        .post(
            "/api/v1/keys",
            &serde_json::json!({ "name": name.trim(), "role": role, "owner": owner }),
        )
        .await
        .or_else(refused)?;
    flash("create_key", &created);
    Ok(created)
}
