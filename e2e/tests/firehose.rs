//! Delivery streams through the official `aws-sdk-firehose` client against a running Fjord:
//! administration and its errors, and records put with `PutRecord`/`PutRecordBatch` arriving
//! in objects on the local filesystem destination, checked record for record.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamType, ExtendedS3DestinationUpdate, Record, Tag,
};
use fjord_e2e::delivery::{
    delivered_records, files_under, s3_destination, wait_delivery_stream_active as wait_active,
};
use fjord_e2e::{Fjord, error_type, stream_name};

/// `CreateDeliveryStream` (DirectPut) of `name` into `bucket`, uncompressed, prefix `p/`.
async fn create(
    client: &aws_sdk_firehose::Client,
    name: &str,
) -> Result<
    aws_sdk_firehose::operation::create_delivery_stream::CreateDeliveryStreamOutput,
    aws_sdk_firehose::error::SdkError<
        aws_sdk_firehose::operation::create_delivery_stream::CreateDeliveryStreamError,
    >,
> {
    client
        .create_delivery_stream()
        .delivery_stream_name(name)
        .extended_s3_destination_configuration(s3_destination(
            "lake",
            "p/",
            CompressionFormat::Uncompressed,
        ))
        .send()
        .await
}

#[tokio::test]
async fn records_put_directly_arrive_in_the_bucket_once_each() -> anyhow::Result<()> {
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let client = fjord.firehose(&tenant);

    for (compression, bucket) in [
        (CompressionFormat::Uncompressed, "lake-plain"),
        (CompressionFormat::Gzip, "lake-gzip"),
    ] {
        let name = stream_name("deliver");
        client
            .create_delivery_stream()
            .delivery_stream_name(&name)
            .delivery_stream_type(DeliveryStreamType::DirectPut)
            .extended_s3_destination_configuration(s3_destination(
                bucket,
                "events/!{timestamp:yyyy/MM/dd}/",
                compression.clone(),
            ))
            .send()
            .await?;
        wait_active(&client, &name).await?;

        let mut sent = BTreeSet::new();
        for batch in 0..4 {
            let records: Vec<Record> = (0..500)
                .map(|i| {
                    let line = format!("{{\"batch\":{batch},\"i\":{i}}}\n");
                    sent.insert(line.trim_end().to_owned());
                    Record::builder().data(Blob::new(line)).build().unwrap()
                })
                .collect();
            let put = client
                .put_record_batch()
                .delivery_stream_name(&name)
                .set_records(Some(records))
                .send()
                .await?;
            assert_eq!(put.failed_put_count(), 0);
            assert_eq!(put.request_responses().len(), 500);
            assert!(
                put.request_responses()
                    .iter()
                    .all(|r| r.record_id().is_some_and(|id| id.len() == 56))
            );
        }
        let one = client
            .put_record()
            .delivery_stream_name(&name)
            .record(
                Record::builder()
                    .data(Blob::new("{\"single\":true}\n"))
                    .build()?,
            )
            .send()
            .await?;
        assert_eq!(one.record_id().len(), 56);
        sent.insert("{\"single\":true}".to_owned());

        let today = chrono::Utc::now().format("%Y/%m/%d").to_string();
        let dir = root
            .join(&tenant.account_id)
            .join(bucket)
            .join("events")
            .join(&today);
        let delivered = delivered_records(&dir, sent.len()).await?;
        let unique: BTreeSet<String> = delivered.iter().cloned().collect();
        assert_eq!(
            unique, sent,
            "{compression:?}: delivered records differ from those put"
        );
        assert_eq!(
            delivered.len(),
            sent.len(),
            "{compression:?}: duplicates without a crash"
        );
        // Firehose's object names: <stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.gz].
        for file in files_under(&dir) {
            let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                file_name.starts_with(&format!("{name}-1-")),
                "object name {file_name}"
            );
            assert_eq!(
                file_name.ends_with(".gz"),
                compression == CompressionFormat::Gzip,
                "{file_name}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn administration_and_its_errors_match_firehose() -> anyhow::Result<()> {
    let (fjord, _root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let other = fjord.create_tenant("other").await?;
    let client = fjord.firehose(&tenant);
    let name = stream_name("admin");

    client
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .extended_s3_destination_configuration(s3_destination(
            "lake",
            "p/",
            CompressionFormat::Uncompressed,
        ))
        .tags(Tag::builder().key("team").value("data").build()?)
        .send()
        .await?;
    wait_active(&client, &name).await?;

    // The same name again, an unknown one, a bad name.
    let again = create(&client, &name).await.unwrap_err();
    assert_eq!(error_type(&again), "ResourceInUseException");
    let missing = client
        .describe_delivery_stream()
        .delivery_stream_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_type(&missing), "ResourceNotFoundException");
    let bad = create(&client, "bad name!").await.unwrap_err();
    assert_eq!(error_type(&bad), "ValidationException");

    // Another tenant sees none of it and cannot write to it.
    let stranger = fjord.firehose(&other);
    let listed = stranger.list_delivery_streams().send().await?;
    assert!(listed.delivery_stream_names().is_empty());
    let refused = stranger
        .put_record()
        .delivery_stream_name(&name)
        .record(Record::builder().data(Blob::new("x")).build()?)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_type(&refused), "ResourceNotFoundException");

    // Listing, describing and tags.
    let listed = client.list_delivery_streams().send().await?;
    assert_eq!(listed.delivery_stream_names(), std::slice::from_ref(&name));
    let described = client
        .describe_delivery_stream()
        .delivery_stream_name(&name)
        .send()
        .await?;
    let description = described.delivery_stream_description().unwrap();
    assert_eq!(
        description.delivery_stream_arn(),
        format!(
            "arn:aws:firehose:us-east-1:{}:deliverystream/{name}",
            tenant.account_id
        )
    );
    assert_eq!(description.version_id(), "1");
    let destination_id = description.destinations()[0].destination_id().to_owned();
    client
        .tag_delivery_stream()
        .delivery_stream_name(&name)
        .tags(Tag::builder().key("env").value("test").build()?)
        .send()
        .await?;
    client
        .untag_delivery_stream()
        .delivery_stream_name(&name)
        .tag_keys("team")
        .send()
        .await?;
    let tags = client
        .list_tags_for_delivery_stream()
        .delivery_stream_name(&name)
        .send()
        .await?;
    let keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["env"]);

    // UpdateDestination with the current version bumps it; with a stale one it is refused.
    let update = ExtendedS3DestinationUpdate::builder()
        .buffering_hints(
            BufferingHints::builder()
                .interval_in_seconds(60)
                .size_in_mbs(2)
                .build(),
        )
        .build();
    client
        .update_destination()
        .delivery_stream_name(&name)
        .current_delivery_stream_version_id("1")
        .destination_id(&destination_id)
        .extended_s3_destination_update(update.clone())
        .send()
        .await?;
    let stale = client
        .update_destination()
        .delivery_stream_name(&name)
        .current_delivery_stream_version_id("1")
        .destination_id(&destination_id)
        .extended_s3_destination_update(update)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_type(&stale), "ConcurrentModificationException");

    // Record limits: more than 500 records, a record over 1,000 KiB.
    let too_many: Vec<Record> = (0..501)
        .map(|_| Record::builder().data(Blob::new("x")).build().unwrap())
        .collect();
    let refused = client
        .put_record_batch()
        .delivery_stream_name(&name)
        .set_records(Some(too_many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_type(&refused), "ValidationException");
    let refused = client
        .put_record()
        .delivery_stream_name(&name)
        .record(
            Record::builder()
                .data(Blob::new(vec![b'x'; 1_024_001]))
                .build()?,
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_type(&refused), "ValidationException");

    // Deleting: gone from the list, then not found.
    client
        .delete_delivery_stream()
        .delivery_stream_name(&name)
        .send()
        .await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client
            .describe_delivery_stream()
            .delivery_stream_name(&name)
            .send()
            .await
        {
            Err(error) if error_type(&error) == "ResourceNotFoundException" => break,
            _ => {
                anyhow::ensure!(Instant::now() < deadline, "{name} was never deleted");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Ok(())
}
