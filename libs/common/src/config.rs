//! Layered configuration: compiled defaults < optional TOML file < `FJORD__SECTION__KEY`
//! environment variables. Validated once at start-up; secrets are redacted in `Debug`.

use std::path::Path;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::client_address::TrustedProxies;
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
    pub http: HttpConfig,
    pub console: ConsoleConfig,
    pub delivery: DeliveryConfig,
}

/// The delivery workers (`fjord worker`, and `fjord serve`): they drain delivery streams into
/// their destinations. Stateless: any number may run, sharing each delivery stream's work.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Whether `fjord serve` runs delivery workers in its process (`fjord worker` always
    /// does). Turn it off when workers run as processes of their own
    /// (`FJORD__DELIVERY__IN_SERVE=false`).
    #[serde(default = "yes")]
    pub in_serve: bool,
    /// The folder the embedded object store writes to: an object of bucket `b` of the tenant
    /// with account id `a` is `<local_root>/a/b/<key>`, so tenants never share a bucket
    /// (`FJORD__DELIVERY__LOCAL_ROOT`).
    pub local_root: String,
    /// How long a worker may hold a record before JetStream hands it to another worker, on top
    /// of the delivery stream's buffering interval: it must cover writing one object. A live
    /// worker also reports progress while it buffers or retries, so only a dead worker's
    /// records wait this long.
    pub ack_wait_margin_seconds: u64,
    /// Most records one pull from JetStream asks for.
    pub fetch_max_records: usize,
    /// Longest pause between two attempts to write an object that failed (attempts back off
    /// exponentially from 200 ms up to this).
    pub retry_backoff_max_ms: u64,
    /// How often a worker sends the control plane its per-delivery-stream, per-minute counts
    /// (and at most how often it reports one delivery stream's failures).
    #[serde(default = "ten_seconds_ms")]
    pub metrics_flush_ms: u64,
}

fn ten_seconds_ms() -> u64 {
    10_000
}

fn yes() -> bool {
    true
}

/// The web console, served by the control plane under `/` (ADR 013).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the console at all.
    pub enabled: bool,
    /// The folder `web-ui/build.sh` writes (its `pkg/` holds the wasm). Without it the pages
    /// still render and every form still posts; they just don't hydrate.
    pub site: String,
    /// Mark the session cookies `Secure`: set it when browsers reach Fjord over HTTPS.
    pub secure_cookies: bool,
    /// The Kinesis endpoint the getting-started page shows apps; empty: `http://localhost:`
    /// and the gateway's port.
    pub kinesis_endpoint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Reverse proxies whose `X-Forwarded-For` is believed, as address ranges (`10.0.0.0/8`,
    /// `::1/128`); a list in TOML, comma-separated in `FJORD__HTTP__TRUSTED_PROXIES`. Empty
    /// (the default): the TCP peer is the client address. Used by both planes.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
}

/// A list, or one string of comma-separated items (as an environment variable gives it).
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(items) => items,
        ListOrString::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
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
    /// Earlier master keys, comma-separated, while a rotation is under way: access-key
    /// secrets sealed under them still open (`fjord admin reseal-secrets` moves them to the
    /// current key). Empty otherwise.
    #[serde(default)]
    pub previous_master_keys: Secret,
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
    /// How often the gateway sends the control plane the access keys used since the last
    /// flush (`access_keys.last_used_at`); one event per flush, not per request.
    pub key_usage_flush_ms: u64,
    /// How often the gateway sends the control plane its per-stream, per-minute record
    /// counts (ADR 013); one event per flush, not per request.
    pub metrics_flush_ms: u64,
    /// Refused calls of one key sent to the audit log one by one per window and gateway
    /// process; beyond it they are counted and summarized in one event.
    pub refused_calls_per_window: u32,
    pub refused_calls_window_ms: u64,
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
                previous_master_keys: Secret::default(),
                internal_token: Secret::default(),
            },
            gateway: GatewayConfig {
                listen: "127.0.0.1:4566".to_owned(),
                control_plane_url: "http://127.0.0.1:4567".to_owned(),
                iterator_lifetime_ms: 300_000,
                key_usage_flush_ms: 10_000,
                metrics_flush_ms: 10_000,
                refused_calls_per_window: 60,
                refused_calls_window_ms: 60_000,
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
            http: HttpConfig {
                trusted_proxies: Vec::new(),
            },
            console: ConsoleConfig {
                enabled: true,
                site: "target/site".to_owned(),
                secure_cookies: false,
                kinesis_endpoint: String::new(),
            },
            delivery: DeliveryConfig {
                in_serve: true,
                local_root: "objects".to_owned(),
                ack_wait_margin_seconds: 60,
                fetch_max_records: 1000,
                retry_backoff_max_ms: 30_000,
                metrics_flush_ms: 10_000,
            },
        }
    }
}

