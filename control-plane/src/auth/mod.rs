//! Identity and access: password hashing, sessions (JWT access tokens and rotating refresh
//! tokens), SigV4-signed calls with an access key ([`sigv4`]), the permission matrix, the
//! request's [`context::AuthContext`] and sign-in rate limiting.
//!
//! This module decides who a caller is and what they may do; it never decides how the
//! answer is put on the wire (that is [`crate::api`]). Secrets handled here (passwords,
//! tokens) are never logged and never part of an error.

pub mod context;
pub mod members;
pub mod password;
pub mod permissions;
pub mod rate_limit;
pub mod session;
pub mod sigv4;

/// Longest email address (RFC 5321's path limit), as the database enforces.
pub const MAX_EMAIL_LENGTH: usize = 254;

/// The form emails are stored and compared in: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Whether a normalized email has the shape the database accepts: one `@` with something on
/// both sides, no whitespace, at most 254 bytes.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL_LENGTH
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        assert!(is_valid_email("ada@example.com"));
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a@b@c",
            "a da@example.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(250))));
    }
}
