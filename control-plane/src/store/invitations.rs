//! Invitations to join a tenant: created (optionally under an idempotency key), listed,
//! revoked, and accepted once with their token.
//!
//! Tokens are stored as SHA-256 hashes only. An invitation is open until it is accepted,
//! revoked or past `expires_at`; inviting an email again revokes its earlier open invitations,
//! so at most one token per email and tenant works. Accepting locks the invitation row, so a
//! token is consumed at most once even by concurrent calls.

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::idempotency::{Claim, IdempotencyKey, IdempotencyTable, claim};
use super::users::UserId;
use super::{Store, StoreError, StoreResult, TenantId};
use crate::auth::permissions::Role;

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Expired,
    Accepted,
    Revoked,
}

/// An invitation as its tenant sees it: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: InvitationStatus,
}

/// An invitation to store; the token is already hashed.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub token_hash: [u8; 32],
    pub invited_by: UserId,
    pub expires_at: DateTime<Utc>,
}

/// What creating an invitation led to. An email that is already a member is
/// `Err(StoreError::AlreadyExists)` (and nothing is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationCreation {
    Created(InvitationRecord),
    /// The idempotency key was used for the same request within the window: the invitation
    /// created then. Nothing new was stored.
    Replayed(InvitationRecord),
    /// The idempotency key was used for a different request within the window.
    Conflict,
}

/// Who accepts an invitation.
#[derive(Debug, Clone)]
pub enum Invitee {
    /// The user with the invitation's email, whose password was verified.
    Existing(UserId),
    /// A new user with the invitation's email and this password hash.
    New { password_hash: String },
}

/// What presenting an invitation token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// The invitee is a member now (with their earlier role if they already were one).
    Accepted {
        invitation: InvitationRecord,
        user_id: UserId,
    },
    /// Unknown, expired, accepted or revoked: the caller is not told which.
    Unusable,
}

/// Where a page of invitations starts: after this (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationPosition {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    role: String,
    invited_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted: bool,
    revoked: bool,
    expired: bool,
}

const COLUMNS: &str = "id, tenant_id, email, role, invited_by, created_at, expires_at,
     accepted_at IS NOT NULL AS accepted, revoked_at IS NOT NULL AS revoked,
     expires_at <= now() AS expired";

impl TryFrom<Row> for InvitationRecord {
    type Error = StoreError;

    fn try_from(row: Row) -> StoreResult<Self> {
        let status = if row.accepted {
            InvitationStatus::Accepted
        } else if row.revoked {
            InvitationStatus::Revoked
        } else if row.expired {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        };
        Ok(Self {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            email: row.email,
            // The CHECK constraint admits only the four role names.
            role: row.role.parse().map_err(|_| StoreError::Invalid)?,
            invited_by: row.invited_by.map(UserId),
            created_at: row.created_at,
            expires_at: row.expires_at,
            status,
        })
    }
}

async fn invitation_by_id(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    id: Uuid,
) -> StoreResult<Option<InvitationRecord>> {
    sqlx::query_as::<_, Row>(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id.0)
    .bind(id)
    .fetch_optional(connection)
    .await?
    .map(InvitationRecord::try_from)
    .transpose()
}

async fn insert(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    invitation: &NewInvitation,
) -> StoreResult<InvitationRecord> {
    let is_member = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                        WHERE m.tenant_id = $1 AND u.email = $2)",
    )
    .bind(tenant_id.0)
    .bind(&invitation.email)
    .fetch_one(&mut *connection)
    .await?;
    if is_member {
        // An error, so that the transaction (and an idempotency claim) is rolled back.
        return Err(StoreError::AlreadyExists);
    }
    sqlx::query(
        "UPDATE invitations SET revoked_at = now()
         WHERE tenant_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(tenant_id.0)
    .bind(&invitation.email)
    .execute(&mut *connection)
    .await?;
    sqlx::query_as::<_, Row>(&format!(
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING {COLUMNS}"
    ))
    .bind(invitation.id)
    .bind(tenant_id.0)
    .bind(&invitation.email)
    .bind(invitation.role.as_str())
    .bind(invitation.token_hash.as_slice())
    .bind(invitation.invited_by.0)
    .bind(invitation.expires_at)
    .fetch_one(&mut *connection)
    .await?
    .try_into()
}

