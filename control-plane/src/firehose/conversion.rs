//! `DataFormatConversionConfiguration`: JSON records to Apache Parquet.
//!
//! Firehose reads the schema from an AWS Glue table; Fjord reads it from the tenant's catalog
//! (`/api/v1/tables`, ADR 017): `SchemaConfiguration`'s `DatabaseName` and `TableName` name a
//! table registered there, whose columns are copied into the spec when the destination is
//! created or updated (Firehose's `VersionId` `LATEST`, read then). The input must be JSON
//! (`OpenXJsonSerDe` or `HiveJsonSerDe`), the output Parquet (`ParquetSerDe`); ORC is refused.

use fjord_common::aws_error::AwsError;
use fjord_common::firehose::{
    DestinationTarget, FormatConversion, ParquetCompression, is_valid_catalog_name,
};
use fjord_common::stream_ref::Validation;
use serde::Deserialize;
use serde_json::Value;

use super::destination::{not_supported, serialization};
use super::{Caller, FirehoseAdmin, store_error};

/// The smallest Parquet page (`PageSizeBytes`, AWS: 64 KiB; default 1 MiB).
const MIN_PAGE_BYTES: i64 = 64 * 1024;
const DEFAULT_PAGE_BYTES: i64 = 1024 * 1024;
/// The smallest block (`BlockSizeBytes`, AWS: 64 MiB); accepted, Fjord writes one row group
/// per object.
const MIN_BLOCK_BYTES: i64 = 64 * 1024 * 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Configuration {
    #[allow(dead_code)]
    enabled: Option<bool>,
    schema_configuration: Option<SchemaConfiguration>,
    input_format_configuration: Option<InputFormat>,
    output_format_configuration: Option<OutputFormat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct SchemaConfiguration {
    #[serde(rename = "RoleARN")]
    #[allow(dead_code)]
    role_arn: Option<String>,
    #[allow(dead_code)]
    catalog_id: Option<String>,
    database_name: Option<String>,
    table_name: Option<String>,
    #[allow(dead_code)]
    region: Option<String>,
    version_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct InputFormat {
    deserializer: Option<Deserializer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Deserializer {
    open_x_json_ser_de: Option<OpenXJson>,
    hive_json_ser_de: Option<HiveJson>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct OpenXJson {
    convert_dots_in_json_keys_to_underscores: Option<bool>,
    case_insensitive: Option<bool>,
    column_to_json_key_mappings: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct HiveJson {
    #[allow(dead_code)]
    timestamp_formats: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct OutputFormat {
    serializer: Option<Serializer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Serializer {
    parquet_ser_de: Option<ParquetSerDe>,
    orc_ser_de: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ParquetSerDe {
    block_size_bytes: Option<i64>,
    page_size_bytes: Option<i64>,
    compression: Option<String>,
    enable_dictionary_compression: Option<bool>,
    max_padding_bytes: Option<i64>,
    writer_version: Option<String>,
}

/// The conversion an enabled `DataFormatConversionConfiguration` asks for, its columns still
/// empty (see [`resolve`]).
pub(crate) fn parse(given: &Value, member: &str) -> Result<FormatConversion, AwsError> {
    let config: Configuration = serde_json::from_value(given.clone()).map_err(|error| {
        serialization(format!(
            "Unable to parse the request: {error} in DataFormatConversionConfiguration"
        ))
    })?;
    let field = |name: &str| format!("{member}.dataFormatConversionConfiguration.{name}");
    let mut validation = Validation::new();
    let schema = config.schema_configuration.unwrap_or_default();
    for (value, name) in [
        (&schema.database_name, "schemaConfiguration.databaseName"),
        (&schema.table_name, "schemaConfiguration.tableName"),
    ] {
        if let Some(value) = value {
            validation.length(value, &field(name), 1, 1024);
        }
    }
    let parquet = config
        .output_format_configuration
        .and_then(|output| output.serializer)
        .unwrap_or_default();
    let serde = parquet.parquet_ser_de.as_ref();
    if let Some(page) = serde.and_then(|serde| serde.page_size_bytes) {
        validation.range(
            page,
            &field("outputFormatConfiguration.serializer.parquetSerDe.pageSizeBytes"),
            MIN_PAGE_BYTES,
            i64::from(i32::MAX),
        );
    }
    if let Some(block) = serde.and_then(|serde| serde.block_size_bytes) {
        validation.range(
            block,
            &field("outputFormatConfiguration.serializer.parquetSerDe.blockSizeBytes"),
            MIN_BLOCK_BYTES,
            i64::from(i32::MAX),
        );
    }
    if let Some(padding) = serde.and_then(|serde| serde.max_padding_bytes) {
        validation.range(
            padding,
            &field("outputFormatConfiguration.serializer.parquetSerDe.maxPaddingBytes"),
            0,
            i64::from(i32::MAX),
        );
    }
    let compression = match serde.and_then(|serde| serde.compression.as_deref()) {
        None => ParquetCompression::Snappy,
        Some(text) => ParquetCompression::from_aws(text).unwrap_or_else(|| {
            validation.fail(
                text,
                &field("outputFormatConfiguration.serializer.parquetSerDe.compression"),
                "Member must satisfy enum value set: [UNCOMPRESSED, GZIP, SNAPPY]",
            );
            ParquetCompression::Snappy
        }),
    };
    let writer_version = serde
        .and_then(|serde| serde.writer_version.clone())
        .unwrap_or_else(|| "V1".to_owned());
    if writer_version != "V1" && writer_version != "V2" {
        validation.fail(
            &writer_version,
            &field("outputFormatConfiguration.serializer.parquetSerDe.writerVersion"),
            "Member must satisfy enum value set: [V1, V2]",
        );
    }
    validation.finish()?;

    if parquet.orc_ser_de.is_some() {
        return Err(not_supported("ORC output (OrcSerDe)"));
    }
    if serde.is_none() {
        return Err(AwsError::invalid_argument(
            "DataFormatConversionConfiguration needs OutputFormatConfiguration.Serializer.ParquetSerDe.",
        ));
    }
    let deserializer = config
        .input_format_configuration
        .and_then(|input| input.deserializer)
        .unwrap_or_default();
    let openx = match (
        deserializer.open_x_json_ser_de,
        deserializer.hive_json_ser_de,
    ) {
        (Some(openx), None) => openx,
        (None, Some(_)) => OpenXJson::default(),
        _ => {
            return Err(AwsError::invalid_argument(
                "DataFormatConversionConfiguration needs exactly one InputFormatConfiguration.Deserializer: OpenXJsonSerDe or HiveJsonSerDe.",
            ));
        }
    };
    if schema
        .version_id
        .as_deref()
        .is_some_and(|version| version != "LATEST")
    {
        return Err(not_supported(
            "A SchemaConfiguration.VersionId other than LATEST",
        ));
    }
    let (Some(database), Some(table)) = (schema.database_name, schema.table_name) else {
        return Err(AwsError::invalid_argument(
            "SchemaConfiguration needs DatabaseName and TableName: a table of the tenant's catalog (/api/v1/tables).",
        ));
    };
    let key_mappings: Vec<(String, String)> = openx
        .column_to_json_key_mappings
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(FormatConversion {
        database,
        table,
        columns: Vec::new(),
        compression,
        page_size_bytes: serde
            .and_then(|serde| serde.page_size_bytes)
            .map_or(DEFAULT_PAGE_BYTES as u32, |page| page as u32),
        dictionary: serde
            .and_then(|serde| serde.enable_dictionary_compression)
            .unwrap_or(true),
        writer_v2: writer_version == "V2",
        case_insensitive: openx.case_insensitive.unwrap_or(true),
        dots_to_underscores: openx
            .convert_dots_in_json_keys_to_underscores
            .unwrap_or(false),
        key_mappings,
    })
}

/// Fills in the columns of the catalog table a conversion names; the table must exist.
pub(crate) async fn resolve(
    admin: &FirehoseAdmin,
    caller: &Caller,
    target: &mut DestinationTarget,
) -> Result<(), AwsError> {
    let Some(conversion) = target.bucket_mut().conversion.as_mut() else {
        return Ok(());
    };
    let missing = || {
        AwsError::invalid_argument(format!(
            "Table {}.{} does not exist in the catalog of account {}: register it with PUT /api/v1/tables/{}/{}.",
            conversion.database,
            conversion.table,
            caller.account_id,
            conversion.database,
            conversion.table
        ))
    };
    if !is_valid_catalog_name(&conversion.database) || !is_valid_catalog_name(&conversion.table) {
        return Err(missing());
    }
    let table = admin
        .store
        .catalog_table(caller.tenant_id, &conversion.database, &conversion.table)
        .await
        .map_err(store_error)?
        .ok_or_else(missing)?;
    let columns = table.columns().ok_or_else(AwsError::internal)?;
    for (column, _) in &conversion.key_mappings {
        if !columns.iter().any(|known| known.name == *column) {
            return Err(AwsError::invalid_argument(format!(
                "ColumnToJsonKeyMappings names {column}, which table {}.{} does not have.",
                conversion.database, conversion.table
            )));
        }
    }
    conversion.columns = columns;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn given(extra: Value) -> Value {
        let mut base = json!({
            "Enabled": true,
            "SchemaConfiguration": {"DatabaseName": "analytics", "TableName": "events",
                                    "RoleARN": "arn:aws:iam::123456789012:role/r"},
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
            base.extend(extra);
        }
        base
    }

    #[test]
    fn defaults_are_aws_defaults() {
        let conversion = parse(&given(json!({})), "m").unwrap();
        assert_eq!(conversion.compression, ParquetCompression::Snappy);
        assert_eq!(conversion.page_size_bytes, 1024 * 1024);
        assert!(conversion.dictionary && conversion.case_insensitive);
        assert!(!conversion.writer_v2 && !conversion.dots_to_underscores);
        assert_eq!(
            (conversion.database.as_str(), conversion.table.as_str()),
            ("analytics", "events")
        );
    }

    #[test]
    fn bad_conversions_get_aws_error_types() {
        for (extra, kind) in [
            (
                json!({"OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "LZO"}}}}),
                "ValidationException",
            ),
            (
                json!({"OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"PageSizeBytes": 1}}}}),
                "ValidationException",
            ),
            (
                json!({"OutputFormatConfiguration": {"Serializer": {"OrcSerDe": {}}}}),
                "InvalidArgumentException",
            ),
            (
                json!({"InputFormatConfiguration": {"Deserializer": {}}}),
                "InvalidArgumentException",
            ),
            (
                json!({"SchemaConfiguration": {"TableName": "events"}}),
                "InvalidArgumentException",
            ),
            (json!({"Surprise": 1}), "SerializationException"),
        ] {
            let error = parse(&given(extra.clone()), "m").unwrap_err();
            assert_eq!(error.kind.type_name(), kind, "{extra}: {}", error.message);
        }
    }
}
