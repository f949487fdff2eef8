//! Delivery streams under `/api/v1/delivery-streams`: what the Firehose endpoint can do to
//! delivery streams, in plain JSON, plus putting records.
//!
//! Reads (monitoring included: delivery per minute, recent failures) need `ReadStreams`
//! (viewers and up), changes `ManageStreams` (developers and up),
//! records `WriteRecords`. Requests are translated into the Firehose actions' input and
//! validated by the same code ([`crate::firehose`]), so both fronts accept and refuse the
//! same things; AWS error types become problems (validation and unsupported options → 400,
//! missing → 404, in use or a stale `version_id` → 409, the delivery stream quota → 403
//! `quota-exceeded`). A delivery stream of another tenant is a 404 like one that never existed.
//!
//! Every change is recorded in the audit log (`delivery-streams:<Action>`), refused ones with
//! their problem kind. `Idempotency-Key` on `POST /api/v1/delivery-streams` works as on
//! `POST /api/v1/streams`.

mod dto;
mod handlers;
mod monitoring;
mod records;

use std::collections::BTreeMap;

pub use dto::*;
pub use handlers::*;
pub use monitoring::*;
pub use records::*;

use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::firehose::{ContentEncoding, DestinationTarget, Processor, is_valid_name};
use serde_json::{Map, Value, json};

use crate::api::ApiState;
use crate::api::audit::RequestOrigin;
use crate::api::audit::printable;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::firehose::FirehoseAdmin;
use crate::kinesis::Caller;
use crate::store::delivery_streams::DeliveryStreamRow;

/// The Firehose actions, for this caller.
fn admin(state: &ApiState) -> FirehoseAdmin {
    FirehoseAdmin {
        store: state.store.clone(),
        region: state.region.clone(),
        secret_box: state
            .key_material
            .as_ref()
            .map(|material| material.secret_box.clone()),
    }
}

async fn caller(state: &ApiState, context: &AuthContext) -> Result<Caller, Problem> {
    Ok(Caller {
        tenant_id: context.tenant_id,
        account_id: state.store.tenant(context.tenant_id).await?.account_id,
    })
}

/// The problem for a Firehose error.
fn aws_problem(error: AwsError) -> Problem {
    match error.kind {
        AwsErrorKind::ValidationException
        | AwsErrorKind::InvalidArgumentException
        | AwsErrorKind::SerializationException => Problem::bad_request(error.message),
        AwsErrorKind::ResourceNotFoundException => Problem::not_found(),
        AwsErrorKind::ResourceInUseException | AwsErrorKind::ConcurrentModificationException => {
            Problem::conflict(error.message)
        }
        AwsErrorKind::LimitExceededException => Problem::quota_exceeded(error.message),
        _ => Problem::internal(&error.message),
    }
}

/// Runs a Firehose action with an input built from a REST request.
async fn run(state: &ApiState, caller: &Caller, action: &str, input: Value) -> Result<(), Problem> {
    admin(state)
        .handle(caller, action, input.to_string().as_bytes())
        .await
        .map(|_| ())
        .map_err(aws_problem)
}

/// The caller's delivery stream `name`; a malformed name names none.
pub(crate) async fn find_delivery_stream(
    state: &ApiState,
    context: &AuthContext,
    name: &str,
) -> Result<DeliveryStreamRow, Problem> {
    if !is_valid_name(name) {
        return Err(Problem::not_found());
    }
    state
        .store
        .delivery_stream_by_name(context.tenant_id, name)
        .await?
        .ok_or_else(Problem::not_found)
}

