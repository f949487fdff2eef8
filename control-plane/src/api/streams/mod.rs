//! Streams under `/api/v1/streams` and the tenant's quotas under `/api/v1/limits`: what the
//! AWS endpoint can do to streams, in plain JSON.
//!
//! Reads need `ReadStreams` (viewers and up), changes `ManageStreams` (developers and up).
//! Input is validated with the same rules as the Kinesis actions (`fjord_common::stream_ref`,
//! the same retention and tag limits) and shards are planned by the same code
//! ([`crate::kinesis::streams::new_stream`]); the store enforces the tenant's quotas. A stream
//! of another tenant is a 404 like one that never existed.
//!
//! Every change is recorded in the audit log (`streams:<Action>`), refused ones with their
//! problem kind.
//!
//! `Idempotency-Key` on `POST /api/v1/streams`, as for keys: a repeat of the same request
//! within 24 hours creates nothing and answers 200 with the stream (`Idempotent-Replayed:
//! true`); the same key with a different request, or for a stream deleted since, is a 409.

mod dto;
mod lifecycle;
mod settings;

pub use dto::*;
pub use lifecycle::*;
pub use settings::*;

use fjord_common::hash_key::shard_id;
use fjord_common::stream_ref::{Validation, is_valid_stream_name, stream_arn};

use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::audit::printable;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::store::StoreError;

use crate::store::streams::{ShardRow, StreamRow};

/// At most 128 characters of `text` without control characters, for the audit log (which,
/// like all Postgres text, cannot hold NUL).
/// Tags as the Kinesis actions validate them, and free of NUL, which Postgres cannot store.
fn validate_tags(validation: &mut Validation, tags: &[(String, String)]) {
    crate::kinesis::streams::validate_tags(validation, tags);
    for (key, value) in tags {
        if key.contains('\0') {
            validation.fail(printable(key), "tags.key", "Member must not contain NUL");
        }
        if value.contains('\0') {
            validation.fail(
                printable(value),
                "tags.value",
                "Member must not contain NUL",
            );
        }
    }
}

fn shard_view(shard: &ShardRow) -> ShardView {
    let id = |index: i32| shard_id(u32::try_from(index).unwrap_or_default());
    ShardView {
        shard_id: id(shard.shard_index),
        starting_hash_key: shard.starting_hash_key.clone(),
        ending_hash_key: shard.ending_hash_key.clone(),
        starting_sequence_number: shard.starting_sequence_number.clone(),
        ending_sequence_number: shard.ending_sequence_number.clone(),
        parent_shard_id: shard.parent_shard_index.map(id),
        open: shard.ending_sequence_number.is_none(),
    }
}

/// A stream as listed; `open_shard_count` as the store counted it (never negative).
fn summary(
    stream: StreamRow,
    open_shard_count: i64,
    region: &str,
    account_id: &str,
) -> StreamSummary {
    debug_assert!(open_shard_count >= 0);
    StreamSummary {
        arn: stream_arn(region, account_id, &stream.name),
        mode: StreamMode::from_kinesis(&stream.mode),
        name: stream.name,
        status: stream.status,
        retention_hours: stream.retention_hours,
        created_at: stream.created_at,
        open_shard_count: usize::try_from(open_shard_count).unwrap_or_default(),
    }
}

/// A validation failure as a 400 problem naming the failing fields.
fn invalid(validation: Validation) -> Result<(), Problem> {
    validation
        .finish()
        .map_err(|error| Problem::bad_request(error.message))
}

/// The tenant's account id, which ARNs and quota messages name.
async fn account_id(state: &ApiState, context: &AuthContext) -> Result<String, Problem> {
    Ok(state.store.tenant(context.tenant_id).await?.account_id)
}

/// The caller's stream `name`; a malformed name names no stream.
pub(crate) async fn find_stream(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
) -> Result<StreamRow, Problem> {
    if !is_valid_stream_name(name) {
        return Err(Problem::not_found());
    }
    state
        .store
        .stream_by_name(context.tenant_id, name)
        .await?
        .ok_or_else(Problem::not_found)
}

fn store_problem(error: StoreError, account_id: &str) -> Problem {
    match error {
        StoreError::NotFound => Problem::not_found(),
        StoreError::AlreadyExists => {
            Problem::conflict("a stream with this name already exists in the tenant")
        }
        StoreError::InUse(status) => Problem::conflict(format!(
            "the stream is {status}; try again when it is ACTIVE"
        )),
        StoreError::QuotaExceeded(message) => {
            Problem::quota_exceeded(message.replace("{account}", account_id))
        }
        other => Problem::from(other),
    }
}

/// Records a stream change in the audit log, with its outcome.
async fn audit(
    state: &ApiState,
    context: &AuthContext,
    origin: &RequestOrigin,
    action: &str,
    stream_name: &str,
    failure: Option<&Problem>,
    details: serde_json::Value,
) {
    crate::api::audit::record_change(
        state,
        context,
        origin,
        format!("streams:{action}"),
        stream_name,
        failure,
        details,
    )
    .await;
}

/// A stream with its shards and tags.
async fn view(
    state: &ApiState,
    context: &AuthContext,
    stream: StreamRow,
    account_id: &str,
) -> Result<StreamView, Problem> {
    let shards = state.store.shards(context.tenant_id, stream.id).await?;
    let tags = state.store.tags(context.tenant_id, stream.id).await?;
    let shards: Vec<ShardView> = shards.iter().map(shard_view).collect();
    Ok(StreamView {
        arn: stream_arn(&state.region, account_id, &stream.name),
        mode: StreamMode::from_kinesis(&stream.mode),
        open_shard_count: shards.iter().filter(|shard| shard.open).count(),
        name: stream.name,
        status: stream.status,
        retention_hours: stream.retention_hours,
        created_at: stream.created_at,
        shards,
        tags: tags.into_iter().collect(),
    })
}
