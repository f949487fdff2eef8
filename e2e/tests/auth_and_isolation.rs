//! Signatures, the protocol envelope, and tenant isolation.

use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use fjord_e2e::{Fjord, error_type, stream_name};

#[tokio::test]
async fn signatures_are_verified() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();

    // Unknown access key.
    let stranger = fjord.client_with_secret("AKIAUNKNOWNUNKNOWN00", "secret");
    let error = stranger
        .list_streams()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_type(&error), "UnrecognizedClientException");

    // Right key, wrong secret.
    let wrong = fjord.client_with_secret(&tenant.access_key_id, "not-the-secret");
    let error = wrong
        .list_streams()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_type(&error), "InvalidSignatureException");

    // No signature at all: 403 MissingAuthenticationTokenException.
    let (status, body) = fjord
        .raw(
            None,
            "Kinesis_20131202.ListStreams",
            b"{}",
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");

    // Signed 20 minutes ago or ahead: refused.
    for skew in [-1i64, 1] {
        let time = if skew < 0 {
            SystemTime::now() - Duration::from_secs(20 * 60)
        } else {
            SystemTime::now() + Duration::from_secs(20 * 60)
        };
        let (status, body) = fjord
            .raw(Some(&tenant), "Kinesis_20131202.ListStreams", b"{}", time)
            .await
            .unwrap();
        assert_eq!(status, 400);
        assert_eq!(body["__type"], "InvalidSignatureException", "{body}");
    }

    // Properly signed raw calls: fine, then the protocol errors.
    let (status, body) = fjord
        .raw(
            Some(&tenant),
            "Kinesis_20131202.ListStreams",
            b"{}",
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = fjord
        .raw(
            Some(&tenant),
            "Kinesis_20131202.ListStreams",
            b"{not json",
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (status, body) = fjord
        .raw(
            Some(&tenant),
            "Kinesis_20131202.CreateStream",
            br#"{"StreamName": 5}"#,
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (status, body) = fjord
        .raw(
            Some(&tenant),
            "Kinesis_20131202.StealEverything",
            b"{}",
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let (status, body) = fjord
        .raw(
            Some(&tenant),
            "Kinesis_20131202.PutRecord",
            br#"{"StreamName":"s","PartitionKey":"k","Data":"***"}"#,
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );

    // An oversize body is refused without being read whole: the answer comes (or the
    // connection closes) while the client is still sending.
    let huge = vec![b' '; 64 * 1024 * 1024];
    match fjord
        .raw(
            Some(&tenant),
            "Kinesis_20131202.PutRecords",
            &huge,
            SystemTime::now(),
        )
        .await
    {
        Ok((status, body)) => assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some("InvalidArgumentException"))
        ),
        Err(error) => assert!(
            format!("{error:?}").contains("error writing a body"),
            "{error:?}"
        ),
    }

    // None of that created anything.
    let client = fjord.client(&tenant);
    assert!(
        client
            .list_streams()
            .send()
            .await
            .unwrap()
            .stream_names()
            .is_empty()
    );
}

#[tokio::test]
async fn tenants_cannot_see_each_other() {
    let fjord = Fjord::start().await.unwrap();
    let alice = fjord.create_tenant("alice").await.unwrap();
    let bob = fjord.create_tenant("bob").await.unwrap();
    assert_ne!(alice.account_id, bob.account_id);
    let alice_client = fjord.client(&alice);
    let bob_client = fjord.client(&bob);
    let name = stream_name("shared-name");

    alice_client
        .create_stream()
        .stream_name(&name)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    bob_client
        .create_stream()
        .stream_name(&name)
        .shard_count(2)
        .send()
        .await
        .unwrap();
    fjord.wait_active(&alice_client, &name).await.unwrap();
    fjord.wait_active(&bob_client, &name).await.unwrap();

    alice_client
        .put_record()
        .stream_name(&name)
        .partition_key("k")
        .data(Blob::new("alice's"))
        .send()
        .await
        .unwrap();
    bob_client
        .put_record()
        .stream_name(&name)
        .partition_key("k")
        .data(Blob::new("bob's"))
        .send()
        .await
        .unwrap();

    // Same name, separate streams.
    let alice_shards = alice_client
        .list_shards()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let bob_shards = bob_client
        .list_shards()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(alice_shards.shards().len(), 1);
    assert_eq!(bob_shards.shards().len(), 2);
    assert_eq!(
        alice_client
            .list_streams()
            .send()
            .await
            .unwrap()
            .stream_names(),
        std::slice::from_ref(&name)
    );

    // Each reads only its own records.
    let alice_iterator = alice_client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();
    let page = alice_client
        .get_records()
        .shard_iterator(&alice_iterator)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert_eq!(page.records()[0].data().as_ref(), b"alice's");

    // Bob cannot use Alice's iterator, her ARN, or her pagination token.
    let error = bob_client
        .get_records()
        .shard_iterator(&alice_iterator)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_type(&error), "InvalidArgumentException");
    let alice_arn = format!(
        "arn:aws:kinesis:us-east-1:{}:stream/{name}",
        alice.account_id
    );
    let error = bob_client
        .describe_stream_summary()
        .stream_arn(&alice_arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_type(&error), "ResourceNotFoundException");
    let error = bob_client
        .put_record()
        .stream_arn(&alice_arn)
        .partition_key("k")
        .data(Blob::new("intrusion"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_type(&error), "ResourceNotFoundException");
    let error = bob_client
        .delete_stream()
        .stream_arn(&alice_arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_type(&error), "ResourceNotFoundException");
    alice_client
        .create_stream()
        .stream_name("alice-2")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let page = alice_client.list_streams().limit(1).send().await.unwrap();
    let token = page.next_token().unwrap().to_owned();
    let error = bob_client
        .list_streams()
        .next_token(token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_type(&error), "InvalidArgumentException");

    // Deleting Bob's stream leaves Alice's untouched.
    bob_client
        .delete_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let page = alice_client
        .get_records()
        .shard_iterator(&alice_iterator)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
}

#[tokio::test]
async fn cleartext_http2_with_prior_knowledge_is_served() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let (status, version, body) = fjord
        .raw_http2(Some(&tenant), "Kinesis_20131202.ListStreams", b"{}")
        .await
        .unwrap();
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["StreamNames"], serde_json::json!([]));
    let (status, _, body) = fjord
        .raw_http2(None, "Kinesis_20131202.ListStreams", b"{}")
        .await
        .unwrap();
    assert_eq!(
        (status, body["__type"].as_str()),
        (403, Some("MissingAuthenticationTokenException"))
    );
}
