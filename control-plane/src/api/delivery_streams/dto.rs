//! The JSON shapes of the delivery stream endpoints.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Where a delivery stream's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliverySourceKind {
    /// Producers put records (Firehose `DirectPut`).
    DirectPut,
    /// Records are read from a stream of the tenant (Firehose `KinesisStreamAsSource`).
    KinesisStream,
}

/// A destination: a bucket, or with `http_endpoint` an HTTP endpoint whose backup bucket the
/// bucket fields describe. Fields left out take Firehose's defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationRequest {
    /// Deliver to this HTTP endpoint (Firehose's `HttpEndpointDestinationConfiguration`);
    /// the bucket fields are then its backup bucket, for records it does not take.
    pub http_endpoint: Option<HttpEndpointRequest>,
    /// `arn:aws:s3:::<bucket>`.
    #[schema(example = "arn:aws:s3:::lake")]
    pub bucket_arn: Option<String>,
    /// The IAM role Firehose would assume; not checked. Default: a placeholder role of the
    /// tenant's account.
    pub role_arn: Option<String>,
    /// Key prefix, up to 1024 characters; may use `!{timestamp:…}` and `!{firehose:…}`.
    pub prefix: Option<String>,
    /// Prefix for records that could not be delivered, up to 1024 characters; required when
    /// `prefix` has expressions.
    pub error_output_prefix: Option<String>,
    /// Buffer size before delivery, 1-128 MiB (1-64 for an HTTP endpoint; default 5).
    pub buffering_size_mib: Option<i64>,
    /// Buffer age before delivery, 0-900 seconds (default 300).
    pub buffering_interval_seconds: Option<i64>,
    /// `UNCOMPRESSED` (default), `GZIP`, `ZIP`, `Snappy` or `HADOOP_SNAPPY`.
    pub compression: Option<String>,
    /// Record transformation, in Firehose's `ProcessingConfiguration` shape (`Enabled`,
    /// `Processors` with `Type` and `Parameters`); see `docs/firehose-compatibility.md`.
    #[schema(value_type = Option<Object>)]
    pub processing_configuration: Option<serde_json::Value>,
    /// Dynamic partitioning, in Firehose's `DynamicPartitioningConfiguration` shape
    /// (`{"Enabled": true}`); its keys come from a `MetadataExtraction` processor.
    #[schema(value_type = Option<Object>)]
    pub dynamic_partitioning_configuration: Option<serde_json::Value>,
    /// Record format conversion to Parquet, in Firehose's `DataFormatConversionConfiguration`
    /// shape; its `SchemaConfiguration` names a table of `/api/v1/tables`.
    #[schema(value_type = Option<Object>)]
    pub data_format_conversion_configuration: Option<serde_json::Value>,
}

/// An HTTP endpoint destination's endpoint and delivery options.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpEndpointRequest {
    /// The endpoint's http(s) URL, up to 1000 characters (required at creation).
    #[schema(example = "https://ingest.example.com/firehose")]
    pub url: Option<String>,
    /// A display name, 1-256 characters.
    pub name: Option<String>,
    /// Sent as `X-Amz-Firehose-Access-Key`, up to 4096 characters. Write-only: sealed, never
    /// shown; left out on an update it is kept, empty it is removed.
    pub access_key: Option<String>,
    /// `NONE` (default) or `GZIP`.
    pub content_encoding: Option<String>,
    /// Sent with every request as `X-Amz-Firehose-Common-Attributes` (at most 50).
    pub common_attributes: Option<BTreeMap<String, String>>,
    /// How long a failing request is retried before its records go to the backup bucket,
    /// 0-7200 seconds (default 300).
    pub retry_duration_seconds: Option<i64>,
    /// `FailedDataOnly` (default) or `AllData` (every record also goes to the backup bucket).
    pub backup_mode: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeliveryStreamRequest {
    /// 1-64 characters of `[a-zA-Z0-9_.-]`, unique in the tenant.
    #[schema(example = "events")]
    pub name: String,
    /// Default `direct_put`.
    #[serde(default)]
    pub source: Option<DeliverySourceKind>,
    /// For a `kinesis_stream` source: the name of the tenant's stream (ACTIVE) to read.
    #[serde(default)]
    pub source_stream: Option<String>,
    pub destination: DestinationRequest,
    /// At most 50 tags; keys 1-128 characters, values 0-256, as Firehose allows them.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
}

