//! The gateway's in-memory view of configuration, pushed by the control plane through the NATS
//! KV config bucket. Requests are served from here; a miss (a key or stream newer than the
//! watch has delivered) falls back to one KV read, never to Postgres.
//!
//! Tenants' write throughput quotas arrive the same way and feed this process's token buckets
//! ([`WriteLimiter`], ADR 010).
//!
//! Delivery stream specs (Firehose) are cached the same way, for `PutRecord`/`PutRecordBatch`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use async_nats::jetstream::kv;
use fjord_common::firehose::DeliveryStreamSpec;
use fjord_common::naming::Names;
use fjord_common::permissions::Role;
use fjord_common::secret::SecretBox;
use fjord_common::spec::{AccessKeySpec, StreamSpec, TenantSpec};
use fjord_common::throughput::WriteLimiter;
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use fjord_common::routing::RoutingTable;

/// An access key, its secret opened with the master key.
#[derive(Clone)]
pub(crate) struct CachedKey {
    pub(crate) tenant_id: Uuid,
    pub(crate) account_id: String,
    pub(crate) secret: String,
    pub(crate) enabled: bool,
    /// What the key may do, checked against every action after its signature.
    pub(crate) role: Role,
    pub(crate) generation: i64,
}

/// A stream spec with its routing table.
#[derive(Debug)]
pub(crate) struct CachedStream {
    pub(crate) spec: StreamSpec,
    pub(crate) routes: RoutingTable,
}

/// The cache, shared by every request.
pub(crate) struct Catalog {
    bucket: kv::Store,
    secret_box: SecretBox,
    keys: RwLock<HashMap<String, Arc<CachedKey>>>,
    streams: RwLock<HashMap<(Uuid, String), Arc<CachedStream>>>,
    delivery_streams: RwLock<HashMap<(Uuid, String), Arc<DeliveryStreamSpec>>>,
    /// Tenants' write quotas and buckets; a tenant without a published quota is unlimited.
    write_limiter: WriteLimiter,
    /// Generation of each tenant's quota applied, so a stale push is ignored.
    tenant_generations: RwLock<HashMap<Uuid, i64>>,
}

enum Entry {
    Key(String),
    Stream(Uuid, String),
    DeliveryStream(Uuid, String),
    Tenant(Uuid),
}

/// The tenant and name of a `<kind>.<tenant>.<hex name>` key.
fn tenant_and_name(rest: &str) -> Option<(Uuid, String)> {
    let (tenant, name_hex) = rest.split_once('.')?;
    let tenant_id = Uuid::parse_str(tenant).ok()?;
    let name = String::from_utf8(hex::decode(name_hex).ok()?).ok()?;
    Some((tenant_id, name))
}

fn parse_key(key: &str) -> Option<Entry> {
    if let Some(access_key_id) = key.strip_prefix("key.") {
        return Some(Entry::Key(access_key_id.to_owned()));
    }
    if let Some(tenant) = key.strip_prefix("tenant.") {
        return Uuid::parse_str(tenant).ok().map(Entry::Tenant);
    }
    if let Some(rest) = key.strip_prefix("delivery.") {
        let (tenant_id, name) = tenant_and_name(rest)?;
        return Some(Entry::DeliveryStream(tenant_id, name));
    }
    let (tenant_id, name) = tenant_and_name(key.strip_prefix("stream.")?)?;
    Some(Entry::Stream(tenant_id, name))
}

impl Catalog {
    pub(crate) fn new(bucket: kv::Store, secret_box: SecretBox) -> Arc<Self> {
        Arc::new(Self {
            bucket,
            secret_box,
            keys: RwLock::default(),
            streams: RwLock::default(),
            delivery_streams: RwLock::default(),
            write_limiter: WriteLimiter::new(),
            tenant_generations: RwLock::default(),
        })
    }

