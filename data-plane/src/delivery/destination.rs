//! Where a delivery task's buffers go. A buffer is first *prepared* (its object key chosen,
//! its body encoded), then *sent*, as often as it takes: a retry sends the same prepared
//! delivery, so an object store retry overwrites the same key rather than adding a copy.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use fjord_common::firehose::{Compression, DeliveryStreamSpec, DestinationTarget};

use super::buffer::{Record, concatenate};
use super::encode;
use super::ledger::Entry;
use super::naming::{KeyPrefix, object_key};
use super::sink::{ObjectSink, SinkError};
use super::task::WorkerContext;

/// A delivery stream's destination, checked before delivery starts.
pub(crate) enum Destination {
    Object(ObjectDestination),
}

/// One buffer, ready to send.
pub(crate) enum Prepared {
    Object { key: String, body: bytes::Bytes },
}

impl Prepared {
    /// What to call it in logs.
    pub(crate) fn describe(&self) -> &str {
        match self {
            Self::Object { key, .. } => key,
        }
    }

    /// The objects it makes, as the ledger notes them.
    pub(crate) fn keys(&self) -> Vec<String> {
        match self {
            Self::Object { key, .. } => vec![key.clone()],
        }
    }
}

/// Why a buffer was not delivered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    /// Sending again cannot help (a key that is not a valid object path, a format that
    /// cannot be encoded): the records go back to JetStream for a later worker.
    #[error("{0}")]
    Permanent(String),
    /// Worth retrying (the store was unreachable, refused, …).
    #[error("{0}")]
    Transient(String),
}

impl From<SinkError> for DeliveryError {
    fn from(error: SinkError) -> Self {
        match error {
            SinkError::InvalidKey { .. } => Self::Permanent(error.to_string()),
            SinkError::Write(_) => Self::Transient(error.to_string()),
        }
    }
}

impl Destination {
    /// Everything about the destination of `spec` that can be refused is refused here (an
    /// unsupported compression, a prefix that cannot be evaluated, a bucket path that is not
    /// one).
    pub(crate) fn new(context: &WorkerContext, spec: &DeliveryStreamSpec) -> anyhow::Result<Self> {
        match &spec.destination.target {
            DestinationTarget::ObjectStore(destination) => {
                if !encode::is_supported(destination.compression) {
                    anyhow::bail!(
                        "compression {} is not supported yet (GZIP, Snappy, HADOOP_SNAPPY and UNCOMPRESSED are)",
                        destination.compression.as_aws()
                    );
                }
                let prefix = KeyPrefix::parse(&destination.prefix).context("invalid prefix")?;
                let sink = match &destination.store {
                    Some(registered) => {
                        ObjectSink::registered(registered.open(&context.secret_box).with_context(
                            || format!("cannot open bucket {}", destination.bucket),
                        )?)
                    }
                    None => ObjectSink::local(
                        &context.local_root,
                        &spec.account_id,
                        &destination.bucket,
                    )?,
                };
                let object = ObjectDestination {
                    name: spec.name.clone(),
                    version_id: spec.version_id,
                    prefix,
                    compression: destination.compression,
                    sink,
                };
                let sample = object.key(Utc::now());
                object
                    .sink
                    .path(&sample)
                    .context("the prefix does not make valid object keys")?;
                Ok(Self::Object(object))
            }
        }
    }

    /// The buffer's records as one delivery; `oldest` is the oldest record's arrival.
    pub(crate) fn prepare(
        &self,
        records: &[Record],
        oldest: DateTime<Utc>,
    ) -> Result<Prepared, DeliveryError> {
        match self {
            Self::Object(object) => {
                let key = object.key(oldest);
                let body = encode::compress(object.compression, concatenate(records)).ok_or_else(
                    || {
                        DeliveryError::Permanent(format!(
                            "cannot compress as {}",
                            object.compression.as_aws()
                        ))
                    },
                )?;
                Ok(Prepared::Object {
                    key,
                    body: body.into(),
                })
            }
        }
    }

    /// Sends a prepared delivery once; returns once the destination has it.
    pub(crate) async fn send(&self, prepared: &Prepared) -> Result<(), DeliveryError> {
        match (self, prepared) {
            (Self::Object(object), Prepared::Object { key, body }) => {
                object.sink.put(key, body.clone()).await?;
                Ok(())
            }
        }
    }
}

impl Destination {
    /// Whether the delivery a ledger entry notes reached the destination: `None` when the
    /// destination cannot tell.
    pub(crate) async fn has(&self, entry: &Entry) -> Result<Option<bool>, DeliveryError> {
        match self {
            Self::Object(object) => {
                for key in &entry.keys {
                    if !object.sink.exists(key).await? {
                        return Ok(Some(false));
                    }
                }
                Ok(Some(!entry.keys.is_empty()))
            }
        }
    }
}

/// Delivery to an object store bucket.
pub(crate) struct ObjectDestination {
    name: String,
    version_id: i64,
    prefix: KeyPrefix,
    compression: Compression,
    sink: ObjectSink,
}

impl ObjectDestination {
    fn key(&self, oldest: DateTime<Utc>) -> String {
        object_key(
            &self.prefix,
            &self.name,
            self.version_id,
            oldest,
            self.compression,
        )
    }
}
