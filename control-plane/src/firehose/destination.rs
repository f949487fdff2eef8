//! S3 destinations: `ExtendedS3DestinationConfiguration` and the legacy
//! `S3DestinationConfiguration` in, Fjord's [`ObjectStoreDestination`] out; the merge of an
//! `ExtendedS3DestinationUpdate`/`S3DestinationUpdate` onto what is stored; and the
//! `ExtendedS3DestinationDescription`/`S3DestinationDescription` Describe answers.
//!
//! What is stored is the configuration as given with AWS's defaults filled in, so Describe
//! round-trips it and an update merges onto it. Options Fjord does not deliver yet (record
//! transformation, format conversion, dynamic partitioning, backup, KMS) are refused with
//! `InvalidArgumentException` naming them, never silently ignored.

use fjord_common::aws_error::AwsError;
use fjord_common::firehose::{
    Buffering, Compression, DestinationSpec, DestinationTarget, ObjectStoreDestination,
};
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The one destination a delivery stream has, as Firehose numbers it.
pub(crate) const DESTINATION_ID: &str = "destinationId-000000000001";

pub(crate) const DEFAULT_SIZE_MIB: i64 = 5;
/// The smallest buffer with dynamic partitioning enabled (AWS: 64 MiB).
pub(crate) const MIN_PARTITIONED_SIZE_MIB: i64 = 64;
pub(crate) const DEFAULT_INTERVAL_SECONDS: i64 = 300;
/// The default buffer with data format conversion enabled (AWS: 128 MiB).
const DEFAULT_CONVERTED_SIZE_MIB: i64 = 128;

/// Fields of the legacy `S3DestinationConfiguration` (and of `S3DestinationUpdate`).
const LEGACY_FIELDS: &[&str] = &[
    "RoleARN",
    "BucketARN",
    "Prefix",
    "ErrorOutputPrefix",
    "BufferingHints",
    "CompressionFormat",
    "EncryptionConfiguration",
    "CloudWatchLoggingOptions",
];

/// An S3 destination configuration or update, every field AWS models.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct S3Configuration {
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
    #[serde(rename = "BucketARN")]
    bucket_arn: Option<String>,
    prefix: Option<String>,
    error_output_prefix: Option<String>,
    buffering_hints: Option<BufferingHints>,
    compression_format: Option<String>,
    encryption_configuration: Option<Value>,
    /// Accepted and kept for Describe; Fjord logs delivery errors to its own log.
    #[allow(dead_code)]
    cloud_watch_logging_options: Option<Value>,
    processing_configuration: Option<Value>,
    #[serde(rename = "S3BackupMode")]
    s3_backup_mode: Option<String>,
    #[serde(rename = "S3BackupConfiguration")]
    s3_backup_configuration: Option<Value>,
    data_format_conversion_configuration: Option<Value>,
    dynamic_partitioning_configuration: Option<Value>,
    file_extension: Option<String>,
    custom_time_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct BufferingHints {
    #[serde(rename = "SizeInMBs")]
    pub(crate) size_in_mbs: Option<i64>,
    pub(crate) interval_in_seconds: Option<i64>,
}

/// Which of the two S3 shapes a configuration came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum S3Shape {
    Extended,
    Legacy,
    /// An HTTP endpoint destination's backup bucket (`S3Configuration`/`S3Update`), in the
    /// legacy shape.
    Backup,
}

impl S3Shape {
    fn member(self, update: bool) -> &'static str {
        match (self, update) {
            (Self::Extended, false) => "extendedS3DestinationConfiguration",
            (Self::Legacy, false) => "s3DestinationConfiguration",
            (Self::Backup, false) => "httpEndpointDestinationConfiguration.s3Configuration",
            (Self::Extended, true) => "extendedS3DestinationUpdate",
            (Self::Legacy, true) => "s3DestinationUpdate",
            (Self::Backup, true) => "httpEndpointDestinationUpdate.s3Update",
        }
    }

    fn aws_name(self, update: bool) -> &'static str {
        match (self, update) {
            (Self::Extended, false) => "ExtendedS3DestinationConfiguration",
            (Self::Legacy, false) => "S3DestinationConfiguration",
            (Self::Backup, false) => "S3Configuration",
            (Self::Extended, true) => "ExtendedS3DestinationUpdate",
            (Self::Legacy, true) => "S3DestinationUpdate",
            (Self::Backup, true) => "S3Update",
        }
    }
}

