//! Where a delivery task's buffers go. A buffer is first *processed* (the delivery stream's
//! transformation chain, if any), then *prepared* (its object keys chosen, bodies encoded),
//! then *sent*, as often as it takes: a retry sends the same prepared delivery, so an object
//! store retry overwrites the same keys rather than adding copies. Records the chain could
//! not process go to the error output (`<ErrorOutputPrefix>`, error type `processing-failed`)
//! as Firehose writes them: one JSON line each with the raw data.
//!
//! An HTTP endpoint destination posts each buffer to the endpoint (see [`super::http_endpoint`])
//! and keeps a backup bucket: what the chain could not process goes there, every buffer too
//! with `S3BackupMode: AllData`, and so do the records of a request the endpoint did not take
//! within the retry duration (error output `http-endpoint-failed`), after which the buffer is
//! done: never dropped, never retried forever.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use fjord_common::firehose::{
    Compression, DeliveryStreamSpec, DestinationTarget, FormatConversion, ObjectStoreDestination,
    PartitionKey,
};

use super::buffer::{Record, concatenate};
use super::encode;
use super::http_endpoint::{EndpointRequest, HTTP_ENDPOINT_FAILED, HttpEndpoint};
use super::ledger::Entry;
use super::naming::{KeyPrefix, PartitionValues, object_key};
use super::parquet::{self, FORMAT_CONVERSION_FAILED};
use super::process::{FailedRecord, PROCESSING_FAILED, Processed, Processing};
use super::sink::{ObjectSink, SinkError};
use super::task::WorkerContext;

/// A delivery stream's destination, checked before delivery starts.
pub(crate) enum Destination {
    Object(Box<ObjectDestination>),
    Http(Box<HttpDestination>),
}

/// Objects by key.
type Objects = Vec<(String, bytes::Bytes)>;

/// One buffer, ready to send.
pub(crate) enum Prepared {
    /// Objects by key: the records delivered, and the error output (each may be absent).
    Objects(Objects),
    /// A request to an HTTP endpoint and the backup bucket's objects.
    Http {
        /// The error output (and with `AllData`, the records), written before the request.
        objects: Objects,
        /// `None`: the chain left no records to post.
        request: Option<EndpointRequest>,
        /// The records the request holds, for the error output if it is never taken.
        records: Vec<Record>,
        /// Where they go then (`http-endpoint-failed`); chosen once, so retries overwrite.
        failed_key: String,
    },
}

impl Prepared {
    /// What to call it in logs.
    pub(crate) fn describe(&self) -> String {
        let objects = |objects: &Objects| {
            objects
                .iter()
                .map(|(key, _)| key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::Objects(written) if written.is_empty() => "nothing to write".to_owned(),
            Self::Objects(written) => objects(written),
            Self::Http {
                objects: written,
                request,
                ..
            } => {
                let mut what = match request {
                    Some(request) => format!("request {}", request.request_id),
                    None => "no request".to_owned(),
                };
                if !written.is_empty() {
                    what.push_str(" and ");
                    what.push_str(&objects(written));
                }
                what
            }
        }
    }

    /// The objects it makes, as the ledger notes them.
    pub(crate) fn keys(&self) -> Vec<String> {
        match self {
            Self::Objects(objects) | Self::Http { objects, .. } => {
                objects.iter().map(|(key, _)| key.clone()).collect()
            }
        }
    }
}

/// Which attempt a send is, and since when the buffer has been tried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    pub(crate) number: u32,
    pub(crate) since: Instant,
}

/// What a successful send did.
#[derive(Debug)]
pub(crate) enum Sent {
    /// The destination has the records.
    Delivered,
    /// The endpoint did not take them within the retry duration: they are in the error output.
    ToErrorOutput { records: usize, error: String },
}

/// Why a buffer was not delivered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    /// Sending again cannot help (a key that is not a valid object path, a format that
    /// cannot be encoded): the records go back to JetStream for a later worker.
    #[error("{0}")]
    Permanent(String),
    /// Worth retrying (the store was unreachable, refused, …).
    #[error("{0}")]
    Transient(String),
}

