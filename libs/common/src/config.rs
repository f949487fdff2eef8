//! Layered configuration: compiled defaults < optional TOML file < `FJORD__SECTION__KEY`
//! environment variables. Validated once at start-up; secrets are redacted in `Debug`.

use std::path::Path;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::naming::is_valid_prefix;
use crate::secret::MasterKey;

/// A configuration value that must never be printed.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            formatter.write_str("<unset>")
        } else {
            formatter.write_str("<redacted>")
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FjordConfig {
    /// The region Fjord reports in ARNs and accepts in signatures.
    pub region: String,
    pub postgres: PostgresConfig,
    pub nats: NatsConfig,
    pub security: SecurityConfig,
    pub gateway: GatewayConfig,
    pub control_plane: ControlPlaneConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    pub url: String,
    /// Distinguishes this installation's NATS objects from any other's on the same cluster.
    pub prefix: String,
    /// JetStream replicas for record streams (1 for a single server, 3 for a cluster).
    pub replicas: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// 64 hex characters. Seals access-key secrets and keys the iterator MAC.
    pub master_key: Secret,
    /// Shared by the gateway and the control plane's internal API.
    pub internal_token: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub listen: String,
    /// Where the gateway forwards stream administration (the control plane's internal API).
    pub control_plane_url: String,
    /// How long a shard iterator stays valid. AWS uses 5 minutes; change it only for tests.
    pub iterator_lifetime_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneConfig {
    pub listen: String,
    /// Default per-tenant shard quota (AWS's default account shard limit).
    pub shard_limit: u32,
    /// Default per-tenant quota of on-demand streams.
    pub on_demand_stream_limit: u32,
    /// Default per-tenant quota of streams of any mode (AWS has none; 500 matches the
    /// shard quota, so by default the shard quota binds first).
    pub stream_limit: u32,
    /// Default per-tenant quota of delivery streams (AWS Firehose's default: 50).
    pub delivery_stream_limit: u32,
    /// Default per-tenant quota of analytics apps (AWS Kinesis Data Analytics' default: 50).
    pub app_limit: u32,
    /// Default per-tenant write quota in records per second, per gateway process; 0 means
    /// unlimited (the default).
    pub write_records_per_second: u64,
    /// Default per-tenant write quota in bytes (partition keys plus data) per second, per
    /// gateway process; 0 means unlimited (the default).
    pub write_bytes_per_second: u64,
    /// How often the reconciler re-checks desired state even without a nudge.
    pub reconcile_interval_ms: u64,
}

impl Default for FjordConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            postgres: PostgresConfig {
                url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
                max_connections: 16,
            },
            nats: NatsConfig {
                url: "nats://127.0.0.1:4333".to_owned(),
                prefix: "fjord".to_owned(),
                replicas: 1,
            },
            security: SecurityConfig {
                master_key: Secret::default(),
                internal_token: Secret::default(),
            },
            gateway: GatewayConfig {
                listen: "127.0.0.1:4566".to_owned(),
                control_plane_url: "http://127.0.0.1:4567".to_owned(),
                iterator_lifetime_ms: 300_000,
            },
            control_plane: ControlPlaneConfig {
                listen: "127.0.0.1:4567".to_owned(),
                shard_limit: 500,
                on_demand_stream_limit: 50,
                stream_limit: 500,
                delivery_stream_limit: 50,
                app_limit: 50,
                write_records_per_second: 0,
                write_bytes_per_second: 0,
                reconcile_interval_ms: 1000,
            },
        }
    }
}

impl FjordConfig {
    /// Loads defaults, then `file` if given, then `FJORD__*` variables, and validates.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("FJORD__").split("__").lowercase(true));
        let config: Self = figment.extract().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !is_valid_prefix(&self.nats.prefix) {
            bail!("nats.prefix must be 1-32 characters of [a-z0-9]");
        }
        if self.nats.replicas == 0 || self.nats.replicas > 5 {
            bail!("nats.replicas must be between 1 and 5");
        }
        if self.region.is_empty()
            || !self
                .region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            bail!("region must be a region name such as us-east-1");
        }
        Ok(())
    }

    /// The master key, which every role needs; a missing or malformed one stops start-up.
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        if self.security.master_key.0.is_empty() {
            bail!(
                "security.master_key is not set: set FJORD__SECURITY__MASTER_KEY to 64 hex characters (e.g. `openssl rand -hex 32`)"
            );
        }
        Ok(MasterKey::from_hex(&self.security.master_key.0)?)
    }

    pub fn internal_token(&self) -> anyhow::Result<&str> {
        if self.security.internal_token.0.len() < 16 {
            bail!("security.internal_token must be set to at least 16 characters");
        }
        Ok(&self.security.internal_token.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut config = FjordConfig::default();
        config.security.master_key = Secret("ab".repeat(32));
        let printed = format!("{config:?}");
        assert!(!printed.contains("abab"));
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn defaults_validate_and_bad_prefix_is_refused() {
        assert!(FjordConfig::default().validate().is_ok());
        let mut config = FjordConfig::default();
        config.nats.prefix = "Bad.Prefix".to_owned();
        assert!(config.validate().is_err());
    }
}
