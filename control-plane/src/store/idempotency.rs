//! Idempotency keys of the creating calls (keys, streams, invitations): each resource kind has
//! its own table `(tenant_id, idempotency_key, request_hash, <resource id>)`, and one claim
//! step shared by all of them, run inside the creating transaction.

use sqlx::{PgConnection, Postgres};

use super::{StoreResult, TenantId};

/// How long a used idempotency key is remembered.
pub const IDEMPOTENCY_WINDOW_HOURS: i32 = 24;

/// A request's `Idempotency-Key`, with the SHA-256 of what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: [u8; 32],
}

/// Which resource's table a key is claimed in (table and id column; never user input).
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdempotencyTable {
    AccessKeys,
    Streams,
    Invitations,
    DeliveryStreams,
}

impl IdempotencyTable {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::AccessKeys => ("access_key_idempotency", "access_key_id"),
            Self::Streams => ("stream_idempotency", "stream_id"),
            Self::Invitations => ("invitation_idempotency", "invitation_id"),
            Self::DeliveryStreams => ("delivery_stream_idempotency", "delivery_stream_id"),
        }
    }
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim<Id> {
    /// The key is new: create the resource with the id given to the claim.
    Claimed,
    /// The same request came before and created the resource with this id.
    Replay(Id),
    /// The key was used with a different request.
    Conflict,
}

/// Forgets the tenant's expired keys, then claims `key` for `resource_id`. A concurrent
/// request with the same key waits on the insert until the first one's transaction ends.
pub(crate) async fn claim<Id>(
    connection: &mut PgConnection,
    table: IdempotencyTable,
    tenant_id: TenantId,
    key: &IdempotencyKey,
    resource_id: Id,
) -> StoreResult<Claim<Id>>
where
    Id: for<'q> sqlx::Encode<'q, Postgres>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + Send
        + Unpin,
{
    let (table_name, id_column) = table.names();
    sqlx::query(&format!(
        "DELETE FROM {table_name}
         WHERE tenant_id = $1 AND created_at < now() - make_interval(hours => $2)"
    ))
    .bind(tenant_id.0)
    .bind(IDEMPOTENCY_WINDOW_HOURS)
    .execute(&mut *connection)
    .await?;
    let claimed = sqlx::query(&format!(
        "INSERT INTO {table_name} (tenant_id, idempotency_key, request_hash, {id_column})
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
    ))
    .bind(tenant_id.0)
    .bind(&key.key)
    .bind(key.request_hash.as_slice())
    .bind(resource_id)
    .execute(&mut *connection)
    .await?
    .rows_affected()
        == 1;
    if claimed {
        return Ok(Claim::Claimed);
    }
    let (request_hash, earlier_id) = sqlx::query_as::<_, (Vec<u8>, Id)>(&format!(
        "SELECT request_hash, {id_column} FROM {table_name}
         WHERE tenant_id = $1 AND idempotency_key = $2"
    ))
    .bind(tenant_id.0)
    .bind(&key.key)
    .fetch_one(&mut *connection)
    .await?;
    Ok(if request_hash == key.request_hash {
        Claim::Replay(earlier_id)
    } else {
        Claim::Conflict
    })
}