impl From<SinkError> for DeliveryError {
    fn from(error: SinkError) -> Self {
        match error {
            SinkError::InvalidKey { .. } => Self::Permanent(error.to_string()),
            SinkError::Write(_) => Self::Transient(error.to_string()),
        }
    }
}

impl Destination {
    /// Everything about the destination of `spec` that can be refused is refused here (a
    /// prefix that cannot be evaluated, a bucket path that is not one, a store that cannot be
    /// opened).
    pub(crate) fn new(context: &WorkerContext, spec: &DeliveryStreamSpec) -> anyhow::Result<Self> {
        match &spec.destination.target {
            DestinationTarget::ObjectStore(destination) => Ok(Self::Object(Box::new(
                ObjectDestination::new(context, spec, destination)?,
            ))),
            DestinationTarget::HttpEndpoint(http) => Ok(Self::Http(Box::new(HttpDestination {
                endpoint: HttpEndpoint::new(
                    http,
                    spec.delivery_stream_id,
                    &spec.arn,
                    &context.secret_box,
                )?,
                processing: processing(&http.processors, spec)?,
                backup: ObjectDestination::new(context, spec, &http.backup)
                    .context("the backup bucket")?,
                backup_all_data: http.backup_all_data,
                retry_duration: Duration::from_secs(u64::from(http.retry_duration_seconds)),
            }))),
        }
    }

    /// The buffer's records through the delivery stream's transformation chain (as they are
    /// when it has none).
    pub(crate) async fn process(&self, records: &[Record]) -> Processed {
        let processing = match self {
            Self::Object(object) => object.processing.as_ref(),
            Self::Http(http) => http.processing.as_ref(),
        };
        match processing {
            Some(processing) => processing.run(records).await,
            None => Processed {
                records: records.to_vec(),
                ..Processed::default()
            },
        }
    }

    /// What a processed buffer makes: the object of its records (one per dynamic partition),
    /// and one per error output type for the records that failed; `oldest` is the buffer's
    /// oldest record's arrival.
    pub(crate) fn prepare(
        &self,
        processed: &Processed,
        oldest: DateTime<Utc>,
    ) -> Result<Prepared, DeliveryError> {
        match self {
            Self::Object(object) => Ok(Prepared::Objects(object.objects(
                &processed.records,
                processed.failed.clone(),
                oldest,
            )?)),
            Self::Http(http) => {
                let backed_up: &[Record] = if http.backup_all_data {
                    &processed.records
                } else {
                    &[]
                };
                let objects = http
                    .backup
                    .objects(backed_up, processed.failed.clone(), oldest)?;
                let request = if processed.records.is_empty() {
                    None
                } else {
                    Some(http.endpoint.request(&processed.records).ok_or_else(|| {
                        DeliveryError::Permanent("cannot encode the endpoint request".to_owned())
                    })?)
                };
                Ok(Prepared::Http {
                    objects,
                    request,
                    records: processed.records.clone(),
                    failed_key: http.backup.error_output_key(oldest, HTTP_ENDPOINT_FAILED),
                })
            }
        }
    }

