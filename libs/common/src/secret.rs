//! Secrets at rest and in flight: the installation's master key, the keys derived from it,
//! and sealed (AES-256-GCM) access-key secrets.
//!
//! The master key never leaves this module in the clear: `Debug` redacts it, and everything
//! else is derived with HKDF under a purpose label, so a leak of one derived key does not
//! expose another.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// Errors from sealing and opening secrets. Deliberately carries no detail.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the master key must be 64 hexadecimal characters (32 bytes)")]
    InvalidMasterKey,
    #[error("a sealed secret could not be opened with this master key")]
    Unsealable,
    #[error("the system random generator failed")]
    Random,
}

/// The installation's 32-byte master key, and the keys it replaced that sealed secrets may
/// still be under while a rotation is under way (see `docs/operations.md`).
#[derive(Clone)]
pub struct MasterKey {
    current: [u8; 32],
    previous: Vec<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MasterKey(<redacted>)")
    }
}

struct KeyLength(usize);

impl hkdf::KeyType for KeyLength {
    fn len(&self) -> usize {
        self.0
    }
}

impl MasterKey {
    pub fn from_hex(hex_text: &str) -> Result<Self, SecretError> {
        let bytes = hex::decode(hex_text.trim()).map_err(|_| SecretError::InvalidMasterKey)?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretError::InvalidMasterKey)?;
        Ok(Self {
            current: bytes,
            previous: Vec::new(),
        })
    }

    /// The same key, also opening secrets sealed under `previous` keys (a rotation under way).
    /// Only the secret box uses them: everything else derives from the current key alone.
    pub fn with_previous(mut self, previous: &[MasterKey]) -> Self {
        self.previous = previous.iter().map(|key| key.current).collect();
        self
    }

    /// A fresh random master key, hex encoded, for `fjord` to suggest on first start.
    pub fn generate_hex() -> Result<String, SecretError> {
        Ok(hex::encode(random_bytes::<32>()?))
    }

    /// A 32-byte key for one purpose, derived with HKDF-SHA256.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        derive(&self.current, purpose)
    }

    /// The box that seals access-key secrets (under the current key) and opens them (under the
    /// current or a previous key).
    pub fn secret_box(&self) -> SecretBox {
        SecretBox {
            key: derive(&self.current, SECRET_BOX_PURPOSE),
            previous: self
                .previous
                .iter()
                .map(|key| derive(key, SECRET_BOX_PURPOSE))
                .collect(),
        }
    }
}

const SECRET_BOX_PURPOSE: &str = "access-key-secrets";

/// A 32-byte key for one purpose, derived from `master` with HKDF-SHA256.
fn derive(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"fjord master key v1");
    let prk = salt.extract(master);
    let info = [purpose.as_bytes()];
    let mut out = [0u8; 32];
    // Expanding 32 bytes from SHA-256 HKDF cannot fail: the length is within 255 * 32.
    if let Ok(okm) = prk.expand(&info, KeyLength(32)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// Seals and opens short secrets with AES-256-GCM; the output is `base64(nonce || ciphertext)`.
#[derive(Clone)]
pub struct SecretBox {
    key: [u8; 32],
    /// Keys of earlier master keys: they open, never seal.
    previous: Vec<[u8; 32]>,
}

/// What [`SecretBox::open_reporting`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub plaintext: String,
    /// Whether the secret was sealed under the current key (else a previous one: reseal it).
    pub under_current_key: bool,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SecretBox(<redacted>)")
    }
}

