//! HTTP endpoint destinations: `HttpEndpointDestinationConfiguration` in, Fjord's
//! [`HttpEndpointDestination`] out; the merge of an `HttpEndpointDestinationUpdate` onto what
//! is stored; and the `HttpEndpointDestinationDescription` Describe answers.
//!
//! The access key is sealed for the delivery stream ([`http_access_key_context`]) into the
//! spec, and left out of the stored configuration: Describe never shows it (AWS does not
//! either), an update without one keeps it, an empty one removes it. The backup bucket
//! (`S3Configuration`, required) is validated as a legacy S3 destination.
//!
//! Fjord accepts `http://` URLs and any port, where Firehose takes only `https://` on 443: a
//! self-hosted endpoint is often on a private network (`docs/firehose-compatibility.md`).

use fjord_common::aws_error::AwsError;
use fjord_common::firehose::{
    Buffering, ContentEncoding, DestinationSpec, DestinationTarget, HttpEndpointDestination,
    http_access_key_context,
};
use fjord_common::secret::SecretBox;
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::destination::{
    BufferingHints, DEFAULT_INTERVAL_SECONDS, DESTINATION_ID, S3Shape, ValidDestination, as_object,
    contains_nul, enabled, is_role_arn, legacy_description, not_supported, serialization,
};
use super::processing::is_http_url;

const DEFAULT_SIZE_MIB: i64 = 5;
const MAX_SIZE_MIB: i64 = 64;
const DEFAULT_RETRY_SECONDS: i64 = 300;
const MAX_RETRY_SECONDS: i64 = 7200;
const MAX_COMMON_ATTRIBUTES: usize = 50;

