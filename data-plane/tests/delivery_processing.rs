//! Record transformation against a real NATS server and a function served by the test over
//! HTTP with Firehose's Lambda contract: records the function answers `Ok` are delivered as it
//! changed them (then delimited by the built-in processor), `Dropped` ones are left out, and
//! `ProcessingFailed` ones — or every record of a call that keeps failing — are written to the
//! error output with the raw data, never lost; either way every record is acknowledged.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Installation, start_worker};
use fjord_common::firehose::{Buffering, Compression, Processor};
use serde_json::{Value, json};

/// A function for the tests: how it answers, and how often it was called.
#[derive(Clone)]
struct Function {
    fails: bool,
    calls: Arc<AtomicUsize>,
    records_seen: Arc<AtomicUsize>,
}

impl Function {
    fn new(fails: bool) -> Self {
        Self {
            fails,
            calls: Arc::default(),
            records_seen: Arc::default(),
        }
    }
}

/// Record `n` (its data is the number): n % 10 == 0 is dropped, n % 10 == 1 fails, the rest
/// become `{"n":n}`.
async fn transform(State(function): State<Function>, Json(invocation): Json<Value>) -> Response {
    function.calls.fetch_add(1, Ordering::Relaxed);
    if function.fails {
        return (StatusCode::INTERNAL_SERVER_ERROR, "function crashed").into_response();
    }
    assert!(invocation["invocationId"].as_str().is_some());
    assert!(
        invocation["deliveryStreamArn"]
            .as_str()
            .unwrap()
            .ends_with(":deliverystream/transformed")
    );
    let records = invocation["records"].as_array().unwrap();
    function
        .records_seen
        .fetch_add(records.len(), Ordering::Relaxed);
    let answered: Vec<Value> = records
        .iter()
        .map(|record| {
            assert!(record["approximateArrivalTimestamp"].as_i64().unwrap() > 0);
            let data = BASE64.decode(record["data"].as_str().unwrap()).unwrap();
            let n: u64 = String::from_utf8(data).unwrap().parse().unwrap();
            let id = record["recordId"].clone();
            match n % 10 {
                0 => json!({"recordId": id, "result": "Dropped"}),
                1 => json!({"recordId": id, "result": "ProcessingFailed"}),
                _ => json!({"recordId": id, "result": "Ok",
                             "data": BASE64.encode(format!("{{\"n\":{n}}}")),
                             "metadata": {"partitionKeys": {
                                 "parity": if n.is_multiple_of(2) { "even" } else { "odd" }}}}),
            }
        })
        .collect();
    Json(json!({"records": answered})).into_response()
}

/// Serves `function` on a free port; its URL.
async fn serve(function: Function) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/transform", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/transform", axum::routing::post(transform))
        .with_state(function);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A delivery stream named `name` into `prefix`, buffering 1 s, with error output under
/// `errors/`, its destination then set up by `configure`; provisioned as the reconciler does.
async fn provision_with(
    installation: &Installation,
    name: &str,
    prefix: &str,
    configure: impl FnOnce(&mut fjord_common::firehose::ObjectStoreDestination),
) -> fjord_common::firehose::DeliveryStreamSpec {
    let mut spec = installation.spec(
        name,
        prefix,
        Compression::Uncompressed,
        Buffering {
            size_mib: 64,
            interval_seconds: 1,
        },
    );
    let destination = spec.destination.target.bucket_mut();
    destination.error_output_prefix = "errors/".to_owned();
    configure(destination);
    installation.create_stream(&spec).await;
    installation.publish_spec(&spec).await;
    spec
}

/// A delivery stream whose records go through `url` (at most `batch_bytes` per call, one retry)
/// and then get a newline.
async fn provision(
    installation: &Installation,
    url: &str,
    batch_bytes: u64,
) -> fjord_common::firehose::DeliveryStreamSpec {
    provision_with(installation, "transformed", "ok/", |destination| {
        destination.processors = vec![
            Processor::Function {
                url: url.to_owned(),
                retries: 1,
                batch_bytes,
            },
            Processor::AppendDelimiter {
                delimiter: "\n".to_owned(),
            },
        ];
    })
    .await
}

