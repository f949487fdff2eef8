//! Delivery to an HTTP endpoint, end to end with the official `aws-sdk-firehose`: a test
//! endpoint speaking Firehose's HTTP endpoint delivery contract receives every record put
//! (directly or through a Kinesis stream) once, with the contract's headers, the access key
//! and common attributes, GZIP bodies when configured; a refused request is retried with the
//! same request id; records an endpoint never takes go to the backup bucket's error output
//! (`http-endpoint-failed`) once the retry duration is over; `AllData` backs everything up.
//! The access key is never shown by Describe, REST or the log.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamType, HttpEndpointBufferingHints,
    HttpEndpointCommonAttribute, HttpEndpointConfiguration, HttpEndpointDestinationConfiguration,
    HttpEndpointDestinationUpdate, HttpEndpointRequestConfiguration, HttpEndpointRetryOptions,
    HttpEndpointS3BackupMode, KinesisStreamSourceConfiguration, S3DestinationConfiguration,
};
use base64::Engine as _;
use fjord_e2e::delivery::{
    files_under, put_batch, put_to_stream, s3_destination, wait_delivery_stream_active,
};
use fjord_e2e::http_endpoint::{Behaviour, TestEndpoint};
use fjord_e2e::{Fjord, expect_error, stream_name};

const ACCESS_KEY: &str = "endpoint-key-5f1c0a";

/// The backup bucket `backup`, errors under `errors/<type>/`.
fn backup() -> S3DestinationConfiguration {
    S3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::123456789012:role/firehose")
        .bucket_arn("arn:aws:s3:::backup")
        .prefix("all/")
        .error_output_prefix("errors/!{firehose:error-output-type}/")
        .buffering_hints(
            BufferingHints::builder()
                .size_in_mbs(1)
                .interval_in_seconds(1)
                .build(),
        )
        .compression_format(CompressionFormat::Uncompressed)
        .build()
        .expect("a complete backup configuration")
}

/// An HTTP endpoint destination posting to `url` every second, with the access key, GZIP and
/// one common attribute, retrying for `retry_seconds`.
fn http_destination(
    url: &str,
    retry_seconds: i32,
    mode: HttpEndpointS3BackupMode,
) -> HttpEndpointDestinationConfiguration {
    HttpEndpointDestinationConfiguration::builder()
        .endpoint_configuration(
            HttpEndpointConfiguration::builder()
                .url(url)
                .name("test endpoint")
                .access_key(ACCESS_KEY)
                .build()
                .expect("an endpoint"),
        )
        .buffering_hints(
            HttpEndpointBufferingHints::builder()
                .size_in_mbs(1)
                .interval_in_seconds(1)
                .build(),
        )
        .request_configuration(
            HttpEndpointRequestConfiguration::builder()
                .content_encoding(aws_sdk_firehose::types::ContentEncoding::Gzip)
                .common_attributes(
                    HttpEndpointCommonAttribute::builder()
                        .attribute_name("team")
                        .attribute_value("data")
                        .build()
                        .expect("an attribute"),
                )
                .build(),
        )
        .retry_options(
            HttpEndpointRetryOptions::builder()
                .duration_in_seconds(retry_seconds)
                .build(),
        )
        .s3_backup_mode(mode)
        .s3_configuration(backup())
        .build()
}

/// The lines of `records` (each put with a trailing newline), as text without it.
fn lines(records: &[Vec<u8>]) -> Vec<String> {
    records
        .iter()
        .map(|record| String::from_utf8_lossy(record).trim_end().to_owned())
        .collect()
}