    /// Sends a prepared delivery once; returns once the destination has it (or, for an
    /// endpoint that kept failing past its retry duration, the error output has it).
    pub(crate) async fn send(
        &self,
        prepared: &Prepared,
        attempt: Attempt,
    ) -> Result<Sent, DeliveryError> {
        match (self, prepared) {
            (Self::Object(object), Prepared::Objects(objects)) => {
                object.put(objects).await?;
                Ok(Sent::Delivered)
            }
            (
                Self::Http(http),
                Prepared::Http {
                    objects,
                    request,
                    records,
                    failed_key,
                },
            ) => {
                http.backup.put(objects).await?;
                let Some(request) = request else {
                    return Ok(Sent::Delivered);
                };
                let error = match http.endpoint.post(request).await {
                    Ok(()) => return Ok(Sent::Delivered),
                    Err(error) => error,
                };
                if attempt.since.elapsed() < http.retry_duration {
                    return Err(DeliveryError::Transient(error.to_string()));
                }
                let failed_at = Utc::now();
                let failed: Vec<FailedRecord> = records
                    .iter()
                    .map(|raw| FailedRecord {
                        raw: raw.clone(),
                        output_type: HTTP_ENDPOINT_FAILED,
                        error_code: error.code,
                        message: error.message.clone(),
                        attempts: attempt.number,
                        function: None,
                        failed_at,
                    })
                    .collect();
                http.backup
                    .put(&[(failed_key.clone(), error_lines(&failed).into())])
                    .await?;
                Ok(Sent::ToErrorOutput {
                    records: records.len(),
                    error: error.to_string(),
                })
            }
            _ => Err(DeliveryError::Permanent(
                "a delivery was prepared for another destination".to_owned(),
            )),
        }
    }
}

impl Destination {
    /// Whether the delivery a ledger entry notes reached the destination: `None` when the
    /// destination cannot tell.
    pub(crate) async fn has(&self, entry: &Entry) -> Result<Option<bool>, DeliveryError> {
        match self {
            // Whether an endpoint has a request cannot be asked: an earlier delivery that
            // was noted counts.
            Self::Http(_) => Ok(None),
            Self::Object(object) => {
                for key in &entry.keys {
                    if !object.sink.exists(key).await? {
                        return Ok(Some(false));
                    }
                }
                Ok(Some(!entry.keys.is_empty()))
            }
        }
    }
}

/// One dynamic partition of a buffer: its key values and its records.
type Partition = (PartitionValues, Vec<Record>);

/// The error output of records whose partition keys could not be extracted.
const PARTITIONING_FAILED: &str = "partitioning-failed";

/// Delivery to an object store bucket.
pub(crate) struct ObjectDestination {
    name: String,
    version_id: i64,
    prefix: KeyPrefix,
    error_prefix: KeyPrefix,
    compression: Compression,
    sink: ObjectSink,
    processing: Option<Processing>,
    /// Dynamic partitioning's keys (empty: one object per buffer).
    partition_keys: Vec<PartitionKey>,
    /// Records become Parquet with this schema (none: written as they are).
    conversion: Option<FormatConversion>,
}

/// Delivery to an HTTP endpoint, with its backup bucket.
pub(crate) struct HttpDestination {
    endpoint: HttpEndpoint,
    processing: Option<Processing>,
    backup: ObjectDestination,
    backup_all_data: bool,
    retry_duration: Duration,
}

/// The transformation chain of `processors` (none if empty).
fn processing(
    processors: &[fjord_common::firehose::Processor],
    spec: &DeliveryStreamSpec,
) -> anyhow::Result<Option<Processing>> {
    (!processors.is_empty())
        .then(|| Processing::new(processors, &spec.arn))
        .transpose()
}

impl ObjectDestination {
    /// The bucket `destination` of `spec`'s tenant, checked: its prefixes parse, its store
    /// opens, and its keys are valid paths.
    fn new(
        context: &WorkerContext,
        spec: &DeliveryStreamSpec,
        destination: &ObjectStoreDestination,
    ) -> anyhow::Result<Self> {
        let prefix = KeyPrefix::parse(&destination.prefix).context("invalid prefix")?;
        let error_prefix = KeyPrefix::parse_error_output(&destination.error_output_prefix)
            .context("invalid error output prefix")?;
        let sink = match &destination.store {
            Some(registered) => ObjectSink::registered(
                registered
                    .open(&context.secret_box)
                    .with_context(|| format!("cannot open bucket {}", destination.bucket))?,
            ),
            None => ObjectSink::local(&context.local_root, &spec.account_id, &destination.bucket)?,
        };
        let object = Self {
            name: spec.name.clone(),
            version_id: spec.version_id,
            prefix,
            error_prefix,
            compression: destination.compression,
            sink,
            processing: processing(&destination.processors, spec)?,
            partition_keys: destination.partition_keys.clone(),
            conversion: destination.conversion.clone(),
        };
        let sample = object.key(Utc::now());
        object
            .sink
            .path(&sample)
            .context("the prefix does not make valid object keys")?;
        Ok(object)
    }

