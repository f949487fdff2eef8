//! Partition key → shard: MD5 of the key as a big-endian 128-bit integer, or the explicit hash
//! key, looked up in the open shards' ranges.

use crate::spec::{ShardSpec, StreamSpec};
use md5::{Digest, Md5};

/// The hash key Kinesis derives from a partition key.
pub fn hash_key(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// A shard with its range parsed, for fast routing.
#[derive(Debug, Clone)]
pub struct Route {
    pub starting_hash_key: u128,
    pub ending_hash_key: u128,
    pub shard_index: u32,
}

/// Routing table of a stream's open shards, sorted by range.
#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    routes: Vec<Route>,
}

impl RoutingTable {
    pub fn new(spec: &StreamSpec) -> Self {
        let mut routes: Vec<Route> = spec
            .shards
            .iter()
            .filter(|shard| shard.open)
            .filter_map(route)
            .collect();
        routes.sort_by_key(|route| route.starting_hash_key);
        Self { routes }
    }

    /// A table of the given routes (open shards' ranges, in any order).
    pub fn from_routes(mut routes: Vec<Route>) -> Self {
        routes.sort_by_key(|route| route.starting_hash_key);
        Self { routes }
    }

    /// The open shard owning `hash_key`.
    pub fn shard_for(&self, hash_key: u128) -> Option<u32> {
        let position = self
            .routes
            .partition_point(|route| route.ending_hash_key < hash_key);
        self.routes
            .get(position)
            .filter(|route| route.starting_hash_key <= hash_key)
            .map(|route| route.shard_index)
    }
}

fn route(shard: &ShardSpec) -> Option<Route> {
    Some(Route {
        starting_hash_key: shard.starting_hash_key.parse().ok()?,
        ending_hash_key: shard.ending_hash_key.parse().ok()?,
        shard_index: shard.index,
    })
}

/// Parses an `ExplicitHashKey`: a decimal in `0 ..= 2^128 - 1`.
pub fn parse_explicit_hash_key(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_key::split_evenly;
    use crate::spec::StreamStatus;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn spec(shards: u32) -> StreamSpec {
        StreamSpec {
            stream_id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            name: "s".into(),
            arn: "arn".into(),
            status: StreamStatus::Active,
            retention_hours: 24,
            generation: 1,
            shards: split_evenly(shards)
                .into_iter()
                .enumerate()
                .map(|(index, range)| ShardSpec {
                    index: index as u32,
                    starting_hash_key: range.starting_hash_key.to_string(),
                    ending_hash_key: range.ending_hash_key.to_string(),
                    open: true,
                })
                .collect(),
        }
    }

    #[test]
    fn md5_hash_keys_match_kinesis() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(hash_key(""), 0xd41d8cd98f00b204e9800998ecf8427e);
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661: lower half of the space.
        let table = RoutingTable::new(&spec(2));
        assert_eq!(table.shard_for(hash_key("a")), Some(0));
        assert_eq!(table.shard_for(hash_key("")), Some(1));
        assert_eq!(table.shard_for(0), Some(0));
        assert_eq!(table.shard_for(u128::MAX), Some(1));
    }

    #[test]
    fn explicit_hash_keys_are_validated() {
        assert_eq!(parse_explicit_hash_key("0"), Some(0));
        assert_eq!(
            parse_explicit_hash_key(&u128::MAX.to_string()),
            Some(u128::MAX)
        );
        assert_eq!(
            parse_explicit_hash_key("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(parse_explicit_hash_key("-1"), None);
        assert_eq!(parse_explicit_hash_key(""), None);
    }

    proptest! {
        #[test]
        fn every_key_routes_to_the_shard_whose_range_holds_it(shards in 1u32..50, key in any::<u128>()) {
            let spec = spec(shards);
            let table = RoutingTable::new(&spec);
            let index = table.shard_for(key).unwrap();
            let shard = &spec.shards[index as usize];
            prop_assert!(shard.starting_hash_key.parse::<u128>().unwrap() <= key);
            prop_assert!(key <= shard.ending_hash_key.parse::<u128>().unwrap());
        }
    }
}
