//! What the console reads from the REST API (`/api/v1`): the fields it uses of each answer.
//!
//! These mirror schemas in `docs/openapi.json`; `tests/contract.rs` fails when a field read
//! here is missing from the schema it names, so the console cannot drift from the API apps use.
//! Plain serde types with no server dependency: they compile to wasm too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `Role`. Ordered: each role can do what the ones before it can.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Viewer,
    Developer,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Developer, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Creates and deletes streams, puts records.
    pub fn can_write(self) -> bool {
        self >= Role::Developer
    }

    /// Manages tenant keys and people, reads the audit log.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

/// `TenantView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub account_id: String,
}

/// `MembershipView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub tenant: Tenant,
    pub role: Role,
}

/// `UserView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
}

/// `MeResponse`: who is signed in, where, as what.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
    pub tenant: Tenant,
    pub role: Role,
    pub memberships: Vec<Membership>,
}

/// `SessionResponse`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

/// `StreamMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    #[default]
    Provisioned,
    OnDemand,
}

impl StreamMode {
    pub fn label(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "Provisioned",
            StreamMode::OnDemand => "On-demand",
        }
    }
}

/// `StreamSummary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSummary {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub mode: StreamMode,
    pub retention_hours: i32,
    pub created_at: String,
    /// Newer servers answer it; the console shows a dash otherwise.
    #[serde(default)]
    pub open_shard_count: Option<u32>,
}

/// `StreamPage`, and every other `{items, next_cursor}` page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `ShardView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub shard_id: String,
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    pub starting_sequence_number: String,
    #[serde(default)]
    pub ending_sequence_number: Option<String>,
    #[serde(default)]
    pub parent_shard_id: Option<String>,
    pub open: bool,
}

/// `StreamView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub mode: StreamMode,
    pub retention_hours: i32,
    pub created_at: String,
    pub open_shard_count: u32,
    pub shards: Vec<Shard>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `RecordView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub partition_key: String,
    pub sequence_number: String,
    pub arrival_time: String,
    pub data_base64: String,
}

/// `RecordPage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub next_cursor: String,
    pub millis_behind_latest: i64,
}

/// `PutRecordResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRecordResult {
    pub shard_id: String,
    pub sequence_number: String,
}

/// `PutRecordsResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRecordsResponse {
    pub records: Vec<PutRecordResult>,
}

/// `KeyView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub access_key_id: String,
    pub name: String,
    pub role: Role,
    pub enabled: bool,
    pub created_at: String,
    #[serde(default)]
    pub last_used_at: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

/// `CreatedKey`: a key with its secret, answered once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub name: String,
    pub role: Role,
}

/// `MemberView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub joined_at: String,
}

/// `InvitationView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub status: String,
    pub expires_at: String,
}

/// `CreatedInvitation`: an invitation with its one-time token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub token: String,
    pub accept_path: String,
}

/// `AuditEntryView`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub occurred_at: String,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
}

/// `Problem` (RFC 9457).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default)]
    pub detail: Option<String>,
}

/// `MetricsPoint`: one minute of a stream's traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsPoint {
    /// The minute's start, RFC 3339 UTC.
    pub minute: String,
    pub incoming_records: u64,
    pub incoming_bytes: u64,
    pub outgoing_records: u64,
    pub outgoing_bytes: u64,
    pub iterator_age_ms: u64,
}

impl MetricsPoint {
    /// `HH:MM` of the minute.
    pub fn minute_label(&self) -> String {
        hour_minute(&self.minute)
    }
}

/// `HH:MM` of an RFC 3339 minute.
fn hour_minute(rfc3339: &str) -> String {
    rfc3339
        .split_once('T')
        .map(|(_, time)| time.chars().take(5).collect())
        .unwrap_or_default()
}

/// `StreamMetricsView`: per-minute points, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMetrics {
    pub period_seconds: u32,
    pub points: Vec<MetricsPoint>,
}

/// One stream's row of `StreamsMetricsView` (`StreamSparkline`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSparkline {
    pub name: String,
    pub incoming_records: Vec<u64>,
}

/// `StreamsMetricsView`: every stream's incoming records per minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamsMetrics {
    pub period_seconds: u32,
    pub streams: Vec<StreamSparkline>,
}

/// `DestinationView`: an object store destination as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryDestination {
    pub destination_id: String,
    /// Present when it delivers to an HTTP endpoint (the bucket is then its backup).
    #[serde(default)]
    pub http_endpoint: Option<DeliveryHttpEndpoint>,
    pub bucket_arn: String,
    pub bucket: String,
    pub prefix: String,
    pub error_output_prefix: String,
    pub buffering_size_mib: u32,
    pub buffering_interval_seconds: u32,
    pub compression: String,
    #[serde(default)]
    pub processors: Vec<DeliveryProcessor>,
    #[serde(default)]
    pub partition_keys: Vec<DeliveryPartitionKey>,
    /// Present when records are converted to Parquet.
    #[serde(default)]
    pub conversion: Option<DeliveryConversion>,
}

/// Record format conversion (`ConversionView`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryConversion {
    pub database: String,
    pub table: String,
    pub format: String,
    pub compression: String,
    pub columns: Vec<String>,
}

impl DeliveryConversion {
    /// In words: `Parquet (SNAPPY) with analytics.events: id bigint, …`.
    pub fn describe(&self) -> String {
        format!(
            "Parquet ({}) with {}.{}: {}",
            self.compression,
            self.database,
            self.table,
            self.columns.join(", ")
        )
    }
}

