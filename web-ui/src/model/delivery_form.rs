//! The create-delivery-stream form: what a person typed, checked before it is sent (the API
//! checks it again with Firehose's rules; these are the same rules, shown inline while typing).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stream_form::name_error as stream_name_error;
use super::tags::parse_tags;

pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_PREFIX_CHARS: usize = 1024;
/// The compressions delivery supports.
pub const COMPRESSIONS: [(&str, &str); 5] = [
    ("UNCOMPRESSED", "None"),
    ("GZIP", "GZIP"),
    ("ZIP", "ZIP"),
    ("Snappy", "Snappy"),
    ("HADOOP_SNAPPY", "Hadoop-compatible Snappy"),
];

/// The largest buffer an HTTP endpoint takes (MiB).
pub const MAX_HTTP_SIZE_MIB: i64 = 64;
/// The longest retry duration of an HTTP endpoint (seconds).
pub const MAX_RETRY_SECONDS: i64 = 7200;
/// The request encodings of an HTTP endpoint.
pub const CONTENT_ENCODINGS: [(&str, &str); 2] = [("NONE", "None"), ("GZIP", "GZIP")];
/// What an HTTP endpoint's backup bucket gets.
pub const BACKUP_MODES: [(&str, &str); 2] = [
    ("FailedDataOnly", "Only records the endpoint did not take"),
    ("AllData", "Every record"),
];

/// The HTTP endpoint part of a destination; serializes as `HttpEndpointRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewHttpEndpoint {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    pub content_encoding: String,
    pub retry_duration_seconds: i64,
    pub backup_mode: String,
}

/// The destination part of a request; serializes as `DestinationRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDestination {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_endpoint: Option<NewHttpEndpoint>,
    pub bucket_arn: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error_output_prefix: String,
    pub buffering_size_mib: i64,
    pub buffering_interval_seconds: i64,
    pub compression: String,
}

/// A create request that passed the checks; serializes as `CreateDeliveryStreamRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeliveryStream {
    pub name: String,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_stream: Option<String>,
    pub destination: NewDestination,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// What was typed, as the form posts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryForm<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub source_stream: &'a str,
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub error_output_prefix: &'a str,
    pub size_mib: &'a str,
    pub interval_seconds: &'a str,
    pub compression: &'a str,
    pub tags: &'a str,
    /// `bucket` (default) or `http_endpoint`; the bucket fields are then the backup bucket.
    pub destination: &'a str,
    pub endpoint_url: &'a str,
    pub endpoint_name: &'a str,
    pub access_key: &'a str,
    pub content_encoding: &'a str,
    pub retry_seconds: &'a str,
    pub backup_mode: &'a str,
}

pub fn name_error(name: &str) -> Option<String> {
    if name.trim().chars().count() > MAX_NAME_CHARS {
        return Some(format!("At most {MAX_NAME_CHARS} characters."));
    }
    stream_name_error(name).map(|problem| problem.replace("Name the stream.", "Name it."))
}

/// An S3 bucket name: 3–63 lower-case letters, digits, dots and hyphens, starting and ending
/// with a letter or digit.
pub fn bucket_error(bucket: &str) -> Option<String> {
    let bucket = bucket.trim();
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(bucket.chars().next())
        && edge_ok(bucket.chars().last());
    (!ok).then(|| "A bucket name: 3 to 63 lower-case letters, digits, dots and hyphens.".to_owned())
}

pub fn prefix_error(prefix: &str) -> Option<String> {
    (prefix.chars().count() > MAX_PREFIX_CHARS)
        .then(|| format!("At most {MAX_PREFIX_CHARS} characters."))
}

/// A prefix with `!{…}` expressions needs an error output prefix (Firehose's rule).
pub fn error_prefix_error(prefix: &str, error_output_prefix: &str) -> Option<String> {
    prefix_error(error_output_prefix).or_else(|| {
        (prefix.contains("!{") && error_output_prefix.trim().is_empty())
            .then(|| "Needed when the prefix has !{…} expressions.".to_owned())
    })
}

fn range_error(text: &str, low: i64, high: i64, unit: &str) -> Option<String> {
    match text.trim().parse::<i64>() {
        Ok(n) if (low..=high).contains(&n) => None,
        _ => Some(format!("A whole number of {unit}, {low} to {high}.")),
    }
}

