//! `GET /api/v1/streams/{name}/shards/{shard_id}/tail`: a shard's records as server-sent
//! events, live.
//!
//! One ephemeral consumer per connection; each round fetches what is there (at most
//! [`TAIL_BATCH_MESSAGES`] messages) or waits up to [`TAIL_WAIT`] for the next message, so a
//! connection's work is bounded and an idle one costs one pull request per wait. The events
//! end when the client goes away (the consumer is deleted) or the shard's stream is gone.
//! Each round that sent records counts them in the stream's metrics (ADR 013).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;

use super::dto::{ReadFrom, TailQuery};
use super::{
    Position, collect, decode_cursor, find_shard, now_ms, parse_sequence, require_serving,
    shard_problem, shards, start_position,
};
use crate::api::ApiState;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::shards::ShardReader;
use crate::store::{Store, TenantId};

/// Messages fetched per round.
pub const TAIL_BATCH_MESSAGES: usize = 100;
/// Bytes fetched per round, about.
const TAIL_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// How long one round waits for a new message.
pub const TAIL_WAIT: Duration = Duration::from_secs(5);
/// A keep-alive comment this often.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Tail a shard
///
/// Server-sent events: one `record` event per record (data: the record as JSON; id: its
/// sequence number), a keep-alive comment every 15 s. `Last-Event-ID` resumes after that
/// record.
#[utoipa::path(
    get,
    path = "/api/v1/streams/{name}/shards/{shard_id}/tail",
    tag = "records",
    security(("bearer" = []), ("sigv4" = [])),
    params(
        ("name" = String, Path, description = "The stream's name"),
        ("shard_id" = String, Path, description = "The shard, as `shardId-000000000000`"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this sequence number"),
        TailQuery,
    ),
    responses(
        (status = 200, description = "`record` events, one per record", content_type = "text/event-stream", body = String),
        (status = 400, description = "Invalid query, cursor or Last-Event-ID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream or shard", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The stream is not ACTIVE", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn tail_records(
    State(state): State<ApiState>,
    context: AuthContext,
    Path((name, shard_id)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<TailQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    context.require(Action::ReadRecords)?;
    let (stream, shard) = find_shard(&state, &context, &name, &shard_id).await?;
    let Query(query) =
        query.map_err(|error| Problem::bad_request(format!("invalid query: {error}")))?;
    let shard_index = u32::try_from(shard.shard_index).unwrap_or_default();
    let last_event_id = headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .map_err(|_| Problem::bad_request("Last-Event-ID is not a sequence number"))
        })
        .transpose()?;
    let shards = shards(&state)?;
    let start = if let Some(id) = last_event_id {
        Position::after(parse_sequence(id, shard_index, "Last-Event-ID")?)
    } else if let Some(cursor) = &query.cursor {
        decode_cursor(&state, &context, &stream, shard_index, cursor)?
    } else {
        require_serving(&stream)?;
        start_position(
            shards,
            &stream,
            shard_index,
            query.from.unwrap_or(ReadFrom::Latest),
            query.sequence.as_deref(),
            query.timestamp.as_deref(),
        )
        .await?
    };
    require_serving(&stream)?;
    let reader = shards
        .open(stream.id, shard_index, start.read_from())
        .await
        .map_err(shard_problem)?;
    let counted = Counted {
        store: state.store.clone(),
        tenant_id: context.tenant_id,
        stream_id: stream.id,
    };
    let events = events(reader, start, shard_index, counted);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// Where a tail counts the records it sends.
struct Counted {
    store: Store,
    tenant_id: TenantId,
    stream_id: uuid::Uuid,
}

struct Tail {
    reader: ShardReader,
    position: Position,
    shard_index: u32,
    pending: VecDeque<Event>,
    counted: Counted,
}

/// The `record` events from `start` on, until the shard's stream is gone.
fn events(
    reader: ShardReader,
    start: Position,
    shard_index: u32,
    counted: Counted,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let tail = Tail {
        reader,
        position: start,
        shard_index,
        pending: VecDeque::new(),
        counted,
    };
    futures::stream::unfold(tail, |mut tail| async move {
        loop {
            if let Some(event) = tail.pending.pop_front() {
                return Some((Ok(event), tail));
            }
            let messages = match tail
                .reader
                .next_batch(TAIL_BATCH_MESSAGES, TAIL_BATCH_BYTES, Some(TAIL_WAIT))
                .await
            {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::info!(%error, "tail ends: the shard cannot be read");
                    return None;
                }
            };
            if messages.is_empty() {
                if !tail.reader.exists().await {
                    tracing::info!("tail ends: the shard is gone");
                    return None;
                }
                continue;
            }
            let page = collect(
                &messages,
                tail.position,
                tail.shard_index,
                usize::MAX,
                usize::MAX,
                now_ms(),
            );
            tail.position = page.next;
            super::count_traffic(
                &tail.counted.store,
                tail.counted.tenant_id,
                tail.counted.stream_id,
                page.traffic(),
            )
            .await;
            for record in page.records {
                let event = Event::default()
                    .event("record")
                    .id(record.sequence_number.clone())
                    .json_data(&record);
                match event {
                    Ok(event) => tail.pending.push_back(event),
                    Err(error) => tracing::error!(%error, "cannot encode a record event"),
                }
            }
        }
    })
}
