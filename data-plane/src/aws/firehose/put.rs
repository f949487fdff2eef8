//! PutRecord and PutRecordBatch: validate, store each record as one JetStream message on the
//! delivery stream's subject (the payload is the record's bytes as put), answer once
//! JetStream has acknowledged. A batch's publishes are pipelined: all are sent, then their
//! acknowledgements awaited together.
//!
//! Records are charged to the tenant's write throughput quota (ADR 010) like Kinesis puts;
//! over it, Firehose's answer is `ServiceUnavailableException` (its "back off and retry").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use fjord_common::aws_error::{AwsError, AwsErrorKind};
use fjord_common::firehose::{
    DeliverySource, DeliveryStreamSpec, DeliveryStreamStatus, MAX_BATCH_BYTES, MAX_BATCH_RECORDS,
    MAX_RECORD_BYTES, is_valid_name, record_id,
};
use fjord_common::kinesis::parse_input as parse;
use fjord_common::stream_ref::Validation;
use serde::{Deserialize, Serialize};

use crate::aws::kinesis::Caller;
use crate::gateway::Gateway;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordInput {
    data: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordInput {
    delivery_stream_name: Option<String>,
    record: Option<RecordInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordBatchInput {
    delivery_stream_name: Option<String>,
    records: Option<Vec<RecordInput>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordOutput {
    record_id: String,
    encrypted: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordBatchOutput {
    failed_put_count: usize,
    encrypted: bool,
    request_responses: Vec<PutRecordBatchResponseEntry>,
}

#[derive(Serialize, Default, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
struct PutRecordBatchResponseEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    record_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

/// Checks `deliveryStreamName` (required, 1–64 of `[a-zA-Z0-9_.-]`).
fn check_name(name: Option<&str>, validation: &mut Validation) {
    match name {
        None => validation.fail("null", "deliveryStreamName", "Member must not be null"),
        Some(name) if name.is_empty() || name.len() > 64 => {
            validation.length(name, "deliveryStreamName", 1, 64);
        }
        Some(name) if !is_valid_name(name) => validation.fail(
            name,
            "deliveryStreamName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ),
        Some(_) => {}
    }
}

/// Decodes one record's data; `member` names it in messages (`record.data`). A record that
/// failed a modelled constraint is `None` (the failure is in `validation`).
fn decode(
    record: Option<RecordInput>,
    member: &str,
    validation: &mut Validation,
) -> Result<Option<Vec<u8>>, AwsError> {
    let Some(text) = record.and_then(|record| record.data) else {
        validation.fail("null", member, "Member must not be null");
        return Ok(None);
    };
    let data = BASE64.decode(text.as_bytes()).map_err(|_| {
        AwsError::new(
            AwsErrorKind::SerializationException,
            "Data must be a base64-encoded binary value.",
        )
    })?;
    if data.len() > MAX_RECORD_BYTES {
        validation.fail(
            "java.nio.HeapByteBuffer",
            member,
            &format!("Member must have length less than or equal to {MAX_RECORD_BYTES}"),
        );
        return Ok(None);
    }
    Ok(Some(data))
}

/// The caller's delivery stream `name`, if it accepts puts.
async fn writable_delivery_stream(
    gateway: &Gateway,
    caller: &Caller,
    name: &str,
) -> Result<std::sync::Arc<DeliveryStreamSpec>, AwsError> {
    let spec = gateway
        .catalog
        .delivery_stream(caller.tenant_id, name)
        .await
        .filter(|spec| spec.status == DeliveryStreamStatus::Active);
    match spec {
        None => Err(AwsError::not_found(format!(
            "Firehose {name} under account {} not found.",
            caller.account_id
        ))),
        Some(spec) if !matches!(spec.source, DeliverySource::DirectPut) => {
            Err(AwsError::invalid_argument(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
            ))
        }
        Some(spec) => Ok(spec),
    }
}

/// Firehose's answer when the tenant's write quota is used up for now.
fn slow_down() -> AwsError {
    AwsError::new(AwsErrorKind::ServiceUnavailableException, "Slow down.")
}

/// The answer when JetStream did not store a record.
fn not_stored() -> AwsError {
    AwsError::new(
        AwsErrorKind::ServiceUnavailableException,
        "The service is unavailable. Back off and retry the operation.",
    )
}

/// Sends one record to JetStream; the returned future resolves to its sequence once stored.
async fn send(
    gateway: &Gateway,
    spec: &DeliveryStreamSpec,
    data: Vec<u8>,
) -> Result<async_nats::jetstream::context::PublishAckFuture, AwsError> {
    let subject = gateway.names.delivery_subject(spec.delivery_stream_id);
    gateway
        .jetstream
        .publish(subject, Bytes::from(data))
        .await
        .map_err(|error| {
            tracing::error!(%error, delivery_stream_id = %spec.delivery_stream_id, "failed to publish a record");
            not_stored()
        })
}

/// Awaits one record's acknowledgement.
async fn stored(
    spec: &DeliveryStreamSpec,
    sent: Result<async_nats::jetstream::context::PublishAckFuture, AwsError>,
) -> Result<u64, AwsError> {
    match sent?.await {
        Ok(ack) => Ok(ack.sequence),
        Err(error) => {
            tracing::error!(%error, delivery_stream_id = %spec.delivery_stream_id, "a record was not acknowledged");
            Err(not_stored())
        }
    }
}

pub(super) async fn put_record(
    gateway: &Gateway,
    caller: &Caller,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let input: PutRecordInput = parse(body)?;
    let mut validation = Validation::new();
    check_name(input.delivery_stream_name.as_deref(), &mut validation);
    let data = match input.record {
        None => {
            validation.fail("null", "record", "Member must not be null");
            None
        }
        Some(record) => decode(Some(record), "record.data", &mut validation)?,
    };
    validation.finish()?;
    let (Some(name), Some(data)) = (input.delivery_stream_name, data) else {
        return Err(AwsError::internal());
    };
    let spec = writable_delivery_stream(gateway, caller, &name).await?;
    if gateway
        .catalog
        .admit_writes(caller.tenant_id, &[data.len() as u64])
        .await
        == 0
    {
        return Err(slow_down());
    }
    let sequence = stored(&spec, send(gateway, &spec, data).await).await?;
    let output = PutRecordOutput {
        record_id: record_id(sequence),
        encrypted: false,
    };
    Ok(serde_json::to_vec(&output).unwrap_or_default())
}

pub(super) async fn put_record_batch(
    gateway: &Gateway,
    caller: &Caller,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let input: PutRecordBatchInput = parse(body)?;
    let mut validation = Validation::new();
    check_name(input.delivery_stream_name.as_deref(), &mut validation);
    let records = match input.records {
        None => {
            validation.fail("null", "records", "Member must not be null");
            Vec::new()
        }
        Some(records) if records.is_empty() => {
            validation.fail(
                "[]",
                "records",
                "Member must have length greater than or equal to 1",
            );
            records
        }
        Some(records) if records.len() > MAX_BATCH_RECORDS => {
            validation.fail(
                "[...]",
                "records",
                &format!("Member must have length less than or equal to {MAX_BATCH_RECORDS}"),
            );
            Vec::new()
        }
        Some(records) => records,
    };
    let mut decoded = Vec::with_capacity(records.len());
    for (index, record) in records.into_iter().enumerate() {
        let member = format!("records.{}.member.data", index + 1);
        decoded.push(decode(Some(record), &member, &mut validation)?);
    }
    validation.finish()?;
    let Some(name) = input.delivery_stream_name else {
        return Err(AwsError::internal());
    };
    let records: Vec<Vec<u8>> = decoded.into_iter().flatten().collect();
    let total: usize = records.iter().map(Vec::len).sum();
    if total > MAX_BATCH_BYTES {
        return Err(AwsError::invalid_argument(format!(
            "Records size exceeds {MAX_BATCH_BYTES} bytes limit."
        )));
    }
    let spec = writable_delivery_stream(gateway, caller, &name).await?;
    let sizes: Vec<u64> = records.iter().map(|data| data.len() as u64).collect();
    let admitted = gateway.catalog.admit_writes(caller.tenant_id, &sizes).await;
    let count = records.len();
    // Send every admitted record, then await the acknowledgements together.
    let mut sent = Vec::with_capacity(admitted);
    for data in records.into_iter().take(admitted) {
        sent.push(send(gateway, &spec, data).await);
    }
    let outcomes =
        futures::future::join_all(sent.into_iter().map(|sent| stored(&spec, sent))).await;
    let refused = (admitted..count).map(|_| Err(slow_down()));
    let request_responses: Vec<PutRecordBatchResponseEntry> = outcomes
        .into_iter()
        .chain(refused)
        .map(|outcome| match outcome {
            Ok(sequence) => PutRecordBatchResponseEntry {
                record_id: Some(record_id(sequence)),
                ..Default::default()
            },
            Err(error) => PutRecordBatchResponseEntry {
                error_code: Some(error.kind.type_name().to_owned()),
                error_message: Some(error.message),
                ..Default::default()
            },
        })
        .collect();
    let output = PutRecordBatchOutput {
        failed_put_count: request_responses
            .iter()
            .filter(|entry| entry.error_code.is_some())
            .count(),
        encrypted: false,
        request_responses,
    };
    Ok(serde_json::to_vec(&output).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate_put_record(body: &str) -> Result<(), AwsError> {
        let input: PutRecordInput = parse(body.as_bytes())?;
        let mut validation = Validation::new();
        check_name(input.delivery_stream_name.as_deref(), &mut validation);
        match input.record {
            None => validation.fail("null", "record", "Member must not be null"),
            Some(record) => {
                decode(Some(record), "record.data", &mut validation)?;
            }
        }
        validation.finish()
    }

    #[test]
    fn put_record_members_are_checked_like_aws() {
        assert!(
            validate_put_record(r#"{"DeliveryStreamName":"ev","Record":{"Data":"aGk="}}"#).is_ok()
        );
        let error = validate_put_record(r#"{"Record":{"Data":"aGk="}}"#).unwrap_err();
        assert_eq!(error.kind, AwsErrorKind::ValidationException);
        assert!(
            error.message.contains("'deliveryStreamName'"),
            "{}",
            error.message
        );
        let error = validate_put_record(r#"{"DeliveryStreamName":"a b","Record":{}}"#).unwrap_err();
        assert!(
            error.message.starts_with("2 validation errors"),
            "{}",
            error.message
        );
        let error = validate_put_record(r#"{"DeliveryStreamName":"ev","Record":{"Data":"%%"}}"#)
            .unwrap_err();
        assert_eq!(error.kind, AwsErrorKind::SerializationException);
        let too_big = BASE64.encode(vec![7u8; MAX_RECORD_BYTES + 1]);
        let error = validate_put_record(&format!(
            r#"{{"DeliveryStreamName":"ev","Record":{{"Data":"{too_big}"}}}}"#
        ))
        .unwrap_err();
        assert!(
            error.message.contains("less than or equal to 1024000"),
            "{}",
            error.message
        );
        let just_fits = BASE64.encode(vec![7u8; MAX_RECORD_BYTES]);
        assert!(
            validate_put_record(&format!(
                r#"{{"DeliveryStreamName":"ev","Record":{{"Data":"{just_fits}"}}}}"#
            ))
            .is_ok()
        );
        let error = validate_put_record("[1,2]").unwrap_err();
        assert_eq!(error.kind, AwsErrorKind::SerializationException);
    }

    #[test]
    fn batch_entries_serialize_as_firehose_answers_them() {
        let output = PutRecordBatchOutput {
            failed_put_count: 1,
            encrypted: false,
            request_responses: vec![
                PutRecordBatchResponseEntry {
                    record_id: Some(record_id(7)),
                    ..Default::default()
                },
                PutRecordBatchResponseEntry {
                    error_code: Some("ServiceUnavailableException".to_owned()),
                    error_message: Some("Slow down.".to_owned()),
                    ..Default::default()
                },
            ],
        };
        let json: serde_json::Value = serde_json::to_value(&output).unwrap();
        assert_eq!(json["FailedPutCount"], 1);
        assert_eq!(json["Encrypted"], false);
        assert_eq!(json["RequestResponses"][0]["RecordId"], record_id(7));
        assert!(json["RequestResponses"][0].get("ErrorCode").is_none());
        assert_eq!(
            json["RequestResponses"][1]["ErrorCode"],
            "ServiceUnavailableException"
        );
        assert!(json["RequestResponses"][1].get("RecordId").is_none());
    }
}
