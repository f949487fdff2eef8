//! CreateDeliveryStream.

use fjord_common::aws_error::AwsError;
use fjord_common::stream_ref::{Validation, parse_stream_arn};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::destination::{S3Shape, ValidDestination, from_configuration, is_role_arn};
use super::http_endpoint::Sealing;
use super::{Caller, FirehoseAdmin, TagInput, required_name, store_error, tag_list, validate_tags};
use crate::store::StoreError;
use crate::store::delivery_streams::{
    DeliveryStreamCreation, MAX_TAGS_PER_DELIVERY_STREAM, NewDeliveryStream,
};

/// Destination and source kinds AWS has that Fjord does not deliver to or read from yet.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("RedshiftDestinationConfiguration", "Redshift destinations"),
    (
        "ElasticsearchDestinationConfiguration",
        "Elasticsearch destinations",
    ),
    (
        "AmazonopensearchserviceDestinationConfiguration",
        "Amazon OpenSearch Service destinations",
    ),
    (
        "AmazonOpenSearchServerlessDestinationConfiguration",
        "Amazon OpenSearch Serverless destinations",
    ),
    ("SplunkDestinationConfiguration", "Splunk destinations"),
    (
        "SnowflakeDestinationConfiguration",
        "Snowflake destinations",
    ),
    ("IcebergDestinationConfiguration", "Iceberg destinations"),
    ("MSKSourceConfiguration", "MSK sources"),
    ("DatabaseSourceConfiguration", "Database sources"),
    (
        "DeliveryStreamEncryptionConfigurationInput",
        "Server-side encryption (DeliveryStreamEncryptionConfigurationInput)",
    ),
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateInput {
    delivery_stream_name: Option<String>,
    delivery_stream_type: Option<String>,
    kinesis_stream_source_configuration: Option<KinesisSource>,
    direct_put_source_configuration: Option<Value>,
    #[serde(rename = "S3DestinationConfiguration")]
    s3_destination_configuration: Option<Value>,
    #[serde(rename = "ExtendedS3DestinationConfiguration")]
    extended_s3_destination_configuration: Option<Value>,
    tags: Option<Vec<TagInput>>,
    redshift_destination_configuration: Option<Value>,
    elasticsearch_destination_configuration: Option<Value>,
    amazonopensearchservice_destination_configuration: Option<Value>,
    amazon_open_search_serverless_destination_configuration: Option<Value>,
    splunk_destination_configuration: Option<Value>,
    http_endpoint_destination_configuration: Option<Value>,
    snowflake_destination_configuration: Option<Value>,
    iceberg_destination_configuration: Option<Value>,
    #[serde(rename = "MSKSourceConfiguration")]
    msk_source_configuration: Option<Value>,
    database_source_configuration: Option<Value>,
    delivery_stream_encryption_configuration_input: Option<Value>,
}

impl CreateInput {
    /// The first option given that Fjord does not support yet.
    fn unsupported(&self) -> Option<&'static str> {
        let given = [
            self.redshift_destination_configuration.is_some(),
            self.elasticsearch_destination_configuration.is_some(),
            self.amazonopensearchservice_destination_configuration
                .is_some(),
            self.amazon_open_search_serverless_destination_configuration
                .is_some(),
            self.splunk_destination_configuration.is_some(),
            self.snowflake_destination_configuration.is_some(),
            self.iceberg_destination_configuration.is_some(),
            self.msk_source_configuration.is_some(),
            self.database_source_configuration.is_some(),
            self.delivery_stream_encryption_configuration_input
                .is_some(),
        ];
        UNSUPPORTED
            .iter()
            .zip(given)
            .find(|(_, given)| *given)
            .map(|((_, what), _)| *what)
    }
}

#[derive(Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct KinesisSource {
    #[serde(rename = "KinesisStreamARN")]
    kinesis_stream_arn: Option<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
}

pub(super) async fn create(
    admin: &FirehoseAdmin,
    caller: &Caller,
    input: CreateInput,
) -> Result<Value, AwsError> {
    let planned = plan(admin, caller, input).await?;
    let name = planned.name.clone();
    match admin
        .store
        .create_delivery_stream(caller.tenant_id, planned, None)
        .await
    {
        Ok(DeliveryStreamCreation::Created(row)) => {
            tracing::info!(delivery_stream = %row.name, "delivery stream created");
            Ok(json!({ "DeliveryStreamARN": admin.arn(caller, &row.name) }))
        }
        Ok(_) => Err(AwsError::internal()),
        Err(error) => Err(create_error(error, &name, &caller.account_id)),
    }
}

/// The AWS error for a refused insert.
pub(crate) fn create_error(error: StoreError, name: &str, account_id: &str) -> AwsError {
    match error {
        StoreError::AlreadyExists => AwsError::in_use(format!(
            "Firehose {name} under accountId {account_id} already exists"
        )),
        StoreError::QuotaExceeded(message) => {
            AwsError::limit_exceeded(message.replace("{account}", account_id))
        }
        error => store_error(error),
    }
}

