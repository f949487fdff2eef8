//! `GET /api/v1/audit`: the tenant's audit log, newest first, filtered and cursor-paginated;
//! and [`RequestOrigin`], the caller's address and user agent that audited handlers record.
//!
//! Cursors are opaque: the last entry's position and the tenant, under a MAC (a key derived
//! from the master key), so a cursor cannot be forged nor replayed by another tenant.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::ApiState;
use crate::api::extract::ClientAddress;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::store::audit::{ActorType, AuditFilter, AuditPosition, AuditRecord, Outcome};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 500;
const MAX_FILTER_LENGTH: usize = 320;
const MAX_CURSOR_LENGTH: usize = 1024;

/// Filters and position of an audit listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries whose action starts with this, e.g. `kinesis:` or `auth:SignIn`.
    pub action: Option<String>,
    /// Entries by this actor id: a user id, an access key id, an operator name.
    pub actor: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Entries at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Entries before this RFC 3339 time.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; send the same filters with it.
    pub cursor: Option<String>,
}

/// One audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: Uuid,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime<Utc>,
    pub actor_type: ActorType,
    /// A user id, an access key id, an operator name.
    pub actor_id: String,
    #[schema(example = "kinesis:CreateStream")]
    pub action: String,
    /// What was acted on: a stream ARN, a key id, an email.
    pub resource: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: Outcome,
    /// On failure: the AWS error type or the problem kind.
    pub error_code: Option<String>,
    pub request_id: Option<String>,
    /// Non-secret context of the action.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// What a cursor carries, under the MAC.
#[derive(Debug, Serialize, Deserialize)]
struct CursorPayload {
    /// The tenant the cursor was issued to.
    t: Uuid,
    #[serde(flatten)]
    position: AuditPosition,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(record: AuditRecord) -> Self {
        let entry = record.entry;
        Self {
            id: record.id,
            occurred_at: record.occurred_at,
            actor_type: entry.actor_type,
            actor_id: entry.actor_id,
            action: entry.action,
            resource: entry.resource,
            source_ip: entry.source_ip,
            user_agent: entry.user_agent,
            outcome: entry.outcome,
            error_code: entry.error_code,
            request_id: entry.request_id,
            details: entry.details,
        }
    }
}

fn text_filter(value: Option<String>, name: &str) -> Result<Option<String>, Problem> {
    match value {
        Some(text) if text.is_empty() => Ok(None),
        Some(text) if text.len() > MAX_FILTER_LENGTH || text.chars().any(char::is_control) => {
            Err(Problem::bad_request(format!(
                "{name} must be at most {MAX_FILTER_LENGTH} printable characters"
            )))
        }
        other => Ok(other),
    }
}

fn time_filter(value: Option<String>, name: &str) -> Result<Option<DateTime<Utc>>, Problem> {
    value
        .filter(|text| !text.is_empty())
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|time| time.with_timezone(&Utc))
                .map_err(|_| {
                    Problem::bad_request(format!(
                        "{name} must be an RFC 3339 time, e.g. 2026-11-26T12:00:00Z"
                    ))
                })
        })
        .transpose()
}

fn parse_filter(query: AuditQuery) -> Result<(AuditFilter, u32, Option<String>), Problem> {
    let outcome = match query.outcome.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<Outcome>()
                .map_err(|()| Problem::bad_request("outcome must be success or failure"))?,
        ),
    };
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                Problem::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}"))
            })?,
    };
    let filter = AuditFilter {
        action_prefix: text_filter(query.action, "action")?,
        actor_id: text_filter(query.actor, "actor")?,
        outcome,
        from: time_filter(query.from, "from")?,
        to: time_filter(query.to, "to")?,
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(Problem::bad_request("from must be before to"));
    }
    Ok((
        filter,
        limit,
        query.cursor.filter(|cursor| !cursor.is_empty()),
    ))
}

fn invalid_cursor() -> Problem {
    Problem::bad_request("cursor is not a cursor this API issued to this tenant")
}

