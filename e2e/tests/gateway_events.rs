//! What the gateway tells the control plane (ADR 009), seen from outside: a used key's
//! `last_used_at` in `GET /api/v1/keys`, and calls the gateway refused for a known key in
//! `GET /api/v1/audit` (bounded per key), with the client address behind a trusted proxy.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use fjord_e2e::{Fjord, Options, Tenant, expect_error, sdk_client, stream_name};
use serde_json::{Value, json};

/// A short flush so tests see key usage quickly.
fn fast_events(extra: &[(&str, &str)]) -> Options {
    let mut settings = vec![(
        "FJORD__GATEWAY__KEY_USAGE_FLUSH_MS".to_owned(),
        "200".to_owned(),
    )];
    settings.extend(
        extra
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    Options {
        settings,
        ..Options::default()
    }
}

/// A owner of the tenant signed in to the REST API: a bearer token.
async fn owner_session(fjord: &Fjord, tenant: &str) -> String {
    fjord.session(tenant, "owner").await.unwrap()
}

async fn get(fjord: &Fjord, token: &str, path_and_query: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/v1{path_and_query}",
            fjord.control_plane_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path_and_query}");
    response.json().await.unwrap()
}

/// Every audit entry by `actor`, newest first, following cursors.
async fn audit_of(fjord: &Fjord, token: &str, actor: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(
            fjord,
            token,
            &format!("/audit?actor={actor}&limit=500{cursor}"),
        )
        .await;
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return entries,
        }
    }
}

