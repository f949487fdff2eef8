//! Forwards stream and delivery stream administration to the control plane's internal API
//! (`/internal/v1/<service>/<action>`), with the tenant the signature established. The control plane answers in AWS's shape; the answer is relayed.

use fjord_common::aws_error::AwsError;

use crate::aws::kinesis::Caller;

/// The caller's address, user agent and request id, for the control plane's audit log;
/// values that are not valid header values are left out.
fn origin_headers(caller: &Caller) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    let origin = &caller.origin;
    for (name, value) in [
        ("x-fjord-source-ip", &origin.source_ip),
        ("x-fjord-user-agent", &origin.user_agent),
        ("x-fjord-request-id", &origin.request_id),
    ] {
        if let Some(value) = value
            .as_deref()
            .and_then(|value| reqwest::header::HeaderValue::from_str(value).ok())
        {
            headers.insert(name, value);
        }
    }
    headers
}

/// Client of the control plane's internal API.
pub(crate) struct Forwarder {
    client: reqwest::Client,
    base_url: String,
    token: String,
}

impl Forwarder {
    pub(crate) fn new(base_url: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// Sends `action` of `service` (`kinesis`, `firehose`) with `body`; returns the control
    /// plane's status and body.
    pub(crate) async fn forward(
        &self,
        caller: &Caller,
        service: &str,
        action: &str,
        body: bytes::Bytes,
    ) -> Result<(u16, bytes::Bytes), AwsError> {
        let response = self
            .client
            .post(format!("{}/internal/v1/{service}/{action}", self.base_url))
            .bearer_auth(&self.token)
            .header("x-fjord-tenant-id", caller.tenant_id.to_string())
            .header("x-fjord-account-id", &caller.account_id)
            .header("x-fjord-access-key-id", &caller.access_key_id)
            .headers(origin_headers(caller))
            .body(body)
            .send()
            .await
            .map_err(|error| {
                tracing::error!(%error, action, "control plane unreachable");
                AwsError::unavailable()
            })?;
        let status = response.status().as_u16();
        if status == 401 || status == 404 {
            tracing::error!(
                status,
                action,
                "control plane refused a forwarded call: check security.internal_token and the control plane URL"
            );
            return Err(AwsError::internal());
        }
        let body = response.bytes().await.map_err(|error| {
            tracing::error!(%error, action, "control plane answer was cut short");
            AwsError::unavailable()
        })?;
        Ok((status, body))
    }
}
