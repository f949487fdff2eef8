//! Record format conversion: JSON records into one Apache Parquet object, with a catalog
//! table's columns (`DataFormatConversionConfiguration`, see `docs/firehose-compatibility.md`).
//!
//! Each record must be one JSON object. A column takes the value of its key (its name, or the
//! key `ColumnToJsonKeyMappings` gives it; matched ignoring case unless `CaseInsensitive` is
//! off; dots in keys read as underscores with `ConvertDotsInJsonKeysToUnderscores`); a missing
//! key or `null` is a null. Values convert as Hive's JSON SerDes convert them: strings take
//! any scalar (objects and arrays as their JSON text), numbers and booleans also from their
//! text, dates from `yyyy-MM-dd`, timestamps from epoch milliseconds or ISO-8601 /
//! `yyyy-MM-dd HH:mm:ss[.fff]` (UTC). A record that is not a JSON object, or whose value does
//! not fit its column, is not written: it goes to the error output `format-conversion-failed`
//! with the reason, and the rest of the buffer is written.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int8Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use fjord_common::firehose::{ColumnType, FormatConversion, ParquetCompression};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};
use serde_json::Value;

use super::buffer::Record;

/// The error output of records that could not be converted.
pub(crate) const FORMAT_CONVERSION_FAILED: &str = "format-conversion-failed";

/// A buffer converted: the Parquet object (`None` when no record converted) and the records
/// that did not, with why.
pub(crate) struct Converted {
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) failed: Vec<(Record, String)>,
}

/// One value, converted for its column.
enum Scalar {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Real(f64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since 1970-01-01T00:00:00.
    Millis(i64),
}

/// The Arrow schema of the conversion's columns (all nullable).
fn schema(conversion: &FormatConversion) -> Schema {
    Schema::new(
        conversion
            .columns
            .iter()
            .map(|column| {
                let data_type = match column.kind {
                    ColumnType::String => DataType::Utf8,
                    ColumnType::Boolean => DataType::Boolean,
                    ColumnType::Tinyint => DataType::Int8,
                    ColumnType::Smallint => DataType::Int16,
                    ColumnType::Int => DataType::Int32,
                    ColumnType::Bigint => DataType::Int64,
                    ColumnType::Float => DataType::Float32,
                    ColumnType::Double => DataType::Float64,
                    ColumnType::Date => DataType::Date32,
                    ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
                };
                Field::new(&column.name, data_type, true)
            })
            .collect::<Vec<_>>(),
    )
}

/// Converts `records`; an error only when the Parquet writer itself fails.
pub(crate) fn convert(
    conversion: &FormatConversion,
    records: &[Record],
) -> Result<Converted, String> {
    let mut rows: Vec<Vec<Scalar>> = Vec::with_capacity(records.len());
    let mut failed = Vec::new();
    for record in records {
        match row(conversion, &record.data) {
            Ok(row) => rows.push(row),
            Err(reason) => failed.push((record.clone(), reason)),
        }
    }
    if rows.is_empty() {
        return Ok(Converted { body: None, failed });
    }
    let schema = Arc::new(schema(conversion));
    let columns: Vec<ArrayRef> = conversion
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| array(column.kind, rows.iter().map(|row| &row[index])))
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    let properties = WriterProperties::builder()
        .set_compression(match conversion.compression {
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
            ParquetCompression::Gzip => Compression::GZIP(GzipLevel::default()),
            ParquetCompression::Snappy => Compression::SNAPPY,
        })
        .set_data_page_size_limit(conversion.page_size_bytes as usize)
        .set_dictionary_enabled(conversion.dictionary)
        .set_writer_version(if conversion.writer_v2 {
            WriterVersion::PARQUET_2_0
        } else {
            WriterVersion::PARQUET_1_0
        })
        .set_created_by(format!("Fjord {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut body = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut body, schema, Some(properties)).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(Converted {
        body: Some(body),
        failed,
    })
}

