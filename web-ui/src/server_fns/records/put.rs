use leptos::prelude::*;

use crate::api::PutRecordResult;
use crate::error::ConsoleError;

/// Puts one test record (`POST /api/v1/streams/{name}/records`): the data as typed, stored
/// as its UTF-8 bytes (so JSON stays byte-for-byte what was typed).
#[server(prefix = "/console/fn", endpoint = "put_record")]
pub async fn put_record(
    name: String,
    partition_key: String,
    data: String,
) -> Result<PutRecordResult, ConsoleError> {
    use super::super::support::*;
    use base64::Engine as _;
    if partition_key.is_empty() || partition_key.chars().count() > 256 {
        return refused(ConsoleError::Problem {
            status: 400,
            kind: "invalid-record".to_owned(),
            title: "Record not put".to_owned(),
            detail: Some("the partition key takes 1 to 256 characters".to_owned()),
        });
    }
    let request = serde_json::json!({ "records": [{
        "partition_key": partition_key,
        "data_base64": base64::engine::general_purpose::STANDARD.encode(data.as_bytes()),
    }]});
    let answer: crate::api::PutRecordsResponse = rest()?
        .post(
            &format!("/api/v1/streams/{}/records", segment(&name)),
            &request,
        )
        .await
        .or_else(refused)?;
    let Some(put) = answer.records.into_iter().next() else {
        return refused(ConsoleError::Unavailable(
            "the API answered no record".to_owned(),
        ));
    };
    flash("put_record", &put);
    Ok(put)
}
