//! A tenant's members as a managed resource: list, change a member's role, remove a member.
//!
//! Changes run in one transaction that first locks the tenant's owner memberships together
//! with the caller's and the target's (one statement, in user id order, so two changes never
//! deadlock). Two concurrent demotions of the last two owners are therefore serialized: the
//! second sees the first one's result and is refused. The rules themselves are
//! [`crate::auth::members`]; this module applies them to the committed state. A demotion caps
//! the member's personal access keys at the new role; a removal deletes them.

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use uuid::Uuid;

use super::users::UserId;
use super::{Store, StoreError, StoreResult, TenantId, notify_reconciler};
use crate::auth::members::{self, Refusal};
use crate::auth::permissions::Role;

/// A member of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// Where a page of members starts: after this (joined_at, user_id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberPosition {
    pub joined_at: DateTime<Utc>,
    pub user_id: Uuid,
}

/// What a role change led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    Changed {
        member: MemberRecord,
        previous_role: Role,
        /// The member's access keys in the tenant whose role was above the new one: now
        /// capped at it.
        capped_keys: Vec<String>,
    },
    /// The user is not a member of the tenant.
    NotFound,
    Refused(Refusal),
}

/// What a removal led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Removed {
        member: MemberRecord,
        /// Refresh tokens of the member in the tenant that were revoked.
        revoked_sessions: u64,
        /// The member's access keys in the tenant, now tombstones.
        deleted_keys: Vec<String>,
    },
    NotFound,
    Refused(Refusal),
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    email: String,
    role: String,
    joined_at: DateTime<Utc>,
}

impl TryFrom<MemberRow> for MemberRecord {
    type Error = StoreError;

    fn try_from(row: MemberRow) -> StoreResult<Self> {
        Ok(Self {
            user_id: UserId(row.user_id),
            email: row.email,
            // The CHECK constraint admits only the four role names.
            role: row.role.parse().map_err(|_| StoreError::Invalid)?,
            joined_at: row.joined_at,
        })
    }
}

/// The memberships a change decides on, locked until the transaction ends.
struct Locked {
    owners: i64,
    caller: Option<Role>,
    target: Option<MemberRecord>,
}

async fn lock_memberships(
    connection: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    caller: UserId,
    target: UserId,
) -> StoreResult<Locked> {
    let rows = sqlx::query_as::<_, MemberRow>(
        "SELECT m.user_id, u.email, m.role, m.created_at AS joined_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.tenant_id = $1 AND (m.role = 'owner' OR m.user_id = ANY($2))
         ORDER BY m.user_id
         FOR UPDATE OF m",
    )
    .bind(tenant_id.0)
    .bind(vec![caller.0, target.0])
    .fetch_all(&mut *connection)
    .await?;
    let mut locked = Locked {
        owners: 0,
        caller: None,
        target: None,
    };
    for row in rows {
        let member = MemberRecord::try_from(row)?;
        if member.role == Role::Owner {
            locked.owners += 1;
        }
        if member.user_id == caller {
            locked.caller = Some(member.role);
        }
        if member.user_id == target {
            locked.target = Some(member);
        }
    }
    Ok(locked)
}

