//! The S3-compatible server tests deliver to (`.ci/services` starts one with
//! `FJORD_SERVICES_S3=1`: an `s3s-fs` checking SigV4 against one access key, serving the
//! folders under `FJORD_TEST_S3_ROOT` as buckets). Like NATS, it is required: a test that
//! needs it fails with how to start it.

#![allow(dead_code)] // Each test file uses part of it.

use std::path::PathBuf;

use serde_json::{Value, json};

pub(crate) struct S3 {
    pub(crate) url: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) root: PathBuf,
}

impl S3 {
    pub(crate) fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "these tests need the test S3 server: {name} is not set (run `eval \"$(FJORD_SERVICES_S3=1 bash .ci/services)\"`)"
                )
            })
        };
        Self {
            url: var("FJORD_TEST_S3_URL"),
            access_key_id: var("FJORD_TEST_S3_ACCESS_KEY_ID"),
            secret_access_key: var("FJORD_TEST_S3_SECRET_ACCESS_KEY"),
            root: PathBuf::from(var("FJORD_TEST_S3_ROOT")),
        }
    }

    /// Creates a bucket of a fresh name on the server; its name.
    pub(crate) fn create_bucket(&self, stem: &str) -> String {
        let name = format!(
            "{stem}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        std::fs::create_dir_all(self.root.join(&name)).unwrap();
        name
    }

    /// The REST `store` object for `bucket` on this server.
    pub(crate) fn store(&self, bucket: &str) -> Value {
        json!({
            "kind": "s3",
            "bucket": bucket,
            "endpoint": self.url,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        })
    }

    /// The objects of `bucket` (key, bytes), by key; the server's own metadata files left out.
    pub(crate) fn objects(&self, bucket: &str) -> Vec<(String, Vec<u8>)> {
        let dir = self.root.join(bucket);
        let mut found = Vec::new();
        let mut pending = vec![dir.clone()];
        while let Some(current) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&current) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let key = path
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if key.starts_with(".") || key.contains("/.") {
                    continue;
                }
                if let Ok(bytes) = std::fs::read(&path) {
                    found.push((key, bytes));
                }
            }
        }
        found.sort();
        found
    }
}
