//! Stream administration through the official SDK: lifecycle, describe/list/pagination,
//! retention, tags, limits, and their documented errors.

use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType, StreamMode, StreamModeDetails};
use fjord_e2e::{Fjord, error_type, expect_error, stream_name};

#[tokio::test]
async fn stream_lifecycle_describe_list_and_delete() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("clicks");

    fjord.create_active_stream(&client, &name, 4).await.unwrap();

    let description = client
        .describe_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let description = description.stream_description().unwrap();
    assert_eq!(description.stream_name(), name);
    assert_eq!(
        description.stream_arn(),
        format!(
            "arn:aws:kinesis:us-east-1:{}:stream/{name}",
            tenant.account_id
        )
    );
    assert_eq!(description.shards().len(), 4);
    assert_eq!(description.retention_period_hours(), 24);
    assert!(!description.has_more_shards());
    let shards = description.shards();
    assert_eq!(shards[0].shard_id(), "shardId-000000000000");
    assert_eq!(shards[0].hash_key_range().unwrap().starting_hash_key(), "0");
    assert_eq!(
        shards[3].hash_key_range().unwrap().ending_hash_key(),
        "340282366920938463463374607431768211455"
    );
    for pair in shards.windows(2) {
        let end: u128 = pair[0]
            .hash_key_range()
            .unwrap()
            .ending_hash_key()
            .parse()
            .unwrap();
        let start: u128 = pair[1]
            .hash_key_range()
            .unwrap()
            .starting_hash_key()
            .parse()
            .unwrap();
        assert_eq!(end + 1, start);
    }

    // DescribeStream pages shards with Limit and ExclusiveStartShardId.
    let page = client
        .describe_stream()
        .stream_name(&name)
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(page.stream_description().unwrap().shards().len(), 3);
    assert!(page.stream_description().unwrap().has_more_shards());

    // The ARN works wherever the name does.
    let arn = description.stream_arn().to_owned();
    let summary = client
        .describe_stream_summary()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let summary = summary.stream_description_summary().unwrap();
    assert_eq!(summary.open_shard_count(), 4);
    assert_eq!(summary.stream_status().as_str(), "ACTIVE");

    // ListShards with MaxResults pages through a NextToken.
    let first = client
        .list_shards()
        .stream_name(&name)
        .max_results(3)
        .send()
        .await
        .unwrap();
    assert_eq!(first.shards().len(), 3);
    let token = first.next_token().expect("a NextToken").to_owned();
    let second = client
        .list_shards()
        .next_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.shards().len(), 1);
    assert_eq!(second.shards()[0].shard_id(), "shardId-000000000003");
    assert!(second.next_token().is_none());
    // NextToken with StreamName is refused.
    expect_error!(
        client
            .list_shards()
            .stream_name(&name)
            .next_token(&token)
            .send(),
        "InvalidArgumentException"
    );
    // ShardFilter AFTER_SHARD_ID.
    let after = client
        .list_shards()
        .stream_name(&name)
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AfterShardId)
                .shard_id("shardId-000000000001")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(after.shards().len(), 2);

    // ListStreams pagination across several streams.
    let mut names = vec![name.clone()];
    for _ in 0..3 {
        let extra = stream_name("extra");
        client
            .create_stream()
            .stream_name(&extra)
            .shard_count(1)
            .send()
            .await
            .unwrap();
        names.push(extra);
    }
    names.sort();
    let mut seen = Vec::new();
    let mut page = client.list_streams().limit(2).send().await.unwrap();
    loop {
        seen.extend(page.stream_names().iter().cloned());
        assert_eq!(page.stream_summaries().len(), page.stream_names().len());
        if !page.has_more_streams() {
            break;
        }
        let token = page
            .next_token()
            .expect("NextToken when HasMoreStreams")
            .to_owned();
        page = client
            .list_streams()
            .next_token(token)
            .limit(2)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(seen, names);

    // Creating a stream that exists is ResourceInUseException.
    expect_error!(
        client
            .create_stream()
            .stream_name(&name)
            .shard_count(1)
            .send(),
        "ResourceInUseException"
    );

    // Delete: DELETING, then gone.
    client
        .delete_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match client
            .describe_stream_summary()
            .stream_name(&name)
            .send()
            .await
        {
            Err(error) => {
                assert_eq!(
                    error_type(&error.into_service_error()),
                    "ResourceNotFoundException"
                );
                break;
            }
            Ok(summary) => {
                let status = summary
                    .stream_description_summary()
                    .unwrap()
                    .stream_status()
                    .as_str()
                    .to_owned();
                assert_eq!(status, "DELETING");
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stream was not deleted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    expect_error!(
        client.delete_stream().stream_name(&name).send(),
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn on_demand_retention_tags_and_limits() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("ondemand");
    client
        .create_stream()
        .stream_name(&name)
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    fjord.wait_active(&client, &name).await.unwrap();
    let summary = client
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let summary = summary.stream_description_summary().unwrap();
    assert_eq!(
        summary
            .stream_mode_details()
            .unwrap()
            .stream_mode()
            .as_str(),
        "ON_DEMAND"
    );
    assert_eq!(summary.open_shard_count(), 4);

    // Retention: up, down, and the documented refusals.
    client
        .increase_stream_retention_period()
        .stream_name(&name)
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    fjord.wait_active(&client, &name).await.unwrap();
    let summary = client
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        summary
            .stream_description_summary()
            .unwrap()
            .retention_period_hours(),
        48
    );
    expect_error!(
        client
            .increase_stream_retention_period()
            .stream_name(&name)
            .retention_period_hours(24)
            .send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .increase_stream_retention_period()
            .stream_name(&name)
            .retention_period_hours(9000)
            .send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .decrease_stream_retention_period()
            .stream_name(&name)
            .retention_period_hours(12)
            .send(),
        "InvalidArgumentException"
    );
    client
        .decrease_stream_retention_period()
        .stream_name(&name)
        .retention_period_hours(24)
        .send()
        .await
        .unwrap();
    fjord.wait_active(&client, &name).await.unwrap();

    // Tags.
    client
        .add_tags_to_stream()
        .stream_name(&name)
        .tags("env", "prod")
        .tags("team", "platform")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|tag| {
            (
                tag.key().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("env".into(), "prod".into()),
            ("team".into(), "platform".into())
        ]
    );
    client
        .remove_tags_from_stream()
        .stream_name(&name)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    let mut add = client.add_tags_to_stream().stream_name(&name);
    for index in 0..50 {
        add = add.tags(format!("k{index}"), "v");
    }
    expect_error!(add.send(), "InvalidArgumentException");
    assert_eq!(
        client
            .list_tags_for_stream()
            .stream_name(&name)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        1
    );

    // DescribeLimits reports quotas and usage.
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.shard_limit(), 500);
    assert_eq!(limits.open_shard_count(), 4);
    assert_eq!(limits.on_demand_stream_count(), 1);
    assert_eq!(limits.on_demand_stream_count_limit(), 50);
}

#[tokio::test]
async fn invalid_requests_get_aws_errors_and_change_nothing() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord
        .create_tenant_with("small", &["--shard-limit", "5"])
        .await
        .unwrap();
    let client = fjord.client(&tenant);

    expect_error!(
        client
            .create_stream()
            .stream_name("bad name!")
            .shard_count(1)
            .send(),
        "ValidationException"
    );
    expect_error!(
        client
            .create_stream()
            .stream_name("a".repeat(129))
            .shard_count(1)
            .send(),
        "ValidationException"
    );
    expect_error!(
        client
            .create_stream()
            .stream_name("zero")
            .shard_count(0)
            .send(),
        "ValidationException"
    );
    expect_error!(
        client
            .create_stream()
            .stream_name("toomany")
            .shard_count(6)
            .send(),
        "LimitExceededException"
    );
    expect_error!(
        client.describe_stream().stream_name("missing").send(),
        "ResourceNotFoundException"
    );
    expect_error!(
        client.describe_stream().stream_name("x").limit(0).send(),
        "ValidationException"
    );
    expect_error!(
        client.list_streams().limit(10_001).send(),
        "ValidationException"
    );
    expect_error!(
        client.list_shards().next_token("forged").send(),
        "InvalidArgumentException"
    );
    expect_error!(
        client
            .describe_stream_summary()
            .stream_arn("arn:aws:kinesis:us-east-1:999999999999:stream/x")
            .send(),
        "ResourceNotFoundException"
    );
    let listed = client.list_streams().send().await.unwrap();
    assert!(
        listed.stream_names().is_empty(),
        "nothing was created: {:?}",
        listed.stream_names()
    );
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.shard_limit(), 5);
    assert_eq!(limits.open_shard_count(), 0);
    // Within the quota it works; the next stream over it does not.
    client
        .create_stream()
        .stream_name("fits")
        .shard_count(5)
        .send()
        .await
        .unwrap();
    expect_error!(
        client
            .create_stream()
            .stream_name("over")
            .shard_count(1)
            .send(),
        "LimitExceededException"
    );
}