#[tokio::test]
async fn records_reach_the_endpoint_once_each_with_the_contract() -> anyhow::Result<()> {
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let firehose = fjord.firehose(&tenant);
    // The first two requests are refused: they are retried, with the same request id.
    let endpoint = TestEndpoint::start(Behaviour::RefuseTimes {
        status: 503,
        times: 2,
    })
    .await?;

    let name = stream_name("to-http");
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .http_endpoint_destination_configuration(http_destination(
            &endpoint.url,
            300,
            HttpEndpointS3BackupMode::FailedDataOnly,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &name).await?;
    let described = firehose
        .describe_delivery_stream()
        .delivery_stream_name(&name)
        .send()
        .await?;
    let description = described
        .delivery_stream_description()
        .expect("a description");
    let arn = description.delivery_stream_arn().to_owned();
    let destination = &description.destinations()[0];
    let http = destination
        .http_endpoint_destination_description()
        .expect("an HTTP endpoint description");
    let endpoint_description = http.endpoint_configuration().expect("its endpoint");
    assert_eq!(endpoint_description.url(), Some(endpoint.url.as_str()));
    assert_eq!(endpoint_description.name(), Some("test endpoint"));
    assert_eq!(
        http.s3_destination_description().map(|s3| s3.bucket_arn()),
        Some("arn:aws:s3:::backup")
    );
    assert_eq!(
        http.retry_options().and_then(|r| r.duration_in_seconds()),
        Some(300)
    );
    assert!(
        !format!("{described:?}").contains(ACCESS_KEY),
        "Describe never shows the access key"
    );

    let sent = put_batch(&firehose, &name, "direct", 1000).await?;
    let received = endpoint
        .wait(30, |received| {
            received
                .iter()
                .filter(|r| r.status == 200)
                .map(|r| r.records.len())
                .sum::<usize>()
                >= sent.len()
        })
        .await;
    let delivered = lines(&endpoint.delivered());
    assert_eq!(
        delivered.iter().collect::<BTreeSet<_>>(),
        sent.iter().collect::<BTreeSet<_>>(),
        "every record put reached the endpoint"
    );
    assert_eq!(delivered.len(), sent.len(), "once each");
    for request in &received {
        assert!(request.follows_contract, "{request:?}");
        assert_eq!(request.protocol_version.as_deref(), Some("1.0"));
        assert_eq!(request.access_key.as_deref(), Some(ACCESS_KEY));
        assert_eq!(request.source_arn.as_deref(), Some(arn.as_str()));
        assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(
            request.common_attributes,
            Some(serde_json::json!({"commonAttributes": {"team": "data"}}))
        );
    }
    let refused: Vec<_> = received.iter().filter(|r| r.status == 503).collect();
    assert_eq!(refused.len(), 2, "{received:?}");
    assert!(
        received
            .iter()
            .any(|r| r.status == 200 && r.request_id == refused[0].request_id),
        "the refused request is sent again with its request id"
    );
    assert!(
        files_under(&root.join(&tenant.account_id).join("backup")).is_empty(),
        "FailedDataOnly: nothing in the backup bucket when nothing failed"
    );

    // An update moves delivery to another endpoint and keeps the access key.
    let second = TestEndpoint::start(Behaviour::Accept).await?;
    firehose
        .update_destination()
        .delivery_stream_name(&name)
        .current_delivery_stream_version_id("1")
        .destination_id(destination.destination_id())
        .http_endpoint_destination_update(
            HttpEndpointDestinationUpdate::builder()
                .endpoint_configuration(
                    HttpEndpointConfiguration::builder()
                        .url(&second.url)
                        .build()?,
                )
                .build(),
        )
        .send()
        .await?;
    // An S3 update does not apply to an HTTP endpoint destination.
    expect_error!(
        firehose
            .update_destination()
            .delivery_stream_name(&name)
            .current_delivery_stream_version_id("2")
            .destination_id(destination.destination_id())
            .extended_s3_destination_update(
                aws_sdk_firehose::types::ExtendedS3DestinationUpdate::builder()
                    .prefix("x/")
                    .build()
            )
            .send(),
        "InvalidArgumentException"
    );
    // The workers take the new version within a reconcile pass; records put meanwhile may
    // still go to the first endpoint. Every record goes to one of them, once.
    let mut after = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for round in 0.. {
        if !second.delivered().is_empty() {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the update never reached the workers"
        );
        after.extend(put_batch(&firehose, &name, &format!("moved{round}"), 20).await?);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let both = || {
        let mut both = lines(&endpoint.delivered());
        both.extend(lines(&second.delivered()));
        both
    };
    // At least once: a record a replaced task held comes back after AckWait at worst.
    let deadline = std::time::Instant::now() + Duration::from_secs(75);
    while both().len() < sent.len() + after.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut delivered = both();
    delivered.sort();
    let mut expected: Vec<String> = sent.iter().chain(after.iter()).cloned().collect();
    expected.sort();
    assert_eq!(delivered, expected, "every record at one endpoint, once");
    let moved = lines(&second.delivered());
    assert!(
        moved.iter().all(|line| line.starts_with("{\"moved")),
        "the second endpoint got only records put after the update"
    );
    assert!(
        second
            .received()
            .iter()
            .all(|r| r.access_key.as_deref() == Some(ACCESS_KEY)),
        "the access key is kept"
    );

    // The REST view shows the endpoint without its key; the log never has it.
    let admin = fjord.session("acme", "admin").await?;
    let view: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/delivery-streams/{name}",
            fjord.control_plane_url()
        ))
        .bearer_auth(&admin)
        .send()
        .await?
        .json()
        .await?;
    let http_view = &view["destination"]["http_endpoint"];
    assert_eq!(http_view["url"], second.url.as_str(), "{view}");
    assert_eq!(http_view["access_key_set"], true, "{view}");
    assert_eq!(http_view["content_encoding"], "GZIP", "{view}");
    assert!(!view.to_string().contains(ACCESS_KEY));
    assert!(
        !fjord.log().contains(ACCESS_KEY),
        "no access key in the log"
    );
    Ok(())
}

