//! ListStreams and ListShards, with tenant-bound, expiring, tamper-proof `NextToken`s.

use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::hash_key::parse_shard_id;
use fjord_common::stream_ref::Validation;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::describe::shard_json;
use super::{Caller, KinesisAdmin, epoch_seconds, not_found, store_error};

/// How long a `NextToken` stays valid, as on AWS (300 seconds).
const TOKEN_LIFETIME_MS: i64 = 300_000;

#[derive(Serialize, Deserialize)]
struct PageToken {
    /// What the token pages: "streams" or "shards".
    kind: String,
    tenant: Uuid,
    stream: Option<Uuid>,
    stream_name: Option<String>,
    after: String,
    expires_ms: i64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn open_token(
    admin: &KinesisAdmin,
    caller: &Caller,
    token: &str,
    kind: &str,
) -> Result<PageToken, AwsError> {
    let invalid = || AwsError::invalid_argument(format!("Invalid NextToken: {token}"));
    let payload: PageToken = admin.tokens.verify(token).ok_or_else(invalid)?;
    if payload.kind != kind || payload.tenant != caller.tenant_id.0 {
        return Err(invalid());
    }
    if payload.expires_ms < now_ms() {
        return Err(AwsError::new(
            AwsErrorKind::ExpiredNextTokenException,
            "The provided NextToken has expired.",
        ));
    }
    Ok(payload)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListStreamsInput {
    limit: Option<i64>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
}

pub(super) async fn list_streams(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: ListStreamsInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    if let Some(limit) = input.limit {
        validation.range(limit, "limit", 1, 10_000);
    }
    if let Some(start) = &input.exclusive_start_stream_name {
        validation.stream_name(start, "exclusiveStartStreamName");
    }
    if let Some(token) = &input.next_token {
        validation.length(token, "nextToken", 1, 1_048_576);
    }
    validation.finish()?;
    let after = match &input.next_token {
        Some(token) => Some(open_token(admin, caller, token, "streams")?.after),
        None => input.exclusive_start_stream_name.clone(),
    };
    let limit = input.limit.unwrap_or(100);
    let mut rows = admin
        .store
        .list_streams(caller.tenant_id, after.as_deref(), limit + 1)
        .await
        .map_err(store_error)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let mut output = json!({
        "StreamNames": rows.iter().map(|row| row.name.clone()).collect::<Vec<_>>(),
        "HasMoreStreams": has_more,
        "StreamSummaries": rows.iter().map(|row| json!({
            "StreamName": row.name,
            "StreamARN": admin.arn(caller, &row.name),
            "StreamStatus": row.status,
            "StreamModeDetails": { "StreamMode": row.mode },
            "StreamCreationTimestamp": epoch_seconds(row.created_at),
        })).collect::<Vec<_>>(),
    });
    if has_more && let Some(last) = rows.last() {
        output["NextToken"] = json!(admin.tokens.sign(&PageToken {
            kind: "streams".to_owned(),
            tenant: caller.tenant_id.0,
            stream: None,
            stream_name: None,
            after: last.name.clone(),
            expires_ms: now_ms() + TOKEN_LIFETIME_MS,
        }));
    }
    Ok(output)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListShardsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    next_token: Option<String>,
    exclusive_start_shard_id: Option<String>,
    max_results: Option<i64>,
    #[allow(dead_code)]
    stream_creation_timestamp: Option<f64>,
    shard_filter: Option<ShardFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardFilter {
    #[serde(rename = "Type")]
    filter_type: Option<String>,
    shard_id: Option<String>,
    timestamp: Option<f64>,
}

const FILTER_TYPES: &[&str] = &[
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];

pub(super) async fn list_shards(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: ListShardsInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    if let Some(max) = input.max_results {
        validation.range(max, "maxResults", 1, 10_000);
    }
    if let Some(start) = &input.exclusive_start_shard_id {
        validation.length(start, "exclusiveStartShardId", 1, 128);
    }
    if let Some(token) = &input.next_token {
        validation.length(token, "nextToken", 1, 1_048_576);
    }
    if let Some(filter) = &input.shard_filter {
        match &filter.filter_type {
            None => validation.fail("null", "shardFilter.type", "Member must not be null"),
            Some(kind) if !FILTER_TYPES.contains(&kind.as_str()) => validation.fail(
                kind,
                "shardFilter.type",
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    FILTER_TYPES.join(", ")
                ),
            ),
            Some(_) => {}
        }
    }
    validation.finish()?;

    let (stream, after_index) = if let Some(token) = &input.next_token {
        if input.stream_name.is_some() || input.stream_arn.is_some() {
            return Err(AwsError::invalid_argument(
                "NextToken and StreamName or StreamARN cannot be provided together.",
            ));
        }
        if input.exclusive_start_shard_id.is_some() || input.shard_filter.is_some() {
            return Err(AwsError::invalid_argument(
                "NextToken cannot be combined with ExclusiveStartShardId or ShardFilter.",
            ));
        }
        let payload = open_token(admin, caller, token, "shards")?;
        let name = payload.stream_name.unwrap_or_default();
        let stream = admin
            .store
            .stream_by_name(caller.tenant_id, &name)
            .await
            .map_err(store_error)?
            .filter(|stream| Some(stream.id) == payload.stream)
            .ok_or_else(|| not_found(&name, &caller.account_id))?;
        (stream, payload.after.parse::<i64>().unwrap_or(-1))
    } else {
        let stream = admin
            .find_stream(
                caller,
                input.stream_name.as_deref(),
                input.stream_arn.as_deref(),
            )
            .await?;
        let mut after = input
            .exclusive_start_shard_id
            .as_deref()
            .map(|id| parse_shard_id(id).map(i64::from).unwrap_or(-1))
            .unwrap_or(-1);
        if let Some(filter) = &input.shard_filter {
            match filter.filter_type.as_deref() {
                Some("AFTER_SHARD_ID") => {
                    let Some(shard) = &filter.shard_id else {
                        return Err(AwsError::invalid_argument(
                            "ShardFilter of type AFTER_SHARD_ID requires a ShardId.",
                        ));
                    };
                    after = after.max(parse_shard_id(shard).map(i64::from).unwrap_or(-1));
                }
                Some("AT_TIMESTAMP") | Some("FROM_TIMESTAMP") if filter.timestamp.is_none() => {
                    return Err(AwsError::invalid_argument(
                        "ShardFilter of a timestamp type requires a Timestamp.",
                    ));
                }
                // Without resharding every shard is open from creation on, so the other
                // filters select every shard.
                _ => {}
            }
        }
        (stream, after)
    };

    let shards = admin
        .store
        .shards(caller.tenant_id, stream.id)
        .await
        .map_err(store_error)?;
    let max = usize::try_from(input.max_results.unwrap_or(1000)).unwrap_or(1000);
    let remaining: Vec<_> = shards
        .iter()
        .filter(|shard| i64::from(shard.shard_index) > after_index)
        .collect();
    let has_more = remaining.len() > max;
    let page: Vec<_> = remaining.into_iter().take(max).collect();
    let mut output =
        json!({ "Shards": page.iter().map(|shard| shard_json(shard)).collect::<Vec<_>>() });
    if has_more && let Some(last) = page.last() {
        output["NextToken"] = json!(admin.tokens.sign(&PageToken {
            kind: "shards".to_owned(),
            tenant: caller.tenant_id.0,
            stream: Some(stream.id),
            stream_name: Some(stream.name.clone()),
            after: last.shard_index.to_string(),
            expires_ms: now_ms() + TOKEN_LIFETIME_MS,
        }));
    }
    Ok(output)
}
