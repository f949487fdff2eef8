//! Record transformation end to end with the official `aws-sdk-firehose`: a delivery stream
//! whose `ProcessingConfiguration` calls a function the test serves over HTTP (Lambda contract)
//! and appends a newline. Records the function answers `Ok` arrive transformed, `Dropped` ones
//! do not, `ProcessingFailed` ones land under the error output prefix with their raw data.
//! A Lambda ARN (not a URL) is refused at creation with a clear error. Dynamic partitioning
//! (`MetadataExtraction` keys in the prefix) writes an object per partition.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{
    CompressionFormat, ProcessingConfiguration, Processor, ProcessorParameter,
    ProcessorParameterName, ProcessorType, Record,
};
use axum::Json;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fjord_e2e::delivery::{files_under, s3_destination_builder, wait_delivery_stream_active};
use fjord_e2e::{Fjord, error_type, stream_name};
use serde_json::{Value, json};

/// `n` % 3 == 0 is dropped, % 3 == 1 fails, the rest become `{"n":n,"ok":true}`.
async fn transform(Json(invocation): Json<Value>) -> Json<Value> {
    let records: Vec<Value> = invocation["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            let data = BASE64.decode(record["data"].as_str().unwrap()).unwrap();
            let n: u64 = String::from_utf8(data).unwrap().trim().parse().unwrap();
            let id = record["recordId"].clone();
            match n % 3 {
                0 => json!({"recordId": id, "result": "Dropped"}),
                1 => json!({"recordId": id, "result": "ProcessingFailed"}),
                _ => json!({"recordId": id, "result": "Ok",
                             "data": BASE64.encode(format!("{{\"n\":{n},\"ok\":true}}"))}),
            }
        })
        .collect();
    Json(json!({ "records": records }))
}

fn parameter(name: ProcessorParameterName, value: &str) -> ProcessorParameter {
    ProcessorParameter::builder()
        .parameter_name(name)
        .parameter_value(value)
        .build()
        .unwrap()
}

