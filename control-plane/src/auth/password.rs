//! Password hashing: argon2id with OWASP's recommended parameters (m = 19 MiB, t = 2, p = 1),
//! stored as PHC strings.
//!
//! Hashing is deliberately slow, so callers on the async runtime run it with
//! `spawn_blocking`. [`Passwords::verify`] spends one hash even for an unknown user, so the
//! time a sign-in takes does not reveal which emails have accounts.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use fjord_common::secret::{SecretError, random_bytes, random_string};

/// Memory cost in KiB.
pub const MEMORY_COST_KIB: u32 = 19_456;
pub const TIME_COST: u32 = 2;
pub const PARALLELISM: u32 = 1;
/// Longest password accepted; argon2 takes any length, but hashing megabytes is a cheap DoS.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Fewest characters a password chosen by a person may have (NIST SP 800-63B asks for at
/// least 8; the generated ones have 20).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Length of the passwords `fjord admin` generates.
pub const GENERATED_PASSWORD_LENGTH: usize = 20;

const GENERATED_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the system random generator failed")]
    Random(#[from] SecretError),
    #[error("password hashing failed")]
    Hashing,
}

/// Hashes and verifies passwords with fixed parameters.
#[derive(Clone)]
pub struct Passwords {
    /// A hash of a random password, verified against when the user is unknown.
    dummy_hash: std::sync::Arc<str>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Passwords")
    }
}

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds.
    let params =
        Params::new(MEMORY_COST_KIB, TIME_COST, PARALLELISM, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// An argon2id PHC string for `password`, with a fresh 16-byte salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = random_bytes::<16>()?;
    hasher()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Whether `password` matches the PHC string; a malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    hasher().verify_password(password.as_bytes(), phc).is_ok()
}

/// Whether a password chosen by a person is acceptable: at least [`MIN_PASSWORD_CHARS`]
/// characters, at most [`MAX_PASSWORD_BYTES`] bytes, not only spaces, no control characters.
/// The error is the detail to show (it never contains the password).
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.trim().is_empty() {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("the password must not contain control characters".to_owned());
    }
    Ok(())
}

/// A random password for an operator to hand over (shown once).
pub fn generate() -> Result<String, PasswordError> {
    Ok(random_string(
        GENERATED_ALPHABET,
        GENERATED_PASSWORD_LENGTH,
    )?)
}

impl Passwords {
    /// Spends one hash to make the dummy hash with the same parameters as real ones.
    pub fn new() -> Result<Self, PasswordError> {
        let dummy_password = generate()?;
        Ok(Self {
            dummy_hash: hash(&dummy_password)?.into(),
        })
    }

    /// Verifies on a blocking thread. `stored` is `None` for an unknown or unusable account:
    /// the dummy hash is checked instead and the answer is always `false`.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let dummy_hash = self.dummy_hash.clone();
        let outcome = tokio::task::spawn_blocking(move || match stored {
            Some(phc) => verify(&password, &phc),
            None => {
                let _ = verify(&password, &dummy_hash);
                false
            }
        })
        .await;
        outcome.unwrap_or(false)
    }

    /// Hashes on a blocking thread.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        tokio::task::spawn_blocking(move || hash(&password))
            .await
            .map_err(|_| PasswordError::Hashing)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_chosen_parameters_and_verify() {
        let phc = hash("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse battery staple", &phc));
        assert!(!verify("correct horse battery stapler", &phc));
        assert!(!verify("", &phc));
        // Salted: the same password hashes differently each time.
        assert_ne!(phc, hash("correct horse battery staple").unwrap());
    }

    #[test]
    fn malformed_hashes_never_verify() {
        for phc in ["", "plain", "$argon2id$v=19$m=19456,t=2,p=1$", "$2b$12$abc"] {
            assert!(!verify("password", phc), "{phc}");
        }
    }

    #[test]
    fn chosen_passwords_follow_the_policy() {
        assert!(check_new_password("correct horse battery staple").is_ok());
        assert!(check_new_password(&generate().unwrap()).is_ok());
        for bad in [
            "",
            "short",
            "elevenchars",
            "            ",
            "tab\tin the middle",
        ] {
            assert!(check_new_password(bad).is_err(), "{bad:?}");
        }
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
    }

    #[test]
    fn generated_passwords_have_the_length_and_alphabet() {
        let password = generate().unwrap();
        assert_eq!(password.len(), GENERATED_PASSWORD_LENGTH);
        assert!(password.bytes().all(|b| GENERATED_ALPHABET.contains(&b)));
        assert_ne!(password, generate().unwrap());
    }

    #[tokio::test]
    async fn unknown_users_never_verify_but_still_hash() {
        let passwords = Passwords::new().unwrap();
        assert!(!passwords.verify("anything".to_owned(), None).await);
        let phc = passwords.hash("s3cret-pass".to_owned()).await.unwrap();
        assert!(passwords.verify("s3cret-pass".to_owned(), Some(phc)).await);
    }
}
