//! The one error type every server function returns, and how it reads to a person.
//!
//! It crosses the wire (JSON) from the server half to the browser half, so it carries only
//! what a user may see: a REST problem's status, kind, title and detail. Never a token, never
//! an internal error's text (the server logs those with the request id).

use std::fmt;

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleError {
    /// No session, or the REST API refused it (expired, revoked, removed from the tenant).
    SignedOut,
    /// The REST API answered with an RFC 9457 problem.
    Problem {
        status: u16,
        /// The problem type's last segment, e.g. `quota-exceeded`.
        kind: String,
        title: String,
        detail: Option<String>,
    },
    /// The console could not get an answer (a bug, or the server is going away).
    Unavailable(String),
}

impl ConsoleError {
    pub fn status(&self) -> u16 {
        match self {
            ConsoleError::SignedOut => 401,
            ConsoleError::Problem { status, .. } => *status,
            ConsoleError::Unavailable(_) => 503,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == 404
    }

    pub fn is_forbidden(&self) -> bool {
        self.status() == 403
    }
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::SignedOut => {
                formatter.write_str("Your session has ended. Sign in again.")
            }
            ConsoleError::Problem { title, detail, .. } => match detail {
                Some(detail) if !detail.is_empty() => write!(formatter, "{title}: {detail}"),
                _ => formatter.write_str(title),
            },
            ConsoleError::Unavailable(reason) => {
                write!(formatter, "The console could not reach the API: {reason}")
            }
        }
    }
}

impl std::error::Error for ConsoleError {}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(reason) | ServerFnErrorErr::MissingArg(reason) => {
                ConsoleError::Problem {
                    status: 400,
                    kind: "invalid-form".to_owned(),
                    title: "The form is incomplete".to_owned(),
                    detail: Some(reason),
                }
            }
            other => ConsoleError::Unavailable(other.to_string()),
        }
    }
}
