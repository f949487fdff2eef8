//! Record transformation: a delivery stream's processor chain, applied to a buffer before it
//! is delivered (once: a retried send re-sends what the chain produced).
//!
//! A function processor speaks Firehose's Lambda transformation contract over HTTP: a POST of
//! `{invocationId, deliveryStreamArn, region, records: [{recordId, approximateArrivalTimestamp,
//! data}]}` (data base64), answered with `{records: [{recordId, result, data}]}` where each
//! record comes back exactly once as `Ok` (its new data), `Dropped` (left out on purpose) or
//! `ProcessingFailed`. A call that fails, times out or answers anything else is retried
//! (`retries` times); then its records have failed. Failed records are not dropped: they go to
//! the error output with what went wrong (see [`super::destination`]).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use fjord_common::firehose::Processor;
use serde::{Deserialize, Serialize};

use super::buffer::Record;

/// How long one call to a function may take (Lambda's own limit is 5 minutes; Firehose waits
/// for it, Fjord gives a function a minute).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause before the first retry of a failed call, doubled for each further one (at most 10 s).
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// The error output of records the chain could not process.
pub(crate) const PROCESSING_FAILED: &str = "processing-failed";

/// A record on its way through the chain: as it arrived, and as the chain has made it so far.
#[derive(Debug, Clone)]
struct InFlight {
    raw: Record,
    current: Record,
}

/// A record the chain could not process.
#[derive(Debug, Clone)]
pub(crate) struct FailedRecord {
    /// The record as it arrived.
    pub(crate) raw: Record,
    /// The error output it goes to: `processing-failed`, `partitioning-failed`.
    pub(crate) output_type: &'static str,
    /// Firehose's error codes: `Lambda.ProcessingFailed` (the function said so),
    /// `Lambda.InvokeFailed` (the calls failed),
    /// `DynamicPartitioning.MetadataExtractionFailed`.
    pub(crate) error_code: &'static str,
    pub(crate) message: String,
    pub(crate) attempts: u32,
    /// The function's URL (Firehose's `lambdaArn`), for transformation failures.
    pub(crate) function: Option<String>,
    pub(crate) failed_at: DateTime<Utc>,
}

/// What the chain made of a buffer.
#[derive(Debug, Default)]
pub(crate) struct Processed {
    /// The records to deliver, in order.
    pub(crate) records: Vec<Record>,
    pub(crate) failed: Vec<FailedRecord>,
    /// Records a function dropped on purpose.
    pub(crate) dropped: usize,
}

/// A delivery stream's processor chain.
pub(crate) struct Processing {
    steps: Vec<Processor>,
    delivery_stream_arn: String,
    region: String,
    client: reqwest::Client,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    invocation_id: String,
    delivery_stream_arn: &'a str,
    region: &'a str,
    records: Vec<InvocationRecord>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationRecord {
    record_id: String,
    approximate_arrival_timestamp: i64,
    data: String,
}

#[derive(Deserialize)]
struct Answer {
    records: Vec<AnswerRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerRecord {
    record_id: String,
    result: String,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    metadata: Option<AnswerMetadata>,
}

/// What a function may say about a record besides its data: partition keys for
/// `!{partitionKeyFromLambda:<key>}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerMetadata {
    #[serde(default)]
    partition_keys: std::collections::BTreeMap<String, serde_json::Value>,
}

/// What a function said about one record.
enum Outcome {
    /// Its new data, and the partition keys the function gave it.
    Ok(Bytes, Option<std::sync::Arc<Vec<(String, String)>>>),
    Dropped,
    Failed,
}

impl Processing {
    pub(crate) fn new(steps: &[Processor], delivery_stream_arn: &str) -> anyhow::Result<Self> {
        let region = delivery_stream_arn
            .split(':')
            .nth(3)
            .unwrap_or("us-east-1")
            .to_owned();
        Ok(Self {
            steps: steps.to_vec(),
            delivery_stream_arn: delivery_stream_arn.to_owned(),
            region,
            client: reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
                .connect_timeout(Duration::from_secs(5))
                .build()?,
        })
    }

    /// Runs the chain over `records`.
    pub(crate) async fn run(&self, records: &[Record]) -> Processed {
        let mut flying: Vec<InFlight> = records
            .iter()
            .map(|record| InFlight {
                raw: record.clone(),
                current: record.clone(),
            })
            .collect();
        let mut processed = Processed::default();
        for step in &self.steps {
            flying = match step {
                Processor::AppendDelimiter { delimiter } => flying
                    .into_iter()
                    .map(|mut record| {
                        let mut data =
                            Vec::with_capacity(record.current.data.len() + delimiter.len());
                        data.extend_from_slice(&record.current.data);
                        data.extend_from_slice(delimiter.as_bytes());
                        record.current.data = data.into();
                        record
                    })
                    .collect(),
                Processor::Function {
                    url,
                    retries,
                    batch_bytes,
                } => {
                    let mut kept = Vec::with_capacity(flying.len());
                    for batch in batches(flying, *batch_bytes) {
                        self.call(url, *retries, batch, &mut kept, &mut processed)
                            .await;
                    }
                    kept
                }
            };
        }
        processed.records = flying.into_iter().map(|record| record.current).collect();
        processed
    }

