use leptos::prelude::*;

use crate::error::ConsoleError;

/// Puts one test record into a delivery stream
/// (`POST /api/v1/delivery-streams/{name}/records`), stored as the UTF-8 bytes typed, plus a
/// newline when asked (Firehose adds no delimiter of its own). Answers the record id.
#[server(prefix = "/console/fn", endpoint = "put_delivery_record")]
pub async fn put_delivery_record(
    name: String,
    data: String,
    newline: Option<String>,
) -> Result<String, ConsoleError> {
    use super::super::support::*;
    use base64::Engine as _;
    let mut bytes = data.into_bytes();
    if newline.is_some() {
        bytes.push(b'\n');
    }
    let request = serde_json::json!({ "records": [{
        "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
    }]});
    let answer: crate::api::PutDeliveryRecordsResponse = rest()?
        .post(
            &format!("/api/v1/delivery-streams/{}/records", segment(&name)),
            &request,
        )
        .await
        .or_else(refused)?;
    let Some(id) = answer.record_ids.into_iter().next() else {
        return refused(ConsoleError::Unavailable(
            "the API answered no record".to_owned(),
        ));
    };
    flash("put_delivery_record", &id);
    Ok(id)
}
