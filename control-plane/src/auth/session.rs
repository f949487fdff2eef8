//! Sessions: short-lived JWT access tokens and opaque, rotating refresh tokens.
//!
//! Access tokens are HS256 JWTs under a key derived from the master key; they are checked
//! without a database round trip and live 15 minutes. Refresh tokens are 32 random bytes
//! (base64url), stored only as their SHA-256, live 30 days and are replaced on every use.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use fjord_common::secret::{MasterKey, SecretError, random_bytes};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::permissions::Role;
use crate::store::TenantId;
use crate::store::sessions::NewRefreshToken;
use crate::store::users::UserId;

pub const ACCESS_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(15);
pub const REFRESH_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::days(30);
/// Longest refresh token worth hashing; real ones are 43 characters.
pub const MAX_REFRESH_TOKEN_LENGTH: usize = 64;
const ISSUER: &str = "fjord";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The user id.
    pub sub: Uuid,
    /// The tenant id the session is bound to.
    pub tid: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The user's session epoch when the token was issued; a password change moves the
    /// user's epoch on, and tokens of an earlier one are refused. (Tokens from before the
    /// claim existed read as epoch 0.)
    #[serde(default)]
    pub sep: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the access token could not be signed")]
    Signing,
    #[error("the system random generator failed")]
    Random(#[from] SecretError),
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SessionKeys(<redacted>)")
    }
}

/// A signed access token and how long it lives.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in_seconds: i64,
}

impl SessionKeys {
    pub fn new(key: [u8; 32]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
        }
    }

    pub fn from_master_key(master_key: &MasterKey) -> Self {
        Self::new(master_key.derive("session-jwt"))
    }

    /// Signs claims as they are; tests use it to make expired tokens.
    pub fn sign(&self, claims: &Claims) -> Result<String, SessionError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|_| SessionError::Signing)
    }

    /// A fresh access token for the user in the tenant, issued at `now`.
    pub fn issue(
        &self,
        user_id: UserId,
        tenant_id: TenantId,
        role: Role,
        session_epoch: i32,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, SessionError> {
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: user_id.0,
            tid: tenant_id.0,
            role,
            iat: now.timestamp(),
            exp: (now + ACCESS_TOKEN_LIFETIME).timestamp(),
            jti: Uuid::new_v4(),
            sep: session_epoch,
        };
        Ok(AccessToken {
            token: self.sign(&claims)?,
            expires_in_seconds: ACCESS_TOKEN_LIFETIME.num_seconds(),
        })
    }

    /// The claims, if the token is ours, untouched, HS256 and not expired.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// A refresh token to hand out once, with the record to store.
#[derive(Debug)]
pub struct IssuedRefreshToken {
    pub token: String,
    pub record: NewRefreshToken,
}

/// A fresh refresh token expiring `REFRESH_TOKEN_LIFETIME` after `now`.
pub fn new_refresh_token(now: DateTime<Utc>) -> Result<IssuedRefreshToken, SessionError> {
    let token = BASE64URL.encode(random_bytes::<32>()?);
    Ok(IssuedRefreshToken {
        record: NewRefreshToken {
            id: Uuid::now_v7(),
            token_hash: hash_refresh_token(&token),
            expires_at: now + REFRESH_TOKEN_LIFETIME,
        },
        token,
    })
}

/// The SHA-256 under which a refresh token is stored.
pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (UserId, TenantId) {
        (UserId(Uuid::now_v7()), TenantId(Uuid::now_v7()))
    }

    #[test]
    fn issued_tokens_verify_only_under_the_same_key() {
        let keys = SessionKeys::new([1; 32]);
        let (user_id, tenant_id) = ids();
        let token = keys
            .issue(user_id, tenant_id, Role::Admin, 0, Utc::now())
            .unwrap();
        assert_eq!(token.expires_in_seconds, 900);
        let claims = keys.verify(&token.token).unwrap();
        assert_eq!(
            (claims.sub, claims.tid, claims.role),
            (user_id.0, tenant_id.0, Role::Admin)
        );
        assert!(SessionKeys::new([2; 32]).verify(&token.token).is_none());
        let mut tampered = token.token.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert!(keys.verify(&tampered).is_none());
    }

    #[test]
    fn expired_and_unsigned_tokens_are_refused() {
        let keys = SessionKeys::new([1; 32]);
        let (user_id, tenant_id) = ids();
        let issued_long_ago = Utc::now() - chrono::Duration::hours(1);
        let token = keys
            .issue(user_id, tenant_id, Role::Owner, 0, issued_long_ago)
            .unwrap();
        assert!(keys.verify(&token.token).is_none());
        // alg "none" with the same claims.
        let header = BASE64URL.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = token.token.split('.').nth(1).unwrap();
        assert!(keys.verify(&format!("{header}.{claims}.")).is_none());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let now = Utc::now();
        let first = new_refresh_token(now).unwrap();
        let second = new_refresh_token(now).unwrap();
        assert_eq!(first.token.len(), 43);
        assert_ne!(first.token, second.token);
        assert_eq!(first.record.token_hash, hash_refresh_token(&first.token));
        assert_eq!(first.record.expires_at, now + REFRESH_TOKEN_LIFETIME);
    }
}
