//! Resource specs the control plane publishes to the NATS KV config bucket and the data plane
//! caches in memory. A spec is everything the data path needs to serve a request without
//! asking Postgres.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::permissions::Role;
use crate::throughput::WriteRate;

/// Lifecycle of a stream, as Kinesis reports it in `StreamStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamStatus {
    Creating,
    Deleting,
    Active,
    Updating,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Deleting => "DELETING",
            Self::Active => "ACTIVE",
            Self::Updating => "UPDATING",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CREATING" => Some(Self::Creating),
            "DELETING" => Some(Self::Deleting),
            "ACTIVE" => Some(Self::Active),
            "UPDATING" => Some(Self::Updating),
            _ => None,
        }
    }

    /// Whether records may be written to and read from a stream in this state.
    pub fn serves_data(self) -> bool {
        matches!(self, Self::Active | Self::Updating)
    }
}

/// One shard as the data plane sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: u32,
    /// Decimal, as Kinesis shows it.
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    pub open: bool,
}

/// One stream as the data plane sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    pub stream_id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub retention_hours: u32,
    pub shards: Vec<ShardSpec>,
    /// Bumped by the control plane on every change, so caches can ignore stale pushes.
    pub generation: i64,
}

/// An access key as the gateway needs it to verify signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeySpec {
    pub access_key_id: String,
    pub tenant_id: Uuid,
    pub account_id: String,
    /// The secret, sealed with the master key's secret box, bound to the access key id.
    pub sealed_secret: String,
    pub enabled: bool,
    /// What the key may do; entries published before keys had roles read as `developer`.
    #[serde(default)]
    pub role: Role,
    /// Bumped by the control plane on every change (disable, rotate, role).
    #[serde(default)]
    pub generation: i64,
}

/// A tenant's write throughput quota as the gateways enforce it (per gateway process).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSpec {
    pub tenant_id: Uuid,
    /// `None` in either dimension is unlimited.
    pub write: WriteRate,
    /// Bumped by the control plane on every quota change.
    pub generation: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_published_before_roles_read_as_developer() {
        let old = serde_json::json!({
            "access_key_id": "AKIAAAAAAAAAAAAAAAAA",
            "tenant_id": Uuid::nil(),
            "account_id": "123456789012",
            "sealed_secret": "sealed",
            "enabled": true,
        });
        let spec: AccessKeySpec = serde_json::from_value(old).unwrap();
        assert_eq!(spec.role, Role::Developer);
        assert_eq!(spec.generation, 0);
        let viewer = AccessKeySpec {
            role: Role::Viewer,
            ..spec
        };
        let text = serde_json::to_string(&viewer).unwrap();
        assert!(text.contains(r#""role":"viewer""#), "{text}");
        assert_eq!(
            serde_json::from_str::<AccessKeySpec>(&text).unwrap(),
            viewer
        );
    }
}