impl FjordConfig {
    /// Where the getting-started page tells apps to send Kinesis calls.
    pub fn public_kinesis_endpoint(&self) -> String {
        if !self.console.kinesis_endpoint.is_empty() {
            return self.console.kinesis_endpoint.clone();
        }
        let port = self.gateway.listen.rsplit(':').next().unwrap_or("4566");
        format!("http://localhost:{port}")
    }

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
        if self.gateway.key_usage_flush_ms == 0
            || self.gateway.metrics_flush_ms == 0
            || self.gateway.refused_calls_window_ms == 0
        {
            bail!(
                "gateway.key_usage_flush_ms, gateway.metrics_flush_ms and gateway.refused_calls_window_ms must be positive"
            );
        }
        if self.delivery.local_root.is_empty() {
            bail!("delivery.local_root must name a folder");
        }
        if self.delivery.ack_wait_margin_seconds == 0
            || self.delivery.fetch_max_records == 0
            || self.delivery.retry_backoff_max_ms == 0
            || self.delivery.metrics_flush_ms == 0
        {
            bail!(
                "delivery.ack_wait_margin_seconds, delivery.fetch_max_records, delivery.retry_backoff_max_ms and delivery.metrics_flush_ms must be positive"
            );
        }
        self.trusted_proxies()?;
        Ok(())
    }

    /// The parsed `http.trusted_proxies`.
    pub fn trusted_proxies(&self) -> anyhow::Result<TrustedProxies> {
        TrustedProxies::parse(&self.http.trusted_proxies)
            .context("http.trusted_proxies must be address ranges")
    }

    /// The master key, which every role needs; a missing or malformed one stops start-up.
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        if self.security.master_key.0.is_empty() {
            bail!(
                "security.master_key is not set: set FJORD__SECURITY__MASTER_KEY to 64 hex characters (e.g. `openssl rand -hex 32`)"
            );
        }
        let current = MasterKey::from_hex(&self.security.master_key.0)?;
        let previous = self
            .security
            .previous_master_keys
            .0
            .split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(MasterKey::from_hex)
            .collect::<Result<Vec<_>, _>>()
            .context("security.previous_master_keys must be master keys (64 hex characters each), comma-separated")?;
        Ok(current.with_previous(&previous))
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
        let mut config = FjordConfig::default();
        config.http.trusted_proxies = vec!["10.0.0.0/33".to_owned()];
        assert!(config.validate().is_err());
        let mut config = FjordConfig::default();
        config.delivery.fetch_max_records = 0;
        assert!(config.validate().is_err());
    }

    #[test]
    // `Jail`'s closure returns figment's own (large) error type.
    #[allow(clippy::result_large_err)]
    fn previous_master_keys_open_old_secrets_and_bad_ones_are_refused_without_echo() {
        let old_hex = "cd".repeat(32);
        let old = MasterKey::from_hex(&old_hex).unwrap();
        let sealed = old.secret_box().seal("s3cr3t", "AKIA1").unwrap();
        let mut config = FjordConfig::default();
        config.security.master_key = Secret("ab".repeat(32));
        assert!(
            config
                .master_key()
                .unwrap()
                .secret_box()
                .open(&sealed, "AKIA1")
                .is_err()
        );
        config.security.previous_master_keys = Secret(format!(" {old_hex} , {}", "ef".repeat(32)));
        let rotating = config.master_key().unwrap();
        assert_eq!(
            rotating.secret_box().open(&sealed, "AKIA1").unwrap(),
            "s3cr3t"
        );
        config.security.previous_master_keys = Secret(format!("{old_hex},{}", "zz".repeat(32)));
        let error = format!("{:#}", config.master_key().unwrap_err());
        assert!(error.contains("previous_master_keys"), "{error}");
        assert!(!error.contains(&old_hex), "{error}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns its own error type
    fn the_delivery_root_comes_from_its_variable() {
        use figment::Jail;
        Jail::expect_with(|jail| {
            jail.clear_env();
            assert_eq!(
                FjordConfig::load(None).unwrap().delivery.local_root,
                "objects"
            );
            jail.set_env("FJORD__DELIVERY__LOCAL_ROOT", "/var/lib/fjord/objects");
            let config = FjordConfig::load(None).map_err(|error| error.to_string())?;
            assert_eq!(config.delivery.local_root, "/var/lib/fjord/objects");
            jail.set_env("FJORD__DELIVERY__FETCH_MAX_RECORDS", "0");
            assert!(FjordConfig::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns its own error type
    fn trusted_proxies_come_from_a_list_or_a_comma_separated_variable() {
        use figment::Jail;
        Jail::expect_with(|jail| {
            jail.set_env("FJORD__HTTP__TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8");
            let config = FjordConfig::load(None).map_err(|error| error.to_string())?;
            assert_eq!(config.http.trusted_proxies, ["127.0.0.1/32", "10.0.0.0/8"]);
            jail.create_file("fjord.toml", "[http]\ntrusted_proxies = [\"::1/128\"]\n")?;
            jail.clear_env();
            let config = FjordConfig::load(Some(std::path::Path::new("fjord.toml")))
                .map_err(|error| error.to_string())?;
            assert_eq!(config.http.trusted_proxies, ["::1/128"]);
            assert!(
                config
                    .trusted_proxies()
                    .unwrap()
                    .is_trusted("::1".parse().unwrap())
            );
            jail.set_env("FJORD__HTTP__TRUSTED_PROXIES", "not-a-range");
            assert!(FjordConfig::load(None).is_err());
            Ok(())
        });
    }
}
