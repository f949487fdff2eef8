//! Shard iterators: opaque, MAC'd, bound to tenant, stream incarnation and shard, valid for
//! five minutes.

use fjord_common::token::TokenSigner;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long an iterator may be used after it was issued, as on AWS.
#[cfg(test)]
const ITERATOR_LIFETIME_MS: i64 = 300_000;

/// Where reading resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Position {
    /// The record at (message sequence, record index) or the first one after it.
    #[serde(rename = "s")]
    Sequence(u64, u32),
    /// The first record that arrived at or after this time (ms since the epoch).
    #[serde(rename = "t")]
    Timestamp(i64),
}

/// What an iterator carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardIterator {
    #[serde(rename = "t")]
    pub(crate) tenant_id: Uuid,
    #[serde(rename = "s")]
    pub(crate) stream_id: Uuid,
    /// The stream's name, so the iterator resolves without a second index.
    #[serde(rename = "n")]
    pub(crate) stream_name: String,
    #[serde(rename = "h")]
    pub(crate) shard_index: u32,
    #[serde(rename = "p")]
    pub(crate) position: Position,
    #[serde(rename = "i")]
    pub(crate) issued_ms: i64,
}

/// Why an iterator was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IteratorError {
    /// Not ours, tampered with, or another tenant's.
    Invalid,
    /// Older than its lifetime.
    Expired { issued_ms: i64 },
}

impl ShardIterator {
    pub(crate) fn encode(&self, signer: &TokenSigner) -> String {
        signer.sign(self)
    }

    /// Opens `token` for `tenant_id` at time `now_ms`.
    pub(crate) fn decode(
        signer: &TokenSigner,
        token: &str,
        tenant_id: Uuid,
        now_ms: i64,
        lifetime_ms: i64,
    ) -> Result<Self, IteratorError> {
        let iterator: Self = signer.verify(token).ok_or(IteratorError::Invalid)?;
        if iterator.tenant_id != tenant_id {
            return Err(IteratorError::Invalid);
        }
        if now_ms - iterator.issued_ms > lifetime_ms {
            return Err(IteratorError::Expired {
                issued_ms: iterator.issued_ms,
            });
        }
        Ok(iterator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ShardIterator {
        ShardIterator {
            tenant_id: Uuid::from_u128(1),
            stream_id: Uuid::from_u128(2),
            stream_name: "s".repeat(128),
            shard_index: 3,
            position: Position::Sequence(42, 7),
            issued_ms: 1_000_000,
        }
    }

    #[test]
    fn iterators_round_trip_and_fit_the_aws_length_limit() {
        let signer = TokenSigner::new([1; 32]);
        let token = sample().encode(&signer);
        assert!(token.len() <= 512, "{}", token.len());
        assert_eq!(
            ShardIterator::decode(
                &signer,
                &token,
                Uuid::from_u128(1),
                1_000_001,
                ITERATOR_LIFETIME_MS
            ),
            Ok(sample())
        );
    }

    #[test]
    fn another_tenant_gets_nothing() {
        let signer = TokenSigner::new([1; 32]);
        let token = sample().encode(&signer);
        assert_eq!(
            ShardIterator::decode(
                &signer,
                &token,
                Uuid::from_u128(9),
                1_000_001,
                ITERATOR_LIFETIME_MS
            ),
            Err(IteratorError::Invalid)
        );
    }

    #[test]
    fn iterators_expire_after_five_minutes() {
        let signer = TokenSigner::new([1; 32]);
        let token = sample().encode(&signer);
        assert!(
            ShardIterator::decode(
                &signer,
                &token,
                Uuid::from_u128(1),
                1_300_000,
                ITERATOR_LIFETIME_MS
            )
            .is_ok()
        );
        assert_eq!(
            ShardIterator::decode(
                &signer,
                &token,
                Uuid::from_u128(1),
                1_300_001,
                ITERATOR_LIFETIME_MS
            ),
            Err(IteratorError::Expired {
                issued_ms: 1_000_000
            })
        );
    }

    #[test]
    fn forged_iterators_are_invalid() {
        let signer = TokenSigner::new([1; 32]);
        let forged = TokenSigner::new([2; 32]).sign(&sample());
        assert_eq!(
            ShardIterator::decode(
                &signer,
                &forged,
                Uuid::from_u128(1),
                1_000_001,
                ITERATOR_LIFETIME_MS
            ),
            Err(IteratorError::Invalid)
        );
        assert_eq!(
            ShardIterator::decode(
                &signer,
                "AAAA",
                Uuid::from_u128(1),
                1_000_001,
                ITERATOR_LIFETIME_MS
            ),
            Err(IteratorError::Invalid)
        );
    }
}