    /// Follows the config bucket until `cancel` fires: every change lands within the watch's
    /// delivery latency (milliseconds).
    pub(crate) async fn watch(self: Arc<Self>, cancel: CancellationToken) -> anyhow::Result<()> {
        loop {
            let mut watch = self
                .bucket
                .watch_all_from_revision(1)
                .await
                .context("cannot watch the config bucket")?;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    entry = watch.next() => match entry {
                        Some(Ok(entry)) => self.apply(&entry.key, entry.operation, &entry.value),
                        Some(Err(error)) => {
                            tracing::warn!(%error, "config watch failed, restarting");
                            break;
                        }
                        None => break,
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    fn apply(&self, key: &str, operation: kv::Operation, value: &[u8]) {
        let Some(entry) = parse_key(key) else {
            return;
        };
        let removed = !matches!(operation, kv::Operation::Put);
        match entry {
            Entry::Tenant(tenant_id) => {
                if removed {
                    write(&self.tenant_generations).remove(&tenant_id);
                    self.write_limiter.remove(tenant_id);
                } else if let Ok(spec) = serde_json::from_slice::<TenantSpec>(value) {
                    self.apply_tenant(spec);
                }
            }
            Entry::Key(access_key_id) => {
                if removed {
                    write(&self.keys).remove(&access_key_id);
                } else if let Some(cached) = self.open_key(value) {
                    let mut keys = write(&self.keys);
                    let stale = keys
                        .get(&access_key_id)
                        .is_some_and(|current| current.generation > cached.generation);
                    if !stale {
                        keys.insert(access_key_id, Arc::new(cached));
                    }
                }
            }
            Entry::DeliveryStream(tenant_id, name) => {
                if removed {
                    write(&self.delivery_streams).remove(&(tenant_id, name));
                } else if let Ok(spec) = serde_json::from_slice::<DeliveryStreamSpec>(value) {
                    self.apply_delivery_stream(tenant_id, name, spec);
                }
            }
            Entry::Stream(tenant_id, name) => {
                if removed {
                    write(&self.streams).remove(&(tenant_id, name));
                } else if let Ok(spec) = serde_json::from_slice::<StreamSpec>(value) {
                    let routes = RoutingTable::new(&spec);
                    let mut streams = write(&self.streams);
                    let stale = streams
                        .get(&(tenant_id, name.clone()))
                        .is_some_and(|current| {
                            current.spec.stream_id == spec.stream_id
                                && current.spec.generation > spec.generation
                        });
                    if !stale {
                        streams.insert((tenant_id, name), Arc::new(CachedStream { spec, routes }));
                    }
                }
            }
        }
    }

    fn apply_delivery_stream(&self, tenant_id: Uuid, name: String, spec: DeliveryStreamSpec) {
        let mut delivery_streams = write(&self.delivery_streams);
        let stale = delivery_streams
            .get(&(tenant_id, name.clone()))
            .is_some_and(|current| {
                current.delivery_stream_id == spec.delivery_stream_id
                    && current.generation > spec.generation
            });
        if !stale {
            delivery_streams.insert((tenant_id, name), Arc::new(spec));
        }
    }

    fn apply_tenant(&self, spec: TenantSpec) {
        let mut generations = write(&self.tenant_generations);
        if generations
            .get(&spec.tenant_id)
            .is_some_and(|current| *current > spec.generation)
        {
            return;
        }
        generations.insert(spec.tenant_id, spec.generation);
        self.write_limiter.set(spec.tenant_id, spec.write);
    }

    /// How many leading records of a call (their sizes: partition key plus data) the tenant's
    /// write quota admits now; they are charged. A tenant this gateway has not heard of is
    /// looked up once in the bucket; one without a published quota is unlimited.
    pub(crate) async fn admit_writes(&self, tenant_id: Uuid, record_sizes: &[u64]) -> usize {
        if let Some(admitted) = self.write_limiter.admit_prefix(tenant_id, record_sizes) {
            return admitted;
        }
        let spec = match self.bucket.get(Names::tenant_key(tenant_id)).await {
            Ok(value) => value.and_then(|value| serde_json::from_slice::<TenantSpec>(&value).ok()),
            Err(error) => {
                tracing::warn!(%error, %tenant_id, "cannot read the tenant's write quota; admitting the call");
                return record_sizes.len();
            }
        };
        match spec {
            Some(spec) => self.apply_tenant(spec),
            // Not published yet: unlimited until the watch delivers a quota.
            None => self.write_limiter.set(tenant_id, Default::default()),
        }
        self.write_limiter
            .admit_prefix(tenant_id, record_sizes)
            .unwrap_or(record_sizes.len())
    }

    /// The tenant's write quota as this gateway enforces it.
    pub(crate) fn write_rate(&self, tenant_id: Uuid) -> fjord_common::throughput::WriteRate {
        self.write_limiter.rate(tenant_id).unwrap_or_default()
    }

    fn open_key(&self, value: &[u8]) -> Option<CachedKey> {
        let spec: AccessKeySpec = serde_json::from_slice(value).ok()?;
        match self
            .secret_box
            .open(&spec.sealed_secret, &spec.access_key_id)
        {
            Ok(secret) => Some(CachedKey {
                tenant_id: spec.tenant_id,
                account_id: spec.account_id,
                secret,
                enabled: spec.enabled,
                role: spec.role,
                generation: spec.generation,
            }),
            Err(_) => {
                tracing::error!(
                    access_key_id = %spec.access_key_id,
                    "cannot open an access key secret: is the master key the same on every role?"
                );
                None
            }
        }
    }

    /// The access key, from cache or (on a miss) from the bucket.
    pub(crate) async fn access_key(&self, access_key_id: &str) -> Option<Arc<CachedKey>> {
        if let Some(key) = read(&self.keys).get(access_key_id) {
            return Some(key.clone());
        }
        if access_key_id.is_empty()
            || access_key_id.len() > 128
            || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let value = self
            .bucket
            .get(Names::access_key_key(access_key_id))
            .await
            .ok()
            .flatten()?;
        let cached = Arc::new(self.open_key(&value)?);
        write(&self.keys).insert(access_key_id.to_owned(), cached.clone());
        Some(cached)
    }

    /// The stream, from cache or (on a miss) from the bucket.
    pub(crate) async fn stream(&self, tenant_id: Uuid, name: &str) -> Option<Arc<CachedStream>> {
        if let Some(stream) = read(&self.streams).get(&(tenant_id, name.to_owned())) {
            return Some(stream.clone());
        }
        let value = self
            .bucket
            .get(Names::stream_key(tenant_id, name))
            .await
            .ok()
            .flatten()?;
        let spec: StreamSpec = serde_json::from_slice(&value).ok()?;
        let routes = RoutingTable::new(&spec);
        let cached = Arc::new(CachedStream { spec, routes });
        write(&self.streams).insert((tenant_id, name.to_owned()), cached.clone());
        Some(cached)
    }
}

impl Catalog {
    /// The delivery stream, from cache or (on a miss) from the bucket.
    pub(crate) async fn delivery_stream(
        &self,
        tenant_id: Uuid,
        name: &str,
    ) -> Option<Arc<DeliveryStreamSpec>> {
        if let Some(spec) = read(&self.delivery_streams).get(&(tenant_id, name.to_owned())) {
            return Some(spec.clone());
        }
        let value = self
            .bucket
            .get(Names::delivery_stream_key(tenant_id, name))
            .await
            .ok()
            .flatten()?;
        let spec: DeliveryStreamSpec = serde_json::from_slice(&value).ok()?;
        if spec.tenant_id != tenant_id || spec.name != name {
            return None;
        }
        self.apply_delivery_stream(tenant_id, name.to_owned(), spec);
        read(&self.delivery_streams)
            .get(&(tenant_id, name.to_owned()))
            .cloned()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
