use leptos::prelude::*;

use serde::{Deserialize, Serialize};

use crate::api::CreatedInvitation;
use crate::error::ConsoleError;

/// A new invitation and the link to hand the invitee (the token rides in the fragment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationLink {
    pub invitation: CreatedInvitation,
    pub link: String,
}

/// Invites someone (`POST /api/v1/invitations`); the answer holds the one-time token.
#[server(prefix = "/console/fn", endpoint = "invite")]
pub async fn invite(email: String, role: String) -> Result<InvitationLink, ConsoleError> {
    use super::super::support::*;
    let created: CreatedInvitation = rest()?
        .post(
            "/api/v1/invitations",
            &serde_json::json!({ "email": email.trim(), "role": role }),
        )
        .await
        .or_else(refused)?;
    let host = use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let secure =
        use_context::<crate::server::Console>().is_some_and(|c| c.options().secure_cookies);
    let scheme = if secure { "https" } else { "http" };
    let link = InvitationLink {
        link: format!("{scheme}://{host}{}", created.accept_path),
        invitation: created,
    };
    flash("invite", &link);
    Ok(link)
}