/// A validated S3 destination: the configuration to store and the spec to publish.
#[derive(Debug, Clone)]
pub(crate) struct ValidDestination {
    pub configuration: Value,
    pub spec: DestinationSpec,
}

/// Validates a destination configuration as given to CreateDeliveryStream.
pub(crate) fn from_configuration(
    given: &Value,
    shape: S3Shape,
) -> Result<ValidDestination, AwsError> {
    let object = as_object(given, shape.aws_name(false))?;
    if shape != S3Shape::Extended {
        refuse_extended_fields(object, shape.aws_name(false))?;
    }
    validate(object.clone(), shape.member(false))
}

/// Merges an update onto the stored configuration and validates the result.
pub(crate) fn merge_update(
    stored: &Value,
    update: &Value,
    shape: S3Shape,
) -> Result<ValidDestination, AwsError> {
    let update = as_object(update, shape.aws_name(true))?;
    if shape != S3Shape::Extended {
        refuse_extended_fields(update, shape.aws_name(true))?;
    }
    let mut merged = stored.as_object().cloned().unwrap_or_default();
    for (field, value) in update {
        match (field.as_str(), value) {
            ("BufferingHints", Value::Object(hints)) => {
                let entry = merged.entry("BufferingHints").or_insert_with(|| json!({}));
                if let Value::Object(current) = entry {
                    for (hint, hint_value) in hints {
                        current.insert(hint.clone(), hint_value.clone());
                    }
                }
            }
            ("S3BackupUpdate", value) => {
                merged.insert("S3BackupConfiguration".to_owned(), value.clone());
            }
            (field, value) => {
                merged.insert(field.to_owned(), value.clone());
            }
        }
    }
    validate(merged, shape.member(true))
}

pub(crate) fn as_object<'a>(
    value: &'a Value,
    name: &str,
) -> Result<&'a Map<String, Value>, AwsError> {
    value
        .as_object()
        .ok_or_else(|| serialization(format!("{name} must be an object")))
}

pub(crate) fn serialization(message: String) -> AwsError {
    AwsError::new(
        fjord_common::aws_error::AwsErrorKind::SerializationException,
        message,
    )
}

fn refuse_extended_fields(object: &Map<String, Value>, name: &str) -> Result<(), AwsError> {
    match object
        .keys()
        .find(|field| !LEGACY_FIELDS.contains(&field.as_str()))
    {
        Some(field) => Err(serialization(format!(
            "Unable to parse the request: unknown field `{field}` in {name}, expected one of {}",
            LEGACY_FIELDS.join(", ")
        ))),
        None => Ok(()),
    }
}

pub(crate) fn not_supported(what: &str) -> AwsError {
    AwsError::invalid_argument(format!("{what} is not supported yet by Fjord."))
}

/// Whether an AWS `{ "Enabled": … }` option is switched on (absent `Enabled` counts as on
/// when the option carries anything else, as AWS reads it).
pub(crate) fn enabled(option: &Value) -> bool {
    match option.get("Enabled") {
        Some(Value::Bool(enabled)) => *enabled,
        _ => option.as_object().is_some_and(|fields| !fields.is_empty()),
    }
}

/// Whether any key or string in `value` holds NUL, which Postgres cannot store in `jsonb`.
pub(crate) fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