/// The lines of the error output `output_type` (under `errors/<output_type>/`), parsed.
fn error_lines_of(objects: &[(String, Vec<u8>)], output_type: &str) -> Vec<Value> {
    let prefix = format!("errors/{output_type}/");
    objects
        .iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .flat_map(|(_, bytes)| {
            String::from_utf8(bytes.clone())
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str::<Value>(line).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The lines of the error output `processing-failed`.
fn error_lines(objects: &[(String, Vec<u8>)]) -> Vec<Value> {
    error_lines_of(objects, "processing-failed")
}

fn raw_data(line: &Value) -> String {
    String::from_utf8(BASE64.decode(line["rawData"].as_str().unwrap()).unwrap()).unwrap()
}

/// Waits until nothing of the delivery stream is unacknowledged or waiting.
async fn all_acknowledged(
    installation: &Installation,
    spec: &fjord_common::firehose::DeliveryStreamSpec,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut stream = installation
            .jetstream
            .get_stream(installation.names.delivery_stream(spec.delivery_stream_id))
            .await
            .unwrap();
        let consumer = stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                &installation
                    .names
                    .delivery_consumer(spec.delivery_stream_id),
            )
            .await;
        if let Ok(mut consumer) = consumer {
            let info = consumer.info().await.unwrap();
            let last = stream.info().await.unwrap().state.last_sequence;
            if info.num_ack_pending == 0
                && info.num_pending == 0
                && info.ack_floor.stream_sequence == last
            {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "records stayed unacknowledged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn records_are_transformed_dropped_or_written_to_the_error_output() {
    let installation = Installation::new().await;
    let function = Function::new(false);
    let url = serve(function.clone()).await;
    // 50 records of 1-2 bytes, at most 20 bytes per call: several calls per buffer.
    let spec = provision(&installation, &url, 20).await;
    let worker = start_worker(&installation);
    for n in 0..50u64 {
        installation
            .put_record(&spec, n.to_string().into_bytes())
            .await;
    }
    let objects = installation
        .wait_for_objects(Duration::from_secs(20), |objects| {
            let delivered: usize = objects
                .iter()
                .filter(|(key, _)| key.starts_with("ok/"))
                .map(|(_, bytes)| bytes.iter().filter(|b| **b == b'\n').count())
                .sum();
            delivered >= 40 && error_lines(objects).len() >= 5
        })
        .await;
    all_acknowledged(&installation, &spec).await;
    let snapshot = worker.stop().await;

    let mut delivered: Vec<String> = objects
        .iter()
        .filter(|(key, _)| key.starts_with("ok/"))
        .flat_map(|(_, bytes)| {
            String::from_utf8(bytes.clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    delivered.sort();
    let mut expected: Vec<String> = (0..50u64)
        .filter(|n| n % 10 > 1)
        .map(|n| format!("{{\"n\":{n}}}"))
        .collect();
    expected.sort();
    assert_eq!(delivered, expected, "Ok records, transformed and delimited");
    let failed = error_lines(&objects);
    let mut raw: Vec<String> = failed.iter().map(raw_data).collect();
    raw.sort();
    assert_eq!(
        raw,
        ["1", "11", "21", "31", "41"],
        "ProcessingFailed records, raw"
    );
    for line in &failed {
        assert_eq!(line["errorCode"], "Lambda.ProcessingFailed");
        assert_eq!(line["attemptsMade"], 1);
        assert_eq!(line["lambdaArn"], url.as_str());
        assert!(line["arrivalTimestamp"].as_i64().unwrap() > 0);
        assert!(line["attemptEndingTimestamp"].as_i64().unwrap() > 0);
    }
    assert!(
        function.calls.load(Ordering::Relaxed) >= 3,
        "batched by size: {} calls",
        function.calls.load(Ordering::Relaxed)
    );
    assert_eq!(
        function.records_seen.load(Ordering::Relaxed),
        50,
        "each record sent once"
    );
    assert_eq!(snapshot.records_delivered, 40);
    assert_eq!(snapshot.duplicates, 0);
}

#[tokio::test]
async fn a_function_that_keeps_failing_sends_its_records_to_the_error_output() {
    let installation = Installation::new().await;
    let function = Function::new(true);
    let url = serve(function.clone()).await;
    let spec = provision(&installation, &url, 1024 * 1024).await;
    let worker = start_worker(&installation);
    for n in 0..5u64 {
        installation
            .put_record(&spec, n.to_string().into_bytes())
            .await;
    }
    let objects = installation
        .wait_for_objects(Duration::from_secs(20), |objects| {
            error_lines(objects).len() >= 5
        })
        .await;
    all_acknowledged(&installation, &spec).await;
    worker.stop().await;
    assert!(
        objects
            .iter()
            .all(|(key, _)| key.starts_with("errors/processing-failed/")),
        "nothing delivered: {:?}",
        objects.iter().map(|(key, _)| key).collect::<Vec<_>>()
    );
    let failed = error_lines(&objects);
    let mut raw: Vec<String> = failed.iter().map(raw_data).collect();
    raw.sort();
    assert_eq!(raw, ["0", "1", "2", "3", "4"]);
    for line in &failed {
        assert_eq!(line["errorCode"], "Lambda.InvokeFailed");
        assert_eq!(line["attemptsMade"], 2, "the call and its one retry");
        assert!(
            line["errorMessage"].as_str().unwrap().contains("HTTP 500"),
            "{line}"
        );
    }
    assert!(function.calls.load(Ordering::Relaxed) >= 2);
}

#[tokio::test]
async fn dynamic_partitions_get_objects_of_their_own_and_records_without_keys_the_error_output() {
    let installation = Installation::new().await;
    let spec = provision_with(
        &installation,
        "partitioned",
        "p/customer=!{partitionKeyFromQuery:customer}/kind=!{partitionKeyFromQuery:kind}/",
        |destination| {
            destination.partition_keys = vec![
                fjord_common::firehose::PartitionKey {
                    name: "customer".to_owned(),
                    path: vec!["customer".to_owned(), "id".to_owned()],
                },
                fjord_common::firehose::PartitionKey {
                    name: "kind".to_owned(),
                    path: vec!["kind".to_owned()],
                },
            ];
        },
    )
    .await;
    let worker = start_worker(&installation);
    let records = [
        r#"{"customer":{"id":"acme"},"kind":"click","n":1}"#,
        r#"{"customer":{"id":"globex"},"kind":"click","n":2}"#,
        r#"{"customer":{"id":"acme"},"kind":"view","n":3}"#,
        r#"{"customer":{"id":"acme"},"kind":"click","n":4}"#,
        r#"{"customer":{"id":42},"kind":true,"n":5}"#,
        r#"{"kind":"click","n":6}"#,
        "not json",
    ];
    for record in records {
        installation
            .put_record(&spec, format!("{record}\n").into_bytes())
            .await;
    }
    let objects = installation
        .wait_for_objects(Duration::from_secs(20), |objects| {
            objects
                .iter()
                .map(|(_, bytes)| bytes.iter().filter(|b| **b == b'\n').count())
                .sum::<usize>()
                >= records.len()
        })
        .await;
    all_acknowledged(&installation, &spec).await;
    worker.stop().await;
    let in_partition = |prefix: &str| -> Vec<String> {
        let mut lines: Vec<String> = objects
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .flat_map(|(key, bytes)| {
                assert!(key[prefix.len()..].starts_with("partitioned-1-"), "{key}");
                String::from_utf8(bytes.clone())
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        in_partition("p/customer=acme/kind=click/"),
        [records[0], records[3]]
    );
    assert_eq!(in_partition("p/customer=globex/kind=click/"), [records[1]]);
    assert_eq!(in_partition("p/customer=acme/kind=view/"), [records[2]]);
    assert_eq!(in_partition("p/customer=42/kind=true/"), [records[4]]);
    let failed = error_lines_of(&objects, "partitioning-failed");
    let mut raw: Vec<String> = failed.iter().map(raw_data).collect();
    raw.sort();
    assert_eq!(raw, ["not json\n", "{\"kind\":\"click\",\"n\":6}\n"]);
    for line in &failed {
        assert_eq!(
            line["errorCode"],
            "DynamicPartitioning.MetadataExtractionFailed"
        );
        assert!(line.get("lambdaArn").is_none());
    }
}

#[tokio::test]
async fn partition_keys_can_come_from_the_transformation_function() {
    let installation = Installation::new().await;
    let function = Function::new(false);
    let url = serve(function).await;
    let spec = provision_with(
        &installation,
        "transformed",
        "l/parity=!{partitionKeyFromLambda:parity}/",
        |destination| {
            destination.processors = vec![
                Processor::Function {
                    url: url.clone(),
                    retries: 1,
                    batch_bytes: 1024 * 1024,
                },
                Processor::AppendDelimiter {
                    delimiter: "\n".to_owned(),
                },
            ];
        },
    )
    .await;
    let worker = start_worker(&installation);
    for n in 0..20u64 {
        installation
            .put_record(&spec, n.to_string().into_bytes())
            .await;
    }
    // 16 records are Ok (n % 10 > 1), 2 fail, 2 are dropped.
    let objects = installation
        .wait_for_objects(Duration::from_secs(20), |objects| {
            objects
                .iter()
                .filter(|(key, _)| key.starts_with("l/"))
                .map(|(_, bytes)| bytes.iter().filter(|b| **b == b'\n').count())
                .sum::<usize>()
                >= 16
        })
        .await;
    all_acknowledged(&installation, &spec).await;
    worker.stop().await;
    for (parity, remainder) in [("even", 0), ("odd", 1)] {
        let prefix = format!("l/parity={parity}/");
        let mut found: Vec<u64> = objects
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .flat_map(|(_, bytes)| {
                String::from_utf8(bytes.clone())
                    .unwrap()
                    .lines()
                    .map(|line| {
                        serde_json::from_str::<Value>(line).unwrap()["n"]
                            .as_u64()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort_unstable();
        let expected: Vec<u64> = (0..20)
            .filter(|n| n % 10 > 1 && n % 2 == remainder)
            .collect();
        assert_eq!(found, expected, "{parity}");
    }
    assert_eq!(error_lines(&objects).len(), 2, "the ProcessingFailed ones");
}