/// Validates a CreateDeliveryStream input into the delivery stream to store.
pub(crate) async fn plan(
    admin: &FirehoseAdmin,
    caller: &Caller,
    mut input: CreateInput,
) -> Result<NewDeliveryStream, AwsError> {
    let mut validation = Validation::new();
    let name = required_name(
        &mut validation,
        input.delivery_stream_name.as_deref(),
        "deliveryStreamName",
    );
    let delivery_stream_type = input
        .delivery_stream_type
        .clone()
        .unwrap_or_else(|| "DirectPut".to_owned());
    if ![
        "DirectPut",
        "KinesisStreamAsSource",
        "MSKAsSource",
        "DatabaseAsSource",
    ]
    .contains(&delivery_stream_type.as_str())
    {
        validation.fail(
            &delivery_stream_type,
            "deliveryStreamType",
            "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]",
        );
    }
    if let Some(source) = &input.kinesis_stream_source_configuration {
        match &source.kinesis_stream_arn {
            None => validation.fail(
                "null",
                "kinesisStreamSourceConfiguration.kinesisStreamARN",
                "Member must not be null",
            ),
            Some(arn) => validation.length(
                arn,
                "kinesisStreamSourceConfiguration.kinesisStreamARN",
                1,
                512,
            ),
        }
        match &source.role_arn {
            None => validation.fail(
                "null",
                "kinesisStreamSourceConfiguration.roleARN",
                "Member must not be null",
            ),
            Some(arn) if arn.is_empty() || arn.len() > 512 => {
                validation.length(arn, "kinesisStreamSourceConfiguration.roleARN", 1, 512)
            }
            Some(arn) if !is_role_arn(arn) => validation.fail(
                arn.replace('\0', "\\0"),
                "kinesisStreamSourceConfiguration.roleARN",
                "Member must satisfy regular expression pattern: arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
            ),
            Some(_) => {}
        }
    }
    let tags_given = input.tags.is_some();
    let tags = tag_list(input.tags.take());
    if tags_given && tags.is_empty() {
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

    if let Some(what) = input.unsupported_for(&delivery_stream_type) {
        return Err(AwsError::invalid_argument(format!(
            "{what} are not supported yet by Fjord."
        )));
    }
    if input.direct_put_source_configuration.is_some() && delivery_stream_type != "DirectPut" {
        return Err(AwsError::invalid_argument(
            "DirectPutSourceConfiguration is only valid for a DirectPut delivery stream.",
        ));
    }
    let id = Uuid::now_v7();
    let mut destination = destination(
        &input,
        Sealing {
            secret_box: admin.secret_box.as_ref(),
            delivery_stream_id: id,
        },
    )?;
    super::conversion::resolve(admin, caller, &mut destination.spec.target).await?;
    let (source_stream_id, source_configuration) = match (
        delivery_stream_type.as_str(),
        input.kinesis_stream_source_configuration,
    ) {
        ("DirectPut", None) => (None, None),
        ("DirectPut", Some(_)) => {
            return Err(AwsError::invalid_argument(
                "KinesisStreamSourceConfiguration is only valid when DeliveryStreamType is KinesisStreamAsSource.",
            ));
        }
        (_, None) => {
            return Err(AwsError::invalid_argument(
                "KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource.",
            ));
        }
        (_, Some(source)) => {
            let stream_id = source_stream(
                admin,
                caller,
                source.kinesis_stream_arn.as_deref().unwrap_or_default(),
            )
            .await?;
            (
                Some(stream_id),
                Some(serde_json::to_value(&source).unwrap_or_default()),
            )
        }
    };
    Ok(NewDeliveryStream {
        id,
        name,
        delivery_stream_type,
        source_stream_id,
        source_configuration,
        destination_configuration: destination.configuration,
        destination_spec: destination.spec,
        tags,
    })
}

impl CreateInput {
    /// [`CreateInput::unsupported`], or the source type when it is one Fjord cannot read.
    fn unsupported_for(&self, delivery_stream_type: &str) -> Option<&'static str> {
        self.unsupported().or(match delivery_stream_type {
            "MSKAsSource" => Some("MSK sources (MSKAsSource)"),
            "DatabaseAsSource" => Some("Database sources (DatabaseAsSource)"),
            _ => None,
        })
    }
}

/// Exactly one destination, validated.
fn destination(input: &CreateInput, sealing: Sealing<'_>) -> Result<ValidDestination, AwsError> {
    match (
        &input.extended_s3_destination_configuration,
        &input.s3_destination_configuration,
        &input.http_endpoint_destination_configuration,
    ) {
        (Some(extended), None, None) => from_configuration(extended, S3Shape::Extended),
        (None, Some(legacy), None) => from_configuration(legacy, S3Shape::Legacy),
        (None, None, Some(http)) => super::http_endpoint::from_configuration(http, sealing),
        (None, None, None) => Err(AwsError::invalid_argument(
            "A destination configuration is required: ExtendedS3DestinationConfiguration, S3DestinationConfiguration or HttpEndpointDestinationConfiguration.",
        )),
        _ => Err(AwsError::invalid_argument(
            "Only one destination configuration may be given: ExtendedS3DestinationConfiguration, S3DestinationConfiguration or HttpEndpointDestinationConfiguration.",
        )),
    }
}

/// The caller's Kinesis data stream an ARN names; it must exist and be readable.
async fn source_stream(
    admin: &FirehoseAdmin,
    caller: &Caller,
    arn: &str,
) -> Result<Uuid, AwsError> {
    let Some((account, name)) = parse_stream_arn(arn) else {
        return Err(AwsError::invalid_argument(format!(
            "KinesisStreamARN {arn} is not a Kinesis data stream ARN."
        )));
    };
    let missing = || {
        AwsError::invalid_argument(format!(
            "Kinesis stream {name} under account {} does not exist.",
            caller.account_id
        ))
    };
    if account != caller.account_id {
        return Err(missing());
    }
    let stream = admin
        .store
        .stream_by_name(caller.tenant_id, name)
        .await
        .map_err(store_error)?
        .ok_or_else(missing)?;
    if stream.status != "ACTIVE" && stream.status != "UPDATING" {
        return Err(AwsError::in_use(format!(
            "Kinesis stream {name} under account {} is in {} state; it must be ACTIVE to be a source.",
            caller.account_id, stream.status
        )));
    }
    Ok(stream.id)
}
