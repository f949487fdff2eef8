//! Where objects go: the `object_store` crate. A bucket the tenant registered is its store
//! (S3 or S3-compatible, GCS, Azure; see `fjord_common::buckets`); any other bucket is the
//! embedded local filesystem store, where each tenant's buckets live under its account id
//! (`<local_root>/<account_id>/<bucket>/<key>`), so tenants never share a bucket. Writes are
//! atomic (a temporary file and a rename, or one PUT): a reader never sees half an object.

use std::sync::Arc;

use anyhow::Context as _;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

/// One bucket of one tenant.
pub(crate) struct ObjectSink {
    store: Arc<dyn ObjectStore>,
    /// Where the bucket's keys start in `store` (`<account_id>/<bucket>/` on the local store).
    root: String,
}

/// Why an object was not written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    /// The key is not a valid object path: retrying cannot help.
    #[error("invalid object key {key:?}: {source}")]
    InvalidKey {
        key: String,
        source: object_store::path::Error,
    },
    #[error("cannot write the object: {0}")]
    Write(#[from] object_store::Error),
}

impl ObjectSink {
    /// The bucket `bucket` of the tenant `account_id` under the local folder `root`.
    pub(crate) fn local(root: &str, account_id: &str, bucket: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create delivery.local_root {root}"))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .with_context(|| format!("cannot open delivery.local_root {root}"))?;
        let sink = Self {
            store: Arc::new(store),
            root: format!("{account_id}/{bucket}/"),
        };
        sink.path("probe").map_err(anyhow::Error::from)?;
        Ok(sink)
    }

    /// A registered bucket: its own store, keys as they are.
    pub(crate) fn registered(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            root: String::new(),
        }
    }

    /// The store path of `key`.
    pub(crate) fn path(&self, key: &str) -> Result<Path, SinkError> {
        let full = format!("{}{key}", self.root);
        Path::parse(&full).map_err(|source| SinkError::InvalidKey { key: full, source })
    }

    /// Whether the object `key` exists.
    pub(crate) async fn exists(&self, key: &str) -> Result<bool, SinkError> {
        match self.store.head(&self.path(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes `bytes` as the object `key`; returns once the store has it.
    pub(crate) async fn put(&self, key: &str, bytes: bytes::Bytes) -> Result<(), SinkError> {
        let path = self.path(key)?;
        self.store.put(&path, bytes.into()).await?;
        Ok(())
    }
}