/// The tenant's audit log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = []), ("sigv4" = [])),
    responses(
        (status = 200, description = "A page of entries, newest first", body = AuditPage),
        (status = 400, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only admins and owners read the audit log", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn list_audit(
    State(state): State<ApiState>,
    context: AuthContext,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, Problem> {
    context.require(Action::ReadAudit)?;
    let Query(query) = query.map_err(|rejection| {
        Problem::bad_request(format!("invalid query: {}", rejection.body_text()))
    })?;
    let (filter, limit, cursor) = parse_filter(query)?;
    let after = match cursor {
        None => None,
        Some(cursor) => {
            if cursor.len() > MAX_CURSOR_LENGTH {
                return Err(invalid_cursor());
            }
            let payload: CursorPayload = state
                .audit_cursors
                .verify(&cursor)
                .ok_or_else(invalid_cursor)?;
            if payload.t != context.tenant_id.0 {
                return Err(invalid_cursor());
            }
            Some(payload.position)
        }
    };
    // One more than asked tells whether another page exists.
    let mut records = state
        .store
        .list_audit(context.tenant_id, &filter, after, limit + 1)
        .await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_cursor = records.last().filter(|_| more).map(|last| {
        state.audit_cursors.sign(&CursorPayload {
            t: context.tenant_id.0,
            position: AuditPosition {
                occurred_at: last.occurred_at,
                id: last.id,
            },
        })
    });
    Ok(Json(AuditPage {
        items: records.into_iter().map(AuditEntryView::from).collect(),
        next_cursor,
    }))
}

/// Where a REST request came from, as the audit log records it.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientAddress(address) = ClientAddress::from_request_parts(parts, state).await?;
        Ok(Self {
            source_ip: address.map(|address| address.to_string()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        })
    }
}

/// At most 128 characters of `text` without control characters, for the audit log.
pub(crate) fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(128).collect()
}

/// Records a change made through the REST API (`action`, e.g. `streams:Create`, on
/// `resource`) in the audit log, with its outcome: a refused change carries its problem kind.
/// `details` must hold no secret.
pub(crate) async fn record_change(
    state: &ApiState,
    context: &AuthContext,
    origin: &RequestOrigin,
    action: String,
    resource: &str,
    failure: Option<&Problem>,
    details: serde_json::Value,
) {
    // Caller-supplied text (a path segment, an invalid email): printable and short enough to
    // store, emails included.
    let resource: String = resource
        .chars()
        .filter(|c| !c.is_control())
        .take(320)
        .collect();
    let mut entry = context
        .audit_entry(action, resource)
        .from_address(origin.source_ip.clone(), origin.user_agent.clone())
        .with_details(details);
    if let Some(problem) = failure {
        let kind = problem.problem_type.rsplit(':').next().unwrap_or_default();
        entry = entry.failed(kind.to_owned());
    }
    state.store.record_audit(context.tenant_id, entry).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> AuditQuery {
        let mut query = AuditQuery::default();
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "action" => query.action = value,
                "actor" => query.actor = value,
                "outcome" => query.outcome = value,
                "from" => query.from = value,
                "to" => query.to = value,
                "limit" => query.limit = value,
                _ => query.cursor = value,
            }
        }
        query
    }

    #[test]
    fn filters_parse_or_are_refused() {
        let (filter, limit, cursor) = parse_filter(query(&[
            ("action", "kinesis:"),
            ("outcome", "failure"),
            ("from", "2026-11-26T12:00:00Z"),
            ("to", "2026-11-26T13:00:00-01:00"),
            ("limit", "500"),
        ]))
        .unwrap();
        assert_eq!(filter.action_prefix.as_deref(), Some("kinesis:"));
        assert_eq!(filter.outcome, Some(Outcome::Failure));
        assert_eq!(limit, 500);
        assert_eq!(cursor, None);
        assert_eq!(parse_filter(query(&[])).unwrap().1, DEFAULT_LIMIT);
        for bad in [
            ("limit", "0"),
            ("limit", "501"),
            ("limit", "ten"),
            ("outcome", "maybe"),
            ("from", "yesterday"),
            ("to", "2026-13-01T00:00:00Z"),
            ("actor", "a\u{0}b"),
        ] {
            assert!(parse_filter(query(&[bad])).is_err(), "{bad:?}");
        }
        assert!(
            parse_filter(query(&[
                ("from", "2026-11-26T12:00:00Z"),
                ("to", "2026-11-26T12:00:00Z")
            ]))
            .is_err()
        );
    }
}
