//! PutRecord and PutRecordBatch through the gateway with the official Firehose SDK, against a
//! real NATS server: the test publishes the access keys and delivery stream specs the control
//! plane would, and makes the JetStream streams its reconciler would.

mod common;

use std::time::Duration;

use aws_sdk_firehose::Client;
use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::config::{Credentials, Region};
use aws_sdk_firehose::error::ProvideErrorMetadata as _;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use common::{ACCOUNT_ID, Installation};
use fjord_common::config::Secret;
use fjord_common::firehose::{Buffering, Compression, DeliverySource, MAX_RECORD_BYTES};
use fjord_common::naming::Names;
use fjord_common::permissions::Role;
use fjord_common::secret::MasterKey;
use fjord_common::spec::AccessKeySpec;
use tokio_util::sync::CancellationToken;

const DEVELOPER_KEY: &str = "AKIAFIREHOSEDEV00001";
const VIEWER_KEY: &str = "AKIAFIREHOSEVIEW0001";
const SECRET: &str = "firehose-test-secret-access-key-000000000";

struct Gateway {
    installation: Installation,
    endpoint: String,
    cancel: CancellationToken,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn start_gateway() -> Gateway {
    start_gateway_forwarding_to("http://127.0.0.1:9").await
}

async fn start_gateway_forwarding_to(control_plane_url: &str) -> Gateway {
    let mut installation = Installation::new().await;
    let master_hex = "ab".repeat(32);
    installation.config.security.master_key = Secret(master_hex.clone());
    installation.config.security.internal_token = Secret("internal-token-for-tests".to_owned());
    installation.config.gateway.control_plane_url = control_plane_url.to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    installation.config.gateway.listen = format!("127.0.0.1:{port}");
    let secret_box = MasterKey::from_hex(&master_hex).unwrap().secret_box();
    for (access_key_id, role) in [(DEVELOPER_KEY, Role::Developer), (VIEWER_KEY, Role::Viewer)] {
        let spec = AccessKeySpec {
            access_key_id: access_key_id.to_owned(),
            tenant_id: installation.tenant_id,
            account_id: ACCOUNT_ID.to_owned(),
            sealed_secret: secret_box.seal(SECRET, access_key_id).unwrap(),
            enabled: true,
            role,
            generation: 1,
        };
        installation
            .bucket
            .put(
                Names::access_key_key(access_key_id),
                serde_json::to_vec(&spec).unwrap().into(),
            )
            .await
            .unwrap();
    }
    let cancel = CancellationToken::new();
    tokio::spawn(fjord_data_plane::run(
        installation.config.clone(),
        cancel.clone(),
    ));
    let endpoint = format!("http://127.0.0.1:{port}");
    let health = format!("{endpoint}/health");
    for _ in 0..100 {
        if reqwest::get(&health).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Gateway {
        installation,
        endpoint,
        cancel,
    }
}

fn client(gateway: &Gateway, access_key_id: &str) -> Client {
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(&gateway.endpoint)
        .credentials_provider(Credentials::new(access_key_id, SECRET, None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

fn record(data: &[u8]) -> Record {
    Record::builder().data(Blob::new(data)).build().unwrap()
}

fn buffering() -> Buffering {
    Buffering {
        size_mib: 5,
        interval_seconds: 300,
    }
}

#[tokio::test]
async fn records_are_stored_one_message_each_and_answered_with_record_ids() {
    let gateway = start_gateway().await;
    let installation = &gateway.installation;
    let spec = installation.spec("clicks", "", Compression::Gzip, buffering());
    installation.create_stream(&spec).await;
    installation.publish_spec(&spec).await;
    let firehose = client(&gateway, DEVELOPER_KEY);

    let put = firehose
        .put_record()
        .delivery_stream_name("clicks")
        .record(record(b"first\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.record_id().len(), 56);
    assert_eq!(put.encrypted(), Some(false));

    let batch = firehose
        .put_record_batch()
        .delivery_stream_name("clicks")
        .set_records(Some(vec![record(b"a\n"), record(b""), record(b"c\n")]))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.failed_put_count(), 0);
    assert_eq!(batch.encrypted(), Some(false));
    let ids: Vec<u64> = batch
        .request_responses()
        .iter()
        .map(|entry| {
            assert!(entry.error_code().is_none());
            entry.record_id().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");

    // Each record is one message holding exactly its bytes.
    let stream = installation
        .jetstream
        .get_stream(installation.names.delivery_stream(spec.delivery_stream_id))
        .await
        .unwrap();
    let first: u64 = put.record_id().parse().unwrap();
    assert_eq!(
        stream
            .get_raw_message(first)
            .await
            .unwrap()
            .payload
            .as_ref(),
        b"first\n"
    );
    for (id, data) in ids.iter().zip([&b"a\n"[..], b"", b"c\n"]) {
        assert_eq!(
            stream.get_raw_message(*id).await.unwrap().payload.as_ref(),
            data
        );
    }
}

#[tokio::test]
async fn limits_and_missing_streams_get_firehose_errors() {
    let gateway = start_gateway().await;
    let installation = &gateway.installation;
    let spec = installation.spec("limits", "", Compression::Uncompressed, buffering());
    installation.create_stream(&spec).await;
    installation.publish_spec(&spec).await;
    let firehose = client(&gateway, DEVELOPER_KEY);

    let error = firehose
        .put_record()
        .delivery_stream_name("nope")
        .record(record(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        error.message(),
        Some(format!("Firehose nope under account {ACCOUNT_ID} not found.").as_str())
    );

    let too_big = vec![b'x'; MAX_RECORD_BYTES + 1];
    let error = firehose
        .put_record()
        .delivery_stream_name("limits")
        .record(record(&too_big))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ValidationException"));
    let just_fits = vec![b'x'; MAX_RECORD_BYTES];
    firehose
        .put_record()
        .delivery_stream_name("limits")
        .record(record(&just_fits))
        .send()
        .await
        .unwrap();

    let error = firehose
        .put_record_batch()
        .delivery_stream_name("limits")
        .set_records(Some((0..501).map(|_| record(b"x")).collect()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ValidationException"));
    assert!(error.message().unwrap().contains("500"), "{error:?}");

    // Five records of 1,000,000 bytes each fit one by one, not together (4 MiB).
    let error = firehose
        .put_record_batch()
        .delivery_stream_name("limits")
        .set_records(Some(
            (0..5).map(|_| record(&vec![b'y'; 1_000_000])).collect(),
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidArgumentException"));

    let error = firehose
        .put_record_batch()
        .delivery_stream_name("bad name")
        .set_records(Some(vec![record(b"x")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ValidationException"));
}

#[tokio::test]
async fn kinesis_sourced_streams_refuse_puts_and_unstored_records_are_unavailable() {
    let gateway = start_gateway().await;
    let installation = &gateway.installation;
    let mut sourced = installation.spec("sourced", "", Compression::Uncompressed, buffering());
    sourced.source = DeliverySource::KinesisStream {
        stream_id: uuid::Uuid::new_v4(),
        stream_arn: format!("arn:aws:kinesis:us-east-1:{ACCOUNT_ID}:stream/src"),
    };
    installation.publish_spec(&sourced).await;
    // A spec whose JetStream stream is missing: JetStream cannot acknowledge.
    let orphan = installation.spec("orphan", "", Compression::Uncompressed, buffering());
    installation.publish_spec(&orphan).await;
    let firehose = client(&gateway, DEVELOPER_KEY);

    let error = firehose
        .put_record()
        .delivery_stream_name("sourced")
        .record(record(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidArgumentException"));

    let error = firehose
        .put_record()
        .delivery_stream_name("orphan")
        .record(record(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ServiceUnavailableException"));
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(500));

    let batch = firehose
        .put_record_batch()
        .delivery_stream_name("orphan")
        .set_records(Some(vec![record(b"x"), record(b"y")]))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.failed_put_count(), 2);
    for entry in batch.request_responses() {
        assert_eq!(entry.error_code(), Some("ServiceUnavailableException"));
        assert!(entry.record_id().is_none());
    }
}

#[tokio::test]
async fn viewers_are_refused_puts_naming_the_firehose_action() {
    let gateway = start_gateway().await;
    let installation = &gateway.installation;
    let spec = installation.spec("watched", "", Compression::Uncompressed, buffering());
    installation.create_stream(&spec).await;
    installation.publish_spec(&spec).await;
    let error = client(&gateway, VIEWER_KEY)
        .put_record()
        .delivery_stream_name("watched")
        .record(record(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AccessDeniedException"));
    assert_eq!(
        error.message(),
        Some(
            format!(
                "User: {VIEWER_KEY} is not authorized to perform: firehose:PutRecord on resource: arn:aws:firehose:us-east-1:{ACCOUNT_ID}:deliverystream/watched"
            )
            .as_str()
        )
    );
}

/// What the stand-in control plane saw of a forwarded call.
#[derive(Debug, Clone)]
struct Forwarded {
    path: String,
    tenant_id: String,
    authorization: String,
    body: serde_json::Value,
}

#[tokio::test]
async fn administration_is_forwarded_to_the_control_planes_firehose_path() {
    use std::sync::{Arc, Mutex};

    // The control plane's internal API, standing in for the other half of the contract.
    let seen: Arc<Mutex<Vec<Forwarded>>> = Arc::default();
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/internal/v1/{service}/{action}",
        axum::routing::post(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: bytes::Bytes| {
                let recorder = recorder.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    recorder.lock().unwrap().push(Forwarded {
                        path: uri.path().to_owned(),
                        tenant_id: header("x-fjord-tenant-id"),
                        authorization: header("authorization"),
                        body: serde_json::from_slice(&body).unwrap_or_default(),
                    });
                    (
                        [("content-type", "application/x-amz-json-1.1")],
                        r#"{"DeliveryStreamNames":["events"],"HasMoreDeliveryStreams":false}"#,
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control_plane = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let gateway = start_gateway_forwarding_to(&control_plane).await;

    let listed = client(&gateway, VIEWER_KEY)
        .list_delivery_streams()
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.delivery_stream_names(), ["events"]);
    let forwarded = seen.lock().unwrap().clone();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(
        forwarded[0].path,
        "/internal/v1/firehose/ListDeliveryStreams"
    );
    assert_eq!(
        forwarded[0].tenant_id,
        gateway.installation.tenant_id.to_string()
    );
    assert_eq!(
        forwarded[0].authorization,
        "Bearer internal-token-for-tests"
    );
    assert_eq!(forwarded[0].body["Limit"], 10);

    // A viewer may not delete: refused at the gateway, never forwarded.
    let error = client(&gateway, VIEWER_KEY)
        .delete_delivery_stream()
        .delivery_stream_name("events")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AccessDeniedException"));
    assert!(
        error
            .message()
            .unwrap()
            .contains("firehose:DeleteDeliveryStream"),
        "{error:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}
