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
use fjord_common::firehose::{DestinationTarget, Processor, is_valid_name};
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

/// A REST destination as the Firehose `ExtendedS3DestinationConfiguration`/`…Update`: only
/// the fields given, plus `role_arn` when `default_role` is given.
fn destination_input(request: &DestinationRequest, default_role: Option<String>) -> Value {
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
    let mut hints = Map::new();
    if let Some(size) = request.buffering_size_mib {
        hints.insert("SizeInMBs".to_owned(), json!(size));
    }
    if let Some(interval) = request.buffering_interval_seconds {
        hints.insert("IntervalInSeconds".to_owned(), json!(interval));
    }
    if !hints.is_empty() {
        object.insert("BufferingHints".to_owned(), Value::Object(hints));
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
    let DestinationTarget::ObjectStore(target) = destination.target;
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
            bucket_arn: target.bucket_arn,
            bucket: target.bucket,
            prefix: target.prefix,
            error_output_prefix: target.error_output_prefix,
            buffering_size_mib: target.buffering.size_mib,
            buffering_interval_seconds: target.buffering.interval_seconds,
            compression: target.compression.as_aws().to_owned(),
            processors: target
                .processors
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
