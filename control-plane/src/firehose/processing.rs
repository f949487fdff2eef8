//! `ProcessingConfiguration`: the record transformation chain of a delivery stream, validated
//! as Firehose validates it and turned into Fjord's [`Processor`] steps.
//!
//! Supported: `Lambda` (Fjord calls the function over HTTP: its `LambdaArn` parameter is the
//! function's `http(s)://` URL; `NumberOfRetries` 0-300, default 3; `BufferSizeInMBs` 0.2-3,
//! default 1; `BufferIntervalInSeconds` 60-900 and `RoleArn` are accepted and not used) and
//! `AppendDelimiterToRecord` (`Delimiter`, default `\n`, with `\n`, `\r`, `\t` and `\\`
//! escapes), and `MetadataExtraction` (`MetadataExtractionQuery`, a JQ object of paths such as
//! `{customer:.customer.id, kind:.type}`; `JsonParsingEngine` `JQ-1.6`), which gives dynamic
//! partitioning its keys. Other processor types are refused as not supported yet.

use fjord_common::aws_error::AwsError;
use fjord_common::firehose::{PartitionKey, Processor};
use serde_json::Value;

/// At most this many processors (Firehose's limit).
const MAX_PROCESSORS: usize = 5;
const DEFAULT_RETRIES: u32 = 3;
const MAX_RETRIES: u32 = 300;
const DEFAULT_BATCH_MB: f64 = 1.0;

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::invalid_argument(message)
}

/// What a `ProcessingConfiguration` asks for: the transformation steps, and the partition keys
/// its `MetadataExtraction` processor defines.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    pub(crate) processors: Vec<Processor>,
    pub(crate) partition_keys: Vec<PartitionKey>,
}

/// One parsed processor.
enum Step {
    Processor(Processor),
    Keys(Vec<PartitionKey>),
}

/// The chain a `ProcessingConfiguration` asks for; empty when it is absent or disabled.
pub(crate) fn processors(configuration: Option<&Value>) -> Result<Chain, AwsError> {
    let mut chain = Chain::default();
    let Some(configuration) = configuration else {
        return Ok(chain);
    };
    if configuration.get("Enabled") == Some(&Value::Bool(false)) {
        return Ok(chain);
    }
    let listed = match configuration.get("Processors") {
        None | Some(Value::Null) => return Ok(chain),
        Some(Value::Array(listed)) => listed,
        Some(_) => {
            return Err(invalid(
                "ProcessingConfiguration.Processors must be a list.",
            ));
        }
    };
    if listed.len() > MAX_PROCESSORS {
        return Err(invalid(format!(
            "ProcessingConfiguration.Processors holds at most {MAX_PROCESSORS} processors."
        )));
    }
    for listed in listed {
        match processor(listed)? {
            Step::Processor(processor) => chain.processors.push(processor),
            Step::Keys(keys) if chain.partition_keys.is_empty() => chain.partition_keys = keys,
            Step::Keys(_) => {
                return Err(invalid(
                    "Only one MetadataExtraction processor may be configured.",
                ));
            }
        }
    }
    Ok(chain)
}

/// One processor's `Parameters` as (name, value) pairs.
/// Whether `text` is an http(s) URL with a host and without credentials.
pub(crate) fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|host| !host.is_empty())
            && url.username().is_empty()
            && url.password().is_none()
    })
}

fn parameters(processor: &Value) -> Result<Vec<(&str, &str)>, AwsError> {
    let Some(listed) = processor.get("Parameters") else {
        return Ok(Vec::new());
    };
    let Some(listed) = listed.as_array() else {
        return Err(invalid("Processor Parameters must be a list."));
    };
    listed
        .iter()
        .map(|parameter| {
            match (
                parameter.get("ParameterName").and_then(Value::as_str),
                parameter.get("ParameterValue").and_then(Value::as_str),
            ) {
                (Some(name), Some(value)) if !value.is_empty() && value.len() <= 5120 => {
                    Ok((name, value))
                }
                _ => Err(invalid(
                    "Each processor parameter needs a ParameterName and a ParameterValue of 1-5120 characters.",
                )),
            }
        })
        .collect()
}