#[tokio::test]
async fn records_an_endpoint_never_takes_go_to_the_backup_error_output() -> anyhow::Result<()> {
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let firehose = fjord.firehose(&tenant);
    let refusing = TestEndpoint::start(Behaviour::Refuse { status: 500 }).await?;
    let name = stream_name("refused");
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .http_endpoint_destination_configuration(http_destination(
            &refusing.url,
            2,
            HttpEndpointS3BackupMode::FailedDataOnly,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &name).await?;
    let sent = put_batch(&firehose, &name, "refused", 120).await?;

    let errors = root
        .join(&tenant.account_id)
        .join("backup")
        .join("errors")
        .join("http-endpoint-failed");
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let failed = loop {
        let mut failed = Vec::new();
        for file in files_under(&errors) {
            for line in std::fs::read_to_string(&file)?.lines() {
                failed.push(serde_json::from_str::<serde_json::Value>(line)?);
            }
        }
        if failed.len() >= sent.len() || std::time::Instant::now() > deadline {
            break failed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let raw: Vec<String> = failed
        .iter()
        .map(|line| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(line["rawData"].as_str().unwrap_or_default())
                .unwrap_or_default();
            String::from_utf8_lossy(&data).trim_end().to_owned()
        })
        .collect();
    assert_eq!(
        raw.iter().collect::<BTreeSet<_>>(),
        sent.iter().collect::<BTreeSet<_>>(),
        "every refused record is in the error output"
    );
    assert_eq!(raw.len(), sent.len(), "once each");
    for line in &failed {
        assert_eq!(
            line["errorCode"], "HttpEndpoint.DestinationException",
            "{line}"
        );
        assert!(
            line["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .contains("500"),
            "{line}"
        );
        assert!(line["attemptsMade"].as_u64() >= Some(1), "{line}");
    }
    assert!(
        refusing.received().len() >= 2,
        "the request was retried before giving up"
    );
    assert!(refusing.delivered().is_empty());
    // The failed attempts are on record over REST (throttled per delivery stream), without
    // the key.
    let admin = fjord.session("acme", "admin").await?;
    let failures: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/delivery-streams/{name}/failures",
            fjord.control_plane_url()
        ))
        .bearer_auth(&admin)
        .send()
        .await?
        .json()
        .await?;
    let messages: Vec<&str> = failures["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["message"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        messages
            .iter()
            .any(|message| message.contains("HttpEndpoint.DestinationException")),
        "{failures}"
    );
    assert!(!failures.to_string().contains(ACCESS_KEY));

    // A contract violation (the wrong request id) is a failure too; with AllData every
    // record is also in the backup bucket.
    let wrong = TestEndpoint::start(Behaviour::WrongRequestId).await?;
    let violated = stream_name("violated");
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&violated)
        .http_endpoint_destination_configuration(http_destination(
            &wrong.url,
            0,
            HttpEndpointS3BackupMode::AllData,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &violated).await?;
    let more = put_batch(&firehose, &violated, "violated", 50).await?;
    let all = root.join(&tenant.account_id).join("backup").join("all");
    let backed_up = fjord_e2e::delivery::delivered_records(&all, more.len()).await?;
    assert_eq!(
        backed_up.iter().collect::<BTreeSet<_>>(),
        more.iter().collect::<BTreeSet<_>>(),
        "AllData: every record in the backup bucket"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let codes: Vec<String> = files_under(&errors)
            .iter()
            .flat_map(|file| {
                std::fs::read_to_string(file)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                    .filter_map(|line| line["errorCode"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect();
        let invalid = codes
            .iter()
            .filter(|code| *code == "HttpEndpoint.InvalidResponseFromDestination")
            .count();
        if invalid >= more.len() {
            assert_eq!(invalid, more.len());
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the violations never reached the error output: {codes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !fjord.log().contains(ACCESS_KEY),
        "no access key in the log"
    );
    Ok(())
}

#[tokio::test]
async fn a_kinesis_stream_delivers_to_an_endpoint() -> anyhow::Result<()> {
    let (fjord, _root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let kinesis = fjord.client(&tenant);
    let firehose = fjord.firehose(&tenant);
    let endpoint = TestEndpoint::start(Behaviour::Accept).await?;
    let source = stream_name("events");
    fjord.create_active_stream(&kinesis, &source, 2).await?;
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(&source)
        .send()
        .await?
        .stream_description_summary()
        .map(|summary| summary.stream_arn().to_owned())
        .unwrap_or_default();
    let name = stream_name("events-to-http");
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn(&stream_arn)
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .build()?,
        )
        .http_endpoint_destination_configuration(http_destination(
            &endpoint.url,
            60,
            HttpEndpointS3BackupMode::FailedDataOnly,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &name).await?;

    let sent = put_to_stream(&kinesis, &source, "kinesis", 500).await?;
    endpoint
        .wait(30, |received| {
            received.iter().map(|r| r.records.len()).sum::<usize>() >= sent.len()
        })
        .await;
    let delivered = lines(&endpoint.delivered());
    assert_eq!(
        delivered.iter().collect::<BTreeSet<_>>(),
        sent.iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(delivered.len(), sent.len(), "once each");
    Ok(())
}

#[tokio::test]
async fn bad_http_endpoint_configurations_are_refused_and_store_nothing() -> anyhow::Result<()> {
    let fjord = Fjord::start().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let firehose = fjord.firehose(&tenant);
    let create = |destination: HttpEndpointDestinationConfiguration| {
        firehose
            .create_delivery_stream()
            .delivery_stream_name("refused")
            .http_endpoint_destination_configuration(destination)
            .send()
    };
    let good = http_destination(
        "http://127.0.0.1:9/ingest",
        60,
        HttpEndpointS3BackupMode::FailedDataOnly,
    );
    let with_url = |url: &str| {
        let mut destination = good.clone();
        destination.endpoint_configuration = Some(
            HttpEndpointConfiguration::builder()
                .url(url)
                .access_key(ACCESS_KEY)
                .build()
                .expect("an endpoint"),
        );
        destination
    };
    let error = expect_error!(
        create(with_url("ftp://127.0.0.1/x")),
        "InvalidArgumentException"
    );
    assert!(!format!("{error:?}").contains(ACCESS_KEY));
    expect_error!(create(with_url("")), "ValidationException");
    let mut no_backup = good.clone();
    no_backup.s3_configuration = None;
    expect_error!(create(no_backup), "ValidationException");
    let mut too_long = good.clone();
    too_long.retry_options = Some(
        HttpEndpointRetryOptions::builder()
            .duration_in_seconds(7201)
            .build(),
    );
    expect_error!(create(too_long), "ValidationException");
    let mut secrets = good.clone();
    secrets.secrets_manager_configuration = Some(
        aws_sdk_firehose::types::SecretsManagerConfiguration::builder()
            .enabled(true)
            .secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:k")
            .build()?,
    );
    expect_error!(create(secrets), "InvalidArgumentException");
    // Two destinations at once.
    expect_error!(
        firehose
            .create_delivery_stream()
            .delivery_stream_name("refused")
            .http_endpoint_destination_configuration(good.clone())
            .extended_s3_destination_configuration(s3_destination(
                "lake",
                "x/",
                CompressionFormat::Uncompressed
            ))
            .send(),
        "InvalidArgumentException"
    );
    let listed = firehose.list_delivery_streams().send().await?;
    assert!(
        listed.delivery_stream_names().is_empty(),
        "nothing was stored"
    );
    Ok(())
}