    /// One batch through a function: its records kept (`Ok`), counted (`Dropped`) or failed.
    async fn call(
        &self,
        url: &str,
        retries: u32,
        batch: Vec<InFlight>,
        kept: &mut Vec<InFlight>,
        processed: &mut Processed,
    ) {
        let mut pause = FIRST_RETRY_PAUSE;
        let mut attempts = 0;
        let outcomes = loop {
            attempts += 1;
            match self.invoke(url, &batch).await {
                Ok(outcomes) => break Ok(outcomes),
                Err(error) if attempts > retries => break Err(error),
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        url,
                        attempts,
                        "a transformation call failed; retrying"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
            }
        };
        match outcomes {
            Ok(outcomes) => {
                for (mut record, outcome) in batch.into_iter().zip(outcomes) {
                    match outcome {
                        Outcome::Ok(data, keys) => {
                            record.current.data = data;
                            if keys.is_some() {
                                record.current.function_keys = keys;
                            }
                            kept.push(record);
                        }
                        Outcome::Dropped => processed.dropped += 1,
                        Outcome::Failed => processed.failed.push(FailedRecord {
                            raw: record.raw,
                            output_type: PROCESSING_FAILED,
                            error_code: "Lambda.ProcessingFailed",
                            message: "The function answered ProcessingFailed for this record."
                                .to_owned(),
                            attempts,
                            function: Some(url.to_owned()),
                            failed_at: Utc::now(),
                        }),
                    }
                }
            }
            Err(error) => {
                let message = format!("{error:#}");
                tracing::warn!(%message, url, attempts, records = batch.len(), "transformation failed; the records go to the error output");
                processed
                    .failed
                    .extend(batch.into_iter().map(|record| FailedRecord {
                        raw: record.raw,
                        output_type: PROCESSING_FAILED,
                        error_code: "Lambda.InvokeFailed",
                        message: message.clone(),
                        attempts,
                        function: Some(url.to_owned()),
                        failed_at: Utc::now(),
                    }));
            }
        }
    }

    /// One call: each record's outcome, in the batch's order, or why the call failed.
    async fn invoke(&self, url: &str, batch: &[InFlight]) -> anyhow::Result<Vec<Outcome>> {
        let invocation = Invocation {
            invocation_id: uuid::Uuid::new_v4().to_string(),
            delivery_stream_arn: &self.delivery_stream_arn,
            region: &self.region,
            records: batch
                .iter()
                .enumerate()
                .map(|(index, record)| InvocationRecord {
                    record_id: record_id(index),
                    approximate_arrival_timestamp: record.current.arrival.timestamp_millis(),
                    data: BASE64.encode(&record.current.data),
                })
                .collect(),
        };
        let response = self.client.post(url).json(&invocation).send().await?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("the function answered HTTP {status}");
        }
        let answer: Answer = response.json().await.map_err(|error| {
            anyhow::anyhow!(
                "the function's answer is not the transformation contract's JSON: {error}"
            )
        })?;
        let mut outcomes: Vec<Option<Outcome>> = (0..batch.len()).map(|_| None).collect();
        for record in answer.records {
            let slot = record
                .record_id
                .parse::<usize>()
                .ok()
                .filter(|index| record_id(*index) == record.record_id)
                .and_then(|index| outcomes.get_mut(index))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the function answered an unknown recordId {:?}",
                        record.record_id
                    )
                })?;
            anyhow::ensure!(
                slot.is_none(),
                "the function answered recordId {} twice",
                record.record_id
            );
            *slot = Some(match record.result.as_str() {
                "Ok" => {
                    let data = record.data.as_deref().ok_or_else(|| {
                        anyhow::anyhow!("recordId {} is Ok without data", record.record_id)
                    })?;
                    let data = BASE64.decode(data).map_err(|_| {
                        anyhow::anyhow!("recordId {} has data that is not base64", record.record_id)
                    })?;
                    let keys = record
                        .metadata
                        .map(|metadata| {
                            metadata
                                .partition_keys
                                .into_iter()
                                .map(|(key, value)| match value {
                                    serde_json::Value::String(text) => Ok((key, text)),
                                    serde_json::Value::Number(number) => {
                                        Ok((key, number.to_string()))
                                    }
                                    serde_json::Value::Bool(flag) => Ok((key, flag.to_string())),
                                    _ => Err(anyhow::anyhow!(
                                        "recordId {} has partition key {key} that is not a string, number or boolean",
                                        record.record_id
                                    )),
                                })
                                .collect::<anyhow::Result<Vec<_>>>()
                        })
                        .transpose()?
                        .filter(|keys| !keys.is_empty())
                        .map(std::sync::Arc::new);
                    Outcome::Ok(data.into(), keys)
                }
                "Dropped" => Outcome::Dropped,
                "ProcessingFailed" => Outcome::Failed,
                other => anyhow::bail!(
                    "recordId {} has result {other:?} (Ok, Dropped or ProcessingFailed)",
                    record.record_id
                ),
            });
        }
        outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.ok_or_else(|| {
                    anyhow::anyhow!("the function did not answer recordId {}", record_id(index))
                })
            })
            .collect()
    }
}

/// A record's id within one call.
fn record_id(index: usize) -> String {
    format!("{index:08}")
}

/// `records` in runs of at most `batch_bytes` record bytes (at least one record each).
fn batches(records: Vec<InFlight>, batch_bytes: u64) -> Vec<Vec<InFlight>> {
    let mut batches = Vec::new();
    let mut current: Vec<InFlight> = Vec::new();
    let mut bytes = 0u64;
    for record in records {
        let size = record.current.data.len() as u64;
        if !current.is_empty() && bytes + size > batch_bytes {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(record);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}