fn processor(processor: &Value) -> Result<Step, AwsError> {
    let kind = processor.get("Type").and_then(Value::as_str).unwrap_or("");
    let parameters = parameters(processor)?;
    let known = |allowed: &[&str]| {
        parameters
            .iter()
            .find(|(name, _)| !allowed.contains(name))
            .map_or(Ok(()), |(name, _)| {
                Err(invalid(format!(
                    "Parameter {name} is not valid for processor type {kind}."
                )))
            })
    };
    let value = |name: &str| {
        parameters
            .iter()
            .find(|(given, _)| *given == name)
            .map(|(_, value)| *value)
    };
    match kind {
        "Lambda" => {
            known(&[
                "LambdaArn",
                "NumberOfRetries",
                "RoleArn",
                "BufferSizeInMBs",
                "BufferIntervalInSeconds",
            ])?;
            let url = value("LambdaArn")
                .ok_or_else(|| invalid("The Lambda processor needs the LambdaArn parameter."))?;
            if !is_http_url(url) {
                return Err(invalid(format!(
                    "LambdaArn {url}: Fjord calls transformation functions over HTTP with the Lambda contract; give the function's http(s) URL (without credentials)."
                )));
            }
            let retries = match value("NumberOfRetries") {
                None => DEFAULT_RETRIES,
                Some(text) => text
                    .parse::<u32>()
                    .ok()
                    .filter(|retries| *retries <= MAX_RETRIES)
                    .ok_or_else(|| {
                        invalid(format!(
                            "NumberOfRetries must be a whole number from 0 to {MAX_RETRIES}."
                        ))
                    })?,
            };
            let batch_mb = match value("BufferSizeInMBs") {
                None => DEFAULT_BATCH_MB,
                Some(text) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|mb| (0.2..=3.0).contains(mb))
                    .ok_or_else(|| invalid("BufferSizeInMBs must be from 0.2 to 3."))?,
            };
            if let Some(text) = value("BufferIntervalInSeconds")
                && !text
                    .parse::<u32>()
                    .is_ok_and(|seconds| (60..=900).contains(&seconds))
            {
                return Err(invalid("BufferIntervalInSeconds must be from 60 to 900."));
            }
            Ok(Step::Processor(Processor::Function {
                url: url.to_owned(),
                retries,
                batch_bytes: (batch_mb * 1024.0 * 1024.0) as u64,
            }))
        }
        "AppendDelimiterToRecord" => {
            known(&["Delimiter"])?;
            Ok(Step::Processor(Processor::AppendDelimiter {
                delimiter: unescape(value("Delimiter").unwrap_or("\\n")),
            }))
        }
        "MetadataExtraction" => {
            known(&["MetadataExtractionQuery", "JsonParsingEngine"])?;
            if value("JsonParsingEngine").is_some_and(|engine| engine != "JQ-1.6") {
                return Err(invalid("JsonParsingEngine must be JQ-1.6."));
            }
            let query = value("MetadataExtractionQuery").ok_or_else(|| {
                invalid(
                    "The MetadataExtraction processor needs the MetadataExtractionQuery parameter.",
                )
            })?;
            Ok(Step::Keys(extraction_query(query)?))
        }
        "" => Err(invalid("Each processor needs a Type.")),
        "RecordDeAggregation" | "Decompression" | "CloudWatchLogProcessing" => Err(invalid(
            format!("Processor type {kind} is not supported yet by Fjord."),
        )),
        other => Err(invalid(format!(
            "Processor type {other} is not valid: Lambda, AppendDelimiterToRecord, RecordDeAggregation, Decompression, CloudWatchLogProcessing or MetadataExtraction."
        ))),
    }
}

/// A `MetadataExtractionQuery`: a JQ object construction whose values are paths,
/// `{name: .a.b, other: .c}` (a value may also be `.["a b"]`-style). Up to 50 keys.
fn extraction_query(query: &str) -> Result<Vec<PartitionKey>, AwsError> {
    let bad = || {
        invalid(format!(
            "MetadataExtractionQuery {query} is not supported: Fjord takes a JQ object of paths, like {{customer:.customer.id, kind:.type}}."
        ))
    };
    let body = query
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut keys: Vec<PartitionKey> = Vec::new();
    for entry in body.split(',') {
        let (name, path) = entry.split_once(':').ok_or_else(bad)?;
        let name = name.trim();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || keys.iter().any(|key| key.name == name)
        {
            return Err(bad());
        }
        keys.push(PartitionKey {
            name: name.to_owned(),
            path: json_path(path.trim()).ok_or_else(bad)?,
        });
    }
    if keys.is_empty() || keys.len() > 50 {
        return Err(bad());
    }
    Ok(keys)
}