impl SecretBox {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key,
            previous: Vec::new(),
        }
    }

    fn aead_key(key: &[u8; 32]) -> LessSafeKey {
        // A 32-byte key is always a valid AES-256 key.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte AES-256 key"))
    }

    /// Seals `plaintext`, binding it to `context` (e.g. the access key id) as associated data.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, SecretError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut in_out = plaintext.as_bytes().to_vec();
        Self::aead_key(&self.key)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| SecretError::Unsealable)?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(BASE64.encode(sealed))
    }

    /// Opens what [`SecretBox::seal`] produced with the same context, under the current key
    /// or a previous one.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SecretError> {
        self.open_reporting(sealed, context)
            .map(|opened| opened.plaintext)
    }

    /// [`SecretBox::open`], also telling whether the current key sealed it.
    pub fn open_reporting(&self, sealed: &str, context: &str) -> Result<Opened, SecretError> {
        let bytes = BASE64.decode(sealed).map_err(|_| SecretError::Unsealable)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Unsealable);
        }
        let (nonce_bytes, ciphertext) = bytes.split_at(NONCE_LEN);
        let keys = std::iter::once(&self.key).chain(&self.previous);
        for (index, key) in keys.enumerate() {
            let nonce = Nonce::try_assume_unique_for_key(nonce_bytes)
                .map_err(|_| SecretError::Unsealable)?;
            let mut in_out = ciphertext.to_vec();
            if let Ok(plaintext) =
                Self::aead_key(key).open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            {
                let plaintext =
                    String::from_utf8(plaintext.to_vec()).map_err(|_| SecretError::Unsealable)?;
                return Ok(Opened {
                    plaintext,
                    under_current_key: index == 0,
                });
            }
        }
        Err(SecretError::Unsealable)
    }
}

/// `N` bytes from the operating system's secure random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::Random)?;
    Ok(bytes)
}

/// A random string over `alphabet`, `length` characters long (rejection sampling, no bias).
pub fn random_string(alphabet: &[u8], length: usize) -> Result<String, SecretError> {
    debug_assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(length);
    while out.len() < length {
        for byte in random_bytes::<64>()? {
            if (byte as usize) < limit && out.len() < length {
                out.push(alphabet[byte as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::from_hex(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let sealed = master().secret_box().seal("s3cr3t", "AKIA1").unwrap();
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(
            master().secret_box().open(&sealed, "AKIA1").unwrap(),
            "s3cr3t"
        );
        assert_eq!(
            master().secret_box().open(&sealed, "AKIA2"),
            Err(SecretError::Unsealable)
        );
        let other = MasterKey::from_hex(&"cd".repeat(32)).unwrap();
        assert_eq!(
            other.secret_box().open(&sealed, "AKIA1"),
            Err(SecretError::Unsealable)
        );
        assert_eq!(
            master().secret_box().open("not base64!", "AKIA1"),
            Err(SecretError::Unsealable)
        );
    }

    #[test]
    fn a_rotation_opens_old_secrets_and_seals_new_ones_under_the_new_key() {
        let old = master();
        let new = MasterKey::from_hex(&"cd".repeat(32)).unwrap();
        let sealed_old = old.secret_box().seal("s3cr3t", "AKIA1").unwrap();
        let rotating = new.clone().with_previous(std::slice::from_ref(&old));
        let opened = rotating
            .secret_box()
            .open_reporting(&sealed_old, "AKIA1")
            .unwrap();
        assert_eq!(opened.plaintext, "s3cr3t");
        assert!(!opened.under_current_key);
        // Sealing always uses the new key: the result opens without the old one.
        let resealed = rotating.secret_box().seal("s3cr3t", "AKIA1").unwrap();
        let opened = new.secret_box().open_reporting(&resealed, "AKIA1").unwrap();
        assert_eq!(opened.plaintext, "s3cr3t");
        assert!(opened.under_current_key);
        assert_eq!(
            old.secret_box().open(&resealed, "AKIA1"),
            Err(SecretError::Unsealable)
        );
        // The context still binds under a previous key; keys derived for other purposes come
        // from the current key alone.
        assert_eq!(
            rotating.secret_box().open(&sealed_old, "AKIA2"),
            Err(SecretError::Unsealable)
        );
        assert_eq!(rotating.derive("sessions"), new.derive("sessions"));
        assert_eq!(format!("{rotating:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn master_key_is_redacted_and_validated() {
        assert_eq!(format!("{:?}", master()), "MasterKey(<redacted>)");
        assert!(MasterKey::from_hex("abcd").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
        assert_ne!(master().derive("a"), master().derive("b"));
    }

    #[test]
    fn random_strings_use_the_alphabet() {
        let text = random_string(b"ABC", 40).unwrap();
        assert_eq!(text.len(), 40);
        assert!(text.bytes().all(|b| b"ABC".contains(&b)));
    }
}
