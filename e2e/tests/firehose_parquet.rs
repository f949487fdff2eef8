//! Record format conversion, end to end: a table registered in the tenant's catalog over
//! REST, a delivery stream created with the official `aws-sdk-firehose` converting to Parquet
//! with it, JSON records put with `PutRecordBatch` arriving as `.parquet` objects that the
//! `parquet` crate reads back row for row; records that do not fit the schema are in the error
//! output `format-conversion-failed` with their raw data, none lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{
    CompressionFormat, DataFormatConversionConfiguration, Deserializer, InputFormatConfiguration,
    OpenXJsonSerDe, OutputFormatConfiguration, ParquetCompression, ParquetSerDe, Record,
    SchemaConfiguration, Serializer,
};
use base64::Engine as _;
use fjord_e2e::delivery::{files_under, s3_destination_builder, wait_delivery_stream_active};
use fjord_e2e::{Fjord, stream_name};
use parquet::file::reader::{FileReader as _, SerializedFileReader};
use parquet::record::RowAccessor as _;
use serde_json::json;

/// The rows of every Parquet object under `dir`: `(id, name, score, ok)`.
fn parquet_rows(dir: &std::path::Path) -> anyhow::Result<Vec<(i64, String, f64, bool)>> {
    let mut rows = Vec::new();
    for file in files_under(dir) {
        anyhow::ensure!(
            file.to_string_lossy().ends_with(".parquet"),
            "{} is not named .parquet",
            file.display()
        );
        let reader = SerializedFileReader::new(bytes::Bytes::from(std::fs::read(&file)?))?;
        for row in reader.get_row_iter(None)? {
            let row = row?;
            rows.push((
                row.get_long(0)?,
                row.get_string(1)?.clone(),
                row.get_double(2)?,
                row.get_bool(3)?,
            ));
        }
    }
    rows.sort_by_key(|row| row.0);
    Ok(rows)
}

#[tokio::test]
async fn json_records_arrive_as_parquet_with_the_catalog_schema() -> anyhow::Result<()> {
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let developer = fjord.session("acme", "developer").await?;
    let firehose = fjord.firehose(&tenant);
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/api/v1/tables", fjord.control_plane_url()))
        .bearer_auth(&developer)
        .json(
            &json!({"database": "analytics", "name": "events", "columns": [
            {"name": "id", "type": "bigint"}, {"name": "name", "type": "string"},
            {"name": "score", "type": "double"}, {"name": "ok", "type": "boolean"},
            {"name": "at", "type": "timestamp"}]}),
        )
        .send()
        .await?;
    anyhow::ensure!(created.status() == 201, "{}", created.text().await?);

    let conversion = DataFormatConversionConfiguration::builder()
        .enabled(true)
        .schema_configuration(
            SchemaConfiguration::builder()
                .database_name("analytics")
                .table_name("events")
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .build(),
        )
        .input_format_configuration(
            InputFormatConfiguration::builder()
                .deserializer(
                    Deserializer::builder()
                        .open_x_json_ser_de(OpenXJsonSerDe::builder().build())
                        .build(),
                )
                .build(),
        )
        .output_format_configuration(
            OutputFormatConfiguration::builder()
                .serializer(
                    Serializer::builder()
                        .parquet_ser_de(
                            ParquetSerDe::builder()
                                .compression(ParquetCompression::Snappy)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    let name = stream_name("to-parquet");
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .extended_s3_destination_configuration(
            s3_destination_builder("lake", "parquet/", CompressionFormat::Uncompressed)
                .buffering_hints(
                    aws_sdk_firehose::types::BufferingHints::builder()
                        .size_in_mbs(64)
                        .interval_in_seconds(1)
                        .build(),
                )
                .data_format_conversion_configuration(conversion)
                .build()?,
        )
        .send()
        .await?;
    wait_delivery_stream_active(&firehose, &name).await?;
    let described = firehose
        .describe_delivery_stream()
        .delivery_stream_name(&name)
        .send()
        .await?;
    let table = described
        .delivery_stream_description()
        .and_then(|d| d.destinations().first())
        .and_then(|d| d.extended_s3_destination_description())
        .and_then(|d| d.data_format_conversion_configuration())
        .and_then(|c| c.schema_configuration())
        .and_then(|s| s.table_name());
    assert_eq!(table, Some("events"), "Describe round-trips the conversion");

    // 1,000 records that fit, and 10 that do not, in batches of 500.
    let mut expected = BTreeMap::new();
    let mut lines = Vec::new();
    for id in 0..1000i64 {
        let row = (id, format!("user-{id}"), id as f64 / 4.0, id % 3 == 0);
        lines.push(
            json!({"id": row.0, "name": row.1, "score": row.2, "ok": row.3,
                   "at": "2026-11-27T10:00:00Z"})
            .to_string(),
        );
        expected.insert(id, row);
    }
    let malformed: Vec<String> = (0..10)
        .map(|i| {
            if i % 2 == 0 {
                format!("not json {i}")
            } else {
                format!("{{\"id\": \"id-{i}\"}}")
            }
        })
        .collect();
    lines.extend(malformed.iter().cloned());
    for chunk in lines.chunks(500) {
        let records = chunk
            .iter()
            .map(|line| {
                Record::builder()
                    .data(Blob::new(format!("{line}\n")))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let put = firehose
            .put_record_batch()
            .delivery_stream_name(&name)
            .set_records(Some(records))
            .send()
            .await?;
        anyhow::ensure!(put.failed_put_count() == 0, "{put:?}");
    }

    let bucket = root.join(&tenant.account_id).join("lake");
    let deadline = Instant::now() + Duration::from_secs(40);
    let rows = loop {
        let rows = parquet_rows(&bucket.join("parquet"))?;
        if rows.len() >= expected.len() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(rows.len(), expected.len(), "every fitting record, once");
    for row in &rows {
        assert_eq!(Some(row), expected.get(&row.0), "row {}", row.0);
    }
    let checksum: f64 = rows.iter().map(|row| row.2).sum();
    assert_eq!(checksum, (0..1000).map(|id| id as f64 / 4.0).sum::<f64>());

    let errors = bucket.join("errors").join("format-conversion-failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let mut failed = Vec::new();
        for file in files_under(&errors) {
            for line in std::fs::read_to_string(&file)?.lines() {
                failed.push(serde_json::from_str::<serde_json::Value>(line)?);
            }
        }
        if failed.len() >= malformed.len() || Instant::now() > deadline {
            break failed;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut raw: Vec<String> = failed
        .iter()
        .map(|line| {
            assert_eq!(
                line["errorCode"], "DataFormatConversion.MalformedData",
                "{line}"
            );
            let data = base64::engine::general_purpose::STANDARD
                .decode(line["rawData"].as_str().unwrap_or_default())
                .unwrap_or_default();
            String::from_utf8_lossy(&data).trim_end().to_owned()
        })
        .collect();
    raw.sort();
    let mut want = malformed.clone();
    want.sort();
    assert_eq!(
        raw, want,
        "the records that do not fit, in the error output"
    );
    Ok(())
}