/// Where the access key is sealed: the delivery stream it belongs to.
#[derive(Clone, Copy)]
pub(crate) struct Sealing<'a> {
    pub(crate) secret_box: Option<&'a SecretBox>,
    pub(crate) delivery_stream_id: Uuid,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct HttpConfiguration {
    endpoint_configuration: Option<EndpointConfiguration>,
    buffering_hints: Option<BufferingHints>,
    /// Accepted and kept for Describe; Fjord logs delivery errors to its own log.
    #[allow(dead_code)]
    cloud_watch_logging_options: Option<Value>,
    request_configuration: Option<RequestConfiguration>,
    processing_configuration: Option<Value>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
    retry_options: Option<RetryOptions>,
    #[serde(rename = "S3BackupMode")]
    s3_backup_mode: Option<String>,
    #[serde(rename = "S3Configuration")]
    s3_configuration: Option<Value>,
    secrets_manager_configuration: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct EndpointConfiguration {
    url: Option<String>,
    name: Option<String>,
    access_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RequestConfiguration {
    content_encoding: Option<String>,
    common_attributes: Option<Vec<CommonAttribute>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CommonAttribute {
    attribute_name: Option<String>,
    attribute_value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RetryOptions {
    duration_in_seconds: Option<i64>,
}

/// Validates an `HttpEndpointDestinationConfiguration` as given to CreateDeliveryStream.
pub(crate) fn from_configuration(
    given: &Value,
    sealing: Sealing<'_>,
) -> Result<ValidDestination, AwsError> {
    let object = as_object(given, "HttpEndpointDestinationConfiguration")?;
    let member = "httpEndpointDestinationConfiguration";
    let config = parse(object, member)?;
    let Some(s3) = &config.s3_configuration else {
        let mut validation = Validation::new();
        validation.fail(
            "null",
            &format!("{member}.s3Configuration"),
            "Member must not be null",
        );
        validation.finish()?;
        return Err(AwsError::internal());
    };
    let backup = super::destination::from_configuration(s3, S3Shape::Backup)?;
    validate(object.clone(), config, backup, None, sealing, member)
}

/// Merges an `HttpEndpointDestinationUpdate` onto the stored configuration (and the stored
/// spec's sealed access key) and validates the result.
pub(crate) fn merge_update(
    stored: &Value,
    stored_target: &DestinationTarget,
    update: &Value,
    sealing: Sealing<'_>,
) -> Result<ValidDestination, AwsError> {
    let update = as_object(update, "HttpEndpointDestinationUpdate")?;
    let member = "httpEndpointDestinationUpdate";
    let DestinationTarget::HttpEndpoint(current) = stored_target else {
        return Err(AwsError::invalid_argument(
            "HttpEndpointDestinationUpdate cannot change an S3 destination into an HTTP endpoint destination: create a new delivery stream.",
        ));
    };
    let mut merged = stored.as_object().cloned().unwrap_or_default();
    let stored_s3 = merged
        .remove("S3Configuration")
        .unwrap_or_else(|| json!({}));
    let mut s3_update = None;
    for (field, value) in update {
        match (field.as_str(), value) {
            ("S3Configuration", _) => {
                return Err(serialization(
                    "Unable to parse the request: unknown field `S3Configuration` in HttpEndpointDestinationUpdate; the backup bucket changes with S3Update".to_owned(),
                ));
            }
            ("EndpointConfiguration" | "BufferingHints", Value::Object(fields)) => {
                let entry = merged.entry(field.clone()).or_insert_with(|| json!({}));
                if let Value::Object(current) = entry {
                    for (name, value) in fields {
                        current.insert(name.clone(), value.clone());
                    }
                }
            }
            ("S3Update", value) => s3_update = Some(value),
            (field, value) => {
                merged.insert(field.to_owned(), value.clone());
            }
        }
    }
    let config = parse(&merged, member)?;
    let backup = super::destination::merge_update(
        &stored_s3,
        s3_update.unwrap_or(&json!({})),
        S3Shape::Backup,
    )?;
    validate(
        merged,
        config,
        backup,
        current.sealed_access_key.clone(),
        sealing,
        member,
    )
}

/// The typed configuration; unknown fields anywhere are a `SerializationException`.
fn parse(object: &Map<String, Value>, member: &str) -> Result<HttpConfiguration, AwsError> {
    if contains_nul(&Value::Object(object.clone())) {
        let mut validation = Validation::new();
        validation.fail("\\0", member, "Member must not contain NUL characters");
        validation.finish()?;
    }
    serde_json::from_value(Value::Object(object.clone()))
        .map_err(|error| serialization(format!("Unable to parse the request: {error}")))
}

/// Checks `config` (parsed from `object`), and makes what to store and publish. `kept` is the
/// sealed access key to keep when the configuration gives none.
fn validate(
    mut object: Map<String, Value>,
    config: HttpConfiguration,
    backup: ValidDestination,
    kept: Option<String>,
    sealing: Sealing<'_>,
    member: &str,
) -> Result<ValidDestination, AwsError> {
    let field = |name: &str| format!("{member}.{name}");
    let mut validation = Validation::new();
    let endpoint = config.endpoint_configuration.unwrap_or_default();
    if object.get("EndpointConfiguration").is_none() {
        validation.fail(
            "null",
            &field("endpointConfiguration"),
            "Member must not be null",
        );
    }
    match &endpoint.url {
        None => validation.fail(
            "null",
            &field("endpointConfiguration.url"),
            "Member must not be null",
        ),
        Some(url) => validation.length(url, &field("endpointConfiguration.url"), 1, 1000),
    }
    if let Some(name) = &endpoint.name {
        validation.length(name, &field("endpointConfiguration.name"), 1, 256);
    }
    if let Some(key) = &endpoint.access_key {
        // Never echoed: the value is a secret.
        if key.len() > 4096 {
            validation.fail(
                "***",
                &field("endpointConfiguration.accessKey"),
                "Member must have length less than or equal to 4096",
            );
        }
    }
    let hints = config.buffering_hints.unwrap_or_default();
    if let Some(size) = hints.size_in_mbs {
        validation.range(size, &field("bufferingHints.sizeInMBs"), 1, MAX_SIZE_MIB);
    }
    if let Some(interval) = hints.interval_in_seconds {
        validation.range(interval, &field("bufferingHints.intervalInSeconds"), 0, 900);
    }
    let request = config.request_configuration.unwrap_or_default();
    let content_encoding = match request.content_encoding.as_deref() {
        None | Some("NONE") => ContentEncoding::None,
        Some("GZIP") => ContentEncoding::Gzip,
        Some(other) => {
            validation.fail(
                other,
                &field("requestConfiguration.contentEncoding"),
                "Member must satisfy enum value set: [NONE, GZIP]",
            );
            ContentEncoding::None
        }
    };
    let attributes = request.common_attributes.unwrap_or_default();
    if attributes.len() > MAX_COMMON_ATTRIBUTES {
        validation.fail(
            attributes.len(),
            &field("requestConfiguration.commonAttributes"),
            "Member must have length less than or equal to 50",
        );
    }
    for (index, attribute) in attributes.iter().enumerate() {
        let at = |name: &str| {
            field(&format!(
                "requestConfiguration.commonAttributes.{index}.{name}"
            ))
        };
        match &attribute.attribute_name {
            None => validation.fail("null", &at("attributeName"), "Member must not be null"),
            Some(name) => validation.length(name, &at("attributeName"), 1, 256),
        }
        match &attribute.attribute_value {
            None => validation.fail("null", &at("attributeValue"), "Member must not be null"),
            Some(value) => validation.length(value, &at("attributeValue"), 0, 1024),
        }
    }
    let retry_seconds = config
        .retry_options
        .and_then(|retry| retry.duration_in_seconds)
        .unwrap_or(DEFAULT_RETRY_SECONDS);
    validation.range(
        retry_seconds,
        &field("retryOptions.durationInSeconds"),
        0,
        MAX_RETRY_SECONDS,
    );
    let backup_mode = config
        .s3_backup_mode
        .clone()
        .unwrap_or_else(|| "FailedDataOnly".to_owned());
    if backup_mode != "FailedDataOnly" && backup_mode != "AllData" {
        validation.fail(
            &backup_mode,
            &field("s3BackupMode"),
            "Member must satisfy enum value set: [FailedDataOnly, AllData]",
        );
    }
    match &config.role_arn {
        Some(arn) if arn.is_empty() || arn.len() > 512 => {
            validation.length(arn, &field("roleARN"), 1, 512)
        }
        Some(arn) if !is_role_arn(arn) => validation.fail(
            arn,
            &field("roleARN"),
            "Member must satisfy regular expression pattern: arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
        ),
        _ => {}
    }
    validation.finish()?;

    let url = endpoint.url.unwrap_or_default();
    if !is_http_url(&url) {
        return Err(AwsError::invalid_argument(format!(
            "EndpointConfiguration.Url {url} is not an http(s) URL with a host (and without credentials)."
        )));
    }
    if config
        .secrets_manager_configuration
        .as_ref()
        .is_some_and(enabled)
    {
        return Err(not_supported(
            "SecretsManagerConfiguration (give the AccessKey; Fjord seals it)",
        ));
    }
    let chain = super::processing::processors(config.processing_configuration.as_ref())?;
    if !chain.partition_keys.is_empty() {
        return Err(AwsError::invalid_argument(
            "The MetadataExtraction processor needs dynamic partitioning, which only S3 destinations have.",
        ));
    }
    let sealed_access_key = match endpoint.access_key {
        Some(key) if key.is_empty() => None,
        Some(key) => Some(
            sealing
                .secret_box
                .ok_or_else(AwsError::internal)?
                .seal(&key, &http_access_key_context(sealing.delivery_stream_id))
                .map_err(|_| AwsError::internal())?,
        ),
        None => kept,
    };
    let DestinationTarget::ObjectStore(backup_target) = backup.spec.target else {
        return Err(AwsError::internal());
    };
    let size_mib = hints.size_in_mbs.unwrap_or(DEFAULT_SIZE_MIB);
    let interval_seconds = hints
        .interval_in_seconds
        .unwrap_or(DEFAULT_INTERVAL_SECONDS);

    // The configuration as stored: as given without the key, with AWS's defaults filled in.
    let mut stored_endpoint = json!({ "Url": url });
    if let Some(name) = &endpoint.name {
        stored_endpoint["Name"] = json!(name);
    }
    object.insert("EndpointConfiguration".to_owned(), stored_endpoint);
    object.insert(
        "BufferingHints".to_owned(),
        json!({"SizeInMBs": size_mib, "IntervalInSeconds": interval_seconds}),
    );
    let mut stored_request = json!({
        "ContentEncoding": match content_encoding {
            ContentEncoding::None => "NONE",
            ContentEncoding::Gzip => "GZIP",
        },
    });
    if !attributes.is_empty() {
        stored_request["CommonAttributes"] = attributes
            .iter()
            .map(|attribute| {
                json!({
                    "AttributeName": attribute.attribute_name,
                    "AttributeValue": attribute.attribute_value,
                })
            })
            .collect();
    }
    object.insert("RequestConfiguration".to_owned(), stored_request);
    object.insert(
        "RetryOptions".to_owned(),
        json!({"DurationInSeconds": retry_seconds}),
    );
    object.insert("S3BackupMode".to_owned(), json!(backup_mode));
    object.insert("S3Configuration".to_owned(), backup.configuration);
    object
        .entry("CloudWatchLoggingOptions")
        .or_insert_with(|| json!({"Enabled": false}));
    object.insert(
        "SecretsManagerConfiguration".to_owned(),
        json!({"Enabled": false}),
    );

    Ok(ValidDestination {
        configuration: Value::Object(object),
        spec: DestinationSpec {
            destination_id: DESTINATION_ID.to_owned(),
            target: DestinationTarget::HttpEndpoint(HttpEndpointDestination {
                url,
                name: endpoint.name.unwrap_or_default(),
                sealed_access_key,
                content_encoding,
                common_attributes: attributes
                    .into_iter()
                    .map(|attribute| {
                        (
                            attribute.attribute_name.unwrap_or_default(),
                            attribute.attribute_value.unwrap_or_default(),
                        )
                    })
                    .collect(),
                buffering: Buffering {
                    size_mib: u32::try_from(size_mib).unwrap_or(5),
                    interval_seconds: u32::try_from(interval_seconds).unwrap_or(300),
                },
                retry_duration_seconds: u32::try_from(retry_seconds).unwrap_or(300),
                processors: chain.processors,
                backup_all_data: backup_mode == "AllData",
                backup: backup_target,
            }),
        },
    })
}

/// `HttpEndpointDestinationDescription` of a stored configuration.
pub(crate) fn description(stored: &Value) -> Value {
    let mut description = stored.as_object().cloned().unwrap_or_default();
    if let Some(s3) = description.remove("S3Configuration") {
        description.insert(
            "S3DestinationDescription".to_owned(),
            legacy_description(&s3),
        );
    }
    Value::Object(description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealing(secret_box: &SecretBox) -> Sealing<'_> {
        Sealing {
            secret_box: Some(secret_box),
            delivery_stream_id: Uuid::from_u128(7),
        }
    }

    fn config(extra: Value) -> Value {
        let mut base = json!({
            "EndpointConfiguration": {"Url": "http://127.0.0.1:9000/ingest", "Name": "sink", "AccessKey": "k-123"},
            "S3Configuration": {
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": "arn:aws:s3:::backup",
            },
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
            base.extend(extra);
        }
        base
    }

    fn http(valid: &ValidDestination) -> &HttpEndpointDestination {
        match &valid.spec.target {
            DestinationTarget::HttpEndpoint(http) => http,
            other => panic!("not an HTTP endpoint: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_aws_defaults_and_the_key_is_sealed_not_stored() {
        let secret_box = SecretBox::new([9; 32]);
        let valid = from_configuration(&config(json!({})), sealing(&secret_box)).unwrap();
        let target = http(&valid);
        assert_eq!(target.buffering.size_mib, 5);
        assert_eq!(target.buffering.interval_seconds, 300);
        assert_eq!(target.retry_duration_seconds, 300);
        assert_eq!(target.content_encoding, ContentEncoding::None);
        assert!(!target.backup_all_data);
        assert_eq!(target.backup.bucket, "backup");
        let sealed = target.sealed_access_key.as_deref().unwrap();
        assert_eq!(
            secret_box
                .open(sealed, &http_access_key_context(Uuid::from_u128(7)))
                .unwrap(),
            "k-123"
        );
        let text = valid.configuration.to_string();
        assert!(!text.contains("k-123"), "{text}");
        assert_eq!(valid.configuration["S3BackupMode"], "FailedDataOnly");
        let described = description(&valid.configuration);
        assert_eq!(
            described["S3DestinationDescription"]["BucketARN"],
            "arn:aws:s3:::backup"
        );
        assert_eq!(
            described["EndpointConfiguration"]["Url"],
            "http://127.0.0.1:9000/ingest"
        );
    }

    #[test]
    fn modelled_constraints_are_validation_errors() {
        let secret_box = SecretBox::new([9; 32]);
        for (extra, member) in [
            (json!({"BufferingHints": {"SizeInMBs": 65}}), "sizeInMBs"),
            (
                json!({"RetryOptions": {"DurationInSeconds": 7201}}),
                "durationInSeconds",
            ),
            (json!({"S3BackupMode": "Sometimes"}), "s3BackupMode"),
            (
                json!({"RequestConfiguration": {"ContentEncoding": "BROTLI"}}),
                "contentEncoding",
            ),
            (
                json!({"RequestConfiguration": {"CommonAttributes": [{"AttributeName": ""}]}}),
                "attributeName",
            ),
            (json!({"EndpointConfiguration": {"Name": "n"}}), "url"),
            (
                json!({"EndpointConfiguration": {"Url": "http://h/", "AccessKey": "k".repeat(4097)}}),
                "accessKey",
            ),
            (json!({"S3Configuration": null}), "s3Configuration"),
        ] {
            let error =
                from_configuration(&config(extra.clone()), sealing(&secret_box)).unwrap_err();
            assert_eq!(error.kind.type_name(), "ValidationException", "{extra}");
            assert!(error.message.contains(member), "{}", error.message);
            assert!(!error.message.contains("kkkk"), "a key is never echoed");
        }
    }

    #[test]
    fn semantic_errors_are_invalid_arguments() {
        let secret_box = SecretBox::new([9; 32]);
        for extra in [
            json!({"EndpointConfiguration": {"Url": "ftp://host/x"}}),
            json!({"EndpointConfiguration": {"Url": "https://user:pw@host/x"}}),
            json!({"SecretsManagerConfiguration": {"Enabled": true, "SecretARN": "arn:x"}}),
            json!({"ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "MetadataExtraction",
                "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{a:.a}"},
                               {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]}}),
            json!({"S3Configuration": {"RoleARN": "arn:aws:iam::123456789012:role/r", "BucketARN": "arn:aws:s3:::Bad_Name"}}),
        ] {
            let error =
                from_configuration(&config(extra.clone()), sealing(&secret_box)).unwrap_err();
            assert_eq!(
                error.kind.type_name(),
                "InvalidArgumentException",
                "{extra}: {}",
                error.message
            );
        }
        let error =
            from_configuration(&config(json!({"Bogus": 1})), sealing(&secret_box)).unwrap_err();
        assert_eq!(error.kind.type_name(), "SerializationException");
        let error = from_configuration(
            &config(json!({"S3Configuration": {"BucketARN": "arn:aws:s3:::b", "RoleARN": "arn:aws:iam::123456789012:role/r", "DynamicPartitioningConfiguration": {}}})),
            sealing(&secret_box),
        )
        .unwrap_err();
        assert!(error.message.contains("DynamicPartitioningConfiguration"));
    }

    #[test]
    fn updates_merge_and_keep_the_key_unless_given() {
        let secret_box = SecretBox::new([9; 32]);
        let created = from_configuration(
            &config(json!({"RequestConfiguration": {"ContentEncoding": "GZIP",
                "CommonAttributes": [{"AttributeName": "team", "AttributeValue": "data"}]}})),
            sealing(&secret_box),
        )
        .unwrap();
        let kept = merge_update(
            &created.configuration,
            &created.spec.target,
            &json!({"EndpointConfiguration": {"Url": "http://127.0.0.1:9001/v2"},
                    "BufferingHints": {"IntervalInSeconds": 60},
                    "S3Update": {"Prefix": "backup/"}}),
            sealing(&secret_box),
        )
        .unwrap();
        let target = http(&kept);
        assert_eq!(target.url, "http://127.0.0.1:9001/v2");
        assert_eq!(target.name, "sink");
        assert_eq!(target.buffering.interval_seconds, 60);
        assert_eq!(target.buffering.size_mib, 5);
        assert_eq!(target.content_encoding, ContentEncoding::Gzip);
        assert_eq!(
            target.common_attributes,
            [("team".to_owned(), "data".to_owned())]
        );
        assert_eq!(target.backup.prefix, "backup/");
        assert_eq!(target.sealed_access_key, http(&created).sealed_access_key);
        let removed = merge_update(
            &kept.configuration,
            &kept.spec.target,
            &json!({"EndpointConfiguration": {"AccessKey": ""}}),
            sealing(&secret_box),
        )
        .unwrap();
        assert_eq!(http(&removed).sealed_access_key, None);
        let s3 = super::super::destination::from_configuration(
            &json!({"RoleARN": "arn:aws:iam::123456789012:role/r", "BucketARN": "arn:aws:s3:::bkt"}),
            S3Shape::Extended,
        )
        .unwrap();
        let error = merge_update(
            &s3.configuration,
            &s3.spec.target,
            &json!({}),
            sealing(&secret_box),
        )
        .unwrap_err();
        assert_eq!(error.kind.type_name(), "InvalidArgumentException");
    }
}