pub fn size_error(size_mib: &str) -> Option<String> {
    range_error(size_mib, 1, 128, "MiB")
}

/// The buffer size of an HTTP endpoint destination (at most 64 MiB).
pub fn http_size_error(size_mib: &str) -> Option<String> {
    range_error(size_mib, 1, MAX_HTTP_SIZE_MIB, "MiB")
}

/// An endpoint URL: http(s), with a host, without credentials, up to 1000 characters.
pub fn endpoint_url_error(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    let ok = url.chars().count() <= 1000
        && host.is_some_and(|host| !host.is_empty() && !host.contains('@'));
    (!ok).then(|| "An http:// or https:// URL with a host (and no user or password).".to_owned())
}

pub fn retry_error(seconds: &str) -> Option<String> {
    range_error(seconds, 0, MAX_RETRY_SECONDS, "seconds")
}

pub fn interval_error(interval_seconds: &str) -> Option<String> {
    range_error(interval_seconds, 0, 900, "seconds")
}

/// Checks every field; the request to send, or one sentence naming every problem.
pub fn validate(form: &DeliveryForm<'_>) -> Result<NewDeliveryStream, String> {
    let tags = parse_tags(form.tags);
    let from_stream = form.source == "kinesis_stream";
    let to_endpoint = form.destination == "http_endpoint";
    let endpoint_problems = [
        endpoint_url_error(form.endpoint_url),
        (form.endpoint_name.chars().count() > 256)
            .then(|| "An endpoint name of at most 256 characters.".to_owned()),
        (form.access_key.chars().count() > 4096)
            .then(|| "An access key of at most 4096 characters.".to_owned()),
        retry_error(form.retry_seconds),
        http_size_error(form.size_mib),
        (!CONTENT_ENCODINGS
            .iter()
            .any(|(value, _)| *value == form.content_encoding))
        .then(|| "Pick a request encoding.".to_owned()),
        (!BACKUP_MODES
            .iter()
            .any(|(value, _)| *value == form.backup_mode))
        .then(|| "Pick what the backup bucket gets.".to_owned()),
    ];
    let problems: Vec<String> = [
        name_error(form.name),
        (!matches!(form.source, "direct_put" | "kinesis_stream"))
            .then(|| "Pick direct put or a data stream as the source.".to_owned()),
        (from_stream && form.source_stream.trim().is_empty())
            .then(|| "Pick the data stream to read.".to_owned()),
        bucket_error(form.bucket),
        prefix_error(form.prefix),
        error_prefix_error(form.prefix, form.error_output_prefix),
        size_error(form.size_mib),
        interval_error(form.interval_seconds),
        (!COMPRESSIONS
            .iter()
            .any(|(value, _)| *value == form.compression))
        .then(|| "Pick a compression.".to_owned()),
        tags.as_ref().err().cloned(),
        (!matches!(form.destination, "" | "bucket" | "http_endpoint"))
            .then(|| "Pick a bucket or an HTTP endpoint as the destination.".to_owned()),
    ]
    .into_iter()
    .chain(
        to_endpoint
            .then_some(endpoint_problems)
            .into_iter()
            .flatten(),
    )
    .flatten()
    .collect();
    if !problems.is_empty() {
        return Err(problems.join(" "));
    }
    Ok(NewDeliveryStream {
        name: form.name.trim().to_owned(),
        source: if from_stream {
            "kinesis_stream"
        } else {
            "direct_put"
        },
        source_stream: from_stream.then(|| form.source_stream.trim().to_owned()),
        destination: NewDestination {
            http_endpoint: to_endpoint.then(|| NewHttpEndpoint {
                url: form.endpoint_url.trim().to_owned(),
                name: Some(form.endpoint_name.trim().to_owned()).filter(|name| !name.is_empty()),
                access_key: Some(form.access_key.to_owned()).filter(|key| !key.is_empty()),
                content_encoding: form.content_encoding.to_owned(),
                retry_duration_seconds: form.retry_seconds.trim().parse().unwrap_or(300),
                backup_mode: form.backup_mode.to_owned(),
            }),
            bucket_arn: format!("arn:aws:s3:::{}", form.bucket.trim()),
            prefix: form.prefix.to_owned(),
            error_output_prefix: form.error_output_prefix.to_owned(),
            buffering_size_mib: form.size_mib.trim().parse().unwrap_or(5),
            buffering_interval_seconds: form.interval_seconds.trim().parse().unwrap_or(300),
            compression: form.compression.to_owned(),
        },
        tags: tags.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> DeliveryForm<'static> {
        DeliveryForm {
            name: " events ",
            source: "direct_put",
            source_stream: "",
            bucket: "lake",
            prefix: "events/!{timestamp:yyyy/MM/dd}/",
            error_output_prefix: "errors/",
            size_mib: "5",
            interval_seconds: "60",
            compression: "GZIP",
            tags: "team=data",
            destination: "bucket",
            endpoint_url: "",
            endpoint_name: "",
            access_key: "",
            content_encoding: "NONE",
            retry_seconds: "300",
            backup_mode: "FailedDataOnly",
        }
    }

    #[test]
    fn an_http_endpoint_form_becomes_the_api_request() {
        let request = validate(&DeliveryForm {
            destination: "http_endpoint",
            endpoint_url: " https://ingest.example.com/fh ",
            endpoint_name: "ingest",
            access_key: "k-1",
            content_encoding: "GZIP",
            retry_seconds: "60",
            backup_mode: "AllData",
            ..good()
        })
        .unwrap();
        assert_eq!(
            serde_json::to_value(&request.destination.http_endpoint).unwrap(),
            serde_json::json!({"url": "https://ingest.example.com/fh", "name": "ingest",
                "access_key": "k-1", "content_encoding": "GZIP",
                "retry_duration_seconds": 60, "backup_mode": "AllData"})
        );
        let problems = validate(&DeliveryForm {
            destination: "http_endpoint",
            endpoint_url: "ftp://x",
            retry_seconds: "7201",
            size_mib: "65",
            ..good()
        })
        .unwrap_err();
        for expected in ["An http:// or https:// URL", "0 to 7200", "1 to 64"] {
            assert!(
                problems.contains(expected),
                "{expected} missing: {problems}"
            );
        }
        assert!(endpoint_url_error("http://user@host/").is_some());
        assert!(endpoint_url_error("http://127.0.0.1:9000/x").is_none());
        assert!(
            validate(&good())
                .unwrap()
                .destination
                .http_endpoint
                .is_none()
        );
    }

    #[test]
    fn a_good_form_becomes_the_api_request() {
        let request = validate(&good()).unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"name": "events", "source": "direct_put",
                "destination": {"bucket_arn": "arn:aws:s3:::lake",
                    "prefix": "events/!{timestamp:yyyy/MM/dd}/", "error_output_prefix": "errors/",
                    "buffering_size_mib": 5, "buffering_interval_seconds": 60,
                    "compression": "GZIP"},
                "tags": {"team": "data"}})
        );
        let from_stream = validate(&DeliveryForm {
            source: "kinesis_stream",
            source_stream: "clicks",
            prefix: "",
            error_output_prefix: "",
            tags: "",
            ..good()
        })
        .unwrap();
        assert_eq!(from_stream.source_stream.as_deref(), Some("clicks"));
        assert!(
            !serde_json::to_string(&from_stream)
                .unwrap()
                .contains("prefix")
        );
    }

    #[test]
    fn each_field_names_its_problem() {
        let problems = validate(&DeliveryForm {
            name: "bad name!",
            bucket: "Lake_1",
            error_output_prefix: "",
            size_mib: "0",
            interval_seconds: "901",
            compression: "BROTLI",
            ..good()
        })
        .unwrap_err();
        for expected in [
            "“ ” is not allowed",
            "A bucket name",
            "Needed when the prefix has",
            "MiB, 1 to 128",
            "seconds, 0 to 900",
            "Pick a compression",
        ] {
            assert!(
                problems.contains(expected),
                "{expected} missing: {problems}"
            );
        }
        assert_eq!(
            name_error(&"a".repeat(65)).as_deref(),
            Some("At most 64 characters.")
        );
        assert_eq!(name_error("").as_deref(), Some("Name it."));
        assert!(bucket_error("my.bucket-1").is_none());
        assert!(bucket_error("-bucket").is_some());
        assert!(
            validate(&DeliveryForm {
                source: "kinesis_stream",
                ..good()
            })
            .unwrap_err()
            .contains("Pick the data stream")
        );
    }
}
