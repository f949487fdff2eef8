//! The Firehose (delivery streams) API surface both planes share: which actions exist and who
//! serves them, AWS's documented limits, and the delivery stream spec the control plane
//! publishes to the config bucket for gateways (puts) and workers (delivery).
//!
//! The spec carries Fjord's normalised form of a destination: the control plane validates the
//! AWS configuration (`ExtendedS3DestinationConfiguration`, …) and derives it; the data plane
//! never parses AWS configuration itself.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `X-Amz-Target` prefix of the Firehose API (AWS JSON 1.1).
pub const TARGET_PREFIX: &str = "Firehose_20150804.";

/// Delivery stream administration: served by the control plane, forwarded by the gateway.
pub const ADMIN_ACTIONS: &[&str] = &[
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "UpdateDestination",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "ListTagsForDeliveryStream",
];

/// Record actions: served by the gateway into JetStream.
pub const RECORD_ACTIONS: &[&str] = &["PutRecord", "PutRecordBatch"];

/// Largest record, before base64 (AWS: 1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_024_000;
/// Most records in one `PutRecordBatch`.
pub const MAX_BATCH_RECORDS: usize = 500;
/// Largest `PutRecordBatch` in total record bytes (AWS: 4 MiB).
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// A record's `RecordId` as `PutRecord`/`PutRecordBatch` answer it: the JetStream sequence of
/// the message holding the record, as 56 decimal digits (the length of AWS's ids).
///
/// Records are stored one JetStream message per record on
/// [`Names::delivery_subject`](crate::naming::Names::delivery_subject), the payload being the
/// record's bytes as put (no envelope); the gateway and the REST API both write them so.
pub fn record_id(sequence: u64) -> String {
    format!("{sequence:056}")
}

/// Lifecycle of a delivery stream, as Firehose reports `DeliveryStreamStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStreamStatus {
    Creating,
    CreatingFailed,
    Deleting,
    DeletingFailed,
    Active,
}

impl DeliveryStreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::CreatingFailed => "CREATING_FAILED",
            Self::Deleting => "DELETING",
            Self::DeletingFailed => "DELETING_FAILED",
            Self::Active => "ACTIVE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Creating,
            Self::CreatingFailed,
            Self::Deleting,
            Self::DeletingFailed,
            Self::Active,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// Where a delivery stream's records come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeliverySource {
    /// Producers call `PutRecord`/`PutRecordBatch` (`DeliveryStreamType: DirectPut`).
    DirectPut,
    /// Records are read from a Kinesis data stream of the same tenant
    /// (`DeliveryStreamType: KinesisStreamAsSource`).
    KinesisStream { stream_id: Uuid, stream_arn: String },
}

/// Buffering hints: a buffer is delivered when it holds `size_mib` or is `interval_seconds`
/// old, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffering {
    pub size_mib: u32,
    pub interval_seconds: u32,
}

/// Compression of delivered objects (Firehose's `CompressionFormat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compression {
    #[default]
    Uncompressed,
    Gzip,
    Zip,
    Snappy,
    HadoopSnappy,
}

impl Compression {
    /// Firehose's wire name (`Snappy` and `HADOOP_SNAPPY` are spelled as AWS spells them).
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Uncompressed => "UNCOMPRESSED",
            Self::Gzip => "GZIP",
            Self::Zip => "ZIP",
            Self::Snappy => "Snappy",
            Self::HadoopSnappy => "HADOOP_SNAPPY",
        }
    }

    pub fn from_aws(text: &str) -> Option<Self> {
        [
            Self::Uncompressed,
            Self::Gzip,
            Self::Zip,
            Self::Snappy,
            Self::HadoopSnappy,
        ]
        .into_iter()
        .find(|c| c.as_aws() == text)
    }

    /// The file name extension Firehose appends to delivered objects.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Uncompressed => "",
            Self::Gzip => ".gz",
            Self::Zip => ".zip",
            Self::Snappy | Self::HadoopSnappy => ".snappy",
        }
    }
}