fn processing(function: &str) -> ProcessingConfiguration {
    ProcessingConfiguration::builder()
        .enabled(true)
        .processors(
            Processor::builder()
                .r#type(ProcessorType::Lambda)
                .parameters(parameter(ProcessorParameterName::LambdaArn, function))
                .parameters(parameter(
                    ProcessorParameterName::LambdaNumberOfRetries,
                    "1",
                ))
                .build()
                .unwrap(),
        )
        .processors(
            Processor::builder()
                .r#type(ProcessorType::AppendDelimiterToRecord)
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn records_go_through_a_function_and_failures_to_the_error_output() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let function = format!("http://{}/transform", listener.local_addr()?);
    let app = axum::Router::new().route("/transform", axum::routing::post(transform));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let client = fjord.firehose(&tenant);

    let refused = client
        .create_delivery_stream()
        .delivery_stream_name(stream_name("arn"))
        .extended_s3_destination_configuration(
            s3_destination_builder("lake", "t/", CompressionFormat::Uncompressed)
                .processing_configuration(processing(
                    "arn:aws:lambda:us-east-1:123456789012:function:transform",
                ))
                .build()?,
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_type(&refused), "InvalidArgumentException");

    let name = stream_name("transformed");
    client
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .extended_s3_destination_configuration(
            s3_destination_builder("lake", "t/", CompressionFormat::Gzip)
                .processing_configuration(processing(&function))
                .build()?,
        )
        .send()
        .await?;
    wait_delivery_stream_active(&client, &name).await?;
    let described = client
        .describe_delivery_stream()
        .delivery_stream_name(&name)
        .send()
        .await?;
    let destination = &described
        .delivery_stream_description()
        .unwrap()
        .destinations()[0];
    let configured = destination
        .extended_s3_destination_description()
        .and_then(|d| d.processing_configuration())
        .expect("the processing configuration, as given");
    assert_eq!(configured.processors().len(), 2);

    let records: Vec<Record> = (0..300u64)
        .map(|n| Record::builder().data(Blob::new(n.to_string())).build())
        .collect::<Result<_, _>>()?;
    let put = client
        .put_record_batch()
        .delivery_stream_name(&name)
        .set_records(Some(records))
        .send()
        .await?;
    assert_eq!(put.failed_put_count(), 0);

    let bucket = root.join(&tenant.account_id).join("lake");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (delivered, failed) = loop {
        let delivered = fjord_e2e::delivery::object_records(&bucket.join("t"))?;
        let failed: Vec<Value> = files_under(&bucket.join("errors"))
            .iter()
            .flat_map(|file| {
                std::fs::read_to_string(file)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|line| serde_json::from_str(line).ok())
                    .collect::<Vec<Value>>()
            })
            .collect();
        if (delivered.len() >= 100 && failed.len() >= 100) || Instant::now() > deadline {
            break (delivered, failed);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let expected: BTreeSet<String> = (0..300u64)
        .filter(|n| n % 3 == 2)
        .map(|n| format!("{{\"n\":{n},\"ok\":true}}"))
        .collect();
    assert_eq!(delivered.len(), 100, "once each");
    assert_eq!(delivered.into_iter().collect::<BTreeSet<_>>(), expected);
    let raw: BTreeSet<u64> = failed
        .iter()
        .map(|line| {
            let data = BASE64.decode(line["rawData"].as_str().unwrap()).unwrap();
            String::from_utf8(data).unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(
        raw,
        (0..300u64).filter(|n| n % 3 == 1).collect::<BTreeSet<_>>()
    );
    assert!(
        failed
            .iter()
            .all(|line| line["errorCode"] == "Lambda.ProcessingFailed"
                && line["lambdaArn"] == function.as_str())
    );
    // The error output is under the default layout of the test's ErrorOutputPrefix.
    let error_files = files_under(&bucket.join("errors"));
    assert!(
        error_files.iter().all(|file| file
            .to_string_lossy()
            .contains("/errors/processing-failed/")),
        "{error_files:?}"
    );
    Ok(())
}

#[tokio::test]
async fn dynamic_partitioning_writes_an_object_per_partition_key() -> anyhow::Result<()> {
    use aws_sdk_firehose::types::{BufferingHints, DynamicPartitioningConfiguration};
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let client = fjord.firehose(&tenant);
    let name = stream_name("partitioned");
    let extraction = ProcessingConfiguration::builder()
        .enabled(true)
        .processors(
            Processor::builder()
                .r#type(ProcessorType::MetadataExtraction)
                .parameters(parameter(
                    ProcessorParameterName::MetadataExtractionQuery,
                    "{customer:.customer}",
                ))
                .parameters(parameter(
                    ProcessorParameterName::JsonParsingEngine,
                    "JQ-1.6",
                ))
                .build()?,
        )
        .build();
    client
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .extended_s3_destination_configuration(
            s3_destination_builder(
                "lake",
                "by/customer=!{partitionKeyFromQuery:customer}/",
                CompressionFormat::Uncompressed,
            )
            .buffering_hints(
                BufferingHints::builder()
                    .size_in_mbs(64)
                    .interval_in_seconds(1)
                    .build(),
            )
            .processing_configuration(extraction)
            .dynamic_partitioning_configuration(
                DynamicPartitioningConfiguration::builder()
                    .enabled(true)
                    .build(),
            )
            .build()?,
        )
        .send()
        .await?;
    wait_delivery_stream_active(&client, &name).await?;
    let records: Vec<Record> = (0..90u64)
        .map(|n| {
            let customer = ["acme", "globex", "initech"][(n % 3) as usize];
            Record::builder()
                .data(Blob::new(format!(
                    "{{\"customer\":\"{customer}\",\"n\":{n}}}\n"
                )))
                .build()
        })
        .collect::<Result<_, _>>()?;
    client
        .put_record_batch()
        .delivery_stream_name(&name)
        .set_records(Some(records))
        .send()
        .await?;
    let bucket = root.join(&tenant.account_id).join("lake").join("by");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut complete = true;
        for customer in ["acme", "globex", "initech"] {
            let lines =
                fjord_e2e::delivery::object_records(&bucket.join(format!("customer={customer}")))?;
            complete &= lines.len() == 30
                && lines
                    .iter()
                    .all(|line| line.contains(&format!("\"customer\":\"{customer}\"")));
        }
        if complete {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "partitions incomplete: {:?}",
            files_under(&bucket)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