/// `.a.b["c d"]` as `["a", "b", "c d"]`.
fn json_path(text: &str) -> Option<Vec<String>> {
    let mut path = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if let Some(quoted) = rest.strip_prefix("[\"") {
            let end = quoted.find("\"]")?;
            path.push(quoted[..end].to_owned());
            rest = &quoted[end + 2..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            path.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    (!path.is_empty() && text.starts_with('.')).then_some(path)
}

/// `\n`, `\r`, `\t` and `\\` as the characters they name; anything else as written.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lambda(parameters: Value) -> Value {
        json!({"Enabled": true, "Processors": [{"Type": "Lambda", "Parameters": parameters}]})
    }

    #[test]
    fn a_lambda_processor_takes_the_function_url_and_its_limits() {
        let parsed = processors(Some(&lambda(json!([
            {"ParameterName": "LambdaArn", "ParameterValue": "http://127.0.0.1:9000/transform"},
            {"ParameterName": "NumberOfRetries", "ParameterValue": "1"},
            {"ParameterName": "BufferSizeInMBs", "ParameterValue": "0.5"},
            {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "60"},
        ]))))
        .unwrap()
        .processors;
        assert_eq!(
            parsed,
            [Processor::Function {
                url: "http://127.0.0.1:9000/transform".to_owned(),
                retries: 1,
                batch_bytes: 512 * 1024,
            }]
        );
    }

    #[test]
    fn bad_processors_are_invalid_arguments() {
        let url = json!({"ParameterName": "LambdaArn", "ParameterValue": "https://f.example/x"});
        for (configuration, says) in [
            (
                lambda(
                    json!([{"ParameterName": "LambdaArn", "ParameterValue": "arn:aws:lambda:us-east-1:123456789012:function:f"}]),
                ),
                "http(s) URL",
            ),
            (lambda(json!([])), "needs the LambdaArn"),
            (
                lambda(json!([url, {"ParameterName": "NumberOfRetries", "ParameterValue": "-1"}])),
                "NumberOfRetries",
            ),
            (
                lambda(json!([url, {"ParameterName": "BufferSizeInMBs", "ParameterValue": "4"}])),
                "BufferSizeInMBs",
            ),
            (
                lambda(json!([url, {"ParameterName": "Colour", "ParameterValue": "blue"}])),
                "not valid for processor type Lambda",
            ),
            (
                json!({"Processors": [{"Type": "RecordDeAggregation"}]}),
                "not supported yet",
            ),
            (
                json!({"Processors": [{"Type": "MetadataExtraction", "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": ".customer"}]}]}),
                "JQ object of paths",
            ),
            (json!({"Processors": [{"Type": "Teleport"}]}), "not valid"),
            (json!({"Processors": "all"}), "must be a list"),
        ] {
            let error = processors(Some(&configuration)).unwrap_err();
            assert!(
                error.message.contains(says),
                "{configuration}: {}",
                error.message
            );
        }
        assert!(
            processors(Some(
                &json!({"Enabled": false, "Processors": [{"Type": "Teleport"}]})
            ))
            .unwrap()
            .processors
            .is_empty(),
            "a disabled configuration is not read"
        );
    }

    #[test]
    fn delimiters_take_escapes() {
        let parsed = processors(Some(&json!({"Processors": [
            {"Type": "AppendDelimiterToRecord"},
            {"Type": "AppendDelimiterToRecord", "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\t|\\\\"}]},
        ]})))
        .unwrap()
        .processors;
        assert_eq!(
            parsed,
            [
                Processor::AppendDelimiter {
                    delimiter: "\n".to_owned()
                },
                Processor::AppendDelimiter {
                    delimiter: "\t|\\".to_owned()
                },
            ]
        );
    }

    #[test]
    fn metadata_extraction_defines_partition_keys() {
        let chain = processors(Some(&json!({"Processors": [{"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer: .customer.id, kind:.[\"event type\"]}"},
            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
        ]}]})))
        .unwrap();
        assert!(chain.processors.is_empty());
        assert_eq!(
            chain.partition_keys,
            [
                PartitionKey {
                    name: "customer".to_owned(),
                    path: vec!["customer".to_owned(), "id".to_owned()],
                },
                PartitionKey {
                    name: "kind".to_owned(),
                    path: vec!["event type".to_owned()],
                },
            ]
        );
    }
}
