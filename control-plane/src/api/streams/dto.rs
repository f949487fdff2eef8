//! The JSON shapes of the stream endpoints.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// How a stream scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// A fixed number of shards, given by `shard_count`.
    Provisioned,
    /// Starts with 4 shards; counts against the on-demand stream quota.
    OnDemand,
}

impl StreamMode {
    pub(super) fn as_kinesis(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::OnDemand => "ON_DEMAND",
        }
    }

    pub(super) fn from_kinesis(mode: &str) -> Self {
        if mode == "ON_DEMAND" {
            Self::OnDemand
        } else {
            Self::Provisioned
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStreamRequest {
    /// 1-128 characters of `[a-zA-Z0-9_.-]`, unique in the tenant.
    #[schema(example = "orders")]
    pub name: String,
    pub mode: StreamMode,
    /// Shards of a provisioned stream, 1-100000; not given for on-demand streams.
    #[serde(default)]
    pub shard_count: Option<i64>,
    /// Hours records are kept, 24-8760 (default 24).
    #[serde(default)]
    pub retention_hours: Option<i64>,
    /// At most 50 tags; keys 1-128 characters, values 0-256.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
}

/// A shard: a slice of the hash key space, open unless it was closed by a reshard.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShardView {
    #[schema(example = "shardId-000000000000")]
    pub shard_id: String,
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    pub starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending_sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_shard_id: Option<String>,
    pub open: bool,
}

/// A stream with its shards and tags.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamView {
    pub name: String,
    /// The stream's ARN on the AWS endpoint.
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `UPDATING` or `DELETING`.
    #[schema(example = "ACTIVE")]
    pub status: String,
    pub mode: StreamMode,
    pub retention_hours: i32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub open_shard_count: usize,
    pub shards: Vec<ShardView>,
    pub tags: BTreeMap<String, String>,
}

/// A stream as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamSummary {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub mode: StreamMode,
    pub retention_hours: i32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Shards not closed by a reshard, as `GET /api/v1/streams/{name}` counts them.
    pub open_shard_count: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StreamPage {
    pub items: Vec<StreamSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListStreamsQuery {
    /// Streams per page, 1-200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// 24-8760 hours; longer or shorter than now.
    pub retention_hours: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsRequest {
    /// Tags to add or overwrite; a stream keeps at most 50.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagsView {
    /// All of the stream's tags after the change.
    pub tags: BTreeMap<String, String>,
}

/// The tenant's quotas and what it uses of them. A create that would pass a count quota is
/// refused with a 403 `quota-exceeded` problem; a quota lowered below its usage keeps what
/// exists and refuses new creates.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsView {
    /// Streams of any mode (counting streams still being deleted).
    pub stream_limit: i32,
    pub stream_count: i64,
    pub shard_limit: i32,
    pub open_shard_count: i64,
    pub on_demand_stream_limit: i32,
    pub on_demand_stream_count: i64,
    pub delivery_stream_limit: i32,
    /// Delivery streams in any state (counting those still being deleted).
    pub delivery_stream_count: i64,
    pub app_limit: i32,
    /// Always 0 until analytics apps exist.
    pub app_count: i64,
    /// Records per second a tenant may write, per gateway (and per control-plane process for
    /// records over REST); `null` is unlimited. Writes over it are refused (a 429 problem
    /// with `Retry-After` here, `ProvisionedThroughputExceededException` on the AWS endpoint).
    pub write_records_per_second: Option<i64>,
    /// Bytes (partition keys plus data) per second, as `write_records_per_second`.
    pub write_bytes_per_second: Option<i64>,
}
