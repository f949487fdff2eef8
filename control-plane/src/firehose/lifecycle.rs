//! DeleteDeliveryStream and UpdateDestination.

use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Value, json};

use fjord_common::firehose::DestinationTarget;

use super::destination::{S3Shape, merge_update};
use super::http_endpoint::{self, Sealing};
use super::{Caller, FirehoseAdmin, not_found, required_name, store_error};
use crate::store::StoreError;
use crate::store::delivery_streams::{DestinationChange, DestinationChangeError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct DeleteInput {
    delivery_stream_name: Option<String>,
    /// Accepted: Fjord manages no customer-managed keys that could block a deletion.
    #[allow(dead_code)]
    allow_force_delete: Option<bool>,
}

pub(super) async fn delete(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: DeleteInput,
) -> Result<Value, AwsError> {
    let row = admin
        .find(caller, input.delivery_stream_name.as_deref())
        .await?;
    match admin
        .store
        .mark_delivery_stream_deleting(caller.tenant_id, &row.name)
        .await
    {
        Ok(()) => Ok(json!({})),
        Err(StoreError::NotFound) => Err(not_found(&row.name, &caller.account_id)),
        Err(StoreError::InUse(status)) => Err(AwsError::in_use(format!(
            "Firehose {} under account {} is in {status} state and cannot be deleted until it is ACTIVE.",
            row.name, caller.account_id
        ))),
        Err(error) => Err(store_error(error)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct UpdateInput {
    delivery_stream_name: Option<String>,
    current_delivery_stream_version_id: Option<String>,
    destination_id: Option<String>,
    #[serde(rename = "S3DestinationUpdate")]
    s3_destination_update: Option<Value>,
    #[serde(rename = "ExtendedS3DestinationUpdate")]
    extended_s3_destination_update: Option<Value>,
    redshift_destination_update: Option<Value>,
    elasticsearch_destination_update: Option<Value>,
    amazonopensearchservice_destination_update: Option<Value>,
    amazon_open_search_serverless_destination_update: Option<Value>,
    splunk_destination_update: Option<Value>,
    http_endpoint_destination_update: Option<Value>,
    snowflake_destination_update: Option<Value>,
    iceberg_destination_update: Option<Value>,
}

impl UpdateInput {
    fn unsupported(&self) -> Option<&'static str> {
        [
            (
                &self.redshift_destination_update,
                "RedshiftDestinationUpdate",
            ),
            (
                &self.elasticsearch_destination_update,
                "ElasticsearchDestinationUpdate",
            ),
            (
                &self.amazonopensearchservice_destination_update,
                "AmazonopensearchserviceDestinationUpdate",
            ),
            (
                &self.amazon_open_search_serverless_destination_update,
                "AmazonOpenSearchServerlessDestinationUpdate",
            ),
            (&self.splunk_destination_update, "SplunkDestinationUpdate"),
            (
                &self.snowflake_destination_update,
                "SnowflakeDestinationUpdate",
            ),
            (&self.iceberg_destination_update, "IcebergDestinationUpdate"),
        ]
        .into_iter()
        .find(|(given, _)| given.is_some())
        .map(|(_, name)| name)
    }
}

pub(super) async fn update_destination(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: UpdateInput,
) -> Result<Value, AwsError> {
    let mut validation = Validation::new();
    let name = required_name(
        &mut validation,
        input.delivery_stream_name.as_deref(),
        "deliveryStreamName",
    );
    let version = match &input.current_delivery_stream_version_id {
        None => {
            validation.fail(
                "null",
                "currentDeliveryStreamVersionId",
                "Member must not be null",
            );
            None
        }
        Some(version) if version.is_empty() || version.len() > 50 => {
            validation.length(version, "currentDeliveryStreamVersionId", 1, 50);
            None
        }
        Some(version) => {
            let parsed = version
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| version.parse::<i64>().ok())
                .flatten();
            if parsed.is_none() {
                validation.fail(
                    version,
                    "currentDeliveryStreamVersionId",
                    "Member must satisfy regular expression pattern: [0-9]+",
                );
            }
            parsed
        }
    };
    let destination_id = match &input.destination_id {
        None => {
            validation.fail("null", "destinationId", "Member must not be null");
            String::new()
        }
        Some(id) => {
            validation.length(id, "destinationId", 1, 100);
            id.clone()
        }
    };
    validation.finish()?;
    if let Some(what) = input.unsupported() {
        return Err(AwsError::invalid_argument(format!(
            "{what} is not supported yet by Fjord: only S3 and HTTP endpoint destinations are."
        )));
    }
    let (update, shape) = match (
        &input.extended_s3_destination_update,
        &input.s3_destination_update,
        &input.http_endpoint_destination_update,
    ) {
        (Some(update), None, None) => (update, Some(S3Shape::Extended)),
        (None, Some(update), None) => (update, Some(S3Shape::Legacy)),
        (None, None, Some(update)) => (update, None),
        (None, None, None) => {
            return Err(AwsError::invalid_argument(
                "A destination update is required: ExtendedS3DestinationUpdate, S3DestinationUpdate or HttpEndpointDestinationUpdate.",
            ));
        }
        _ => {
            return Err(AwsError::invalid_argument(
                "Only one destination update may be given: ExtendedS3DestinationUpdate, S3DestinationUpdate or HttpEndpointDestinationUpdate.",
            ));
        }
    };
    let row = admin.find(caller, Some(&name)).await?;
    let version = version.unwrap_or_default();
    // Checked here for the clearer error, and again under the row lock in the store.
    if row.status != "ACTIVE" {
        return Err(in_use(&row.name, &caller.account_id, &row.status));
    }
    if row.version_id != version {
        return Err(version_mismatch(version, row.version_id, &row.name));
    }
    if row.destination_id != destination_id {
        return Err(unknown_destination(&destination_id, &row.name));
    }
    let stored_target = row.destination().ok_or_else(AwsError::internal)?.target;
    let mut merged = match shape {
        Some(shape) => {
            if matches!(stored_target, DestinationTarget::HttpEndpoint(_)) {
                return Err(AwsError::invalid_argument(format!(
                    "Firehose {} delivers to an HTTP endpoint: update it with HttpEndpointDestinationUpdate (a destination cannot change kind; create a new delivery stream).",
                    row.name
                )));
            }
            merge_update(&row.destination_configuration(), update, shape)?
        }
        None => http_endpoint::merge_update(
            &row.destination_configuration(),
            &stored_target,
            update,
            Sealing {
                secret_box: admin.secret_box.as_ref(),
                delivery_stream_id: row.id,
            },
        )?,
    };
    super::conversion::resolve(admin, caller, &mut merged.spec.target).await?;
    match admin
        .store
        .change_delivery_destination(
            caller.tenant_id,
            &row.name,
            DestinationChange {
                expected_version_id: version,
                destination_id,
                destination_configuration: merged.configuration,
                destination_spec: merged.spec,
            },
        )
        .await
    {
        Ok(_) => Ok(json!({})),
        Err(DestinationChangeError::VersionMismatch { current }) => {
            Err(version_mismatch(version, current, &row.name))
        }
        Err(DestinationChangeError::UnknownDestination(id)) => {
            Err(unknown_destination(&id, &row.name))
        }
        Err(DestinationChangeError::Store(StoreError::NotFound)) => {
            Err(not_found(&row.name, &caller.account_id))
        }
        Err(DestinationChangeError::Store(StoreError::InUse(status))) => {
            Err(in_use(&row.name, &caller.account_id, &status))
        }
        Err(DestinationChangeError::Store(error)) => Err(store_error(error)),
    }
}

fn in_use(name: &str, account_id: &str, status: &str) -> AwsError {
    AwsError::in_use(format!(
        "Firehose {name} under account {account_id} is in {status} state; its destination can be updated only when it is ACTIVE."
    ))
}

fn version_mismatch(given: i64, current: i64, name: &str) -> AwsError {
    AwsError::new(
        AwsErrorKind::ConcurrentModificationException,
        format!(
            "Version id {given} does not match the current version id {current} of Firehose {name}; describe it and retry with the current one."
        ),
    )
}

fn unknown_destination(id: &str, name: &str) -> AwsError {
    AwsError::invalid_argument(format!(
        "Destination {id} does not exist in Firehose {name}."
    ))
}
