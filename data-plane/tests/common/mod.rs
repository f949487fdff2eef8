//! What the data-plane tests share: a NATS installation of their own (a fresh prefix), the
//! config bucket and a delivery stream's JetStream stream made as the control plane's
//! reconciler makes them, and delivery stream specs; Kinesis streams (shards, their records)
//! for delivery streams that read one.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use fjord_common::config::FjordConfig;
use fjord_common::firehose::{
    Buffering, Compression, DeliverySource, DeliveryStreamSpec, DeliveryStreamStatus,
    DestinationSpec, DestinationTarget, ObjectStoreDestination, delivery_stream_arn,
};
use fjord_common::naming::Names;
use fjord_common::records::RecordIn;
use fjord_common::spec::{ShardSpec, StreamSpec, StreamStatus};
use fjord_common::stream_ref::stream_arn;
use fjord_data_plane::delivery::{
    DeliveryMetrics, DeliveryMetricsSnapshot, run_workers_with_metrics,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const ACCOUNT_ID: &str = "123456789012";

/// A delivery worker running in this process.
pub struct Worker {
    pub cancel: CancellationToken,
    pub handle: JoinHandle<anyhow::Result<()>>,
    pub metrics: Arc<DeliveryMetrics>,
}

pub fn start_worker(installation: &Installation) -> Worker {
    let cancel = CancellationToken::new();
    let metrics = Arc::new(DeliveryMetrics::default());
    let handle = tokio::spawn(run_workers_with_metrics(
        installation.config.clone(),
        cancel.clone(),
        metrics.clone(),
    ));
    Worker {
        cancel,
        handle,
        metrics,
    }
}

impl Worker {
    /// A clean stop: what is buffered is written first. The counters are read after every
    /// task finished, so they include every object written.
    pub async fn stop(self) -> DeliveryMetricsSnapshot {
        self.cancel.cancel();
        self.handle.await.unwrap().unwrap();
        self.metrics.snapshot()
    }

    /// The worker dies: nothing written, acknowledged or given back from now on.
    pub async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}

/// Waits until every record of `expected` (sorted) is in the objects, stops two workers that
/// shared the delivery, and checks what they left: every record at least once, both took part,
/// and their counters agree with the objects (records delivered, duplicates).
pub async fn check_shared_delivery(
    installation: &Installation,
    first: Worker,
    second: Worker,
    expected: &[String],
) {
    installation
        .wait_for_objects(Duration::from_secs(30), |objects| {
            let mut delivered = records_of(objects);
            delivered.dedup();
            delivered.len() >= expected.len()
        })
        .await;
    // Stopped, the workers have written everything they held.
    let (a, b) = (first.stop().await, second.stop().await);
    let delivered = records_of(&installation.objects());
    let mut distinct = delivered.clone();
    distinct.dedup();
    assert_eq!(distinct, expected, "every record at least once");
    assert!(
        a.records_delivered > 0 && b.records_delivered > 0,
        "both workers took part: {a:?} {b:?}"
    );
    assert_eq!(
        (delivered.len() - distinct.len()) as u64,
        a.duplicates + b.duplicates,
        "the duplicates counted are those in the objects: {a:?} {b:?}"
    );
    assert_eq!(
        a.records_delivered + b.records_delivered,
        delivered.len() as u64
    );
}

/// `count` newline-terminated JSON records tagged `tag`.
pub fn numbered(count: usize, tag: &str) -> Vec<String> {
    (0..count).map(|i| format!("{{\"{tag}\":{i}}}\n")).collect()
}

/// One test's own installation on the shared NATS server.
pub struct Installation {
    pub config: FjordConfig,
    pub names: Names,
    pub jetstream: jetstream::Context,
    pub bucket: kv::Store,
    pub tenant_id: Uuid,
    /// A fresh folder for the local object store.
    pub local_root: std::path::PathBuf,
}

impl Installation {
    pub async fn new() -> Self {
        let mut config = FjordConfig::default();
        if let Ok(url) = std::env::var("FJORD__NATS__URL") {
            config.nats.url = url;
        }
        let id = Uuid::new_v4().simple().to_string();
        config.nats.prefix = format!("t{}", &id[..12]);
        let local_root = std::env::temp_dir().join(format!("fjord-dp-test-{id}"));
        config.delivery.local_root = local_root.to_string_lossy().into_owned();
        config.delivery.ack_wait_margin_seconds = 2;
        config.delivery.retry_backoff_max_ms = 1000;
        config.security.master_key = fjord_common::config::Secret("0f".repeat(32));
        let names = Names::new(&config.nats.prefix);
        let client = async_nats::connect(&config.nats.url)
            .await
            .expect("NATS is running");
        let jetstream = jetstream::new(client);
        let bucket = jetstream
            .create_key_value(kv::Config {
                bucket: names.config_bucket(),
                history: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        Self {
            config,
            names,
            jetstream,
            bucket,
            tenant_id: Uuid::new_v4(),
            local_root,
        }
    }

    /// A delivery stream spec of this tenant, delivering to `bucket`.
    pub fn spec(
        &self,
        name: &str,
        prefix: &str,
        compression: Compression,
        buffering: Buffering,
    ) -> DeliveryStreamSpec {
        DeliveryStreamSpec {
            delivery_stream_id: Uuid::new_v4(),
            tenant_id: self.tenant_id,
            account_id: ACCOUNT_ID.to_owned(),
            name: name.to_owned(),
            arn: delivery_stream_arn("us-east-1", ACCOUNT_ID, name),
            status: DeliveryStreamStatus::Active,
            source: DeliverySource::DirectPut,
            destination: DestinationSpec {
                destination_id: "destinationId-000000000001".to_owned(),
                target: DestinationTarget::ObjectStore(ObjectStoreDestination {
                    bucket_arn: "arn:aws:s3:::lake".to_owned(),
                    bucket: "lake".to_owned(),
                    prefix: prefix.to_owned(),
                    error_output_prefix: String::new(),
                    buffering,
                    compression,
                    store: None,
                    processors: Vec::new(),
                    partition_keys: Vec::new(),
                    conversion: None,
                }),
            },
            version_id: 1,
            generation: 1,
        }
    }

    /// A delivery stream as the reconciler leaves it: its spec, its JetStream stream, the spec
    /// published. Buffers of `size_mib` or `interval_seconds`.
    pub async fn provision(
        &self,
        name: &str,
        prefix: &str,
        compression: Compression,
        size_mib: u32,
        interval_seconds: u32,
    ) -> DeliveryStreamSpec {
        let spec = self.spec(
            name,
            prefix,
            compression,
            Buffering {
                size_mib,
                interval_seconds,
            },
        );
        self.create_stream(&spec).await;
        self.publish_spec(&spec).await;
        spec
    }

    /// Makes the delivery stream's JetStream stream as the reconciler does.
    pub async fn create_stream(&self, spec: &DeliveryStreamSpec) {
        self.jetstream
            .create_stream(stream::Config {
                name: self.names.delivery_stream(spec.delivery_stream_id),
                subjects: vec![self.names.delivery_subject(spec.delivery_stream_id)],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age: Duration::from_secs(24 * 3600),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Publishes the spec in the config bucket, as the reconciler does.
    pub async fn publish_spec(&self, spec: &DeliveryStreamSpec) {
        self.bucket
            .put(
                Names::delivery_stream_key(spec.tenant_id, &spec.name),
                serde_json::to_vec(spec).unwrap().into(),
            )
            .await
            .unwrap();
    }

    /// A stream of this tenant with `shards` shards, as the reconciler leaves it: a JetStream
    /// stream per shard, the spec published. Its records are put with [`Self::put_to_shard`].
    pub async fn kinesis_stream(&self, name: &str, shards: u32) -> StreamSpec {
        let mut spec = StreamSpec {
            stream_id: Uuid::new_v4(),
            tenant_id: self.tenant_id,
            name: name.to_owned(),
            arn: stream_arn("us-east-1", ACCOUNT_ID, name),
            status: StreamStatus::Active,
            retention_hours: 24,
            shards: Vec::new(),
            generation: 1,
        };
        for index in 0..shards {
            self.add_shard(&mut spec, index).await;
        }
        spec
    }

    /// Adds shard `index` to `stream` (its JetStream stream, then the spec republished), as a
    /// split or merge does.
    pub async fn add_shard(&self, stream: &mut StreamSpec, index: u32) {
        self.jetstream
            .create_stream(stream::Config {
                name: self.names.shard_stream(stream.stream_id, index),
                subjects: vec![self.names.shard_subject(stream.stream_id, index)],
                storage: stream::StorageType::File,
                max_age: Duration::from_secs(24 * 3600),
                ..Default::default()
            })
            .await
            .unwrap();
        stream.shards.push(ShardSpec {
            index,
            starting_hash_key: "0".to_owned(),
            ending_hash_key: "0".to_owned(),
            open: true,
        });
        stream.generation += 1;
        self.bucket
            .put(
                Names::stream_key(stream.tenant_id, &stream.name),
                serde_json::to_vec(stream).unwrap().into(),
            )
            .await
            .unwrap();
    }

    /// A delivery stream reading `stream`, as the reconciler leaves it: a consumer on each
    /// shard delivering what is put from now on, the spec published.
    pub async fn provision_from_stream(
        &self,
        name: &str,
        stream: &StreamSpec,
        prefix: &str,
        compression: Compression,
        interval_seconds: u32,
    ) -> DeliveryStreamSpec {
        let mut spec = self.spec(
            name,
            prefix,
            compression,
            Buffering {
                size_mib: 64,
                interval_seconds,
            },
        );
        spec.source = DeliverySource::KinesisStream {
            stream_id: stream.stream_id,
            stream_arn: stream.arn.clone(),
        };
        for shard in &stream.shards {
            self.jetstream
                .get_stream(self.names.shard_stream(stream.stream_id, shard.index))
                .await
                .unwrap()
                .create_consumer(consumer::pull::Config {
                    durable_name: Some(self.names.delivery_consumer(spec.delivery_stream_id)),
                    deliver_policy: consumer::DeliverPolicy::New,
                    ack_policy: consumer::AckPolicy::Explicit,
                    max_ack_pending: -1,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        self.publish_spec(&spec).await;
        spec
    }

    /// Stores `records` in one shard message, as one `PutRecords` call's share of a shard.
    pub async fn put_to_shard(&self, stream: &StreamSpec, shard: u32, records: &[String]) {
        let encoded: Vec<RecordIn<'_>> = records
            .iter()
            .map(|record| RecordIn {
                partition_key: "key",
                data: record.as_bytes(),
            })
            .collect();
        let arrival = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap();
        self.jetstream
            .publish(
                self.names.shard_subject(stream.stream_id, shard),
                fjord_common::records::encode(arrival, &encoded),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Stores one record as the gateway does: one message, the record's bytes.
    pub async fn put_record(&self, spec: &DeliveryStreamSpec, data: Vec<u8>) -> u64 {
        self.jetstream
            .publish(
                self.names.delivery_subject(spec.delivery_stream_id),
                data.into(),
            )
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    }

    /// The folder of the tenant's bucket `lake`.
    pub fn bucket_dir(&self) -> std::path::PathBuf {
        self.local_root.join(ACCOUNT_ID).join("lake")
    }

    /// Every object written so far, by key (relative to the bucket), with its bytes.
    pub fn objects(&self) -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        collect(&self.bucket_dir(), &self.bucket_dir(), &mut found);
        found.sort();
        found
    }

    /// Waits up to `timeout` for `done` to hold of the objects; returns them.
    pub async fn wait_for_objects(
        &self,
        timeout: Duration,
        done: impl Fn(&[(String, Vec<u8>)]) -> bool,
    ) -> Vec<(String, Vec<u8>)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let objects = self.objects();
            if done(&objects) || tokio::time::Instant::now() >= deadline {
                return objects;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.local_root);
    }
}

fn collect(root: &std::path::Path, dir: &std::path::Path, found: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, found);
            continue;
        }
        // The local store writes `<name>#<n>` and renames it into place.
        if path.to_string_lossy().contains('#') {
            continue;
        }
        let key = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if let Ok(bytes) = std::fs::read(&path) {
            found.push((key, bytes));
        }
    }
}

/// The records of newline-terminated objects, gunzipped where the key says so, sorted.
pub fn records_of(objects: &[(String, Vec<u8>)]) -> Vec<String> {
    use std::io::Read as _;
    let mut records = Vec::new();
    for (key, bytes) in objects {
        let text = if key.ends_with(".gz") {
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_string(&mut decoded)
                .unwrap();
            decoded
        } else if key.ends_with(".zip") {
            String::from_utf8(unzip_single(bytes)).unwrap()
        } else if key.ends_with(".snappy") {
            let mut decoded = String::new();
            snap::read::FrameDecoder::new(bytes.as_slice())
                .read_to_string(&mut decoded)
                .unwrap();
            decoded
        } else {
            String::from_utf8(bytes.clone()).unwrap()
        };
        records.extend(text.split_inclusive('\n').map(str::to_owned));
    }
    records.sort();
    records
}

/// The one file of a ZIP archive as delivery writes it (a deflated entry), checked against
/// its CRC-32.
pub fn unzip_single(archive: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let u16_at = |at: usize| u16::from_le_bytes(archive[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(archive[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0x0403_4b50, "a ZIP local file header");
    assert_eq!(u16_at(8), 8, "deflated");
    let size = u32_at(18) as usize;
    let start = 30 + u16_at(26) as usize + u16_at(28) as usize;
    let mut data = Vec::new();
    flate2::read::DeflateDecoder::new(&archive[start..start + size])
        .read_to_end(&mut data)
        .unwrap();
    let mut crc = flate2::Crc::new();
    crc.update(&data);
    assert_eq!(crc.sum(), u32_at(14), "CRC-32");
    data
}