/// The Arrow array of one column's values.
fn array<'a>(kind: ColumnType, values: impl Iterator<Item = &'a Scalar>) -> ArrayRef {
    macro_rules! build {
        ($builder:ty, $pattern:pat => $value:expr) => {{
            let mut builder = <$builder>::new();
            for value in values {
                match value {
                    $pattern => builder.append_value($value),
                    _ => builder.append_null(),
                }
            }
            Arc::new(builder.finish()) as ArrayRef
        }};
    }
    match kind {
        ColumnType::String => build!(StringBuilder, Scalar::Text(text) => text),
        ColumnType::Boolean => build!(BooleanBuilder, Scalar::Bool(flag) => *flag),
        // The values were range-checked when the row was made.
        ColumnType::Tinyint => build!(Int8Builder, Scalar::Int(n) => *n as i8),
        ColumnType::Smallint => build!(Int16Builder, Scalar::Int(n) => *n as i16),
        ColumnType::Int => build!(Int32Builder, Scalar::Int(n) => *n as i32),
        ColumnType::Bigint => build!(Int64Builder, Scalar::Int(n) => *n),
        ColumnType::Float => build!(Float32Builder, Scalar::Real(x) => *x as f32),
        ColumnType::Double => build!(Float64Builder, Scalar::Real(x) => *x),
        ColumnType::Date => build!(Date32Builder, Scalar::Date(days) => *days),
        ColumnType::Timestamp => build!(TimestampMillisecondBuilder, Scalar::Millis(ms) => *ms),
    }
}

/// One record's values, column by column, or why it cannot be converted.
fn row(conversion: &FormatConversion, data: &[u8]) -> Result<Vec<Scalar>, String> {
    let value: Value =
        serde_json::from_slice(data).map_err(|error| format!("the record is not JSON: {error}"))?;
    let Value::Object(object) = value else {
        return Err("the record is not a JSON object".to_owned());
    };
    conversion
        .columns
        .iter()
        .map(|column| {
            let key = conversion
                .key_mappings
                .iter()
                .find(|(name, _)| *name == column.name)
                .map_or(column.name.as_str(), |(_, key)| key.as_str());
            let found = object.iter().find(|(candidate, _)| {
                let candidate = if conversion.dots_to_underscores {
                    std::borrow::Cow::Owned(candidate.replace('.', "_"))
                } else {
                    std::borrow::Cow::Borrowed(candidate.as_str())
                };
                if conversion.case_insensitive {
                    candidate.eq_ignore_ascii_case(key)
                } else {
                    candidate == key
                }
            });
            match found.map(|(_, value)| value) {
                None | Some(Value::Null) => Ok(Scalar::Null),
                Some(value) => scalar(column.kind, value).ok_or_else(|| {
                    format!(
                        "the value of {} ({value}) is not a {}",
                        column.name,
                        column.kind.as_str()
                    )
                }),
            }
        })
        .collect()
}

/// `value` as a `kind`, if it converts.
fn scalar(kind: ColumnType, value: &Value) -> Option<Scalar> {
    let text = value.as_str();
    match kind {
        ColumnType::String => Some(Scalar::Text(match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })),
        ColumnType::Boolean => match value {
            Value::Bool(flag) => Some(Scalar::Bool(*flag)),
            _ => match text?.to_ascii_lowercase().as_str() {
                "true" => Some(Scalar::Bool(true)),
                "false" => Some(Scalar::Bool(false)),
                _ => None,
            },
        },
        ColumnType::Tinyint | ColumnType::Smallint | ColumnType::Int | ColumnType::Bigint => {
            let n = match value {
                Value::Number(number) => number.as_i64()?,
                _ => text?.trim().parse::<i64>().ok()?,
            };
            let (low, high) = match kind {
                ColumnType::Tinyint => (i64::from(i8::MIN), i64::from(i8::MAX)),
                ColumnType::Smallint => (i64::from(i16::MIN), i64::from(i16::MAX)),
                ColumnType::Int => (i64::from(i32::MIN), i64::from(i32::MAX)),
                _ => (i64::MIN, i64::MAX),
            };
            (low..=high).contains(&n).then_some(Scalar::Int(n))
        }
        ColumnType::Float | ColumnType::Double => {
            let x = match value {
                Value::Number(number) => number.as_f64()?,
                _ => text?.trim().parse::<f64>().ok()?,
            };
            Some(Scalar::Real(x))
        }
        ColumnType::Date => {
            let date = NaiveDate::parse_from_str(text?.trim(), "%Y-%m-%d").ok()?;
            let days = date.signed_duration_since(NaiveDate::default()).num_days();
            i32::try_from(days).ok().map(Scalar::Date)
        }
        ColumnType::Timestamp => match value {
            Value::Number(number) => number.as_i64().map(Scalar::Millis),
            _ => timestamp_millis(text?.trim()).map(Scalar::Millis),
        },
    }
}

