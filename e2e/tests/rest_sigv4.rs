//! Apps call the REST API with an access key, signing with SigV4 exactly as the official
//! `aws-sigv4` signer does (ADR 008): the key's tenant and role apply, bad signatures, skewed
//! clocks, tampered bodies and disabled keys are refused with 401 problems, endpoints for
//! people refuse keys, and a key's changes are audited with the key as actor.

use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fjord_e2e::{Fjord, REGION, stream_name};
use serde_json::{Value, json};

const SHARD: &str = "shardId-000000000000";

/// An access key: id and secret.
#[derive(Clone)]
struct Key {
    id: String,
    secret: String,
}

/// How to sign: the defaults are what a well-behaved app does.
struct Signing {
    time: SystemTime,
    service: &'static str,
    /// Sign `UNSIGNED-PAYLOAD` and send it as `x-amz-content-sha256`.
    unsigned_payload: bool,
}

impl Default for Signing {
    fn default() -> Self {
        Self {
            time: SystemTime::now(),
            service: "fjord",
            unsigned_payload: false,
        }
    }
}

/// The headers of a REST call to `url` signed over `signed_body` by the official signer,
/// `host` and `content-type` (for a body) included.
fn signed_headers(
    fjord: &Fjord,
    key: &Key,
    method: &str,
    url: &str,
    signed_body: &[u8],
    signing: &Signing,
) -> Vec<(String, String)> {
    let host = fjord
        .control_plane_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut headers = vec![("host".to_owned(), host)];
    if !signed_body.is_empty() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    let identity =
        aws_credential_types::Credentials::new(&key.id, &key.secret, None, None, "e2e").into();
    let mut settings = SigningSettings::default();
    if signing.unsigned_payload {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(signing.service)
        .time(signing.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body = if signing.unsigned_payload {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(signed_body)
    };
    let signable = SignableRequest::new(
        method,
        url,
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    headers.extend(
        instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    headers
}

/// A REST call signed over `signed_body`, sending `sent_body` (the same unless tampering).
async fn call_with(
    fjord: &Fjord,
    key: &Key,
    method: &str,
    path: &str,
    signed_body: &[u8],
    sent_body: &[u8],
    signing: Signing,
) -> (u16, Option<String>, Value) {
    let url = format!("{}/api/v1{path}", fjord.control_plane_url());
    let headers = signed_headers(fjord, key, method, &url, signed_body, &signing);
    let mut request = reqwest::Client::new()
        .request(method.parse().unwrap(), &url)
        .body(sent_body.to_vec());
    for (name, value) in &headers {
        if name != "host" {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let value = response.json().await.unwrap_or(Value::Null);
    (status, content_type, value)
}

/// Sends only the head of `POST /api/v1/streams` with `headers` and a `content-length` of
/// `length`, no body: the status and the raw response.
async fn declared_only(
    fjord: &Fjord,
    headers: &[(String, String)],
    length: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = fjord
        .control_plane_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut head = "POST /api/v1/streams HTTP/1.1\r\n".to_owned();
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {length}\r\nconnection: close\r\n\r\n"
    ));
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// A correctly signed REST call: status and JSON body.
async fn call(
    fjord: &Fjord,
    key: &Key,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    let (status, _, value) = call_with(
        fjord,
        key,
        method,
        path,
        body.as_bytes(),
        body.as_bytes(),
        Signing::default(),
    )
    .await;
    (status, value)
}

/// A tenant service-account key with `role`, made by the operator.
async fn create_key(fjord: &Fjord, tenant: &str, role: &str) -> Key {
    let key = fjord
        .admin_json(&[
            "create-key",
            "--tenant",
            tenant,
            "--role",
            role,
            "--name",
            role,
        ])
        .await
        .unwrap();
    Key {
        id: key["access_key_id"].as_str().unwrap().to_owned(),
        secret: key["secret_access_key"].as_str().unwrap().to_owned(),
    }
}

/// Asserts a 401 problem of `kind` whose detail starts with `detail`.
fn assert_refused(answer: &(u16, Option<String>, Value), kind: &str, detail: &str) {
    let (status, content_type, body) = answer;
    assert_eq!(*status, 401, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["type"], format!("urn:fjord:problem:{kind}"), "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with(detail),
        "{body}"
    );
}

async fn wait_active(fjord: &Fjord, key: &Key, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, stream) = call(fjord, key, "GET", &format!("/streams/{name}"), None).await;
        assert_eq!(status, 200, "{stream}");
        if stream["status"] == "ACTIVE" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stream {name} not ACTIVE: {stream}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_developer_key_manages_streams_and_records_within_its_role_and_tenant() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let other = fjord.create_tenant("other").await.unwrap();
    let owner = Key {
        id: tenant.access_key_id.clone(),
        secret: tenant.secret_access_key.clone(),
    };
    let developer = create_key(&fjord, "acme", "developer").await;
    let viewer = create_key(&fjord, "acme", "viewer").await;
    let outsider = Key {
        id: other.access_key_id.clone(),
        secret: other.secret_access_key.clone(),
    };
    let name = stream_name("signed");

    let (status, page) = call(&fjord, &developer, "GET", "/streams", None).await;
    assert_eq!((status, page["items"].clone()), (200, json!([])), "{page}");

    // The viewer may read but not create.
    let create = json!({"name": name, "mode": "provisioned", "shard_count": 1});
    let (status, problem) = call(&fjord, &viewer, "POST", "/streams", Some(create.clone())).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["type"], "urn:fjord:problem:forbidden");

    let (status, created) = call(&fjord, &developer, "POST", "/streams", Some(create)).await;
    assert_eq!(status, 201, "{created}");
    wait_active(&fjord, &developer, &name).await;

    let records = json!({"records": [
        {"partition_key": "a", "data": {"order": 1}},
        {"partition_key": "b", "data_base64": BASE64.encode([0u8, 255])},
    ]});
    let path = format!("/streams/{name}/records");
    let (status, put) = call(&fjord, &developer, "POST", &path, Some(records)).await;
    assert_eq!(status, 200, "{put}");
    let (status, page) = call(
        &fjord,
        &viewer,
        "GET",
        &format!("/streams/{name}/shards/{SHARD}/records?from=trim_horizon&limit=10"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let read: Vec<(String, Vec<u8>)> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            (
                record["partition_key"].as_str().unwrap().to_owned(),
                BASE64
                    .decode(record["data_base64"].as_str().unwrap())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            ("a".to_owned(), br#"{"order":1}"#.to_vec()),
            ("b".to_owned(), vec![0u8, 255])
        ]
    );
    assert_eq!(
        page["records"][0]["sequence_number"],
        put["records"][0]["sequence_number"]
    );

    // Another tenant's key does not see the stream.
    let (status, _) = call(&fjord, &outsider, "GET", &format!("/streams/{name}"), None).await;
    assert_eq!(status, 404);
    let (status, page) = call(&fjord, &outsider, "GET", "/streams", None).await;
    assert_eq!((status, page["items"].clone()), (200, json!([])));

    // The `execute-api` service name is accepted too.
    let (status, _, _) = call_with(
        &fjord,
        &viewer,
        "GET",
        "/streams",
        b"",
        b"",
        Signing {
            service: "execute-api",
            ..Signing::default()
        },
    )
    .await;
    assert_eq!(status, 200);

    // Endpoints for people refuse keys.
    let (status, problem) = call(&fjord, &owner, "GET", "/me", None).await;
    assert_eq!(status, 403, "{problem}");

    // The creation is audited with the developer key as the actor (read with the owner key).
    let (status, audit) = call(&fjord, &owner, "GET", "/audit", None).await;
    assert_eq!(status, 200, "{audit}");
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "streams:Create" && entry["outcome"] == "success")
        .unwrap_or_else(|| panic!("no stream creation in {audit}"));
    assert_eq!(entry["actor_type"], "access_key", "{entry}");
    assert_eq!(entry["actor_id"], developer.id.as_str(), "{entry}");
    assert_eq!(entry["resource"], name.as_str(), "{entry}");
    let refused = audit["items"].as_array().unwrap().iter().find(|entry| {
        entry["action"] == "streams:Create" && entry["actor_id"] == viewer.id.as_str()
    });
    assert!(
        refused.is_none_or(|entry| entry["outcome"] != "success"),
        "{audit}"
    );

    // REST calls count as use: the viewer key, never used on the Kinesis endpoint, shows a
    // `last_used_at` in the key list.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, keys) = call(&fjord, &owner, "GET", "/keys", None).await;
        assert_eq!(status, 200, "{keys}");
        let listed = keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["access_key_id"] == viewer.id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("the viewer key is not in {keys}"));
        if listed["last_used_at"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "no last_used_at: {listed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn bad_signatures_skewed_clocks_tampered_bodies_and_disabled_keys_are_refused() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let owner = Key {
        id: tenant.access_key_id.clone(),
        secret: tenant.secret_access_key.clone(),
    };
    let developer = create_key(&fjord, "acme", "developer").await;
    let get = |key: Key, signing: Signing| {
        let fjord = &fjord;
        async move { call_with(fjord, &key, "GET", "/streams", b"", b"", signing).await }
    };

    let wrong_secret = Key {
        secret: format!("{}x", developer.secret),
        ..developer.clone()
    };
    let answer = get(wrong_secret.clone(), Signing::default()).await;
    assert_refused(
        &answer,
        "invalid-signature",
        "The request signature we calculated does not match",
    );
    assert!(!answer.2.to_string().contains(&wrong_secret.secret));

    let unknown = Key {
        id: "AKIAUNKNOWNKEY000000".to_owned(),
        ..developer.clone()
    };
    assert_refused(
        &get(unknown, Signing::default()).await,
        "unrecognized-access-key",
        "The security token included in the request is invalid",
    );

    // 20 minutes off, either way (AWS allows 15).
    let offset = Duration::from_secs(20 * 60);
    let past = Signing {
        time: SystemTime::now() - offset,
        ..Signing::default()
    };
    assert_refused(
        &get(developer.clone(), past).await,
        "invalid-signature",
        "Signature expired",
    );
    let future = Signing {
        time: SystemTime::now() + offset,
        ..Signing::default()
    };
    assert_refused(
        &get(developer.clone(), future).await,
        "invalid-signature",
        "Signature not yet current",
    );

    let kinesis = Signing {
        service: "kinesis",
        ..Signing::default()
    };
    assert_refused(
        &get(developer.clone(), kinesis).await,
        "incomplete-signature",
        "Credential should be scoped to correct service: 'fjord' or 'execute-api'",
    );

    // A body changed after signing.
    let signed = json!({"name": "honest", "mode": "provisioned", "shard_count": 1}).to_string();
    let sent = json!({"name": "tamper", "mode": "provisioned", "shard_count": 9}).to_string();
    let answer = call_with(
        &fjord,
        &developer,
        "POST",
        "/streams",
        signed.as_bytes(),
        sent.as_bytes(),
        Signing::default(),
    )
    .await;
    assert_refused(
        &answer,
        "invalid-signature",
        "The request signature we calculated does not match",
    );
    // An unsigned payload is refused, even with a correct signature over it.
    let answer = call_with(
        &fjord,
        &developer,
        "POST",
        "/streams",
        sent.as_bytes(),
        sent.as_bytes(),
        Signing {
            unsigned_payload: true,
            ..Signing::default()
        },
    )
    .await;
    assert_refused(
        &answer,
        "invalid-signature",
        "UNSIGNED-PAYLOAD is not accepted",
    );
    // Nothing was stored by the refused calls.
    let (status, page) = call(&fjord, &owner, "GET", "/streams", None).await;
    assert_eq!((status, page["items"].clone()), (200, json!([])), "{page}");

    // A signed body over the endpoint's limit (64 KiB for JSON) is a 413 problem, not a
    // signature error.
    let large = format!("{{\"name\":\"{}\"}}", "x".repeat(1024 * 1024));
    let (status, content_type, problem) = call_with(
        &fjord,
        &developer,
        "POST",
        "/streams",
        large.as_bytes(),
        large.as_bytes(),
        Signing::default(),
    )
    .await;
    assert_eq!(status, 413, "{problem}");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(problem["type"], "urn:fjord:problem:payload-too-large");
    // One declared over the largest any endpoint takes (10 MiB) is refused before it is read.
    let url = format!("{}/api/v1/streams", fjord.control_plane_url());
    let headers = signed_headers(&fjord, &developer, "POST", &url, b"{}", &Signing::default());
    let (status, head) = declared_only(&fjord, &headers, 10 * 1024 * 1024 + 1).await;
    assert_eq!(status, 413, "{head}");
    assert!(head.contains("application/problem+json"), "{head}");

    // Disabled with the owner key (keys may manage keys): refused on the very next call.
    let (status, _) = call(&fjord, &developer, "GET", "/streams", None).await;
    assert_eq!(status, 200);
    let (status, disabled) = call(
        &fjord,
        &owner,
        "POST",
        &format!("/keys/{}/disable", developer.id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{disabled}");
    let disabled_at = Instant::now();
    assert_refused(
        &get(developer.clone(), Signing::default()).await,
        "unrecognized-access-key",
        "The security token included in the request is invalid",
    );
    assert!(disabled_at.elapsed() < Duration::from_secs(1));
    // Enabled again, it works again; deleted, it stops.
    let path = format!("/keys/{}/enable", developer.id);
    assert_eq!(call(&fjord, &owner, "POST", &path, None).await.0, 200);
    assert_eq!(get(developer.clone(), Signing::default()).await.0, 200);
    let path = format!("/keys/{}", developer.id);
    assert_eq!(call(&fjord, &owner, "DELETE", &path, None).await.0, 204);
    assert_refused(
        &get(developer.clone(), Signing::default()).await,
        "unrecognized-access-key",
        "The security token included in the request is invalid",
    );

    // A malformed SigV4 header is a 401 problem too.
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/streams", fjord.control_plane_url()))
        .header("authorization", "AWS4-HMAC-SHA256 Credential=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response.headers()["www-authenticate"].to_str().unwrap(),
        "AWS4-HMAC-SHA256"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:fjord:problem:incomplete-signature");
}