impl Store {
    /// Up to `limit` of the tenant's members, oldest membership first, after `after`.
    pub async fn list_members(
        &self,
        tenant_id: TenantId,
        after: Option<MemberPosition>,
        limit: i64,
    ) -> StoreResult<Vec<MemberRecord>> {
        let rows = sqlx::query_as::<_, MemberRow>(
            "SELECT m.user_id, u.email, m.role, m.created_at AS joined_at
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = $1
               AND ($2::timestamptz IS NULL OR (m.created_at, m.user_id) > ($2, $3))
             ORDER BY m.created_at, m.user_id
             LIMIT $4",
        )
        .bind(tenant_id.0)
        .bind(after.map(|position| position.joined_at))
        .bind(after.map(|position| position.user_id))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MemberRecord::try_from).collect()
    }

    /// The member `user_id` of the tenant; `NotFound` if they are not one.
    pub async fn member(&self, tenant_id: TenantId, user_id: UserId) -> StoreResult<MemberRecord> {
        sqlx::query_as::<_, MemberRow>(
            "SELECT m.user_id, u.email, m.role, m.created_at AS joined_at
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = $1 AND m.user_id = $2",
        )
        .bind(tenant_id.0)
        .bind(user_id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// Changes `target`'s role to `new_role` on behalf of `caller`, if the rules allow it
    /// with the caller's and the tenant's current memberships.
    pub async fn change_member_role(
        &self,
        tenant_id: TenantId,
        caller: UserId,
        target: UserId,
        new_role: Role,
    ) -> StoreResult<RoleChange> {
        self.transaction(move |connection| {
            async move {
                let locked = lock_memberships(connection, tenant_id, caller, target).await?;
                let Some(caller_role) = locked.caller else {
                    return Ok(RoleChange::Refused(Refusal::NotAllowed));
                };
                let Some(mut member) = locked.target else {
                    return Ok(RoleChange::NotFound);
                };
                let previous_role = member.role;
                if let Err(refusal) =
                    members::may_change_role(caller_role, previous_role, new_role, locked.owners)
                {
                    return Ok(RoleChange::Refused(refusal));
                }
                let mut capped_keys = Vec::new();
                if new_role != previous_role {
                    sqlx::query(
                        "UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2",
                    )
                    .bind(tenant_id.0)
                    .bind(target.0)
                    .bind(new_role.as_str())
                    .execute(&mut *connection)
                    .await?;
                    // A personal key never has more power than its owner.
                    let above: Vec<&str> = Role::ALL
                        .into_iter()
                        .filter(|role| *role > new_role)
                        .map(Role::as_str)
                        .collect();
                    capped_keys = sqlx::query_scalar::<_, String>(
                        "UPDATE access_keys SET role = $3, generation = generation + 1
                         WHERE tenant_id = $1 AND user_id = $2 AND deleted_at IS NULL
                           AND role = ANY($4)
                         RETURNING access_key_id",
                    )
                    .bind(tenant_id.0)
                    .bind(target.0)
                    .bind(new_role.as_str())
                    .bind(above)
                    .fetch_all(&mut *connection)
                    .await?;
                    if !capped_keys.is_empty() {
                        notify_reconciler(connection).await?;
                    }
                }
                member.role = new_role;
                Ok(RoleChange::Changed {
                    member,
                    previous_role,
                    capped_keys,
                })
            }
            .boxed()
        })
        .await
    }

    /// Removes `target` from the tenant on behalf of `caller` (themselves, to leave), if the
    /// rules allow it: their refresh tokens in the tenant are revoked and the access keys they
    /// own there become tombstones the reconciler purges from the config bucket.
    pub async fn remove_member(
        &self,
        tenant_id: TenantId,
        caller: UserId,
        target: UserId,
    ) -> StoreResult<Removal> {
        self.transaction(move |connection| {
            async move {
                let locked = lock_memberships(connection, tenant_id, caller, target).await?;
                let Some(caller_role) = locked.caller else {
                    return Ok(Removal::Refused(Refusal::NotAllowed));
                };
                let Some(member) = locked.target else {
                    return Ok(Removal::NotFound);
                };
                if let Err(refusal) =
                    members::may_remove(caller_role, member.role, caller == target, locked.owners)
                {
                    return Ok(Removal::Refused(refusal));
                }
                sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant_id.0)
                    .bind(target.0)
                    .execute(&mut *connection)
                    .await?;
                let revoked_sessions = sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = now()
                     WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(tenant_id.0)
                .bind(target.0)
                .execute(&mut *connection)
                .await?
                .rows_affected();
                let deleted_keys = sqlx::query_scalar::<_, String>(
                    "UPDATE access_keys
                     SET deleted_at = now(), enabled = false, generation = generation + 1
                     WHERE tenant_id = $1 AND user_id = $2 AND deleted_at IS NULL
                     RETURNING access_key_id",
                )
                .bind(tenant_id.0)
                .bind(target.0)
                .fetch_all(&mut *connection)
                .await?;
                if !deleted_keys.is_empty() {
                    notify_reconciler(connection).await?;
                }
                Ok(Removal::Removed {
                    member,
                    revoked_sessions,
                    deleted_keys,
                })
            }
            .boxed()
        })
        .await
    }
}