/// Delivery to an object store bucket (S3, S3-compatible, or the embedded local filesystem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectStoreDestination {
    /// `arn:aws:s3:::<bucket>`, as given.
    pub bucket_arn: String,
    /// The bucket name from the ARN.
    pub bucket: String,
    /// Key prefix, possibly with `!{timestamp:…}` and `!{firehose:…}` expressions.
    pub prefix: String,
    /// Where records that could not be delivered or processed go; may use the same
    /// expressions. Empty: Firehose's default (`<prefix>` is not used; see the docs).
    pub error_output_prefix: String,
    pub buffering: Buffering,
    pub compression: Compression,
    /// Where the bucket lives, if the tenant registered it (see [`crate::buckets`]); `None`:
    /// the embedded local filesystem store. Filled in by the control plane when it publishes
    /// the spec (the stored destination never holds it), so a changed registration reaches
    /// every delivery stream naming the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<crate::buckets::RegisteredBucket>,
    /// The record transformation chain (`ProcessingConfiguration` when enabled), applied in
    /// order to each buffer before it is delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processors: Vec<Processor>,
    /// Dynamic partitioning (`DynamicPartitioningConfiguration` enabled): the keys the
    /// prefix's `!{partitionKeyFromQuery:<name>}` expressions take from each record, from the
    /// `MetadataExtraction` processor's query. Empty: not partitioned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_keys: Vec<PartitionKey>,
    /// Record format conversion (`DataFormatConversionConfiguration` enabled): JSON records
    /// become Parquet objects with this schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<FormatConversion>,
}

/// JSON records to Apache Parquet, with the columns of a table of the tenant's catalog (the
/// `SchemaConfiguration`'s `DatabaseName`/`TableName`, read when the destination is created or
/// updated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatConversion {
    pub database: String,
    pub table: String,
    pub columns: Vec<Column>,
    pub compression: ParquetCompression,
    /// `ParquetSerDe.PageSizeBytes`.
    pub page_size_bytes: u32,
    /// `ParquetSerDe.EnableDictionaryCompression`.
    pub dictionary: bool,
    /// `ParquetSerDe.WriterVersion` `V2` (else `V1`).
    pub writer_v2: bool,
    /// How JSON keys are matched to columns (`OpenXJsonSerDe`'s options; the Hive SerDe's
    /// are its defaults).
    pub case_insensitive: bool,
    pub dots_to_underscores: bool,
    /// `ColumnToJsonKeyMappings`: the JSON key a column reads, where it is not its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_mappings: Vec<(String, String)>,
}

/// `ParquetSerDe.Compression`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParquetCompression {
    Uncompressed,
    Gzip,
    #[default]
    Snappy,
}

impl ParquetCompression {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Uncompressed => "UNCOMPRESSED",
            Self::Gzip => "GZIP",
            Self::Snappy => "SNAPPY",
        }
    }

    pub fn from_aws(text: &str) -> Option<Self> {
        [Self::Uncompressed, Self::Gzip, Self::Snappy]
            .into_iter()
            .find(|c| c.as_aws() == text)
    }
}

/// One column of a catalog table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
}

/// The column types format conversion writes (Hive's names, as Glue spells them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    String,
    Boolean,
    Tinyint,
    Smallint,
    Int,
    Bigint,
    Float,
    Double,
    Date,
    Timestamp,
}

impl ColumnType {
    /// Every type, in the order the docs list them.
    pub const ALL: [Self; 10] = [
        Self::String,
        Self::Boolean,
        Self::Tinyint,
        Self::Smallint,
        Self::Int,
        Self::Bigint,
        Self::Float,
        Self::Double,
        Self::Date,
        Self::Timestamp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Tinyint => "tinyint",
            Self::Smallint => "smallint",
            Self::Int => "int",
            Self::Bigint => "bigint",
            Self::Float => "float",
            Self::Double => "double",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
        }
    }

    /// A Hive type name: one of [`ColumnType::ALL`], or `integer`, `varchar(n)`, `char(n)`
    /// (as `int`, `string`); case-insensitive.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        if text == "integer" {
            return Some(Self::Int);
        }
        for wrapper in ["varchar(", "char("] {
            if let Some(length) = text.strip_prefix(wrapper).and_then(|t| t.strip_suffix(')'))
                && length.parse::<u32>().is_ok_and(|n| n > 0)
            {
                return Some(Self::String);
            }
        }
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Whether `name` is a catalog database, table or column name: 1-255 of `[a-z0-9_]`.
pub fn is_valid_catalog_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One dynamic partitioning key: its name and the path to its value in a record's JSON
/// (`.customer.id` is `["customer", "id"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionKey {
    pub name: String,
    pub path: Vec<String>,
}