/// A REST destination as the Firehose input member it stands for and its value: an
/// `ExtendedS3Destination…` or `HttpEndpointDestination…` `Configuration` (`update` false)
/// or `Update`, with only the fields given, plus `role_arn` when `default_role` is given.
fn destination_input(
    request: &DestinationRequest,
    default_role: Option<String>,
    update: bool,
) -> (&'static str, Value) {
    let Some(http) = &request.http_endpoint else {
        let member = if update {
            "ExtendedS3DestinationUpdate"
        } else {
            "ExtendedS3DestinationConfiguration"
        };
        return (member, bucket_input(request, default_role));
    };
    let bucket = bucket_input(
        &DestinationRequest {
            processing_configuration: None,
            dynamic_partitioning_configuration: None,
            data_format_conversion_configuration: None,
            buffering_size_mib: None,
            buffering_interval_seconds: None,
            http_endpoint: None,
            ..request.clone()
        },
        default_role,
    );
    let mut object = Map::new();
    let mut endpoint = Map::new();
    for (field, value) in [
        ("Url", &http.url),
        ("Name", &http.name),
        ("AccessKey", &http.access_key),
    ] {
        if let Some(value) = value {
            endpoint.insert(field.to_owned(), json!(value));
        }
    }
    if !endpoint.is_empty() || !update {
        object.insert("EndpointConfiguration".to_owned(), Value::Object(endpoint));
    }
    let mut request_configuration = Map::new();
    if let Some(encoding) = &http.content_encoding {
        request_configuration.insert("ContentEncoding".to_owned(), json!(encoding));
    }
    if let Some(attributes) = &http.common_attributes {
        request_configuration.insert(
            "CommonAttributes".to_owned(),
            attributes
                .iter()
                .map(|(name, value)| json!({"AttributeName": name, "AttributeValue": value}))
                .collect(),
        );
    }
    if !request_configuration.is_empty() {
        object.insert(
            "RequestConfiguration".to_owned(),
            Value::Object(request_configuration),
        );
    }
    if let Some(seconds) = http.retry_duration_seconds {
        object.insert(
            "RetryOptions".to_owned(),
            json!({"DurationInSeconds": seconds}),
        );
    }
    if let Some(mode) = &http.backup_mode {
        object.insert("S3BackupMode".to_owned(), json!(mode));
    }
    if let Some(processing) = &request.processing_configuration {
        object.insert("ProcessingConfiguration".to_owned(), processing.clone());
    }
    if let Some(partitioning) = &request.dynamic_partitioning_configuration {
        object.insert(
            "DynamicPartitioningConfiguration".to_owned(),
            partitioning.clone(),
        );
    }
    // Not an HTTP endpoint option: given, it is refused as an unknown field.
    if let Some(conversion) = &request.data_format_conversion_configuration {
        object.insert(
            "DataFormatConversionConfiguration".to_owned(),
            conversion.clone(),
        );
    }
    if let Some(hints) = buffering_hints(request) {
        object.insert("BufferingHints".to_owned(), hints);
    }
    if update {
        if bucket.as_object().is_some_and(|fields| !fields.is_empty()) {
            object.insert("S3Update".to_owned(), bucket);
        }
        ("HttpEndpointDestinationUpdate", Value::Object(object))
    } else {
        object.insert("S3Configuration".to_owned(), bucket);
        (
            "HttpEndpointDestinationConfiguration",
            Value::Object(object),
        )
    }
}

/// `BufferingHints` of the fields given.
fn buffering_hints(request: &DestinationRequest) -> Option<Value> {
    let mut hints = Map::new();
    if let Some(size) = request.buffering_size_mib {
        hints.insert("SizeInMBs".to_owned(), json!(size));
    }
    if let Some(interval) = request.buffering_interval_seconds {
        hints.insert("IntervalInSeconds".to_owned(), json!(interval));
    }
    (!hints.is_empty()).then_some(Value::Object(hints))
}

/// The bucket fields of a REST destination as an S3 destination configuration.
fn bucket_input(request: &DestinationRequest, default_role: Option<String>) -> Value {
    let mut object = Map::new();
    let mut put = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            object.insert(field.to_owned(), value);
        }
    };
    put("BucketARN", request.bucket_arn.clone().map(Value::from));
    put(
        "RoleARN",
        request.role_arn.clone().or(default_role).map(Value::from),
    );
    put("Prefix", request.prefix.clone().map(Value::from));
    put(
        "ErrorOutputPrefix",
        request.error_output_prefix.clone().map(Value::from),
    );
    put(
        "CompressionFormat",
        request.compression.clone().map(Value::from),
    );
    put(
        "ProcessingConfiguration",
        request.processing_configuration.clone(),
    );
    put(
        "DynamicPartitioningConfiguration",
        request.dynamic_partitioning_configuration.clone(),
    );
    put(
        "DataFormatConversionConfiguration",
        request.data_format_conversion_configuration.clone(),
    );
    if let Some(hints) = buffering_hints(request) {
        object.insert("BufferingHints".to_owned(), hints);
    }
    Value::Object(object)
}

