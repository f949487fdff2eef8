//! Firehose delivery stream administration, behind the internal API: the gateway verifies
//! the caller's signature and forwards these actions (`Firehose_20150804.*`) with the
//! caller's tenant, as it does the Kinesis ones (ADR 003).
//!
//! Each action parses its AWS JSON input (unknown fields are a `SerializationException`
//! naming them), validates it as AWS does (modelled constraints → `ValidationException`,
//! semantic checks and what Fjord does not support yet → `InvalidArgumentException`), and
//! answers in AWS's output shape. The data plane never reads AWS configuration: the store
//! keeps the normalised [`fjord_common::firehose::DestinationSpec`] the reconciler publishes.

mod conversion;
pub(crate) mod create;
mod describe;
pub(crate) mod destination;
mod http_endpoint;
mod lifecycle;
mod processing;
mod tags;

use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::firehose::is_valid_name;
use fjord_common::kinesis::parse_input as parse;
use fjord_common::stream_ref::Validation;
use serde_json::Value;

use crate::kinesis::Caller;
use crate::store::delivery_streams::DeliveryStreamRow;
use crate::store::{Store, StoreError};

pub use fjord_common::firehose::delivery_stream_arn;

/// What the actions need.
#[derive(Clone)]
pub struct FirehoseAdmin {
    pub store: Store,
    pub region: String,
    /// Seals HTTP endpoint access keys (`None`: built without the master key; an access key
    /// is then refused).
    pub secret_box: Option<fjord_common::secret::SecretBox>,
}

/// The Firehose actions that change state, and so are audited.
pub const AUDITED_ACTIONS: [&str; 5] = [
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "UpdateDestination",
    "TagDeliveryStream",
    "UntagDeliveryStream",
];

impl FirehoseAdmin {
    /// Runs `action` for `caller` on the raw JSON `body`.
    pub async fn handle(
        &self,
        caller: &Caller,
        action: &str,
        body: &[u8],
    ) -> Result<Value, AwsError> {
        match action {
            "CreateDeliveryStream" => create::create(self, caller, parse(body)?).await,
            "DeleteDeliveryStream" => lifecycle::delete(self, caller, parse(body)?).await,
            "UpdateDestination" => lifecycle::update_destination(self, caller, parse(body)?).await,
            "DescribeDeliveryStream" => describe::describe(self, caller, parse(body)?).await,
            "ListDeliveryStreams" => describe::list(self, caller, parse(body)?).await,
            "TagDeliveryStream" => tags::tag(self, caller, parse(body)?).await,
            "UntagDeliveryStream" => tags::untag(self, caller, parse(body)?).await,
            "ListTagsForDeliveryStream" => tags::list(self, caller, parse(body)?).await,
            other => Err(AwsError::new(
                AwsErrorKind::UnknownOperationException,
                format!("Unknown operation {other}"),
            )),
        }
    }

    /// The delivery stream a request names, which must exist for this caller.
    pub(crate) async fn find(
        &self,
        caller: &Caller,
        name: Option<&str>,
    ) -> Result<DeliveryStreamRow, AwsError> {
        let mut validation = Validation::new();
        let name = required_name(&mut validation, name, "deliveryStreamName");
        validation.finish()?;
        self.store
            .delivery_stream_by_name(caller.tenant_id, &name)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(&name, &caller.account_id))
    }

    pub(crate) fn arn(&self, caller: &Caller, name: &str) -> String {
        delivery_stream_arn(&self.region, &caller.account_id, name)
    }
}

/// Validates a required delivery stream name (1–64 of `[a-zA-Z0-9_.-]`).
pub(crate) fn required_name(
    validation: &mut Validation,
    name: Option<&str>,
    member: &str,
) -> String {
    match name {
        None => {
            validation.fail("null", member, "Member must not be null");
            String::new()
        }
        Some(name) => {
            check_name(validation, name, member);
            name.to_owned()
        }
    }
}

pub(crate) fn check_name(validation: &mut Validation, name: &str, member: &str) {
    if name.is_empty() || name.len() > 64 {
        validation.length(name, member, 1, 64);
    } else if !is_valid_name(name) {
        validation.fail(
            name,
            member,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        );
    }
}

/// AWS's words for a delivery stream that does not exist.
pub(crate) fn not_found(name: &str, account_id: &str) -> AwsError {
    AwsError::not_found(format!(
        "Firehose {name} under account {account_id} not found."
    ))
}

/// Store failures that are not the caller's fault become `InternalFailure`; the detail is logged.
pub(crate) fn store_error(error: StoreError) -> AwsError {
    crate::kinesis::store_error(error)
}

/// Epoch seconds with millisecond precision, as the AWS JSON protocol encodes timestamps.
pub(crate) fn epoch_seconds(time: chrono::DateTime<chrono::Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}

/// Tag rules of the Firehose API: key 1–128 of letters, spaces, digits and `_.:/=+-@%`,
/// not starting with `aws:`; value 0–256 of the same characters.
pub(crate) fn validate_tags(validation: &mut Validation, tags: &[(String, String)], member: &str) {
    for (key, value) in tags {
        check_tag_key(validation, key, &format!("{member}.member.key"));
        let value_member = format!("{member}.member.value");
        validation.length(value, &value_member, 0, 256);
        if !value.chars().all(is_tag_char) {
            validation.fail(
                value,
                &value_member,
                "Member must satisfy regular expression pattern: ^[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$",
            );
        }
    }
}

pub(crate) fn check_tag_key(validation: &mut Validation, key: &str, member: &str) {
    let length = key.chars().count();
    if length == 0 || length > 128 {
        validation.length(key, member, 1, 128);
    } else if key.starts_with("aws:") || !key.chars().all(is_tag_char) {
        validation.fail(
            key,
            member,
            "Member must satisfy regular expression pattern: ^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$",
        );
    }
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@%".contains(c)
}

/// `[{"Key": …, "Value": …}]` as (key, value) pairs; a missing `Value` is empty, as on AWS.
pub(crate) fn tag_list(tags: Option<Vec<TagInput>>) -> Vec<(String, String)> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|tag| (tag.key, tag.value.unwrap_or_default()))
        .collect()
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct TagInput {
    key: String,
    value: Option<String>,
}