/// One step of a delivery stream's record transformation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Processor {
    /// Firehose's `Lambda` processor: the records are sent to a function over HTTP with the
    /// Lambda transformation contract (`recordId`, base64 `data`; each answered `Ok`,
    /// `Dropped` or `ProcessingFailed`). `url` is the `LambdaArn` parameter, which Fjord takes
    /// as the function's http(s) URL.
    Function {
        url: String,
        /// Further attempts after a failed call (`NumberOfRetries`, 0-300, default 3).
        retries: u32,
        /// Most record bytes per call (`BufferSizeInMBs`, 0.2-3 MB, default 1 MB).
        batch_bytes: u64,
    },
    /// `AppendDelimiterToRecord`: `delimiter` (escapes already resolved) after each record.
    AppendDelimiter { delimiter: String },
}

/// One destination of a delivery stream, with Firehose's destination id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationSpec {
    /// `destinationId-000000000001`.
    pub destination_id: String,
    pub target: DestinationTarget,
}

/// What a destination delivers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DestinationTarget {
    ObjectStore(ObjectStoreDestination),
    HttpEndpoint(HttpEndpointDestination),
}

impl DestinationTarget {
    /// When a buffer is delivered.
    pub fn buffering(&self) -> Buffering {
        match self {
            Self::ObjectStore(object) => object.buffering,
            Self::HttpEndpoint(http) => http.buffering,
        }
    }

    /// The bucket it writes objects to: the destination itself, or an HTTP endpoint's backup.
    pub fn bucket(&self) -> &ObjectStoreDestination {
        match self {
            Self::ObjectStore(object) => object,
            Self::HttpEndpoint(http) => &http.backup,
        }
    }

    /// [`DestinationTarget::bucket`], to fill in where the bucket lives.
    pub fn bucket_mut(&mut self) -> &mut ObjectStoreDestination {
        match self {
            Self::ObjectStore(object) => object,
            Self::HttpEndpoint(http) => &mut http.backup,
        }
    }

    /// The record transformation chain.
    pub fn processors(&self) -> &[Processor] {
        match self {
            Self::ObjectStore(object) => &object.processors,
            Self::HttpEndpoint(http) => &http.processors,
        }
    }
}

/// How an HTTP endpoint's request bodies are encoded (`RequestConfiguration.ContentEncoding`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContentEncoding {
    #[default]
    None,
    Gzip,
}

/// Delivery to an HTTP endpoint with Firehose's HTTP endpoint delivery contract: each buffer
/// is one POST of `{requestId, timestamp, records: [{data}]}` (data base64), answered 200
/// with the same `requestId`. A request that keeps failing is retried for
/// `retry_duration_seconds`, then its records go to the backup bucket's error output
/// (`http-endpoint-failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpEndpointDestination {
    /// `EndpointConfiguration.Url`: http(s).
    pub url: String,
    /// `EndpointConfiguration.Name` (may be empty).
    pub name: String,
    /// `EndpointConfiguration.AccessKey`, sealed for [`http_access_key_context`]; sent verbatim
    /// as `X-Amz-Firehose-Access-Key`. `None`: the header is not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_access_key: Option<String>,
    pub content_encoding: ContentEncoding,
    /// `RequestConfiguration.CommonAttributes`, sent as `X-Amz-Firehose-Common-Attributes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub common_attributes: Vec<(String, String)>,
    pub buffering: Buffering,
    /// `RetryOptions.DurationInSeconds` (0-7200): how long a failing request is retried.
    pub retry_duration_seconds: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processors: Vec<Processor>,
    /// `S3BackupMode: AllData`: every buffer also goes to the backup bucket (else only what
    /// failed does).
    pub backup_all_data: bool,
    /// `S3Configuration`: where failed (or all) records go.
    pub backup: ObjectStoreDestination,
}

/// What a delivery stream's HTTP endpoint access key is sealed for.
pub fn http_access_key_context(delivery_stream_id: Uuid) -> String {
    format!("delivery-stream:{delivery_stream_id}:http-endpoint-access-key")
}

/// One delivery stream as gateways and workers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStreamSpec {
    pub delivery_stream_id: Uuid,
    pub tenant_id: Uuid,
    /// The tenant's 12-digit account id (objects on the local filesystem live under it).
    pub account_id: String,
    pub name: String,
    /// `arn:aws:firehose:<region>:<account>:deliverystream/<name>`.
    pub arn: String,
    pub status: DeliveryStreamStatus,
    pub source: DeliverySource,
    pub destination: DestinationSpec,
    /// Firehose's `VersionId`: starts at 1, bumped by every `UpdateDestination`.
    pub version_id: i64,
    /// Bumped by the control plane on every change, so caches can ignore stale pushes.
    pub generation: i64,
}

