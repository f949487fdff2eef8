//! Kinesis stream administration, behind the internal API: the gateway verifies the caller's
//! signature and forwards these actions with the caller's tenant.
//!
//! Each action parses its AWS JSON input, validates it as AWS does (modelled constraints →
//! `ValidationException`, semantic checks → `InvalidArgumentException`), and answers in AWS's
//! output shape.

mod describe;
mod limits;
mod list;
pub(crate) mod streams;
pub(crate) mod tags;

use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::kinesis::parse_input as parse;
use fjord_common::stream_ref::{Validation, resolve_stream_name};
use fjord_common::token::TokenSigner;
use serde_json::Value;

use crate::store::streams::StreamRow;
use crate::store::{Store, StoreError, TenantId};

pub use fjord_common::stream_ref::stream_arn;

/// The caller, as the gateway established it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub account_id: String,
}

/// What the actions need.
#[derive(Clone)]
pub struct KinesisAdmin {
    pub store: Store,
    pub region: String,
    pub tokens: TokenSigner,
    pub default_retention_hours: i32,
}

impl KinesisAdmin {
    /// Runs `action` for `caller` on the raw JSON `body`.
    pub async fn handle(
        &self,
        caller: &Caller,
        action: &str,
        body: &[u8],
    ) -> Result<Value, AwsError> {
        match action {
            "CreateStream" => streams::create(self, caller, parse(body)?).await,
            "DeleteStream" => streams::delete(self, caller, parse(body)?).await,
            "IncreaseStreamRetentionPeriod" => {
                streams::change_retention(self, caller, parse(body)?, true).await
            }
            "DecreaseStreamRetentionPeriod" => {
                streams::change_retention(self, caller, parse(body)?, false).await
            }
            "DescribeStream" => describe::describe_stream(self, caller, parse(body)?).await,
            "DescribeStreamSummary" => describe::describe_summary(self, caller, parse(body)?).await,
            "ListStreams" => list::list_streams(self, caller, parse(body)?).await,
            "ListShards" => list::list_shards(self, caller, parse(body)?).await,
            "AddTagsToStream" => tags::add(self, caller, parse(body)?).await,
            "RemoveTagsFromStream" => tags::remove(self, caller, parse(body)?).await,
            "ListTagsForStream" => tags::list(self, caller, parse(body)?).await,
            "DescribeLimits" => limits::describe_limits(self, caller).await,
            other => Err(AwsError::new(
                AwsErrorKind::UnknownOperationException,
                format!("Unknown operation {other}"),
            )),
        }
    }

    /// The stream a request names, which must exist for this caller.
    pub(crate) async fn find_stream(
        &self,
        caller: &Caller,
        stream_name: Option<&str>,
        stream_arn: Option<&str>,
    ) -> Result<StreamRow, AwsError> {
        let mut validation = Validation::new();
        if let Some(name) = stream_name {
            validation.stream_name(name, "streamName");
        }
        if let Some(arn) = stream_arn {
            validation.stream_arn(arn, "streamARN");
        }
        validation.finish()?;
        let name = resolve_stream_name(stream_name, stream_arn, &caller.account_id)?;
        self.store
            .stream_by_name(caller.tenant_id, &name)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(&name, &caller.account_id))
    }

    pub(crate) fn arn(&self, caller: &Caller, name: &str) -> String {
        stream_arn(&self.region, &caller.account_id, name)
    }
}

pub(crate) fn not_found(name: &str, account_id: &str) -> AwsError {
    AwsError::not_found(format!(
        "Stream {name} under account {account_id} not found."
    ))
}

/// Store failures that are not the caller's fault become `InternalFailure`; the detail is logged.
pub(crate) fn store_error(error: StoreError) -> AwsError {
    match error {
        StoreError::NotFound => AwsError::not_found("Requested resource not found."),
        StoreError::AlreadyExists => AwsError::in_use("Resource already exists."),
        StoreError::QuotaExceeded(message) => AwsError::limit_exceeded(message),
        StoreError::InUse(status) => AwsError::in_use(format!("Resource is in {status} state.")),
        StoreError::Invalid => AwsError::invalid_argument("The request violates a constraint."),
        StoreError::Database(error) => {
            tracing::error!(%error, "store failure");
            AwsError::internal()
        }
    }
}

/// Epoch seconds with millisecond precision, as the AWS JSON protocol encodes timestamps.
pub(crate) fn epoch_seconds(time: chrono::DateTime<chrono::Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}
