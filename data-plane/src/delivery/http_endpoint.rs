//! Delivery to an HTTP endpoint with Firehose's HTTP endpoint delivery contract.
//!
//! A buffer is one `POST` to the endpoint's URL:
//!
//! * headers `X-Amz-Firehose-Protocol-Version: 1.0`, `X-Amz-Firehose-Request-Id` (a UUID, the
//!   same on every attempt of the request), `X-Amz-Firehose-Source-Arn` (the delivery stream),
//!   `X-Amz-Firehose-Access-Key` (the configured key, verbatim, when there is one),
//!   `X-Amz-Firehose-Common-Attributes` (`{"commonAttributes": {…}}`, when configured),
//!   `Content-Type: application/json`, and `Content-Encoding: gzip` when configured;
//! * body `{"requestId": …, "timestamp": <ms>, "records": [{"data": <base64>}, …]}`.
//!
//! The endpoint has delivered the records when it answers `200` with a JSON body whose
//! `requestId` is the request's and which has a numeric `timestamp`. Anything else (another
//! status, 2xx included, a body that does not follow the contract, no answer within three
//! minutes) is a failed attempt; the error says what came back, never the access key.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use fjord_common::firehose::{ContentEncoding, HttpEndpointDestination, http_access_key_context};
use fjord_common::secret::SecretBox;
use uuid::Uuid;

use super::buffer::Record;

/// How long an endpoint has to answer (Firehose's: three minutes).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a refusing endpoint's answer goes into the error.
const ANSWER_EXCERPT: usize = 256;

/// The error output of records an endpoint did not take within the retry duration.
pub(crate) const HTTP_ENDPOINT_FAILED: &str = "http-endpoint-failed";

/// One endpoint, ready to post to.
pub(crate) struct HttpEndpoint {
    url: String,
    access_key: Option<String>,
    common_attributes: Option<String>,
    gzip: bool,
    source_arn: String,
    client: reqwest::Client,
}

/// One buffer's request: the same on every attempt.
#[derive(Debug, Clone)]
pub(crate) struct EndpointRequest {
    pub(crate) request_id: String,
    body: Bytes,
}

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub(crate) struct AttemptError {
    /// Firehose's error code: `HttpEndpoint.DestinationException` (the endpoint answered
    /// something else than the contract's success), `HttpEndpoint.RequestTimeout`,
    /// `HttpEndpoint.ConnectionFailed`.
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.code, self.message)
    }
}

impl HttpEndpoint {
    /// The endpoint of `destination`, its access key unsealed.
    pub(crate) fn new(
        destination: &HttpEndpointDestination,
        delivery_stream_id: Uuid,
        source_arn: &str,
        secret_box: &SecretBox,
    ) -> anyhow::Result<Self> {
        let access_key = destination
            .sealed_access_key
            .as_deref()
            .map(|sealed| {
                secret_box.open(sealed, &http_access_key_context(delivery_stream_id))
            })
            .transpose()
            .map_err(|_| {
                anyhow::anyhow!(
                    "the HTTP endpoint's access key cannot be unsealed (was the master key changed?)"
                )
            })?;
        let common_attributes = (!destination.common_attributes.is_empty()).then(|| {
            let attributes: serde_json::Map<String, serde_json::Value> = destination
                .common_attributes
                .iter()
                .map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str())))
                .collect();
            serde_json::json!({ "commonAttributes": attributes }).to_string()
        });
        Ok(Self {
            url: destination.url.clone(),
            access_key,
            common_attributes,
            gzip: destination.content_encoding == ContentEncoding::Gzip,
            source_arn: source_arn.to_owned(),
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!(
                    "Fjord/",
                    env!("CARGO_PKG_VERSION"),
                    " (Firehose HTTP endpoint delivery)"
                ))
                .build()?,
        })
    }

    /// The request delivering `records`, or `None` if the body cannot be encoded.
    pub(crate) fn request(&self, records: &[Record]) -> Option<EndpointRequest> {
        let request_id = Uuid::new_v4().to_string();
        let encoded: usize = records
            .iter()
            .map(|r| r.data.len().div_ceil(3) * 4 + 12)
            .sum();
        let mut body = Vec::with_capacity(encoded + 96);
        body.extend_from_slice(b"{\"requestId\":\"");
        body.extend_from_slice(request_id.as_bytes());
        body.extend_from_slice(b"\",\"timestamp\":");
        body.extend_from_slice(chrono::Utc::now().timestamp_millis().to_string().as_bytes());
        body.extend_from_slice(b",\"records\":[");
        for (index, record) in records.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"data\":\"");
            let start = body.len();
            body.resize(start + record.data.len().div_ceil(3) * 4, 0);
            let written = BASE64.encode_slice(&record.data, &mut body[start..]).ok()?;
            body.truncate(start + written);
            body.extend_from_slice(b"\"}");
        }
        body.extend_from_slice(b"]}");
        let body = if self.gzip {
            super::encode::compress(fjord_common::firehose::Compression::Gzip, body, "")?
        } else {
            body
        };
        Some(EndpointRequest {
            request_id,
            body: body.into(),
        })
    }

    /// One attempt: `Ok` once the endpoint has answered as the contract says.
    pub(crate) async fn post(&self, request: &EndpointRequest) -> Result<(), AttemptError> {
        let mut builder = self
            .client
            .post(&self.url)
            .header("X-Amz-Firehose-Protocol-Version", "1.0")
            .header("X-Amz-Firehose-Request-Id", &request.request_id)
            .header("X-Amz-Firehose-Source-Arn", &self.source_arn)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(key) = &self.access_key {
            builder = builder.header("X-Amz-Firehose-Access-Key", key);
        }
        if let Some(attributes) = &self.common_attributes {
            builder = builder.header("X-Amz-Firehose-Common-Attributes", attributes);
        }
        if self.gzip {
            builder = builder.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let response = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let answer = response.bytes().await.map_err(transport_error)?;
        if status != reqwest::StatusCode::OK {
            return Err(AttemptError {
                code: "HttpEndpoint.DestinationException",
                message: format!(
                    "the endpoint answered {}: {}",
                    status.as_u16(),
                    excerpt(&answer)
                ),
            });
        }
        let follows_contract = serde_json::from_slice::<serde_json::Value>(&answer)
            .ok()
            .is_some_and(|answer| {
                answer.get("requestId").and_then(|id| id.as_str())
                    == Some(request.request_id.as_str())
                    && answer.get("timestamp").is_some_and(|t| t.is_number())
            });
        if !follows_contract {
            return Err(AttemptError {
                code: "HttpEndpoint.InvalidResponseFromDestination",
                message: format!(
                    "the endpoint answered 200 without the request's requestId and a timestamp: {}",
                    excerpt(&answer)
                ),
            });
        }
        Ok(())
    }
}

