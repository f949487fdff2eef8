//! An HTTP endpoint for delivery tests, speaking Firehose's HTTP endpoint delivery contract as
//! a user's endpoint would: it checks every request against the contract, keeps what it was
//! sent, and answers as the test tells it (accept, refuse, or answer with the wrong request
//! id), so a test can check record for record what was delivered and what was retried.

use std::io::Read as _;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// How the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// `200` with the request's id: delivered.
    Accept,
    /// This status with an error body, for the next `times` requests, then accept.
    RefuseTimes { status: u16, times: usize },
    /// This status with an error body, always.
    Refuse { status: u16 },
    /// `200` with another request id (a contract violation), always.
    WrongRequestId,
}

/// One request as the endpoint received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Amz-Firehose-Request-Id`.
    pub request_id: String,
    pub protocol_version: Option<String>,
    pub access_key: Option<String>,
    pub source_arn: Option<String>,
    pub common_attributes: Option<serde_json::Value>,
    pub content_encoding: Option<String>,
    /// The body's `requestId` equals the header's, it has a numeric `timestamp`, and its
    /// `Content-Type` is `application/json`.
    pub follows_contract: bool,
    /// The records' data, decoded from base64.
    pub records: Vec<Vec<u8>>,
    /// The status the endpoint answered.
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<Option<Behaviour>>,
    received: Mutex<Vec<Received>>,
}

/// A running endpoint.
pub struct TestEndpoint {
    pub url: String,
    shared: Arc<Shared>,
}

impl TestEndpoint {
    /// Serves on a free local port, answering as `behaviour` says.
    pub async fn start(behaviour: Behaviour) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/ingest?source=fjord", listener.local_addr()?);
        let shared = Arc::new(Shared::default());
        *shared.behaviour.lock().unwrap() = Some(behaviour);
        let app = axum::Router::new()
            .route("/ingest", axum::routing::post(receive))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, shared })
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The records of the requests answered 200 with the right id, in order.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        self.received()
            .into_iter()
            .filter(|request| request.status == 200 && request.follows_contract)
            .flat_map(|request| request.records)
            .collect()
    }

    /// Waits (up to `seconds`) until `done` holds of the requests so far; returns them.
    pub async fn wait(&self, seconds: u64, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let received = self.received();
            if done(&received) || std::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let request_id = header("x-amz-firehose-request-id").unwrap_or_default();
    let content_encoding = header("content-encoding");
    let mut json = Vec::new();
    let decoded = if content_encoding.as_deref() == Some("gzip") {
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut json)
            .is_ok()
    } else {
        json.extend_from_slice(&body);
        true
    };
    let parsed: Option<serde_json::Value> = decoded
        .then(|| serde_json::from_slice(&json).ok())
        .flatten();
    let follows_contract = parsed.as_ref().is_some_and(|parsed| {
        parsed["requestId"].as_str() == Some(request_id.as_str())
            && parsed["timestamp"].is_i64()
            && parsed["records"].is_array()
    }) && header("content-type").as_deref() == Some("application/json");
    let records = parsed
        .as_ref()
        .and_then(|parsed| parsed["records"].as_array())
        .map(|records| {
            records
                .iter()
                .map(|record| {
                    BASE64
                        .decode(record["data"].as_str().unwrap_or_default())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let behaviour = {
        let mut behaviour = shared.behaviour.lock().unwrap();
        let now = behaviour.unwrap_or(Behaviour::Accept);
        if let Behaviour::RefuseTimes { status, times } = now {
            *behaviour = Some(if times <= 1 {
                Behaviour::Accept
            } else {
                Behaviour::RefuseTimes {
                    status,
                    times: times - 1,
                }
            });
        }
        now
    };
    let timestamp = chrono::Utc::now().timestamp_millis();
    let (status, answer) = match behaviour {
        Behaviour::Accept if follows_contract => (
            StatusCode::OK,
            serde_json::json!({"requestId": request_id, "timestamp": timestamp}),
        ),
        Behaviour::Accept => (
            StatusCode::BAD_REQUEST,
            serde_json::json!({"requestId": request_id, "timestamp": timestamp,
                               "errorMessage": "the request does not follow the contract"}),
        ),
        Behaviour::RefuseTimes { status, .. } | Behaviour::Refuse { status } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            serde_json::json!({"requestId": request_id, "timestamp": timestamp,
                               "errorMessage": "the test endpoint refuses this request"}),
        ),
        Behaviour::WrongRequestId => (
            StatusCode::OK,
            serde_json::json!({"requestId": "not-the-request", "timestamp": timestamp}),
        ),
    };
    shared.received.lock().unwrap().push(Received {
        protocol_version: header("x-amz-firehose-protocol-version"),
        access_key: header("x-amz-firehose-access-key"),
        source_arn: header("x-amz-firehose-source-arn"),
        common_attributes: header("x-amz-firehose-common-attributes")
            .and_then(|text| serde_json::from_str(&text).ok()),
        content_encoding,
        request_id,
        follows_contract,
        records,
        status: status.as_u16(),
    });
    (
        status,
        [("content-type", "application/json")],
        answer.to_string(),
    )
        .into_response()
}
