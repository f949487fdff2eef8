//! The audit log: append-only rows of who changed what in a tenant, and their keyset-paginated
//! listing.
//!
//! Rows never hold secrets: callers put identifiers (user ids, access key ids, ARNs, emails)
//! in them, never passwords, tokens or secret keys. Appending is best effort
//! ([`Store::record_audit`]): a failed insert is logged and never fails the call it records
//! (see `docs/adr/004-audit-log.md`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError, StoreResult, TenantId};

/// Longest text kept in a free-form column; longer values are cut (on a char boundary).
const MAX_SOURCE_IP: usize = 64;
const MAX_USER_AGENT: usize = 512;
const MAX_RESOURCE: usize = 2048;
const MAX_SHORT: usize = 128;
const MAX_ACTOR_ID: usize = 320;
/// Larger `details` are replaced by `{"truncated": true}`.
const MAX_DETAILS_BYTES: usize = 8 * 1024;

/// Who performed an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// A person signed in to the REST API; the actor id is the user id.
    User,
    /// An application calling with an access key; the actor id is the access key id.
    AccessKey,
    /// A platform operator using `fjord admin`.
    Operator,
    /// Fjord itself.
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::AccessKey => "access_key",
            ActorType::Operator => "operator",
            ActorType::System => "system",
        }
    }

    fn from_row(text: &str) -> StoreResult<Self> {
        match text {
            "user" => Ok(ActorType::User),
            "access_key" => Ok(ActorType::AccessKey),
            "operator" => Ok(ActorType::Operator),
            "system" => Ok(ActorType::System),
            _ => Err(StoreError::Invalid),
        }
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    fn from_row(text: &str) -> StoreResult<Self> {
        match text {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            _ => Err(StoreError::Invalid),
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_row(text).map_err(|_| ())
    }
}

/// One entry to append. Never put a secret in any field.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor_type: ActorType,
    pub actor_id: String,
    /// `<area>:<Action>`, e.g. `kinesis:CreateStream`, `auth:SignIn`, `keys:Create`.
    pub action: String,
    /// What was acted on: a stream ARN, a key id, an email.
    pub resource: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: Outcome,
    /// On failure, the error's code (an AWS `__type` or a problem kind).
    pub error_code: Option<String>,
    pub request_id: Option<String>,
    /// Small, non-secret context.
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// A successful `action` on `resource` by an actor; set the rest with the builders.
    pub fn new(
        actor_type: ActorType,
        actor_id: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            actor_type,
            actor_id: actor_id.into(),
            action: action.into(),
            resource: resource.into(),
            source_ip: None,
            user_agent: None,
            outcome: Outcome::Success,
            error_code: None,
            request_id: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn failed(mut self, error_code: impl Into<String>) -> Self {
        self.outcome = Outcome::Failure;
        self.error_code = Some(error_code.into());
        self
    }

    pub fn from_address(mut self, source_ip: Option<String>, user_agent: Option<String>) -> Self {
        self.source_ip = source_ip;
        self.user_agent = user_agent;
        self
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub entry: AuditEntry,
}

/// Which entries to list; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries whose action starts with this (e.g. `kinesis:` or `auth:SignIn`).
    pub action_prefix: Option<String>,
    /// Entries by this actor id (exact).
    pub actor_id: Option<String>,
    pub outcome: Option<Outcome>,
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
}

/// A position in the newest-first listing: entries strictly older than this one come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPosition {
    pub occurred_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_type: String,
    actor_id: String,
    action: String,
    resource: String,
    source_ip: Option<String>,
    user_agent: Option<String>,
    outcome: String,
    error_code: Option<String>,
    request_id: Option<String>,
    details: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> StoreResult<Self> {
        Ok(AuditRecord {
            id: row.id,
            occurred_at: row.occurred_at,
            entry: AuditEntry {
                actor_type: ActorType::from_row(&row.actor_type)?,
                actor_id: row.actor_id,
                action: row.action,
                resource: row.resource,
                source_ip: row.source_ip,
                user_agent: row.user_agent,
                outcome: Outcome::from_row(&row.outcome)?,
                error_code: row.error_code,
                request_id: row.request_id,
                details: serde_json::from_str(&row.details).map_err(|_| StoreError::Invalid)?,
            },
        })
    }
}

/// `text` cut to at most `limit` bytes on a char boundary.
/// `text` cut to at most `limit` bytes on a character boundary, with NUL (which Postgres text
/// cannot hold) replaced, so hostile input never costs an audit entry.
fn clip(text: &str, limit: usize) -> String {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace('\0', "\u{FFFD}")
}

fn clip_optional(text: &Option<String>, limit: usize) -> Option<String> {
    text.as_deref().map(|text| clip(text, limit))
}