impl DeliveryStreamSpec {
    /// Whether `PutRecord`/`PutRecordBatch` may write to it.
    pub fn accepts_puts(&self) -> bool {
        self.status == DeliveryStreamStatus::Active
            && matches!(self.source, DeliverySource::DirectPut)
    }
}

/// `arn:aws:firehose:<region>:<account>:deliverystream/<name>`.
pub fn delivery_stream_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:firehose:{region}:{account_id}:deliverystream/{name}")
}

/// Whether `name` is a valid delivery stream name (1–64 of `[a-zA-Z0-9_.-]`).
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_compressions_round_trip_their_aws_names() {
        for text in [
            "CREATING",
            "CREATING_FAILED",
            "DELETING",
            "DELETING_FAILED",
            "ACTIVE",
        ] {
            assert_eq!(DeliveryStreamStatus::parse(text).unwrap().as_str(), text);
        }
        assert_eq!(DeliveryStreamStatus::parse("active"), None);
        for text in ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"] {
            assert_eq!(Compression::from_aws(text).unwrap().as_aws(), text);
        }
        assert_eq!(Compression::from_aws("SNAPPY"), None);
    }

    #[test]
    fn column_types_take_hive_names() {
        for kind in ColumnType::ALL {
            assert_eq!(ColumnType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ColumnType::parse("INTEGER"), Some(ColumnType::Int));
        assert_eq!(ColumnType::parse("varchar(12)"), Some(ColumnType::String));
        assert_eq!(ColumnType::parse("char(0)"), None);
        assert_eq!(ColumnType::parse("array<string>"), None);
        assert!(is_valid_catalog_name("web_events_2"));
        assert!(!is_valid_catalog_name("Web"));
        assert!(!is_valid_catalog_name(""));
    }

    #[test]
    fn record_ids_are_56_digits() {
        assert_eq!(record_id(42).len(), 56);
        assert!(record_id(42).ends_with("042"));
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(is_valid_name("events-2026.v1_a"));
        assert!(is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(!is_valid_name("has space"));
        assert!(!is_valid_name("slash/no"));
    }

    #[test]
    fn specs_survive_the_config_bucket() {
        let spec = DeliveryStreamSpec {
            delivery_stream_id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            account_id: "123456789012".to_owned(),
            name: "events".to_owned(),
            arn: delivery_stream_arn("us-east-1", "123456789012", "events"),
            status: DeliveryStreamStatus::Active,
            source: DeliverySource::DirectPut,
            destination: DestinationSpec {
                destination_id: "destinationId-000000000001".to_owned(),
                target: DestinationTarget::ObjectStore(ObjectStoreDestination {
                    bucket_arn: "arn:aws:s3:::lake".to_owned(),
                    bucket: "lake".to_owned(),
                    prefix: "events/!{timestamp:yyyy/MM/dd}/".to_owned(),
                    error_output_prefix: String::new(),
                    buffering: Buffering {
                        size_mib: 5,
                        interval_seconds: 300,
                    },
                    compression: Compression::Gzip,
                    store: None,
                    processors: vec![Processor::AppendDelimiter {
                        delimiter: "\n".to_owned(),
                    }],
                    partition_keys: vec![PartitionKey {
                        name: "customer".to_owned(),
                        path: vec!["customer".to_owned(), "id".to_owned()],
                    }],
                    conversion: Some(FormatConversion {
                        database: "analytics".to_owned(),
                        table: "events".to_owned(),
                        columns: vec![Column {
                            name: "id".to_owned(),
                            kind: ColumnType::Bigint,
                        }],
                        compression: ParquetCompression::Snappy,
                        page_size_bytes: 1024 * 1024,
                        dictionary: true,
                        writer_v2: false,
                        case_insensitive: true,
                        dots_to_underscores: false,
                        key_mappings: Vec::new(),
                    }),
                }),
            },
            version_id: 1,
            generation: 3,
        };
        let text = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            serde_json::from_str::<DeliveryStreamSpec>(&text).unwrap(),
            spec
        );
        assert!(spec.accepts_puts());
        assert_eq!(
            spec.arn,
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/events"
        );
    }
}