/// A destination change: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDestinationRequest {
    /// The `version_id` the change is based on; a 409 if the delivery stream changed since.
    pub version_id: i64,
    pub destination: DestinationRequest,
}

/// A destination as configured, with defaults filled in. For an HTTP endpoint the bucket
/// fields are its backup bucket's.
#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationView {
    #[schema(example = "destinationId-000000000001")]
    pub destination_id: String,
    /// Present when the destination is an HTTP endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_endpoint: Option<HttpEndpointView>,
    pub bucket_arn: String,
    pub bucket: String,
    pub prefix: String,
    pub error_output_prefix: String,
    pub buffering_size_mib: u32,
    pub buffering_interval_seconds: u32,
    pub compression: String,
    /// The transformation chain, in order (empty: records are delivered as put).
    pub processors: Vec<ProcessorView>,
    /// Dynamic partitioning keys from the extraction query (empty: not partitioned by query).
    pub partition_keys: Vec<PartitionKeyView>,
    /// Present when records are converted to Parquet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<ConversionView>,
}

/// Record format conversion as configured: the catalog table whose columns were read when
/// the destination was last created or updated.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversionView {
    pub database: String,
    pub table: String,
    /// `parquet`.
    pub format: String,
    /// `SNAPPY`, `GZIP` or `UNCOMPRESSED`.
    pub compression: String,
    /// The columns written, as `<name> <type>`.
    pub columns: Vec<String>,
}

/// An HTTP endpoint as configured (its access key is never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct HttpEndpointView {
    pub url: String,
    pub name: String,
    /// Whether an access key is configured.
    pub access_key_set: bool,
    /// `NONE` or `GZIP`.
    pub content_encoding: String,
    pub common_attributes: BTreeMap<String, String>,
    pub retry_duration_seconds: u32,
    /// `FailedDataOnly` or `AllData`.
    pub backup_mode: String,
}

/// One step of a delivery stream's transformation chain.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProcessorView {
    /// A function called over HTTP with the Lambda contract.
    Function {
        url: String,
        retries: u32,
        batch_bytes: u64,
    },
    /// A delimiter after every record.
    AppendDelimiter { delimiter: String },
}

/// A dynamic partitioning key and its path into a record's JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartitionKeyView {
    pub name: String,
    /// JQ-style, e.g. `.customer.id`.
    pub path: String,
}

/// A delivery stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryStreamView {
    pub name: String,
    /// The delivery stream's ARN on the AWS endpoint.
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `DELETING`, `CREATING_FAILED` or `DELETING_FAILED`.
    #[schema(example = "ACTIVE")]
    pub status: String,
    pub source: DeliverySourceKind,
    /// For a `kinesis_stream` source, the stream's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_stream_arn: Option<String>,
    /// Firehose's `VersionId`: 1 at creation, bumped by every destination change.
    pub version_id: i64,
    pub destination: DestinationView,
    pub tags: BTreeMap<String, String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryStreamPage {
    pub items: Vec<DeliveryStreamView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveryStreamsQuery {
    /// 1-200, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One record to put.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRecordEntry {
    /// The record's bytes, base64; at most 1,000 KiB decoded.
    pub data: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutDeliveryRecordsRequest {
    /// 1 to 500 records, at most 4 MiB in all (decoded).
    pub records: Vec<DeliveryRecordEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PutDeliveryRecordsResponse {
    /// Each record's `RecordId` as `PutRecordBatch` answers it, in request order.
    pub record_ids: Vec<String>,
}
