//! The AWS error vocabulary shared by every AWS-compatible front: the `__type` names the SDKs
//! match on and the HTTP status AWS answers each with.
//!
//! Both planes produce these (the data plane for records and signatures, the control plane for
//! stream administration), so the one mapping to the wire lives here.

use serde::{Deserialize, Serialize};

/// An AWS error type. The variant name is the `__type` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AwsErrorKind {
    AccessDeniedException,
    /// Firehose: `UpdateDestination` named a version that is no longer current.
    ConcurrentModificationException,
    ExpiredIteratorException,
    ExpiredNextTokenException,
    IncompleteSignatureException,
    InternalFailure,
    InvalidArgumentException,
    InvalidSignatureException,
    LimitExceededException,
    MissingAuthenticationTokenException,
    ProvisionedThroughputExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    ServiceUnavailable,
    /// Firehose's "back off and retry" (its counterpart of Kinesis' `ServiceUnavailable`).
    ServiceUnavailableException,
    UnknownOperationException,
    UnrecognizedClientException,
    ValidationException,
}

impl AwsErrorKind {
    /// The `__type` value the SDKs match on.
    pub fn type_name(self) -> &'static str {
        match self {
            Self::AccessDeniedException => "AccessDeniedException",
            Self::ConcurrentModificationException => "ConcurrentModificationException",
            Self::ExpiredIteratorException => "ExpiredIteratorException",
            Self::ExpiredNextTokenException => "ExpiredNextTokenException",
            Self::IncompleteSignatureException => "IncompleteSignatureException",
            Self::InternalFailure => "InternalFailure",
            Self::InvalidArgumentException => "InvalidArgumentException",
            Self::InvalidSignatureException => "InvalidSignatureException",
            Self::LimitExceededException => "LimitExceededException",
            Self::MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            Self::ProvisionedThroughputExceededException => {
                "ProvisionedThroughputExceededException"
            }
            Self::ResourceInUseException => "ResourceInUseException",
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::SerializationException => "SerializationException",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::ServiceUnavailableException => "ServiceUnavailableException",
            Self::UnknownOperationException => "UnknownOperationException",
            Self::UnrecognizedClientException => "UnrecognizedClientException",
            Self::ValidationException => "ValidationException",
        }
    }

    /// The HTTP status AWS documents for this error type.
    pub fn http_status(self) -> u16 {
        match self {
            Self::MissingAuthenticationTokenException => 403,
            Self::InternalFailure | Self::ServiceUnavailableException => 500,
            Self::ServiceUnavailable => 503,
            _ => 400,
        }
    }
}

/// An error as the AWS JSON 1.1 protocol carries it: `{"__type": ..., "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct AwsError {
    pub kind: AwsErrorKind,
    pub message: String,
}

impl AwsError {
    pub fn new(kind: AwsErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(AwsErrorKind::ValidationException, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(AwsErrorKind::InvalidArgumentException, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(AwsErrorKind::ResourceNotFoundException, message)
    }

    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new(AwsErrorKind::ResourceInUseException, message)
    }

    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(AwsErrorKind::LimitExceededException, message)
    }

    /// An internal failure: the message is generic, the detail belongs in the log.
    pub fn internal() -> Self {
        Self::new(
            AwsErrorKind::InternalFailure,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            AwsErrorKind::ServiceUnavailable,
            "The request has failed due to a temporary failure of the server.",
        )
    }

    /// The JSON body the AWS JSON 1.1 protocol expects.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "__type": self.kind.type_name(),
            "message": self.message,
        }))
        .unwrap_or_default()
    }

    /// Parses a body produced by [`AwsError::to_body`].
    pub fn from_body(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "__type")]
            kind: AwsErrorKind,
            message: String,
        }
        let wire: Wire = serde_json::from_slice(body).ok()?;
        Some(Self::new(wire.kind, wire.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_and_names_the_type() {
        let error = AwsError::not_found("Stream clicks under account 123456789012 not found.");
        let body = error.to_body();
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.contains("\"__type\":\"ResourceNotFoundException\""));
        assert_eq!(AwsError::from_body(&body), Some(error));
    }

    #[test]
    fn statuses_follow_the_aws_documentation() {
        assert_eq!(
            AwsErrorKind::MissingAuthenticationTokenException.http_status(),
            403
        );
        assert_eq!(AwsErrorKind::InternalFailure.http_status(), 500);
        assert_eq!(AwsErrorKind::ServiceUnavailable.http_status(), 503);
        assert_eq!(AwsErrorKind::ValidationException.http_status(), 400);
        // Firehose's API reference gives its ServiceUnavailableException HTTP 500.
        assert_eq!(AwsErrorKind::ServiceUnavailableException.http_status(), 500);
    }
}
