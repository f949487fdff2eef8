//! What delivery stream tests share: a Firehose S3 destination, waiting for a delivery stream
//! to become ACTIVE, and reading back the records delivered to the local object store.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_firehose::types::builders::ExtendedS3DestinationConfigurationBuilder;
use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamStatus, ExtendedS3DestinationConfiguration,
};

/// An `ExtendedS3DestinationConfiguration` into `bucket` under `prefix`, buffering 1 MiB or
/// 1 s, with an error output prefix.
pub fn s3_destination(
    bucket: &str,
    prefix: &str,
    compression: CompressionFormat,
) -> ExtendedS3DestinationConfiguration {
    s3_destination_builder(bucket, prefix, compression)
        .build()
        .expect("a complete destination")
}

/// [`s3_destination`], still open for more settings.
pub fn s3_destination_builder(
    bucket: &str,
    prefix: &str,
    compression: CompressionFormat,
) -> ExtendedS3DestinationConfigurationBuilder {
    ExtendedS3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::123456789012:role/firehose")
        .bucket_arn(format!("arn:aws:s3:::{bucket}"))
        .prefix(prefix)
        .error_output_prefix("errors/!{firehose:error-output-type}/")
        .buffering_hints(
            BufferingHints::builder()
                .size_in_mbs(1)
                .interval_in_seconds(1)
                .build(),
        )
        .compression_format(compression)
}

/// Puts `count` records tagged `tag` (`{"<tag>":<i>}` and a newline) with `PutRecordBatch`,
/// 500 at a time; the lines put, without their newlines.
pub async fn put_batch(
    client: &aws_sdk_firehose::Client,
    name: &str,
    tag: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let lines: Vec<String> = (0..count).map(|i| format!("{{\"{tag}\":{i}}}")).collect();
    for chunk in lines.chunks(500) {
        let records = chunk
            .iter()
            .map(|line| {
                aws_sdk_firehose::types::Record::builder()
                    .data(aws_sdk_firehose::primitives::Blob::new(format!("{line}\n")))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let put = client
            .put_record_batch()
            .delivery_stream_name(name)
            .set_records(Some(records))
            .send()
            .await?;
        anyhow::ensure!(put.failed_put_count() == 0, "{put:?}");
    }
    Ok(lines)
}

/// Puts `count` records tagged `tag` to the Kinesis stream `stream` with `PutRecords` (each a
/// line `{"<tag>":<i>}` and a newline), with partition keys spread over the shards.
pub async fn put_to_stream(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    tag: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let lines: Vec<String> = (0..count).map(|i| format!("{{\"{tag}\":{i}}}")).collect();
    for chunk in lines.chunks(500) {
        let entries = chunk
            .iter()
            .map(|line| {
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .partition_key(line.as_str())
                    .data(aws_sdk_kinesis::primitives::Blob::new(format!("{line}\n")))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let put = kinesis
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await?;
        anyhow::ensure!(put.failed_record_count() == Some(0), "{put:?}");
    }
    Ok(lines)
}

/// Waits (up to 20 s) until the delivery stream `name` is ACTIVE.
pub async fn wait_delivery_stream_active(
    client: &aws_sdk_firehose::Client,
    name: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let described = client
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await?;
        let status = described
            .delivery_stream_description()
            .map(|d| d.delivery_stream_status().clone());
        if status == Some(DeliveryStreamStatus::Active) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{name} stayed {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The records in the objects under `dir` now (each record ends with a newline, as put),
/// decoded from GZIP where the object's name says so.
pub fn object_records(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut records = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file)?;
        let text = if file.extension().is_some_and(|e| e == "gz") {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(bytes.as_slice()).read_to_string(&mut text)?;
            text
        } else {
            String::from_utf8(bytes)?
        };
        records.extend(text.lines().map(str::to_owned));
    }
    Ok(records)
}

/// [`object_records`], waiting (up to 30 s) until `expected` records arrived.
pub async fn delivered_records(dir: &Path, expected: usize) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = object_records(dir)?;
        if records.len() >= expected || Instant::now() > deadline {
            return Ok(records);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The S3-compatible server delivery tests write to (`.ci/services` starts it with
/// `FJORD_SERVICES_S3=1`): an `s3s-fs` checking SigV4 against one access key and serving the
/// folders under its root as buckets, so a test reads the objects back from disk.
pub struct TestS3 {
    pub url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub root: PathBuf,
}

impl TestS3 {
    /// The server `.ci/services` exported; an error saying how to start it if there is none.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                anyhow::anyhow!(
                    "this test needs the test S3 server: {name} is not set (run `eval \"$(FJORD_SERVICES_S3=1 bash .ci/services)\"`)"
                )
            })
        };
        Ok(Self {
            url: var("FJORD_TEST_S3_URL")?,
            access_key_id: var("FJORD_TEST_S3_ACCESS_KEY_ID")?,
            secret_access_key: var("FJORD_TEST_S3_SECRET_ACCESS_KEY")?,
            root: PathBuf::from(var("FJORD_TEST_S3_ROOT")?),
        })
    }

    /// Creates a bucket of a fresh name; its name.
    pub fn create_bucket(&self, stem: &str) -> anyhow::Result<String> {
        let name = format!(
            "{stem}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        std::fs::create_dir_all(self.root.join(&name))?;
        Ok(name)
    }

    /// The REST `store` object registering `bucket` of this server.
    pub fn store(&self, bucket: &str) -> serde_json::Value {
        serde_json::json!({
            "kind": "s3",
            "bucket": bucket,
            "endpoint": self.url,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        })
    }

    /// The folder holding `bucket`'s objects.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }
}