/// Polls the audit log of `actor` until `done` holds; panics after `within`.
async fn audit_until(
    fjord: &Fjord,
    token: &str,
    actor: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let entries = audit_of(fjord, token, actor).await;
        if done(&entries) {
            return entries;
        }
        assert!(
            started.elapsed() < within,
            "audit log of {actor}: {entries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A viewer key of the tenant, as a [`Tenant`] that raw requests can be signed with.
async fn viewer_key(fjord: &Fjord, tenant: &Tenant) -> Tenant {
    let key = fjord
        .admin_json(&[
            "create-key",
            "--tenant",
            &tenant.name,
            "--role",
            "viewer",
            "--name",
            "dashboard",
        ])
        .await
        .unwrap();
    Tenant {
        access_key_id: key["access_key_id"].as_str().unwrap().to_owned(),
        secret_access_key: key["secret_access_key"].as_str().unwrap().to_owned(),
        ..tenant.clone()
    }
}

fn with_action<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .filter(|entry| entry["action"] == action)
        .collect()
}

#[tokio::test]
async fn using_a_key_shows_its_last_use_in_the_key_list() {
    let fjord = Fjord::start_with(fast_events(&[])).await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let token = owner_session(&fjord, "acme").await;
    let last_used = |keys: &Value| {
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["access_key_id"] == tenant.access_key_id.as_str())
            .map(|key| key["last_used_at"].clone())
            .unwrap()
    };
    assert_eq!(last_used(&get(&fjord, &token, "/keys").await), Value::Null);

    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    fjord.client(&tenant).list_streams().send().await.unwrap();

    let started = Instant::now();
    let seen = loop {
        let seen = last_used(&get(&fjord, &token, "/keys").await);
        if !seen.is_null() {
            break seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "last_used_at still empty; log: {}",
            fjord.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seen: chrono::DateTime<chrono::Utc> = seen.as_str().unwrap().parse().unwrap();
    assert!(
        seen >= before && seen <= chrono::Utc::now(),
        "{seen} vs {before}"
    );
}

#[tokio::test]
async fn refused_calls_of_known_keys_are_audited_and_unknown_keys_are_not() {
    let fjord = Fjord::start_with(fast_events(&[])).await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let token = owner_session(&fjord, "acme").await;
    let owner = fjord.client(&tenant);
    let name = stream_name("refused");
    fjord.create_active_stream(&owner, &name, 1).await.unwrap();
    let viewer = viewer_key(&fjord, &tenant).await;
    let viewer_client = fjord.client(&viewer);

    expect_error!(
        viewer_client
            .create_stream()
            .stream_name("not-allowed")
            .shard_count(1)
            .send(),
        "AccessDeniedException"
    );
    expect_error!(
        viewer_client
            .put_record()
            .stream_name(&name)
            .partition_key("p")
            .data(Blob::new("x"))
            .send(),
        "AccessDeniedException"
    );
    // The viewer's allowed read is not audited.
    viewer_client.list_streams().send().await.unwrap();
    // The owner's key with a wrong secret: a failed signature of a known key.
    expect_error!(
        fjord
            .client_with_secret(&tenant.access_key_id, "wrong-secret")
            .list_streams()
            .send(),
        "InvalidSignatureException"
    );
    // A key id nobody has: refused, and no tenant hears of it.
    expect_error!(
        fjord
            .client_with_secret("AKIANOBODY0000000000", "whatever")
            .list_streams()
            .send(),
        "UnrecognizedClientException"
    );

    let entries = audit_until(
        &fjord,
        &token,
        &viewer.access_key_id,
        Duration::from_secs(5),
        |entries| entries.len() >= 2,
    )
    .await;
    let arn = |stream: &str| {
        format!(
            "arn:aws:kinesis:us-east-1:{}:stream/{stream}",
            tenant.account_id
        )
    };
    for (action, resource) in [
        ("kinesis:CreateStream", arn("not-allowed")),
        ("kinesis:PutRecord", arn(&name)),
    ] {
        let found = with_action(&entries, action);
        assert_eq!(found.len(), 1, "{action}: {entries:#?}");
        let entry = found[0];
        assert_eq!(entry["actor_type"], "access_key");
        assert_eq!(entry["outcome"], "failure");
        assert_eq!(entry["error_code"], "AccessDeniedException");
        assert_eq!(entry["source_ip"], "127.0.0.1");
        assert_eq!(entry["resource"], resource.as_str());
        assert!(entry["request_id"].is_string(), "{entry}");
        assert!(
            entry["user_agent"]
                .as_str()
                .unwrap()
                .contains("aws-sdk-rust")
        );
    }
    assert_eq!(entries.len(), 2, "reads are not audited: {entries:#?}");

    let entries = audit_until(
        &fjord,
        &token,
        &tenant.access_key_id,
        Duration::from_secs(5),
        |entries| !with_action(entries, "kinesis:ListStreams").is_empty(),
    )
    .await;
    let failed = with_action(&entries, "kinesis:ListStreams");
    assert_eq!(failed.len(), 1, "{entries:#?}");
    assert_eq!(failed[0]["outcome"], "failure");
    assert_eq!(failed[0]["error_code"], "InvalidSignatureException");
    assert_eq!(failed[0]["source_ip"], "127.0.0.1");

    // Nothing anywhere names the unknown key.
    let everything = get(&fjord, &token, "/audit?limit=500").await;
    assert!(
        !everything.to_string().contains("AKIANOBODY"),
        "{everything:#}"
    );
    // No secret reached the log.
    assert!(!everything.to_string().contains(&viewer.secret_access_key));
}

#[tokio::test]
async fn a_flood_of_refused_calls_leaves_a_bounded_number_of_entries_and_a_summary() {
    const WINDOW_MS: u64 = 4000;
    const PER_WINDOW: usize = 20;
    const CALLS: usize = 500;
    let fjord = Fjord::start_with(fast_events(&[
        ("FJORD__GATEWAY__REFUSED_CALLS_PER_WINDOW", "20"),
        ("FJORD__GATEWAY__REFUSED_CALLS_WINDOW_MS", "4000"),
    ]))
    .await
    .unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let token = owner_session(&fjord, "acme").await;
    let viewer = viewer_key(&fjord, &tenant).await;
    let body = br#"{"StreamName":"flood","ShardCount":1}"#;

    let started = Instant::now();
    // Ten callers at once, fifty calls each.
    let callers = (0..10).map(|_| async {
        for _ in 0..CALLS / 10 {
            let (status, answer) = fjord
                .raw(
                    Some(&viewer),
                    "Kinesis_20131202.CreateStream",
                    body,
                    std::time::SystemTime::now(),
                )
                .await
                .unwrap();
            assert_eq!(
                (status, &answer["__type"]),
                (400, &json!("AccessDeniedException"))
            );
        }
    });
    futures::future::join_all(callers).await;
    let elapsed = started.elapsed();
    // Windows the flood can have touched.
    let windows = usize::try_from(elapsed.as_millis() / u128::from(WINDOW_MS)).unwrap() + 1;

    let suppressed = |entries: &[Value]| -> u64 {
        with_action(entries, "kinesis:RefusedCallsSuppressed")
            .iter()
            .map(|entry| entry["details"]["suppressed"].as_u64().unwrap())
            .sum()
    };
    // Every call is accounted for, one by one or in a summary, once the windows have ended.
    let entries = audit_until(
        &fjord,
        &token,
        &viewer.access_key_id,
        Duration::from_millis(WINDOW_MS * 3),
        |entries| {
            with_action(entries, "kinesis:CreateStream").len() as u64 + suppressed(entries)
                >= CALLS as u64
        },
    )
    .await;
    let one_by_one = with_action(&entries, "kinesis:CreateStream").len();
    let summaries = with_action(&entries, "kinesis:RefusedCallsSuppressed");
    assert_eq!(one_by_one as u64 + suppressed(&entries), CALLS as u64);
    assert!(
        one_by_one <= PER_WINDOW * windows,
        "{one_by_one} entries in {windows} windows"
    );
    assert!(!summaries.is_empty() && summaries.len() <= windows);
    for summary in summaries {
        assert_eq!(summary["outcome"], "failure");
        assert_eq!(summary["error_code"], "AccessDeniedException");
        assert_eq!(summary["actor_type"], "access_key");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_audited() {
    let forwarded = [("x-forwarded-for", "198.51.100.99, 203.0.113.7")];
    for (trusted, expected) in [(Some("127.0.0.1/32"), "203.0.113.7"), (None, "127.0.0.1")] {
        let settings = trusted
            .map(|range| vec![("FJORD__HTTP__TRUSTED_PROXIES", range)])
            .unwrap_or_default();
        let fjord = Fjord::start_with(fast_events(&settings)).await.unwrap();
        let tenant = fjord.create_tenant("acme").await.unwrap();
        let token = owner_session(&fjord, "acme").await;
        let viewer = viewer_key(&fjord, &tenant).await;

        // Refused by the gateway (the event path) ...
        let (status, answer) = fjord
            .raw_with_headers(
                Some(&viewer),
                "Kinesis_20131202.PutRecord",
                br#"{"StreamName":"s","PartitionKey":"p","Data":"eA=="}"#,
                &forwarded,
            )
            .await
            .unwrap();
        assert_eq!(
            (status, &answer["__type"]),
            (400, &json!("AccessDeniedException"))
        );
        // ... and forwarded to the control plane (audited there).
        let (status, _) = fjord
            .raw_with_headers(
                Some(&tenant),
                "Kinesis_20131202.CreateStream",
                br#"{"StreamName":"proxied","ShardCount":1}"#,
                &forwarded,
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
        // ... and a REST sign-in failure of a known email (the control plane's own origin).
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/sign-in", fjord.control_plane_url()))
            .header(forwarded[0].0, forwarded[0].1)
            .json(&json!({"email": "owner@example.com", "password": "not the password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);

        let refused = audit_until(
            &fjord,
            &token,
            &viewer.access_key_id,
            Duration::from_secs(5),
            |entries| !entries.is_empty(),
        )
        .await;
        assert_eq!(refused[0]["source_ip"], expected, "{refused:#?}");
        let created = audit_of(&fjord, &token, &tenant.access_key_id).await;
        let created = with_action(&created, "kinesis:CreateStream");
        assert_eq!(created[0]["source_ip"], expected, "{created:#?}");
        let sign_ins = get(&fjord, &token, "/audit?action=auth:SignIn&outcome=failure").await;
        assert_eq!(sign_ins["items"][0]["source_ip"], expected, "{sign_ins:#}");
    }
}

#[tokio::test]
async fn events_sent_while_the_control_plane_is_down_are_applied_when_it_returns() {
    let mut fjord = Fjord::start_with(fast_events(&[])).await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let token = owner_session(&fjord, "acme").await;
    let viewer = viewer_key(&fjord, &tenant).await;
    // A gateway of its own, which outlives the control plane (and the first gateway).
    let gateway = fjord.start_gateway().await.unwrap();
    let client = sdk_client(
        &gateway.endpoint,
        &viewer.access_key_id,
        &viewer.secret_access_key,
    );
    // Warm the gateway's catalog with the viewer key while everything runs.
    client.list_streams().send().await.unwrap();

    fjord.kill9();
    expect_error!(
        client
            .put_record()
            .stream_name("while-down")
            .partition_key("p")
            .data(Blob::new("x"))
            .send(),
        "AccessDeniedException"
    );
    // Several flushes pass while nobody consumes.
    tokio::time::sleep(Duration::from_secs(1)).await;

    fjord.restart().await.unwrap();
    let entries = audit_until(
        &fjord,
        &token,
        &viewer.access_key_id,
        // An event that reached the killed process's pull request is offered again after the
        // consumer's ack wait (5 s); the rest is margin for a loaded machine.
        Duration::from_secs(20),
        |entries| !with_action(entries, "kinesis:PutRecord").is_empty(),
    )
    .await;
    let refused = with_action(&entries, "kinesis:PutRecord");
    assert_eq!(refused.len(), 1, "{entries:#?}");
    assert_eq!(refused[0]["error_code"], "AccessDeniedException");
    // The usage flushed after the refusal follows it on the stream.
    let started = Instant::now();
    loop {
        let keys = get(&fjord, &token, "/keys").await;
        let viewer_entry = keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["access_key_id"] == viewer.access_key_id.as_str())
            .cloned()
            .unwrap();
        if viewer_entry["last_used_at"].is_string() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{viewer_entry}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
