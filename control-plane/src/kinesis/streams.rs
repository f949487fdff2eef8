//! CreateStream, DeleteStream, Increase/DecreaseStreamRetentionPeriod.

use std::collections::BTreeMap;

use fjord_common::aws_error::AwsError;
use fjord_common::hash_key::split_evenly;
use fjord_common::sequence::SequenceNumber;
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, KinesisAdmin, not_found, store_error};
use crate::store::StoreError;
use crate::store::streams::{NewShard, NewStream, RetentionChange, RetentionError};

/// Shards an on-demand stream starts with, as on AWS.
pub(crate) const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
pub(crate) const MIN_RETENTION_HOURS: i64 = 24;
pub(crate) const MAX_RETENTION_HOURS: i64 = 8760;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateStreamInput {
    stream_name: Option<String>,
    shard_count: Option<i64>,
    stream_mode_details: Option<StreamModeDetails>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamModeDetails {
    stream_mode: Option<String>,
}

pub(super) async fn create(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: CreateStreamInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    let name = match input.stream_name {
        Some(name) => {
            validation.stream_name(&name, "streamName");
            name
        }
        None => {
            validation.fail("null", "streamName", "Member must not be null");
            String::new()
        }
    };
    if let Some(count) = input.shard_count {
        validation.range(count, "shardCount", 1, 100_000);
    }
    let mode = input
        .stream_mode_details
        .and_then(|details| details.stream_mode)
        .unwrap_or_else(|| "PROVISIONED".to_owned());
    if mode != "PROVISIONED" && mode != "ON_DEMAND" {
        validation.fail(
            &mode,
            "streamModeDetails.streamMode",
            "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]",
        );
    }
    let tags: Vec<(String, String)> = input.tags.unwrap_or_default().into_iter().collect();
    validate_tags(&mut validation, &tags);
    validation.finish()?;
    if tags.len() > crate::store::streams::MAX_TAGS_PER_STREAM {
        return Err(AwsError::invalid_argument(format!(
            "A stream may have at most {} tags.",
            crate::store::streams::MAX_TAGS_PER_STREAM
        )));
    }
    let shard_count = match (mode.as_str(), input.shard_count) {
        ("ON_DEMAND", _) => ON_DEMAND_INITIAL_SHARDS,
        (_, Some(count)) => u32::try_from(count).unwrap_or(1),
        (_, None) => {
            return Err(AwsError::invalid_argument(
                "ShardCount is required for a stream in PROVISIONED mode.",
            ));
        }
    };
    let new_stream = new_stream(
        name.clone(),
        mode,
        shard_count,
        admin.default_retention_hours,
        tags,
    );
    match admin
        .store
        .create_stream(caller.tenant_id, new_stream)
        .await
    {
        Ok(_) => Ok(json!({})),
        Err(StoreError::AlreadyExists) => Err(AwsError::in_use(format!(
            "Stream {name} under account {} already exists.",
            caller.account_id
        ))),
        Err(StoreError::QuotaExceeded(message)) => Err(AwsError::limit_exceeded(
            message.replace("{account}", &caller.account_id),
        )),
        Err(error) => Err(store_error(error)),
    }
}

/// The stream to store from validated input: `shard_count` shards splitting the hash key
/// space evenly, each starting at its first sequence number. Shared by CreateStream and the
/// REST API.
pub(crate) fn new_stream(
    name: String,
    mode: String,
    shard_count: u32,
    retention_hours: i32,
    tags: Vec<(String, String)>,
) -> NewStream {
    let shards = split_evenly(shard_count)
        .into_iter()
        .enumerate()
        .map(|(index, range)| NewShard {
            starting_hash_key: range.starting_hash_key.to_string(),
            ending_hash_key: range.ending_hash_key.to_string(),
            starting_sequence_number: SequenceNumber::shard_start(index as u32).to_string(),
        })
        .collect();
    NewStream {
        name,
        mode,
        retention_hours,
        shards,
        tags,
    }
}

pub(crate) fn validate_tags(validation: &mut Validation, tags: &[(String, String)]) {
    for (key, value) in tags {
        validation.length(key, "tags.key", 1, 128);
        validation.length(value, "tags.value", 0, 256);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[allow(dead_code)]
    enforce_consumer_deletion: Option<bool>,
}

pub(super) async fn delete(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: DeleteStreamInput,
) -> Result<Value, AwsError> {
    let stream = admin
        .find_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )
        .await?;
    match admin
        .store
        .mark_stream_deleting(caller.tenant_id, &stream.name)
        .await
    {
        Ok(()) => Ok(json!({})),
        Err(StoreError::NotFound) => Err(not_found(&stream.name, &caller.account_id)),
        Err(StoreError::InUse(status)) => Err(AwsError::in_use(format!(
            "Stream {} under account {} is in {status} state and cannot be deleted.",
            stream.name, caller.account_id
        ))),
        Err(error) => Err(store_error(error)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RetentionInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    retention_period_hours: Option<i64>,
}

pub(super) async fn change_retention(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: RetentionInput,
    increase: bool,
) -> Result<Value, AwsError> {
    let Some(hours) = input.retention_period_hours else {
        let mut validation = Validation::new();
        validation.fail("null", "retentionPeriodHours", "Member must not be null");
        return validation.finish().map(|()| Value::Null);
    };
    let mut validation = Validation::new();
    validation.range(hours, "retentionPeriodHours", 1, i64::from(i32::MAX));
    validation.finish()?;
    let stream = admin
        .find_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )
        .await?;
    if hours < MIN_RETENTION_HOURS {
        return Err(AwsError::invalid_argument(format!(
            "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
        )));
    }
    if hours > MAX_RETENTION_HOURS {
        return Err(AwsError::invalid_argument(format!(
            "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too long."
        )));
    }
    let change = if increase {
        RetentionChange::Increase
    } else {
        RetentionChange::Decrease
    };
    let requested = i32::try_from(hours).unwrap_or(i32::MAX);
    match admin
        .store
        .change_retention(caller.tenant_id, &stream.name, requested, change)
        .await
    {
        Ok(()) => Ok(json!({})),
        Err(RetentionError::WrongDirection { requested, current }) => {
            let relation = if increase { "shorter" } else { "longer" };
            Err(AwsError::invalid_argument(format!(
                "Requested retention period ({requested} hours) for stream {} can not be {relation} than existing retention period ({current} hours). Use {} instead.",
                stream.name,
                if increase {
                    "DecreaseStreamRetentionPeriod"
                } else {
                    "IncreaseStreamRetentionPeriod"
                }
            )))
        }
        Err(RetentionError::Store(StoreError::NotFound)) => {
            Err(not_found(&stream.name, &caller.account_id))
        }
        Err(RetentionError::Store(StoreError::InUse(status))) => Err(AwsError::in_use(format!(
            "Stream {} under account {} is in {status} state; retention can be changed only when it is ACTIVE.",
            stream.name, caller.account_id
        ))),
        Err(RetentionError::Store(error)) => Err(store_error(error)),
    }
}
