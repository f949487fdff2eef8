//! A tenant's registered buckets: where the bucket a delivery stream names
//! (`arn:aws:s3:::<name>`) really lives. Firehose's API has no room for an endpoint or
//! credentials, so a tenant registers the bucket once (REST `/api/v1/buckets`, console) and
//! every delivery stream naming it delivers there. A bucket that is not registered is the
//! embedded local filesystem store.
//!
//! Secrets are sealed with the installation's master key, bound to the registration
//! ([`seal_context`]); only the process that opens the store unseals them. The control plane
//! opens a store to probe it when a bucket is registered; delivery workers open it to write.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secret::SecretBox;

/// A registered bucket as the data plane receives it, in a delivery stream's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredBucket {
    /// The registration's id: its secret is sealed for it.
    pub id: Uuid,
    pub location: BucketLocation,
}

/// Where a registered bucket lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BucketLocation {
    /// Amazon S3, or any S3-compatible store (MinIO, Ceph, Garage, …) at `endpoint`.
    S3(S3Location),
    /// Google Cloud Storage.
    Gcs(GcsLocation),
    /// Azure Blob Storage (or Azurite at `endpoint`).
    Azure(AzureLocation),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Location {
    /// The bucket's name at the store (often the registered name).
    pub bucket: String,
    pub region: String,
    /// `https://…` or `http://…`; `None`: AWS's own endpoint for the region.
    pub endpoint: Option<String>,
    /// Path-style requests (`<endpoint>/<bucket>/<key>`), which most S3-compatible stores need.
    pub path_style: bool,
    /// `None`: the credentials of the environment the worker runs in (instance profile, …).
    pub access_key_id: Option<String>,
    pub sealed_secret_access_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcsLocation {
    pub bucket: String,
    /// A service account key (JSON), sealed; `None`: the environment's credentials.
    pub sealed_service_account_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureLocation {
    pub account: String,
    pub container: String,
    /// `None`: Azure's own endpoint for the account.
    pub endpoint: Option<String>,
    /// The storage account's access key, sealed; `None`: the environment's credentials.
    pub sealed_access_key: Option<String>,
}

/// Why a registered bucket's store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("the bucket's secret cannot be unsealed (was the master key changed?)")]
    Unseal,
    #[error("{0}")]
    Configuration(String),
}

/// What a registered bucket's secret is sealed for.
pub fn seal_context(bucket_id: Uuid) -> String {
    format!("bucket:{bucket_id}")
}

/// How long one request to a store may take, and how often a failed one is retried, before
/// the caller (a delivery retry loop, a probe) sees the error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RETRIES: usize = 2;

impl BucketLocation {
    /// The sealed secrets it holds (for resealing under a new master key).
    pub fn sealed_secrets_mut(&mut self) -> impl Iterator<Item = &mut String> {
        match self {
            Self::S3(s3) => s3.sealed_secret_access_key.as_mut(),
            Self::Gcs(gcs) => gcs.sealed_service_account_key.as_mut(),
            Self::Azure(azure) => azure.sealed_access_key.as_mut(),
        }
        .into_iter()
    }
}

impl RegisteredBucket {
    /// The store, its secret unsealed with `secret_box`.
    pub fn open(&self, secret_box: &SecretBox) -> Result<Arc<dyn ObjectStore>, BucketError> {
        let unseal = |sealed: &Option<String>| {
            sealed
                .as_deref()
                .map(|sealed| {
                    secret_box
                        .open(sealed, &seal_context(self.id))
                        .map_err(|_| BucketError::Unseal)
                })
                .transpose()
        };
        let client = |endpoint: Option<&str>| {
            ClientOptions::new()
                .with_timeout(REQUEST_TIMEOUT)
                .with_connect_timeout(CONNECT_TIMEOUT)
                .with_allow_http(endpoint.is_some_and(|e| e.starts_with("http://")))
        };
        let retry = RetryConfig {
            max_retries: RETRIES,
            retry_timeout: REQUEST_TIMEOUT,
            ..Default::default()
        };
        let configuration =
            |error: object_store::Error| BucketError::Configuration(error.to_string());
        let store: Arc<dyn ObjectStore> = match &self.location {
            BucketLocation::S3(s3) => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_client_options(client(s3.endpoint.as_deref()))
                    .with_retry(retry);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(access_key_id) = &s3.access_key_id {
                    builder = builder.with_access_key_id(access_key_id);
                }
                if let Some(secret) = unseal(&s3.sealed_secret_access_key)? {
                    builder = builder.with_secret_access_key(secret);
                }
                Arc::new(builder.build().map_err(configuration)?)
            }
            BucketLocation::Gcs(gcs) => {
                let mut builder = GoogleCloudStorageBuilder::new()
                    .with_bucket_name(&gcs.bucket)
                    .with_client_options(client(None))
                    .with_retry(retry);
                if let Some(key) = unseal(&gcs.sealed_service_account_key)? {
                    builder = builder.with_service_account_key(key);
                }
                Arc::new(builder.build().map_err(configuration)?)
            }
            BucketLocation::Azure(azure) => {
                let mut builder = MicrosoftAzureBuilder::new()
                    .with_account(&azure.account)
                    .with_container_name(&azure.container)
                    .with_client_options(client(azure.endpoint.as_deref()))
                    .with_retry(retry);
                if let Some(endpoint) = &azure.endpoint {
                    builder = builder.with_endpoint(endpoint.clone());
                }
                if let Some(key) = unseal(&azure.sealed_access_key)? {
                    builder = builder.with_access_key(key);
                }
                Arc::new(builder.build().map_err(configuration)?)
            }
        };
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_box() -> SecretBox {
        SecretBox::new([7; 32])
    }

    #[test]
    fn a_secret_sealed_for_another_bucket_does_not_open() {
        let sealed = secret_box()
            .seal("secret", &seal_context(Uuid::new_v4()))
            .unwrap();
        let bucket = RegisteredBucket {
            id: Uuid::new_v4(),
            location: BucketLocation::S3(S3Location {
                bucket: "lake".to_owned(),
                region: "us-east-1".to_owned(),
                endpoint: Some("http://127.0.0.1:1".to_owned()),
                path_style: true,
                access_key_id: Some("AKID".to_owned()),
                sealed_secret_access_key: Some(sealed),
            }),
        };
        assert!(matches!(
            bucket.open(&secret_box()),
            Err(BucketError::Unseal)
        ));
    }

    #[test]
    fn each_kind_of_store_opens_from_its_location() {
        let id = Uuid::new_v4();
        let sealed = secret_box().seal("c2VjcmV0", &seal_context(id)).unwrap();
        for location in [
            BucketLocation::S3(S3Location {
                bucket: "lake".to_owned(),
                region: "eu-west-1".to_owned(),
                endpoint: None,
                path_style: false,
                access_key_id: Some("AKID".to_owned()),
                sealed_secret_access_key: Some(sealed.clone()),
            }),
            BucketLocation::Azure(AzureLocation {
                account: "devstoreaccount1".to_owned(),
                container: "lake".to_owned(),
                endpoint: Some("http://127.0.0.1:10000/devstoreaccount1".to_owned()),
                sealed_access_key: Some(sealed.clone()),
            }),
        ] {
            let bucket = RegisteredBucket { id, location };
            assert!(bucket.open(&secret_box()).is_ok(), "{bucket:?}");
        }
    }
}
