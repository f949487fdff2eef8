//! AddTagsToStream, RemoveTagsFromStream, ListTagsForStream.

use std::collections::BTreeMap;

use fjord_common::aws_error::AwsError;
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::streams::validate_tags;
use super::{Caller, KinesisAdmin, store_error};
use crate::store::StoreError;
use crate::store::streams::MAX_TAGS_PER_STREAM;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AddTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

pub(super) async fn add(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: AddTagsInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    let tags: Vec<(String, String)> = match input.tags {
        None => {
            validation.fail("null", "tags", "Member must not be null");
            Vec::new()
        }
        Some(tags) => tags.into_iter().collect(),
    };
    if tags.len() > 200 {
        validation.fail(
            tags.len(),
            "tags",
            "Member must have length less than or equal to 200",
        );
    }
    validate_tags(&mut validation, &tags);
    validation.finish()?;
    if tags.is_empty() {
        return Err(AwsError::invalid_argument("Tags must not be empty."));
    }
    let stream = admin
        .find_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )
        .await?;
    match admin
        .store
        .add_tags(caller.tenant_id, stream.id, tags)
        .await
    {
        Ok(()) => Ok(json!({})),
        Err(StoreError::QuotaExceeded(_)) => Err(AwsError::invalid_argument(format!(
            "Failed to add tags to stream {} under account {} because a given stream can have a maximum of {MAX_TAGS_PER_STREAM} tags.",
            stream.name, caller.account_id
        ))),
        Err(error) => Err(store_error(error)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RemoveTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

/// The `TagKeys` of a remove/untag call: required, 1 to 50 of them (AWS's modelled
/// constraints, the same for Kinesis and Firehose); each key is the caller's to check.
pub(crate) fn tag_keys(validation: &mut Validation, keys: Option<Vec<String>>) -> Vec<String> {
    let keys = match keys {
        None => {
            validation.fail("null", "tagKeys", "Member must not be null");
            Vec::new()
        }
        Some(keys) => keys,
    };
    if keys.is_empty() {
        validation.fail(
            "[]",
            "tagKeys",
            "Member must have length greater than or equal to 1",
        );
    } else if keys.len() > 50 {
        validation.fail(
            keys.len(),
            "tagKeys",
            "Member must have length less than or equal to 50",
        );
    }
    keys
}

pub(super) async fn remove(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: RemoveTagsInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    let keys = tag_keys(&mut validation, input.tag_keys);
    for key in &keys {
        validation.length(key, "tagKeys.member", 1, 128);
    }
    validation.finish()?;
    let stream = admin
        .find_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )
        .await?;
    admin
        .store
        .remove_tags(caller.tenant_id, stream.id, &keys)
        .await
        .map_err(store_error)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    exclusive_start_tag_key: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list(
    admin: &KinesisAdmin,
    caller: &Caller,
    input: ListTagsInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    if let Some(limit) = input.limit {
        validation.range(limit, "limit", 1, 50);
    }
    if let Some(start) = &input.exclusive_start_tag_key {
        validation.length(start, "exclusiveStartTagKey", 1, 128);
    }
    validation.finish()?;
    let stream = admin
        .find_stream(
            caller,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )
        .await?;
    let tags = admin
        .store
        .tags(caller.tenant_id, stream.id)
        .await
        .map_err(store_error)?;
    let limit = usize::try_from(input.limit.unwrap_or(50)).unwrap_or(50);
    let remaining: Vec<_> = tags
        .into_iter()
        .filter(|(key, _)| {
            input
                .exclusive_start_tag_key
                .as_ref()
                .is_none_or(|start| key > start)
        })
        .collect();
    let has_more = remaining.len() > limit;
    Ok(json!({
        "Tags": remaining.into_iter().take(limit).map(|(key, value)| json!({"Key": key, "Value": value})).collect::<Vec<_>>(),
        "HasMoreTags": has_more,
    }))
}