impl Store {
    /// Appends `entry` to the tenant's audit log; returns the new entry's id.
    pub async fn append_audit(&self, tenant_id: TenantId, entry: &AuditEntry) -> StoreResult<Uuid> {
        let id = Uuid::now_v7();
        self.insert_audit(tenant_id, id, None, entry).await?;
        Ok(id)
    }

    /// Appends `entry` under a given id and time (an event reported by the gateway), once:
    /// `false` if an entry with this id already exists (a redelivered event).
    pub async fn append_audit_once(
        &self,
        tenant_id: TenantId,
        id: Uuid,
        occurred_at: DateTime<Utc>,
        entry: &AuditEntry,
    ) -> StoreResult<bool> {
        self.insert_audit(tenant_id, id, Some(occurred_at), entry)
            .await
    }

    /// Inserts one row; `false` if the id was taken.
    async fn insert_audit(
        &self,
        tenant_id: TenantId,
        id: Uuid,
        occurred_at: Option<DateTime<Utc>>,
        entry: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut details = entry.details.to_string();
        if details.len() > MAX_DETAILS_BYTES || !entry.details.is_object() {
            details = r#"{"truncated":true}"#.to_owned();
        }
        // jsonb cannot hold NUL either.
        let details = details.replace("\\u0000", "\\ufffd");
        let inserted = sqlx::query(
            "INSERT INTO audit_log (id, tenant_id, actor_type, actor_id, action, resource,
                                    source_ip, user_agent, outcome, error_code, request_id, details,
                                    occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb,
                     COALESCE($13, now()))
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(tenant_id.0)
        .bind(entry.actor_type.as_str())
        .bind(clip(&entry.actor_id, MAX_ACTOR_ID))
        .bind(clip(&entry.action, MAX_SHORT))
        .bind(clip(&entry.resource, MAX_RESOURCE))
        .bind(clip_optional(&entry.source_ip, MAX_SOURCE_IP))
        .bind(clip_optional(&entry.user_agent, MAX_USER_AGENT))
        .bind(entry.outcome.as_str())
        .bind(clip_optional(&entry.error_code, MAX_SHORT))
        .bind(clip_optional(&entry.request_id, MAX_SHORT))
        .bind(details)
        .bind(occurred_at)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Appends `entry`, logging (never returning) a failure: auditing must not break the call
    /// it records.
    pub async fn record_audit(&self, tenant_id: TenantId, entry: AuditEntry) {
        if let Err(error) = self.append_audit(tenant_id, &entry).await {
            tracing::error!(
                %error,
                tenant_id = %tenant_id.0,
                action = %entry.action,
                outcome = entry.outcome.as_str(),
                "failed to append to the audit log"
            );
        }
    }

    /// The tenant's entries matching `filter`, newest first, strictly after `after` (the last
    /// entry of the previous page), at most `limit`.
    pub async fn list_audit(
        &self,
        tenant_id: TenantId,
        filter: &AuditFilter,
        after: Option<AuditPosition>,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query_as::<_, AuditRow>(
            "SELECT id, occurred_at, actor_type, actor_id, action, resource, source_ip,
                    user_agent, outcome, error_code, request_id, details::text AS details
             FROM audit_log
             WHERE tenant_id = $1
               AND ($2::text IS NULL OR starts_with(action, $2))
               AND ($3::text IS NULL OR actor_id = $3)
               AND ($4::text IS NULL OR outcome = $4)
               AND ($5::timestamptz IS NULL OR occurred_at >= $5)
               AND ($6::timestamptz IS NULL OR occurred_at < $6)
               AND ($7::timestamptz IS NULL OR (occurred_at, id) < ($7, $8::uuid))
             ORDER BY occurred_at DESC, id DESC
             LIMIT $9",
        )
        .bind(tenant_id.0)
        .bind(filter.action_prefix.as_deref())
        .bind(filter.actor_id.as_deref())
        .bind(filter.outcome.map(Outcome::as_str))
        .bind(filter.from)
        .bind(filter.to)
        .bind(after.map(|position| position.occurred_at))
        .bind(after.map(|position| position.id))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_char_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        assert_eq!(clip("ééé", 3), "é");
    }

    #[test]
    fn outcomes_and_actor_types_round_trip() {
        for outcome in [Outcome::Success, Outcome::Failure] {
            assert_eq!(Outcome::from_row(outcome.as_str()).unwrap(), outcome);
        }
        for actor in [
            ActorType::User,
            ActorType::AccessKey,
            ActorType::Operator,
            ActorType::System,
        ] {
            assert_eq!(ActorType::from_row(actor.as_str()).unwrap(), actor);
            assert_eq!(
                serde_json::to_value(actor).unwrap(),
                serde_json::json!(actor.as_str())
            );
        }
    }
}