impl Store {
    /// Stores an invitation, revoking the email's earlier open ones in the tenant. With an
    /// idempotency key, a repeat within the window stores nothing and says what happened.
    pub async fn create_invitation(
        &self,
        tenant_id: TenantId,
        invitation: NewInvitation,
        idempotency: Option<IdempotencyKey>,
    ) -> StoreResult<InvitationCreation> {
        self.transaction(move |connection| {
            async move {
                let Some(idempotency) = idempotency else {
                    return Ok(InvitationCreation::Created(
                        insert(connection, tenant_id, &invitation).await?,
                    ));
                };
                let claimed = claim(
                    connection,
                    IdempotencyTable::Invitations,
                    tenant_id,
                    &idempotency,
                    invitation.id,
                )
                .await?;
                match claimed {
                    Claim::Claimed => Ok(InvitationCreation::Created(
                        insert(connection, tenant_id, &invitation).await?,
                    )),
                    Claim::Replay(invitation_id) => {
                        invitation_by_id(connection, tenant_id, invitation_id)
                            .await?
                            .map(InvitationCreation::Replayed)
                            .ok_or(StoreError::NotFound)
                    }
                    Claim::Conflict => Ok(InvitationCreation::Conflict),
                }
            }
            .boxed()
        })
        .await
    }

    /// One of the tenant's open (not accepted, not revoked) invitations; `NotFound` else.
    pub async fn open_invitation(
        &self,
        tenant_id: TenantId,
        id: Uuid,
    ) -> StoreResult<InvitationRecord> {
        let mut connection = self.pool.acquire().await?;
        invitation_by_id(&mut connection, tenant_id, id)
            .await?
            .filter(|invitation| {
                matches!(
                    invitation.status,
                    InvitationStatus::Pending | InvitationStatus::Expired
                )
            })
            .ok_or(StoreError::NotFound)
    }

    /// Up to `limit` of the tenant's open invitations (expired ones included), oldest first,
    /// after `after`.
    pub async fn list_invitations(
        &self,
        tenant_id: TenantId,
        after: Option<InvitationPosition>,
        limit: i64,
    ) -> StoreResult<Vec<InvitationRecord>> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM invitations
             WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
               AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
             ORDER BY created_at, id
             LIMIT $4"
        ))
        .bind(tenant_id.0)
        .bind(after.map(|position| position.created_at))
        .bind(after.map(|position| position.id))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(InvitationRecord::try_from).collect()
    }

    /// Revokes an open invitation; `NotFound` if it is not the tenant's or not open.
    pub async fn revoke_invitation(
        &self,
        tenant_id: TenantId,
        id: Uuid,
    ) -> StoreResult<InvitationRecord> {
        sqlx::query_as::<_, Row>(&format!(
            "UPDATE invitations SET revoked_at = now()
             WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
             RETURNING {COLUMNS}"
        ))
        .bind(tenant_id.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// The invitation with this token hash, whatever its state (no tenant is known yet: the
    /// token is the proof).
    pub async fn invitation_by_token(
        &self,
        token_hash: [u8; 32],
    ) -> StoreResult<Option<InvitationRecord>> {
        sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE token_hash = $1"
        ))
        .bind(token_hash.as_slice())
        .fetch_optional(&self.pool)
        .await?
        .map(InvitationRecord::try_from)
        .transpose()
    }

    /// Consumes the invitation with this token hash for `invitee`: creates the user if new,
    /// adds the membership (an existing one is kept as it is) and marks the invitation
    /// accepted. A new user whose email was taken meanwhile is `Err(AlreadyExists)`.
    pub async fn accept_invitation(
        &self,
        token_hash: [u8; 32],
        invitee: Invitee,
    ) -> StoreResult<Acceptance> {
        self.transaction(move |connection| {
            async move {
                let Some(row) = sqlx::query_as::<_, Row>(&format!(
                    "SELECT {COLUMNS} FROM invitations WHERE token_hash = $1 FOR UPDATE"
                ))
                .bind(token_hash.as_slice())
                .fetch_optional(&mut *connection)
                .await?
                else {
                    return Ok(Acceptance::Unusable);
                };
                let mut invitation = InvitationRecord::try_from(row)?;
                if invitation.status != InvitationStatus::Pending {
                    return Ok(Acceptance::Unusable);
                }
                let user_id = match invitee {
                    Invitee::Existing(user_id) => user_id,
                    Invitee::New { password_hash } => {
                        let id = Uuid::now_v7();
                        sqlx::query(
                            "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)",
                        )
                        .bind(id)
                        .bind(&invitation.email)
                        .bind(&password_hash)
                        .execute(&mut *connection)
                        .await?;
                        UserId(id)
                    }
                };
                sqlx::query(
                    "INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
                     ON CONFLICT (user_id, tenant_id) DO NOTHING",
                )
                .bind(invitation.tenant_id.0)
                .bind(user_id.0)
                .bind(invitation.role.as_str())
                .execute(&mut *connection)
                .await?;
                sqlx::query(
                    "UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1",
                )
                .bind(invitation.id)
                .bind(user_id.0)
                .execute(&mut *connection)
                .await?;
                invitation.status = InvitationStatus::Accepted;
                Ok(Acceptance::Accepted {
                    invitation,
                    user_id,
                })
            }
            .boxed()
        })
        .await
    }
}
