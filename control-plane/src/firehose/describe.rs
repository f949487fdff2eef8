//! DescribeDeliveryStream and ListDeliveryStreams.

use fjord_common::aws_error::AwsError;
use fjord_common::firehose::DestinationTarget;
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::destination::{extended_description, legacy_description};
use super::{Caller, FirehoseAdmin, check_name, epoch_seconds, store_error};
use crate::store::delivery_streams::DeliveryStreamRow;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct DescribeInput {
    delivery_stream_name: Option<String>,
    limit: Option<i64>,
    exclusive_start_destination_id: Option<String>,
}

pub(super) async fn describe(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: DescribeInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    if let Some(limit) = input.limit {
        validation.range(limit, "limit", 1, 10_000);
    }
    if let Some(start) = &input.exclusive_start_destination_id {
        validation.length(start, "exclusiveStartDestinationId", 1, 100);
    }
    validation.finish()?;
    let row = admin
        .find(caller, input.delivery_stream_name.as_deref())
        .await?;
    // One destination per delivery stream: a page after it, or of limit 0, is empty.
    let destinations = match input.exclusive_start_destination_id.as_deref() {
        Some(start) if start >= row.destination_id.as_str() => Vec::new(),
        _ => vec![destination_json(&row)],
    };
    Ok(json!({ "DeliveryStreamDescription": description(admin, caller, &row, destinations) }))
}

/// `DeliveryStreamDescription` in AWS's shape.
pub(crate) fn description(
    admin: &FirehoseAdmin,
    caller: &Caller,
    row: &DeliveryStreamRow,
    destinations: Vec<Value>,
) -> Value {
    let mut description = json!({
        "DeliveryStreamName": row.name,
        "DeliveryStreamARN": admin.arn(caller, &row.name),
        "DeliveryStreamStatus": row.status,
        "DeliveryStreamType": row.delivery_stream_type,
        "DeliveryStreamEncryptionConfiguration": { "Status": "DISABLED" },
        "VersionId": row.version_id.to_string(),
        "CreateTimestamp": epoch_seconds(row.created_at),
        "Destinations": destinations,
        "HasMoreDestinations": false,
    });
    // Only after a destination change, as AWS reports it.
    if row.version_id > 1 {
        description["LastUpdateTimestamp"] = json!(epoch_seconds(row.updated_at));
    }
    if let Some(source) = row.source_configuration() {
        description["Source"] = json!({
            "KinesisStreamSourceDescription": {
                "KinesisStreamARN": source.get("KinesisStreamARN"),
                "RoleARN": source.get("RoleARN"),
                "DeliveryStartTimestamp": epoch_seconds(row.created_at),
            }
        });
    }
    if row.status == "CREATING_FAILED" {
        description["FailureDescription"] = json!({
            "Type": "UNKNOWN_ERROR",
            "Details": "The delivery stream's storage could not be provisioned.",
        });
    }
    description
}

fn destination_json(row: &DeliveryStreamRow) -> Value {
    let stored = row.destination_configuration();
    let http = row.destination().is_some_and(|destination| {
        matches!(destination.target, DestinationTarget::HttpEndpoint(_))
    });
    if http {
        return json!({
            "DestinationId": row.destination_id,
            "HttpEndpointDestinationDescription": super::http_endpoint::description(&stored),
        });
    }
    json!({
        "DestinationId": row.destination_id,
        "ExtendedS3DestinationDescription": extended_description(&stored),
        "S3DestinationDescription": legacy_description(&stored),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct ListInput {
    limit: Option<i64>,
    delivery_stream_type: Option<String>,
    exclusive_start_delivery_stream_name: Option<String>,
}

pub(super) async fn list(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: ListInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    if let Some(limit) = input.limit {
        validation.range(limit, "limit", 1, 10_000);
    }
    if let Some(kind) = &input.delivery_stream_type
        && ![
            "DirectPut",
            "KinesisStreamAsSource",
            "MSKAsSource",
            "DatabaseAsSource",
        ]
        .contains(&kind.as_str())
    {
        validation.fail(
            kind,
            "deliveryStreamType",
            "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]",
        );
    }
    if let Some(start) = &input.exclusive_start_delivery_stream_name {
        check_name(&mut validation, start, "exclusiveStartDeliveryStreamName");
    }
    validation.finish()?;
    let limit = input.limit.unwrap_or(10);
    let mut rows = admin
        .store
        .list_delivery_streams(
            caller.tenant_id,
            input.delivery_stream_type.as_deref(),
            input.exclusive_start_delivery_stream_name.as_deref(),
            limit + 1,
        )
        .await
        .map_err(store_error)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(json!({
        "DeliveryStreamNames": rows.iter().map(|row| row.name.clone()).collect::<Vec<_>>(),
        "HasMoreDeliveryStreams": has_more,
    }))
}