fn validate(mut object: Map<String, Value>, member: &str) -> Result<ValidDestination, AwsError> {
    if contains_nul(&Value::Object(object.clone())) {
        let mut validation = Validation::new();
        validation.fail("\\0", member, "Member must not contain NUL characters");
        validation.finish()?;
    }
    let config: S3Configuration = serde_json::from_value(Value::Object(object.clone()))
        .map_err(|error| serialization(format!("Unable to parse the request: {error}")))?;
    let field = |name: &str| format!("{member}.{name}");
    let mut validation = Validation::new();
    match &config.role_arn {
        None => validation.fail("null", &field("roleARN"), "Member must not be null"),
        Some(arn) if arn.is_empty() || arn.len() > 512 => {
            validation.length(arn, &field("roleARN"), 1, 512)
        }
        Some(arn) if !is_role_arn(arn) => validation.fail(
            arn,
            &field("roleARN"),
            "Member must satisfy regular expression pattern: arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
        ),
        Some(_) => {}
    }
    match &config.bucket_arn {
        None => validation.fail("null", &field("bucketARN"), "Member must not be null"),
        Some(arn) if arn.is_empty() || arn.len() > 2048 => {
            validation.length(arn, &field("bucketARN"), 1, 2048)
        }
        Some(arn) if !matches_bucket_arn_pattern(arn) => validation.fail(
            arn,
            &field("bucketARN"),
            "Member must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{1,255}",
        ),
        Some(_) => {}
    }
    if let Some(prefix) = &config.prefix {
        validation.length(prefix, &field("prefix"), 0, 1024);
    }
    if let Some(prefix) = &config.error_output_prefix {
        validation.length(prefix, &field("errorOutputPrefix"), 0, 1024);
    }
    let hints = config.buffering_hints.unwrap_or_default();
    if let Some(size) = hints.size_in_mbs {
        validation.range(size, &field("bufferingHints.sizeInMBs"), 1, 128);
    }
    if let Some(interval) = hints.interval_in_seconds {
        validation.range(interval, &field("bufferingHints.intervalInSeconds"), 0, 900);
    }
    let compression = match config.compression_format.as_deref() {
        None => Some(Compression::Uncompressed),
        Some(text) => {
            let parsed = Compression::from_aws(text);
            if parsed.is_none() {
                validation.fail(
                    text,
                    &field("compressionFormat"),
                    "Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]",
                );
            }
            parsed
        }
    };
    if let Some(mode) = &config.s3_backup_mode
        && mode != "Disabled"
        && mode != "Enabled"
    {
        validation.fail(
            mode,
            &field("s3BackupMode"),
            "Member must satisfy enum value set: [Disabled, Enabled]",
        );
    }
    if let Some(extension) = &config.file_extension {
        validation.length(extension, &field("fileExtension"), 0, 128);
    }
    if let Some(zone) = &config.custom_time_zone {
        validation.length(zone, &field("customTimeZone"), 0, 50);
    }
    validation.finish()?;

    // What Fjord does not deliver yet.
    let chain = super::processing::processors(config.processing_configuration.as_ref())?;
    let dynamic_partitioning = config
        .dynamic_partitioning_configuration
        .as_ref()
        .is_some_and(enabled);
    let conversion = match config
        .data_format_conversion_configuration
        .as_ref()
        .filter(|given| enabled(given))
    {
        Some(given) => Some(super::conversion::parse(given, member)?),
        None => None,
    };
    if config.s3_backup_mode.as_deref() == Some("Enabled")
        || config.s3_backup_configuration.is_some()
    {
        return Err(not_supported(
            "S3 backup (S3BackupMode Enabled, S3BackupConfiguration)",
        ));
    }
    if let Some(encryption) = &config.encryption_configuration
        && encryption.get("KMSEncryptionConfig").is_some()
    {
        return Err(not_supported("KMSEncryptionConfig"));
    }
    if config
        .file_extension
        .as_deref()
        .is_some_and(|extension| !extension.is_empty())
    {
        return Err(not_supported("FileExtension"));
    }
    if config
        .custom_time_zone
        .as_deref()
        .is_some_and(|zone| !zone.is_empty() && zone != "UTC")
    {
        return Err(not_supported("A CustomTimeZone other than UTC"));
    }

    // Semantic checks.
    let bucket_arn = config.bucket_arn.unwrap_or_default();
    let Some(bucket) = bucket_arn.strip_prefix("arn:aws:s3:::") else {
        return Err(AwsError::invalid_argument(format!(
            "BucketARN {bucket_arn} is not an S3 bucket ARN of the form arn:aws:s3:::<bucket>."
        )));
    };
    if !is_valid_bucket_name(bucket) {
        return Err(AwsError::invalid_argument(format!(
            "Bucket name {bucket} is not valid: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
        )));
    }
    let prefix = config.prefix.unwrap_or_default();
    let error_output_prefix = config.error_output_prefix.unwrap_or_default();
    check_expressions(&prefix, "Prefix", dynamic_partitioning)?;
    check_expressions(&error_output_prefix, "ErrorOutputPrefix", false)?;
    check_partitioning(&prefix, dynamic_partitioning, &chain)?;
    if prefix.contains("!{") && error_output_prefix.is_empty() {
        return Err(AwsError::invalid_argument(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions.",
        ));
    }
    let size_mib = hints.size_in_mbs.unwrap_or(if conversion.is_some() {
        DEFAULT_CONVERTED_SIZE_MIB
    } else if dynamic_partitioning {
        MIN_PARTITIONED_SIZE_MIB
    } else {
        DEFAULT_SIZE_MIB
    });
    if conversion.is_some() && size_mib < MIN_PARTITIONED_SIZE_MIB {
        return Err(AwsError::invalid_argument(format!(
            "BufferingHints.SizeInMBs must be at least {MIN_PARTITIONED_SIZE_MIB} when data format conversion is enabled."
        )));
    }
    if conversion.is_some() && compression != Some(Compression::Uncompressed) {
        return Err(AwsError::invalid_argument(
            "CompressionFormat must be UNCOMPRESSED when data format conversion is enabled: the Parquet serializer compresses (ParquetSerDe.Compression).",
        ));
    }
    if dynamic_partitioning && size_mib < MIN_PARTITIONED_SIZE_MIB {
        return Err(AwsError::invalid_argument(format!(
            "BufferingHints.SizeInMBs must be at least {MIN_PARTITIONED_SIZE_MIB} when dynamic partitioning is enabled."
        )));
    }
    let interval_seconds = hints
        .interval_in_seconds
        .unwrap_or(DEFAULT_INTERVAL_SECONDS);
    let compression = compression.unwrap_or_default();

    // The configuration as stored: as given, with AWS's defaults filled in.
    object.insert(
        "BufferingHints".to_owned(),
        json!({"SizeInMBs": size_mib, "IntervalInSeconds": interval_seconds}),
    );
    object.insert("CompressionFormat".to_owned(), json!(compression.as_aws()));
    object
        .entry("EncryptionConfiguration")
        .or_insert_with(|| json!({"NoEncryptionConfig": "NoEncryption"}));
    object
        .entry("CloudWatchLoggingOptions")
        .or_insert_with(|| json!({"Enabled": false}));
    object.remove("S3BackupConfiguration");
    object.insert("S3BackupMode".to_owned(), json!("Disabled"));

    Ok(ValidDestination {
        configuration: Value::Object(object),
        spec: DestinationSpec {
            destination_id: DESTINATION_ID.to_owned(),
            target: DestinationTarget::ObjectStore(ObjectStoreDestination {
                bucket: bucket.to_owned(),
                bucket_arn,
                prefix,
                error_output_prefix,
                buffering: Buffering {
                    size_mib: u32::try_from(size_mib).unwrap_or(5),
                    interval_seconds: u32::try_from(interval_seconds).unwrap_or(300),
                },
                compression,
                store: None,
                processors: chain.processors,
                partition_keys: chain.partition_keys,
                conversion,
            }),
        },
    })
}

