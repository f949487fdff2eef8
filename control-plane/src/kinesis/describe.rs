//! DescribeStream and DescribeStreamSummary.

use fjord_common::aws_error::AwsError;
use fjord_common::hash_key::{parse_shard_id, shard_id};
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, KinesisAdmin, epoch_seconds, store_error};
use crate::store::streams::{ShardRow, StreamRow};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
}

pub(super) async fn describe_stream(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: DescribeStreamInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    if let Some(limit) = input.limit {
        validation.range(limit, "limit", 1, 10_000);
    }
    if let Some(start) = &input.exclusive_start_shard_id {
        validation.length(start, "exclusiveStartShardId", 1, 128);
    }
    validation.finish()?;
    let stream = admin
        .find_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )
        .await?;
    let shards = admin
        .store
        .shards(caller.tenant_id, stream.id)
        .await
        .map_err(store_error)?;
    let after = input
        .exclusive_start_shard_id
        .as_deref()
        .map(|start| parse_shard_id(start).map(i64::from).unwrap_or(-1));
    let limit = usize::try_from(input.limit.unwrap_or(100)).unwrap_or(100);
    let remaining: Vec<&ShardRow> = shards
        .iter()
        .filter(|shard| after.is_none_or(|after| i64::from(shard.shard_index) > after))
        .collect();
    let has_more = remaining.len() > limit;
    let page: Vec<Value> = remaining.into_iter().take(limit).map(shard_json).collect();
    Ok(json!({
        "StreamDescription": {
            "StreamName": stream.name,
            "StreamARN": admin.arn(caller, &stream.name),
            "StreamStatus": stream.status,
            "StreamModeDetails": { "StreamMode": stream.mode },
            "Shards": page,
            "HasMoreShards": has_more,
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": epoch_seconds(stream.created_at),
            "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
            "EncryptionType": "NONE",
        }
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeStreamSummaryInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

pub(super) async fn describe_summary(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: DescribeStreamSummaryInput,
) -> Result<Value, AwsError> {
    let stream = admin
        .find_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )
        .await?;
    let shards = admin
        .store
        .shards(caller.tenant_id, stream.id)
        .await
        .map_err(store_error)?;
    let open = shards
        .iter()
        .filter(|shard| shard.ending_sequence_number.is_none())
        .count();
    Ok(json!({ "StreamDescriptionSummary": summary_json(admin, caller, &stream, open) }))
}

pub(super) fn summary_json(
    admin: &KinesisAdmin,
    caller: &Caller,
    stream: &StreamRow,
    open_shard_count: usize,
) -> Value {
    json!({
        "StreamName": stream.name,
        "StreamARN": admin.arn(caller, &stream.name),
        "StreamStatus": stream.status,
        "StreamModeDetails": { "StreamMode": stream.mode },
        "RetentionPeriodHours": stream.retention_hours,
        "StreamCreationTimestamp": epoch_seconds(stream.created_at),
        "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
        "EncryptionType": "NONE",
        "OpenShardCount": open_shard_count,
        "ConsumerCount": 0,
    })
}

/// A shard as Kinesis describes it.
pub(super) fn shard_json(shard: &ShardRow) -> Value {
    let mut value = json!({
        "ShardId": shard_id(u32::try_from(shard.shard_index).unwrap_or_default()),
        "HashKeyRange": {
            "StartingHashKey": shard.starting_hash_key,
            "EndingHashKey": shard.ending_hash_key,
        },
        "SequenceNumberRange": {
            "StartingSequenceNumber": shard.starting_sequence_number,
        },
    });
    if let Some(parent) = shard.parent_shard_index {
        value["ParentShardId"] = json!(shard_id(u32::try_from(parent).unwrap_or_default()));
    }
    if let Some(parent) = shard.adjacent_parent_shard_index {
        value["AdjacentParentShardId"] = json!(shard_id(u32::try_from(parent).unwrap_or_default()));
    }
    if let Some(ending) = &shard.ending_sequence_number {
        value["SequenceNumberRange"]["EndingSequenceNumber"] = json!(ending);
    }
    value
}