/// An HTTP endpoint destination's endpoint (`HttpEndpointView`); its key is never shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryHttpEndpoint {
    pub url: String,
    pub name: String,
    pub access_key_set: bool,
    pub content_encoding: String,
    #[serde(default)]
    pub common_attributes: BTreeMap<String, String>,
    pub retry_duration_seconds: u32,
    pub backup_mode: String,
}

impl DeliveryDestination {
    /// Where records go, in short: the endpoint's URL, or `s3://<bucket>/<prefix>`.
    pub fn target(&self) -> String {
        match &self.http_endpoint {
            Some(endpoint) => endpoint.url.clone(),
            None => format!("s3://{}/{}", self.bucket, self.prefix),
        }
    }

    /// The transformation chain in words (`–` without one).
    pub fn transformation(&self) -> String {
        if self.processors.is_empty() {
            return "–".to_owned();
        }
        self.processors
            .iter()
            .map(
                |processor| match (&*processor.kind, &processor.url, &processor.delimiter) {
                    ("function", Some(url), _) => format!("function {url}"),
                    ("append_delimiter", _, Some(delimiter)) => {
                        format!("delimiter {}", delimiter.escape_default())
                    }
                    (kind, _, _) => kind.to_owned(),
                },
            )
            .collect::<Vec<_>>()
            .join(", then ")
    }

    /// The dynamic partitioning keys in words (`–` without any).
    pub fn partitioning(&self) -> String {
        if self.partition_keys.is_empty() {
            return "–".to_owned();
        }
        self.partition_keys
            .iter()
            .map(|key| format!("{} = {}", key.name, key.path))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `ProcessorView` (one of its kinds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryProcessor {
    /// `function` or `append_delimiter`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
}

/// `PartitionKeyView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPartitionKey {
    pub name: String,
    pub path: String,
}

/// `DeliveryStreamView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStream {
    pub name: String,
    pub arn: String,
    pub status: String,
    /// `direct_put` or `kinesis_stream`.
    pub source: String,
    #[serde(default)]
    pub source_stream_arn: Option<String>,
    pub version_id: i64,
    pub destination: DeliveryDestination,
    pub tags: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
}

impl DeliveryStream {
    /// Where its records come from, in words.
    pub fn source_label(&self) -> String {
        match (&*self.source, &self.source_stream_arn) {
            ("kinesis_stream", Some(arn)) => format!(
                "Data stream {}",
                arn.rsplit_once("stream/")
                    .map(|(_, name)| name)
                    .unwrap_or(arn)
            ),
            ("kinesis_stream", None) => "Data stream (deleted)".to_owned(),
            _ => "Direct put".to_owned(),
        }
    }
}

/// `PutDeliveryRecordsResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutDeliveryRecordsResponse {
    pub record_ids: Vec<String>,
}

/// `DeliveryCounts`: one minute (or a window's total) of a delivery stream's delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryCounts {
    pub read_records: u64,
    pub read_bytes: u64,
    pub delivered_records: u64,
    pub delivered_bytes: u64,
    pub deliveries: u64,
    pub failed_attempts: u64,
    pub duplicates: u64,
    pub freshness_ms_max: u64,
}

/// `DeliveryMinuteView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMinute {
    pub minute: String,
    pub counts: DeliveryCounts,
}

impl DeliveryMinute {
    /// `HH:MM` of the minute.
    pub fn minute_label(&self) -> String {
        hour_minute(&self.minute)
    }
}

/// `DeliveryMetricsView`: per-minute points, oldest first, and their totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMetrics {
    pub period_seconds: u32,
    pub totals: DeliveryCounts,
    pub points: Vec<DeliveryMinute>,
}

/// `DeliveryFailureView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFailure {
    pub occurred_at: String,
    pub stage: String,
    pub message: String,
    pub records: u64,
    pub suppressed: u64,
}

/// `DeliveryFailurePage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFailures {
    pub items: Vec<DeliveryFailure>,
}

/// `StoreView`: where a registered bucket lives (never its secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketStore {
    /// `s3`, `gcs` or `azure`.
    pub kind: String,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub path_style: Option<bool>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub container: Option<String>,
    pub secret_set: bool,
}

impl BucketStore {
    /// Where the bucket is, in words.
    pub fn place(&self) -> String {
        match &*self.kind {
            "s3" => {
                let bucket = self.bucket.clone().unwrap_or_default();
                match &self.endpoint {
                    Some(endpoint) => format!("{endpoint} · bucket {bucket}"),
                    None => format!(
                        "Amazon S3 {} · bucket {bucket}",
                        self.region.clone().unwrap_or_default()
                    ),
                }
            }
            "gcs" => format!(
                "Google Cloud Storage · bucket {}",
                self.bucket.clone().unwrap_or_default()
            ),
            "azure" => format!(
                "Azure account {} · container {}",
                self.account.clone().unwrap_or_default(),
                self.container.clone().unwrap_or_default()
            ),
            other => other.to_owned(),
        }
    }

    /// How Fjord signs in there, in words (never the secret).
    pub fn credentials(&self) -> String {
        match (&self.access_key_id, self.secret_set) {
            (Some(id), true) => format!("Access key {id}"),
            (None, true) => "Key stored (write-only)".to_owned(),
            _ => "The workers' environment".to_owned(),
        }
    }
}

/// `BucketView`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    pub arn: String,
    pub store: BucketStore,
    pub created_at: String,
    pub updated_at: String,
}

/// `BucketList`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketList {
    pub items: Vec<Bucket>,
}
