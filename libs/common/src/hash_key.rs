//! The 128-bit hash-key space shards divide between them, as Kinesis defines it.
//!
//! A partition key is hashed with MD5 to an unsigned 128-bit integer; each shard owns a
//! contiguous, inclusive range. New streams split the space evenly, the way AWS does.

/// Inclusive range of hash keys a shard owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKeyRange {
    pub starting_hash_key: u128,
    pub ending_hash_key: u128,
}

impl HashKeyRange {
    pub fn contains(&self, hash_key: u128) -> bool {
        self.starting_hash_key <= hash_key && hash_key <= self.ending_hash_key
    }
}

/// Splits the whole hash-key space into `shard_count` even ranges, the last one absorbing
/// the remainder, as AWS does for a new stream.
pub fn split_evenly(shard_count: u32) -> Vec<HashKeyRange> {
    debug_assert!(shard_count > 0);
    let count = u128::from(shard_count.max(1));
    if count == 1 {
        return vec![HashKeyRange {
            starting_hash_key: 0,
            ending_hash_key: u128::MAX,
        }];
    }
    // floor(2^128 / count) without overflowing: 2^128 = u128::MAX + 1.
    let quotient = u128::MAX / count;
    let remainder = u128::MAX % count;
    let step = if remainder + 1 == count {
        quotient + 1
    } else {
        quotient
    };
    (0..count)
        .map(|index| {
            let starting_hash_key = index * step;
            let ending_hash_key = if index + 1 == count {
                u128::MAX
            } else {
                (index + 1) * step - 1
            };
            HashKeyRange {
                starting_hash_key,
                ending_hash_key,
            }
        })
        .collect()
}

/// The shard id Kinesis shows for the shard with this index: `shardId-000000000007`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Parses `shardId-000000000007` (or the bare number, which AWS also accepts) to its index.
pub fn parse_shard_id(shard_id: &str) -> Option<u32> {
    let digits = shard_id.strip_prefix("shardId-").unwrap_or(shard_id);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn two_shards_split_like_aws() {
        let ranges = split_evenly(2);
        assert_eq!(ranges[0].starting_hash_key, 0);
        assert_eq!(
            ranges[0].ending_hash_key.to_string(),
            "170141183460469231731687303715884105727"
        );
        assert_eq!(
            ranges[1].starting_hash_key.to_string(),
            "170141183460469231731687303715884105728"
        );
        assert_eq!(ranges[1].ending_hash_key, u128::MAX);
    }

    #[test]
    fn shard_ids_round_trip() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("7"), Some(7));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("shardId-x"), None);
    }

    proptest! {
        #[test]
        fn ranges_tile_the_space(count in 1u32..2000) {
            let ranges = split_evenly(count);
            prop_assert_eq!(ranges.len(), count as usize);
            prop_assert_eq!(ranges[0].starting_hash_key, 0);
            prop_assert_eq!(ranges.last().unwrap().ending_hash_key, u128::MAX);
            for pair in ranges.windows(2) {
                prop_assert_eq!(pair[0].ending_hash_key + 1, pair[1].starting_hash_key);
                prop_assert!(pair[0].starting_hash_key <= pair[0].ending_hash_key);
            }
        }

        #[test]
        fn every_key_has_exactly_one_shard(count in 1u32..64, key in any::<u128>()) {
            let ranges = split_evenly(count);
            prop_assert_eq!(ranges.iter().filter(|range| range.contains(key)).count(), 1);
        }
    }
}