    /// The objects `records` make (one per dynamic partition) and those of the error output
    /// for `failed` and for the records whose partition keys cannot be extracted; `oldest` is
    /// the buffer's oldest record's arrival.
    fn objects(
        &self,
        records: &[Record],
        mut failed: Vec<FailedRecord>,
        oldest: DateTime<Utc>,
    ) -> Result<Objects, DeliveryError> {
        let mut objects = Vec::new();
        for (keys, records) in self.partitions(records, &mut failed) {
            let oldest = records.iter().map(|r| r.arrival).min().unwrap_or(oldest);
            let mut key = format!(
                "{}{}",
                self.prefix.evaluate_partition(oldest, &keys),
                self.suffix(oldest, self.compression)
            );
            if self.conversion.is_some() {
                key.push_str(".parquet");
            }
            if self.sink.path(&key).is_err() {
                failed.extend(records.into_iter().map(|raw| FailedRecord {
                    raw,
                    output_type: PARTITIONING_FAILED,
                    error_code: "DynamicPartitioning.MetadataExtractionFailed",
                    message: format!(
                        "the partition keys {:?} {:?} do not make a valid object key",
                        keys.from_query, keys.from_function
                    ),
                    attempts: 1,
                    function: None,
                    failed_at: Utc::now(),
                }));
                continue;
            }
            if let Some(conversion) = &self.conversion {
                let converted = parquet::convert(conversion, &records).map_err(|error| {
                    DeliveryError::Permanent(format!("cannot write Parquet: {error}"))
                })?;
                let failed_at = Utc::now();
                failed.extend(
                    converted
                        .failed
                        .into_iter()
                        .map(|(raw, message)| FailedRecord {
                            raw,
                            output_type: FORMAT_CONVERSION_FAILED,
                            error_code: "DataFormatConversion.MalformedData",
                            message,
                            attempts: 1,
                            function: None,
                            failed_at,
                        }),
                );
                if let Some(body) = converted.body {
                    objects.push((key, body.into()));
                }
                continue;
            }
            let file = key.rsplit('/').next().unwrap_or(&key);
            let entry = file.strip_suffix(".zip").unwrap_or(file);
            let body = encode::compress(self.compression, concatenate(&records), entry)
                .ok_or_else(|| {
                    DeliveryError::Permanent(format!(
                        "cannot compress as {}",
                        self.compression.as_aws()
                    ))
                })?;
            objects.push((key, body.into()));
        }
        for output_type in [
            PROCESSING_FAILED,
            PARTITIONING_FAILED,
            FORMAT_CONVERSION_FAILED,
        ] {
            let of_type: Vec<FailedRecord> = failed
                .iter()
                .filter(|record| record.output_type == output_type)
                .cloned()
                .collect();
            if !of_type.is_empty() {
                objects.push((
                    self.error_output_key(oldest, output_type),
                    error_lines(&of_type).into(),
                ));
            }
        }
        Ok(objects)
    }

    /// The key of an error output object of `output_type`.
    fn error_output_key(&self, oldest: DateTime<Utc>, output_type: &str) -> String {
        format!(
            "{}{}",
            self.error_prefix.evaluate_error_output(oldest, output_type),
            self.suffix(oldest, Compression::Uncompressed)
        )
    }

    /// Writes `objects`; returns once the store has them all.
    async fn put(&self, objects: &[(String, bytes::Bytes)]) -> Result<(), SinkError> {
        for (key, body) in objects {
            self.sink.put(key, body.clone()).await?;
        }
        Ok(())
    }

