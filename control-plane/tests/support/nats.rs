//! A JetStream fixture for tests that need NATS: a connection to `FJORD__NATS__URL` (default
//! `nats://127.0.0.1:4333`) with a prefix of its own, a reconciler pass to provision shard
//! streams, and cleanup of everything under the prefix when dropped (even after a panic).

use async_nats::jetstream;
use fjord_common::naming::Names;
use fjord_control_plane::reconciler::Reconciler;
use fjord_control_plane::shards::Shards;
use fjord_control_plane::store::Store;
use futures::StreamExt as _;
use uuid::Uuid;

pub(crate) struct Nats {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) names: Names,
    bucket: jetstream::kv::Store,
}

impl Nats {
    pub(crate) async fn connect() -> Self {
        let url = std::env::var("FJORD__NATS__URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4333".to_owned());
        let client = async_nats::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("these tests need NATS at {url}: {error}"));
        let jetstream = jetstream::new(client);
        let prefix = format!("t{}", &Uuid::new_v4().simple().to_string()[..12]);
        let names = Names::new(&prefix);
        let bucket = fjord_control_plane::config_bucket(&jetstream, &names, 1)
            .await
            .unwrap();
        Self {
            url,
            prefix,
            jetstream,
            names,
            bucket,
        }
    }

    #[allow(dead_code, reason = "not every test binary serves records")]
    pub(crate) fn shards(&self) -> Shards {
        Shards::new(self.jetstream.clone(), self.names.clone())
    }

    /// One reconciler pass: `CREATING` streams get their shard streams and become `ACTIVE`.
    pub(crate) async fn reconcile(&self, store: &Store) {
        Reconciler::new(
            store.clone(),
            self.jetstream.clone(),
            self.bucket.clone(),
            self.names.clone(),
            1,
            "us-east-1".to_owned(),
        )
        .reconcile_once()
        .await
        .unwrap();
    }
}

/// Deletes every JetStream stream (shards and the config bucket) under `prefix`.
async fn clean_up(url: &str, prefix: &str) {
    let Ok(client) = async_nats::connect(url).await else {
        return;
    };
    let jetstream = jetstream::new(client);
    let shard_prefix = format!("FJ_{prefix}_");
    let bucket_stream = format!("KV_fjord_{prefix}_config");
    let mut names = jetstream.stream_names();
    let mut doomed = Vec::new();
    while let Some(Ok(name)) = names.next().await {
        if name.starts_with(&shard_prefix) || name == bucket_stream {
            doomed.push(name);
        }
    }
    for name in doomed {
        let _ = jetstream.delete_stream(&name).await;
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // A runtime of its own: this may run while the test's runtime unwinds.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(clean_up(&url, &prefix));
            }
        })
        .join();
    }
}