fn tags_input(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|(key, value)| json!({"Key": key, "Value": value}))
            .collect(),
    )
}

/// A delivery stream with its tags.
async fn view(
    state: &ApiState,
    caller: &Caller,
    row: DeliveryStreamRow,
) -> Result<DeliveryStreamView, Problem> {
    let tags = state
        .store
        .delivery_stream_tags(caller.tenant_id, row.id)
        .await?;
    view_with_tags(state, caller, row, tags)
}

/// A delivery stream with the tags already read (a list reads every row's tags at once).
fn view_with_tags(
    state: &ApiState,
    caller: &Caller,
    row: DeliveryStreamRow,
    tags: Vec<(String, String)>,
) -> Result<DeliveryStreamView, Problem> {
    let destination = row
        .destination()
        .ok_or_else(|| Problem::internal(&"a delivery stream holds an unreadable destination"))?;
    let http_endpoint = match &destination.target {
        DestinationTarget::HttpEndpoint(http) => Some(HttpEndpointView {
            url: http.url.clone(),
            name: http.name.clone(),
            access_key_set: http.sealed_access_key.is_some(),
            content_encoding: match http.content_encoding {
                ContentEncoding::None => "NONE",
                ContentEncoding::Gzip => "GZIP",
            }
            .to_owned(),
            common_attributes: http.common_attributes.iter().cloned().collect(),
            retry_duration_seconds: http.retry_duration_seconds,
            backup_mode: if http.backup_all_data {
                "AllData"
            } else {
                "FailedDataOnly"
            }
            .to_owned(),
        }),
        DestinationTarget::ObjectStore(_) => None,
    };
    let buffering = destination.target.buffering();
    let processors = destination.target.processors().to_vec();
    let target = destination.target.bucket().clone();
    Ok(DeliveryStreamView {
        arn: admin(state).arn(caller, &row.name),
        status: row.status.clone(),
        source: if row.delivery_stream_type == "KinesisStreamAsSource" {
            DeliverySourceKind::KinesisStream
        } else {
            DeliverySourceKind::DirectPut
        },
        source_stream_arn: row.source_configuration().and_then(|source| {
            source
                .get("KinesisStreamARN")
                .and_then(|arn| arn.as_str())
                .map(str::to_owned)
        }),
        version_id: row.version_id,
        destination: DestinationView {
            destination_id: destination.destination_id,
            http_endpoint,
            bucket_arn: target.bucket_arn,
            bucket: target.bucket,
            prefix: target.prefix,
            error_output_prefix: target.error_output_prefix,
            buffering_size_mib: buffering.size_mib,
            buffering_interval_seconds: buffering.interval_seconds,
            compression: target.compression.as_aws().to_owned(),
            processors: processors
                .iter()
                .map(|processor| match processor {
                    Processor::Function {
                        url,
                        retries,
                        batch_bytes,
                    } => ProcessorView::Function {
                        url: url.clone(),
                        retries: *retries,
                        batch_bytes: *batch_bytes,
                    },
                    Processor::AppendDelimiter { delimiter } => ProcessorView::AppendDelimiter {
                        delimiter: delimiter.clone(),
                    },
                })
                .collect(),
            partition_keys: target
                .partition_keys
                .iter()
                .map(|key| PartitionKeyView {
                    name: key.name.clone(),
                    path: key.path.iter().map(|step| format!(".{step}")).collect(),
                })
                .collect(),
            conversion: target.conversion.as_ref().map(|conversion| ConversionView {
                database: conversion.database.clone(),
                table: conversion.table.clone(),
                format: "parquet".to_owned(),
                compression: conversion.compression.as_aws().to_owned(),
                columns: conversion
                    .columns
                    .iter()
                    .map(|column| format!("{} {}", column.name, column.kind.as_str()))
                    .collect(),
            }),
        },
        tags: tags.into_iter().collect(),
        name: row.name,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Records a delivery stream change in the audit log, with its outcome.
async fn audit(
    state: &ApiState,
    context: &AuthContext,
    origin: &RequestOrigin,
    action: &str,
    name: &str,
    failure: Option<&Problem>,
    details: Value,
) {
    crate::api::audit::record_change(
        state,
        context,
        origin,
        format!("delivery-streams:{action}"),
        name,
        failure,
        details,
    )
    .await;
}