/// `!{…}` expressions Fjord evaluates: `timestamp:<format>` and `firehose:<random-string |
/// error-output-type>`. Others (`partitionKeyFromQuery`, `partitionKeyFromLambda`) need
/// dynamic partitioning.
/// Dynamic partitioning's rules: enabled, the prefix must use partition keys, each query key
/// defined by the `MetadataExtraction` query and function keys only with a `Lambda`
/// processor; query keys only come with dynamic partitioning enabled.
fn check_partitioning(
    prefix: &str,
    dynamic_partitioning: bool,
    chain: &super::processing::Chain,
) -> Result<(), AwsError> {
    if !dynamic_partitioning {
        if chain.partition_keys.is_empty() {
            return Ok(());
        }
        return Err(AwsError::invalid_argument(
            "The MetadataExtraction processor needs DynamicPartitioningConfiguration enabled.",
        ));
    }
    let has_function = chain.processors.iter().any(|processor| {
        matches!(
            processor,
            fjord_common::firehose::Processor::Function { .. }
        )
    });
    let mut used = 0;
    for (namespace, from_function) in [
        ("!{partitionKeyFromQuery:", false),
        ("!{partitionKeyFromLambda:", true),
    ] {
        let mut rest = prefix;
        while let Some(start) = rest.find(namespace) {
            let after = &rest[start + namespace.len()..];
            let end = after.find('}').unwrap_or(after.len());
            let name = &after[..end];
            if from_function && !has_function {
                return Err(AwsError::invalid_argument(format!(
                    "Prefix uses !{{partitionKeyFromLambda:{name}}}, which needs a Lambda processor."
                )));
            }
            if !from_function && !chain.partition_keys.iter().any(|key| key.name == name) {
                return Err(AwsError::invalid_argument(format!(
                    "Prefix uses !{{partitionKeyFromQuery:{name}}}, which the MetadataExtraction query does not define."
                )));
            }
            used += 1;
            rest = &after[end..];
        }
    }
    if used == 0 {
        return Err(AwsError::invalid_argument(
            "With dynamic partitioning enabled, Prefix must use at least one !{partitionKeyFromQuery:<key>} or !{partitionKeyFromLambda:<key>} expression.",
        ));
    }
    Ok(())
}

