//! TagDeliveryStream, UntagDeliveryStream, ListTagsForDeliveryStream.

use fjord_common::aws_error::AwsError;
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, FirehoseAdmin, TagInput, check_tag_key, store_error, tag_list, validate_tags};
use crate::store::StoreError;
use crate::store::delivery_streams::MAX_TAGS_PER_DELIVERY_STREAM;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct TagInputs {
    delivery_stream_name: Option<String>,
    tags: Option<Vec<TagInput>>,
}

pub(super) async fn tag(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: TagInputs,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    let given = input.tags.is_some();
    let tags = tag_list(input.tags);
    if !given {
        validation.fail("null", "tags", "Member must not be null");
    } else if tags.is_empty() {
        validation.fail(
            "[]",
            "tags",
            "Member must have length greater than or equal to 1",
        );
    } else if tags.len() > MAX_TAGS_PER_DELIVERY_STREAM {
        validation.fail(
            tags.len(),
            "tags",
            "Member must have length less than or equal to 50",
        );
    }
    validate_tags(&mut validation, &tags, "tags");
    validation.finish()?;
    let row = admin
        .find(caller, input.delivery_stream_name.as_deref())
        .await?;
    match admin
        .store
        .add_delivery_stream_tags(caller.tenant_id, row.id, tags)
        .await
    {
        Ok(()) => Ok(json!({})),
        Err(StoreError::QuotaExceeded(_)) => Err(AwsError::limit_exceeded(format!(
            "Firehose {} under account {} would have more than {MAX_TAGS_PER_DELIVERY_STREAM} tags.",
            row.name, caller.account_id
        ))),
        Err(StoreError::NotFound) => Err(super::not_found(&row.name, &caller.account_id)),
        Err(error) => Err(store_error(error)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct UntagInput {
    delivery_stream_name: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(super) async fn untag(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: UntagInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    let keys = crate::kinesis::tags::tag_keys(&mut validation, input.tag_keys);
    for key in &keys {
        check_tag_key(&mut validation, key, "tagKeys.member");
    }
    validation.finish()?;
    let row = admin
        .find(caller, input.delivery_stream_name.as_deref())
        .await?;
    admin
        .store
        .remove_delivery_stream_tags(caller.tenant_id, row.id, &keys)
        .await
        .map_err(store_error)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct ListTagsInput {
    delivery_stream_name: Option<String>,
    exclusive_start_tag_key: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: ListTagsInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    if let Some(limit) = input.limit {
        validation.range(limit, "limit", 1, 50);
    }
    if let Some(start) = &input.exclusive_start_tag_key {
        check_tag_key(&mut validation, start, "exclusiveStartTagKey");
    }
    validation.finish()?;
    let row = admin
        .find(caller, input.delivery_stream_name.as_deref())
        .await?;
    let tags = admin
        .store
        .delivery_stream_tags(caller.tenant_id, row.id)
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
        "Tags": remaining
            .into_iter()
            .take(limit)
            .map(|(key, value)| json!({"Key": key, "Value": value}))
            .collect::<Vec<_>>(),
        "HasMoreTags": has_more,
    }))
}
