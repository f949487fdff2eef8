use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{AuditEntry, Page};
use crate::error::ConsoleError;

/// The audit log's filters, as the form (and the page address) carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
}

/// A page of the audit log, newest first (`GET /api/v1/audit`).
#[server(prefix = "/console/fn", endpoint = "list_audit")]
pub async fn list_audit(filter: AuditFilter) -> Result<Page<AuditEntry>, ConsoleError> {
    use super::super::support::*;
    let path = format!(
        "/api/v1/audit{}",
        query(&[
            ("action", filter.action.as_deref()),
            ("actor", filter.actor.as_deref()),
            ("outcome", filter.outcome.as_deref()),
            ("from", filter.from.as_deref()),
            ("to", filter.to.as_deref()),
            ("cursor", filter.cursor.as_deref()),
            ("limit", Some("50")),
        ])
    );
    rest()?.get(&path).await.or_else(refused)
}