fn check_expressions(prefix: &str, name: &str, partition_keys: bool) -> Result<(), AwsError> {
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(AwsError::invalid_argument(format!(
                "{name} has an unterminated expression."
            )));
        };
        let expression = &after[..end];
        let known = expression
            .strip_prefix("timestamp:")
            .is_some_and(|format| !format.is_empty())
            || matches!(
                expression,
                "firehose:random-string" | "firehose:error-output-type"
            )
            || (partition_keys
                && ["partitionKeyFromQuery:", "partitionKeyFromLambda:"]
                    .iter()
                    .any(|namespace| {
                        expression
                            .strip_prefix(namespace)
                            .is_some_and(|key| !key.is_empty())
                    }));
        if !known {
            return Err(AwsError::invalid_argument(format!(
                "{name} expression !{{{expression}}} is not supported: use !{{timestamp:<format>}}, !{{firehose:random-string}} or !{{firehose:error-output-type}}."
            )));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// `arn:<partition>:iam::<12 digits>:role/<name>`.
pub(crate) fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, _partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let Some(role) = resource.strip_prefix("role/") else {
        return false;
    };
    scheme == "arn"
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
}

/// `arn:.*:s3:::[\w.-]{1,255}`.
fn matches_bucket_arn_pattern(arn: &str) -> bool {
    if !arn.starts_with("arn:") {
        return false;
    }
    let Some(position) = arn.rfind(":s3:::") else {
        return false;
    };
    let bucket = &arn[position + ":s3:::".len()..];
    (1..=255).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// S3's bucket naming rules (general purpose buckets).
pub(crate) fn is_valid_bucket_name(bucket: &str) -> bool {
    let bytes = bucket.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !bucket.contains("..")
        && bucket.parse::<std::net::Ipv4Addr>().is_err()
}

/// `ExtendedS3DestinationDescription` of a stored configuration.
pub(crate) fn extended_description(stored: &Value) -> Value {
    stored.clone()
}

/// `S3DestinationDescription` of a stored configuration: the legacy fields only.
pub(crate) fn legacy_description(stored: &Value) -> Value {
    let mut description = Map::new();
    if let Some(object) = stored.as_object() {
        for field in LEGACY_FIELDS {
            if let Some(value) = object.get(*field) {
                description.insert((*field).to_owned(), value.clone());
            }
        }
    }
    Value::Object(description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: Value) -> Value {
        let mut base = json!({
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::lake",
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
            base.extend(extra);
        }
        base
    }

    #[test]
    fn dynamic_partitioning_follows_firehose_rules() {
        let extraction = json!({"Enabled": true, "Processors": [{"Type": "MetadataExtraction",
            "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer:.customer}"},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]});
        let partitioned = |extra: Value| {
            let mut fields = json!({
                "DynamicPartitioningConfiguration": {"Enabled": true},
                "ProcessingConfiguration": extraction,
                "Prefix": "c=!{partitionKeyFromQuery:customer}/",
                "ErrorOutputPrefix": "errors/",
            });
            if let (Value::Object(fields), Value::Object(extra)) = (&mut fields, extra) {
                fields.extend(extra);
            }
            from_configuration(&config(fields), S3Shape::Extended)
        };
        let valid = partitioned(json!({})).unwrap();
        let object = valid.spec.target.bucket();
        assert_eq!(object.partition_keys.len(), 1);
        assert_eq!(object.buffering.size_mib, 64, "the partitioned default");
        for (extra, says) in [
            (json!({"Prefix": "static/"}), "at least one"),
            (
                json!({"Prefix": "k=!{partitionKeyFromQuery:nope}/"}),
                "does not define",
            ),
            (json!({"BufferingHints": {"SizeInMBs": 5}}), "at least 64"),
            (
                json!({"ErrorOutputPrefix": "e/!{partitionKeyFromQuery:customer}/"}),
                "not supported",
            ),
        ] {
            let error = partitioned(extra.clone()).unwrap_err();
            assert!(error.message.contains(says), "{extra}: {}", error.message);
        }
        let without = from_configuration(
            &config(json!({"ProcessingConfiguration": extraction})),
            S3Shape::Extended,
        )
        .unwrap_err();
        assert!(
            without
                .message
                .contains("needs DynamicPartitioningConfiguration")
        );
        let keys_without = from_configuration(
            &config(json!({"Prefix": "k=!{partitionKeyFromQuery:customer}/", "ErrorOutputPrefix": "e/"})),
            S3Shape::Extended,
        )
        .unwrap_err();
        assert_eq!(keys_without.kind.type_name(), "InvalidArgumentException");
    }

    #[test]
    fn defaults_are_aws_defaults() {
        let valid = from_configuration(&config(json!({})), S3Shape::Extended).unwrap();
        let target = valid.spec.target.bucket().clone();
        assert_eq!(target.bucket, "lake");
        assert_eq!(target.buffering.size_mib, 5);
        assert_eq!(target.buffering.interval_seconds, 300);
        assert_eq!(target.compression, Compression::Uncompressed);
        assert_eq!(
            valid.configuration["BufferingHints"],
            json!({"SizeInMBs": 5, "IntervalInSeconds": 300})
        );
        assert_eq!(valid.configuration["S3BackupMode"], "Disabled");
    }

    #[test]
    fn modelled_constraints_are_validation_errors() {
        for (extra, member) in [
            (json!({"BufferingHints": {"SizeInMBs": 129}}), "sizeInMBs"),
            (
                json!({"BufferingHints": {"IntervalInSeconds": 901}}),
                "intervalInSeconds",
            ),
            (json!({"Prefix": "p".repeat(1025)}), "prefix"),
            (json!({"CompressionFormat": "BROTLI"}), "compressionFormat"),
            (json!({"BucketARN": "bucket"}), "bucketARN"),
            (json!({"RoleARN": "role"}), "roleARN"),
        ] {
            let error = from_configuration(&config(extra), S3Shape::Extended).unwrap_err();
            assert_eq!(error.kind.type_name(), "ValidationException", "{member}");
            assert!(error.message.contains(member), "{}", error.message);
        }
    }

    #[test]
    fn unsupported_options_and_bad_buckets_are_invalid_arguments() {
        for extra in [
            json!({"ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "MetadataExtraction"}]}}),
            json!({"DataFormatConversionConfiguration": {"Enabled": true}}),
            json!({"S3BackupMode": "Enabled"}),
            json!({"BucketARN": "arn:aws:s3:::Upper_Case"}),
            json!({"BucketARN": "arn:aws-cn:s3:::lake"}),
            json!({"Prefix": "a/!{timestamp:yyyy}/"}),
            json!({"Prefix": "!{partitionKeyFromQuery:id}/", "ErrorOutputPrefix": "e/"}),
        ] {
            let error = from_configuration(&config(extra.clone()), S3Shape::Extended).unwrap_err();
            assert_eq!(
                error.kind.type_name(),
                "InvalidArgumentException",
                "{extra}"
            );
        }
        let disabled = json!({"ProcessingConfiguration": {"Enabled": false}});
        assert!(from_configuration(&config(disabled), S3Shape::Extended).is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error =
            from_configuration(&config(json!({"Bogus": 1})), S3Shape::Extended).unwrap_err();
        assert!(error.message.contains("Bogus"), "{}", error.message);
        let error = from_configuration(
            &config(json!({"DynamicPartitioningConfiguration": {"Enabled": false}})),
            S3Shape::Legacy,
        )
        .unwrap_err();
        assert!(error.message.contains("DynamicPartitioningConfiguration"));
    }

    #[test]
    fn updates_merge_onto_the_stored_configuration() {
        let stored = from_configuration(
            &config(json!({"Prefix": "a/", "BufferingHints": {"SizeInMBs": 64}})),
            S3Shape::Extended,
        )
        .unwrap()
        .configuration;
        let merged = merge_update(
            &stored,
            &json!({"BufferingHints": {"IntervalInSeconds": 60}, "CompressionFormat": "GZIP"}),
            S3Shape::Legacy,
        )
        .unwrap();
        let target = merged.spec.target.bucket().clone();
        assert_eq!(target.prefix, "a/");
        assert_eq!(target.buffering.size_mib, 64);
        assert_eq!(target.buffering.interval_seconds, 60);
        assert_eq!(target.compression, Compression::Gzip);
        assert_eq!(
            legacy_description(&merged.configuration)["CompressionFormat"],
            "GZIP"
        );
    }

    #[test]
    fn nul_anywhere_is_a_validation_error() {
        let error = from_configuration(&config(json!({"Prefix": "a\u{0}b"})), S3Shape::Extended)
            .unwrap_err();
        assert_eq!(error.kind.type_name(), "ValidationException");
        let error = from_configuration(
            &config(json!({"CloudWatchLoggingOptions": {"LogGroupName": "\u{0}"}})),
            S3Shape::Extended,
        )
        .unwrap_err();
        assert_eq!(error.kind.type_name(), "ValidationException");
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(is_valid_bucket_name("my-lake.2026"));
        assert!(!is_valid_bucket_name("ab"));
        assert!(!is_valid_bucket_name("-lake"));
        assert!(!is_valid_bucket_name("a..b"));
        assert!(!is_valid_bucket_name("192.168.1.1"));
    }
}
