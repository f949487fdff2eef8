//! A delivery stream reading a Kinesis stream (`KinesisStreamAsSource`), end to end with the
//! official SDKs: records put with `aws-sdk-kinesis` after the delivery stream was created
//! arrive in the bucket once each, over every shard; records put before do not (Firehose
//! starts at `LATEST`). Deleting the delivery stream removes its consumers from the shards.

use std::collections::BTreeSet;

use aws_sdk_firehose::types::{
    CompressionFormat, DeliveryStreamType, KinesisStreamSourceConfiguration,
};
use fjord_e2e::delivery::{
    delivered_records, put_to_stream, s3_destination, wait_delivery_stream_active,
};
use fjord_e2e::{Fjord, stream_name};
use futures::StreamExt as _;

/// The delivery consumers on this installation's JetStream streams.
async fn delivery_consumers(fjord: &Fjord) -> anyhow::Result<Vec<String>> {
    let prefix = fjord.setting("FJORD__NATS__PREFIX").unwrap_or_default();
    let jetstream = async_nats::jetstream::new(async_nats::connect(fjord_e2e::nats_url()).await?);
    let mut names = jetstream.stream_names();
    let mut found = Vec::new();
    while let Some(name) = names.next().await {
        let name = name?;
        if !name.starts_with(&format!("FJ_{prefix}_")) {
            continue;
        }
        let stream = jetstream.get_stream(&name).await?;
        let mut consumers = stream.consumer_names();
        while let Some(consumer) = consumers.next().await {
            let consumer = consumer?;
            if consumer.starts_with("delivery_") {
                found.push(format!("{name}/{consumer}"));
            }
        }
    }
    Ok(found)
}

#[tokio::test]
async fn records_put_to_a_source_stream_after_creation_arrive_once_each() -> anyhow::Result<()> {
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let kinesis = fjord.client(&tenant);
    let firehose = fjord.firehose(&tenant);

    let source = stream_name("clicks");
    fjord.create_active_stream(&kinesis, &source, 3).await?;
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(&source)
        .send()
        .await?
        .stream_description_summary()
        .map(|summary| summary.stream_arn().to_owned())
        .unwrap_or_default();
    let before = put_to_stream(&kinesis, &source, "before", 300).await?;

    let name = stream_name("from-clicks");
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
        .extended_s3_destination_configuration(s3_destination(
            "lake",
            "clicks/",
            CompressionFormat::Gzip,
        ))
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &name).await?;
    assert_eq!(
        delivery_consumers(&fjord).await?.len(),
        3,
        "one delivery consumer per shard"
    );

    let after = put_to_stream(&kinesis, &source, "after", 2001).await?;
    let dir = root.join(&tenant.account_id).join("lake").join("clicks");
    let delivered = delivered_records(&dir, after.len()).await?;
    let unique: BTreeSet<&String> = delivered.iter().collect();
    assert_eq!(
        unique,
        after.iter().collect::<BTreeSet<_>>(),
        "the records put after creation, and none of the {} put before",
        before.len()
    );
    assert_eq!(
        delivered.len(),
        after.len(),
        "no duplicates without a crash"
    );

    firehose
        .delete_delivery_stream()
        .delivery_stream_name(&name)
        .send()
        .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let listed = firehose.list_delivery_streams().send().await?;
        if listed.delivery_stream_names().is_empty() {
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "never deleted");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        delivery_consumers(&fjord).await?,
        Vec::<String>::new(),
        "deleting the delivery stream removes its shard consumers"
    );
    Ok(())
}