/// ISO-8601 with an offset, or `yyyy-MM-dd[ T]HH:mm:ss[.fff]` read as UTC.
fn timestamp_millis(text: &str) -> Option<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|at| at.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array as _;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Float64Type, Int8Type, Int64Type, TimestampMillisecondType,
    };
    use chrono::Utc;
    use fjord_common::firehose::Column;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn conversion() -> FormatConversion {
        let column = |name: &str, kind| Column {
            name: name.to_owned(),
            kind,
        };
        FormatConversion {
            database: "analytics".to_owned(),
            table: "events".to_owned(),
            columns: vec![
                column("id", ColumnType::Bigint),
                column("name", ColumnType::String),
                column("score", ColumnType::Double),
                column("ok", ColumnType::Boolean),
                column("day", ColumnType::Date),
                column("at", ColumnType::Timestamp),
                column("level", ColumnType::Tinyint),
                column("user_id", ColumnType::String),
            ],
            compression: ParquetCompression::Snappy,
            page_size_bytes: 1024 * 1024,
            dictionary: true,
            writer_v2: false,
            case_insensitive: true,
            dots_to_underscores: true,
            key_mappings: vec![("name".to_owned(), "full_name".to_owned())],
        }
    }

    fn record(text: &str) -> Record {
        Record {
            data: bytes::Bytes::from(text.to_owned()),
            arrival: Utc::now(),
            function_keys: None,
        }
    }

    fn read(body: &[u8]) -> RecordBatch {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(body.to_vec()))
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.len(), 1);
        batches.into_iter().next().unwrap()
    }

    #[test]
    fn json_records_become_parquet_rows() {
        let records = [
            record(
                r#"{"ID": 1, "full_name": "Ada", "score": 9.5, "ok": true, "day": "2026-11-27", "at": "2026-11-27T10:00:00Z", "level": 3, "user.id": 42}"#,
            ),
            record(
                r#"{"id": "2", "full_name": {"first": "Bo"}, "score": "1e3", "ok": "FALSE", "at": 1795773600000}"#,
            ),
            record("{\"id\": 3}\n"),
        ];
        for compression in [
            ParquetCompression::Snappy,
            ParquetCompression::Gzip,
            ParquetCompression::Uncompressed,
        ] {
            let converted = convert(
                &FormatConversion {
                    compression,
                    ..conversion()
                },
                &records,
            )
            .unwrap();
            assert!(converted.failed.is_empty());
            let batch = read(&converted.body.unwrap());
            assert_eq!(batch.num_rows(), 3);
            let ids = batch.column(0).as_primitive::<Int64Type>();
            assert_eq!(ids.values().to_vec(), [1, 2, 3]);
            let names = batch.column(1).as_string::<i32>();
            assert_eq!(names.value(0), "Ada");
            assert_eq!(names.value(1), r#"{"first":"Bo"}"#);
            assert!(names.is_null(2));
            let scores = batch.column(2).as_primitive::<Float64Type>();
            assert_eq!((scores.value(0), scores.value(1)), (9.5, 1000.0));
            let ok = batch.column(3).as_boolean();
            assert!(ok.value(0) && !ok.value(1) && ok.is_null(2));
            let days = batch.column(4).as_primitive::<Date32Type>();
            assert_eq!(days.value(0), 20_784);
            let at = batch.column(5).as_primitive::<TimestampMillisecondType>();
            assert_eq!(
                (at.value(0), at.value(1)),
                (1_795_773_600_000, 1_795_773_600_000)
            );
            assert_eq!(batch.column(6).as_primitive::<Int8Type>().value(0), 3);
            assert_eq!(batch.column(7).as_string::<i32>().value(0), "42");
        }
    }

    #[test]
    fn records_that_do_not_fit_fail_alone() {
        let records = [
            record(r#"{"id": 1}"#),
            record("not json"),
            record("[1, 2]"),
            record(r#"{"id": 1.5}"#),
            record(r#"{"id": 2, "level": 300}"#),
            record(r#"{"id": 3, "day": "27/11/2026"}"#),
            record(r#"{"id": 4, "ok": "maybe"}"#),
        ];
        let converted = convert(&conversion(), &records).unwrap();
        let reasons: Vec<&str> = converted.failed.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        assert!(reasons[0].contains("not JSON"));
        assert!(reasons[1].contains("not a JSON object"));
        assert!(reasons[2].contains("id"));
        assert!(reasons[3].contains("level"));
        assert_eq!(read(&converted.body.unwrap()).num_rows(), 1);
        let none = convert(&conversion(), &records[1..2]).unwrap();
        assert!(none.body.is_none());
        assert_eq!(none.failed.len(), 1);
    }

    #[test]
    fn case_sensitivity_is_an_option() {
        let strict = FormatConversion {
            case_insensitive: false,
            ..conversion()
        };
        let converted = convert(&strict, &[record(r#"{"ID": 7}"#)]).unwrap();
        let batch = read(&converted.body.unwrap());
        assert!(batch.column(0).is_null(0));
    }
}