/// A failed exchange, without the URL (which may carry a token in its query).
fn transport_error(error: reqwest::Error) -> AttemptError {
    let code = if error.is_timeout() {
        "HttpEndpoint.RequestTimeout"
    } else {
        "HttpEndpoint.ConnectionFailed"
    };
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    AttemptError { code, message }
}

/// The start of an answer, printable.
fn excerpt(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let mut excerpt: String = text
        .chars()
        .take(ANSWER_EXCERPT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > ANSWER_EXCERPT {
        excerpt.push('…');
    }
    if excerpt.trim().is_empty() {
        "(no body)".to_owned()
    } else {
        excerpt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_common::firehose::{Buffering, Compression, ObjectStoreDestination};

    fn destination(gzip: bool) -> HttpEndpointDestination {
        HttpEndpointDestination {
            url: "http://127.0.0.1:1/ingest".to_owned(),
            name: "sink".to_owned(),
            sealed_access_key: None,
            content_encoding: if gzip {
                ContentEncoding::Gzip
            } else {
                ContentEncoding::None
            },
            common_attributes: vec![("team".to_owned(), "data".to_owned())],
            buffering: Buffering {
                size_mib: 1,
                interval_seconds: 1,
            },
            retry_duration_seconds: 0,
            processors: Vec::new(),
            backup_all_data: false,
            backup: ObjectStoreDestination {
                bucket_arn: "arn:aws:s3:::backup".to_owned(),
                bucket: "backup".to_owned(),
                prefix: String::new(),
                error_output_prefix: String::new(),
                buffering: Buffering {
                    size_mib: 5,
                    interval_seconds: 300,
                },
                compression: Compression::Uncompressed,
                store: None,
                processors: Vec::new(),
                partition_keys: Vec::new(),
                conversion: None,
            },
        }
    }

    fn record(data: &'static [u8]) -> Record {
        Record {
            data: Bytes::from_static(data),
            arrival: chrono::Utc::now(),
            function_keys: None,
        }
    }

    #[test]
    fn bodies_follow_the_contract() {
        let endpoint = HttpEndpoint::new(
            &destination(false),
            Uuid::nil(),
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
            &SecretBox::new([1; 32]),
        )
        .unwrap();
        let records = [record(b"a"), record(b"hello"), record(b"")];
        let request = endpoint.request(&records).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["requestId"], request.request_id.as_str());
        assert!(body["timestamp"].as_i64().unwrap() > 0);
        let data: Vec<Vec<u8>> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| BASE64.decode(r["data"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(data, [b"a".to_vec(), b"hello".to_vec(), Vec::new()]);
        assert_eq!(
            endpoint.common_attributes.as_deref(),
            Some(r#"{"commonAttributes":{"team":"data"}}"#)
        );
        let empty = endpoint.request(&[]).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&empty.body).unwrap();
        assert_eq!(body["records"], serde_json::json!([]));
    }

    #[test]
    fn gzip_bodies_decode_to_the_same_json() {
        use std::io::Read as _;
        let endpoint = HttpEndpoint::new(
            &destination(true),
            Uuid::nil(),
            "arn",
            &SecretBox::new([1; 32]),
        )
        .unwrap();
        let request = endpoint.request(&[record(b"x")]).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&request.body[..])
            .read_to_string(&mut text)
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["records"][0]["data"], "eA==");
    }

    #[test]
    fn a_key_sealed_for_another_delivery_stream_is_refused() {
        let secret_box = SecretBox::new([1; 32]);
        let mut configured = destination(false);
        configured.sealed_access_key = Some(
            secret_box
                .seal("k", &http_access_key_context(Uuid::from_u128(1)))
                .unwrap(),
        );
        let error = HttpEndpoint::new(&configured, Uuid::from_u128(2), "arn", &secret_box)
            .err()
            .unwrap();
        assert!(error.to_string().contains("cannot be unsealed"));
        let endpoint =
            HttpEndpoint::new(&configured, Uuid::from_u128(1), "arn", &secret_box).unwrap();
        assert_eq!(endpoint.access_key.as_deref(), Some("k"));
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt(b""), "(no body)");
        assert_eq!(excerpt(b"a\nb"), "a b");
        let long = excerpt(&[b'x'; 1000]);
        assert_eq!(long.chars().count(), ANSWER_EXCERPT + 1);
    }
}