    /// Firehose's object name after the prefix.
    fn suffix(&self, oldest: DateTime<Utc>, compression: Compression) -> String {
        object_key(
            &KeyPrefix::empty(),
            &self.name,
            self.version_id,
            oldest,
            compression,
        )
    }

    /// `records` by dynamic partition (their key values, in the keys' order), in order of first
    /// appearance; one partition without keys when the delivery stream is not partitioned.
    /// Records whose keys cannot be extracted join `failed`.
    fn partitions(&self, records: &[Record], failed: &mut Vec<FailedRecord>) -> Vec<Partition> {
        let function_keys = self.prefix.function_keys();
        if self.partition_keys.is_empty() && function_keys.is_empty() {
            return if records.is_empty() {
                Vec::new()
            } else {
                vec![(PartitionValues::default(), records.to_vec())]
            };
        }
        let mut partitions: Vec<Partition> = Vec::new();
        for record in records {
            let values = extract_keys(&self.partition_keys, &record.data).and_then(|from_query| {
                Ok(PartitionValues {
                    from_query,
                    from_function: function_values(&function_keys, record)?,
                })
            });
            match values {
                Ok(values) => match partitions.iter_mut().find(|(known, _)| *known == values) {
                    Some((_, members)) => members.push(record.clone()),
                    None => partitions.push((values, vec![record.clone()])),
                },
                Err(message) => failed.push(FailedRecord {
                    raw: record.clone(),
                    output_type: PARTITIONING_FAILED,
                    error_code: "DynamicPartitioning.MetadataExtractionFailed",
                    message,
                    attempts: 1,
                    function: None,
                    failed_at: Utc::now(),
                }),
            }
        }
        partitions
    }

    fn key(&self, oldest: DateTime<Utc>) -> String {
        object_key(
            &self.prefix,
            &self.name,
            self.version_id,
            oldest,
            self.compression,
        )
    }
}

/// Records that failed processing as Firehose writes them to the error output: one JSON object
/// per line.
fn error_lines(failed: &[FailedRecord]) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for record in failed {
        let mut line = serde_json::json!({
            "attemptsMade": record.attempts,
            "arrivalTimestamp": record.raw.arrival.timestamp_millis(),
            "errorCode": record.error_code,
            "errorMessage": record.message,
            "attemptEndingTimestamp": record.failed_at.timestamp_millis(),
            "rawData": base64::engine::general_purpose::STANDARD.encode(&record.raw.data),
        });
        if let Some(function) = &record.function {
            line["lambdaArn"] = serde_json::Value::from(function.as_str());
        }
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// The values of the keys `names` that the transformation function gave `record`.
fn function_values(names: &[&str], record: &Record) -> Result<Vec<(String, String)>, String> {
    names
        .iter()
        .map(|name| {
            record
                .function_keys
                .as_ref()
                .and_then(|keys| keys.iter().find(|(key, _)| key == name))
                .filter(|(_, value)| !value.is_empty())
                .cloned()
                .ok_or_else(|| format!("the transformation function gave no partition key {name}"))
        })
        .collect()
}

/// A record's partition key values: each key's path into its JSON, which must reach a string,
/// number or boolean.
fn extract_keys(keys: &[PartitionKey], data: &[u8]) -> Result<Vec<(String, String)>, String> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value =
        serde_json::from_slice(data).map_err(|error| format!("the record is not JSON: {error}"))?;
    keys.iter()
        .map(|key| {
            let mut found = &value;
            for step in &key.path {
                found = found.get(step).ok_or_else(|| {
                    format!(
                        "the record has no .{} for key {}",
                        key.path.join("."),
                        key.name
                    )
                })?;
            }
            let text = match found {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(number) => number.to_string(),
                serde_json::Value::Bool(flag) => flag.to_string(),
                _ => {
                    return Err(format!(
                        "key {} is not a string, number or boolean in the record",
                        key.name
                    ));
                }
            };
            if text.is_empty() {
                return Err(format!("key {} is empty in the record", key.name));
            }
            Ok((key.name.clone(), text))
        })
        .collect()
}
