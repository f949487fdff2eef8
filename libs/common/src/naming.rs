//! Names of the NATS objects Fjord creates. Every name is derived from ids, never from a
//! user-chosen name alone, and carries the installation prefix so that several Fjord
//! installations (or test runs) can share one NATS cluster without seeing each other.

use uuid::Uuid;

/// Names for one installation, identified by its prefix (`[a-z0-9]`, from configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The NATS KV bucket holding the specs the control plane pushes to the data plane.
    pub fn config_bucket(&self) -> String {
        format!("fjord_{}_config", self.prefix)
    }

    /// The JetStream stream holding one shard's records.
    pub fn shard_stream(&self, stream_id: Uuid, shard_index: u32) -> String {
        format!("FJ_{}_{}_{shard_index}", self.prefix, stream_id.simple())
    }

    /// The subject one shard's records are published on.
    pub fn shard_subject(&self, stream_id: Uuid, shard_index: u32) -> String {
        format!("fj.{}.{}.{shard_index}", self.prefix, stream_id.simple())
    }

    /// Every shard subject of a stream (a wildcard over [`Names::shard_subject`]).
    pub fn shard_subjects(&self, stream_id: Uuid) -> String {
        format!("fj.{}.{}.*", self.prefix, stream_id.simple())
    }

    /// The JetStream stream of events the gateway sends the control plane (ADR 009). Upper
    /// case after the prefix, so it never looks like a shard stream (ids are lower-case hex).
    pub fn events_stream(&self) -> String {
        format!("FJ_{}_EVENTS", self.prefix)
    }

    /// Every subject of the events stream.
    pub fn events_subjects(&self) -> String {
        format!("fj.{}.events.>", self.prefix)
    }

    /// The subject of one kind of event (`usage`, `audit`).
    pub fn events_subject(&self, kind: &str) -> String {
        format!("fj.{}.events.{kind}", self.prefix)
    }

    /// The durable consumer every control-plane process shares on the events stream.
    pub fn events_consumer(&self) -> String {
        "control-plane".to_owned()
    }

    /// KV key of a stream spec: by tenant and name, so a gateway that has not seen a stream yet
    /// can fetch it directly. The name is hex encoded to stay within the key alphabet.
    pub fn stream_key(tenant_id: Uuid, stream_name: &str) -> String {
        format!("stream.{}.{}", tenant_id.simple(), hex::encode(stream_name))
    }

    /// The JetStream stream holding a delivery stream's records until a worker delivered
    /// them (`_DS_` after the prefix: never a shard stream, whose names are hex after it).
    pub fn delivery_stream(&self, delivery_stream_id: Uuid) -> String {
        format!("FJ_{}_DS_{}", self.prefix, delivery_stream_id.simple())
    }

    /// The subject a delivery stream's records are published on.
    pub fn delivery_subject(&self, delivery_stream_id: Uuid) -> String {
        format!("fj.{}.ds.{}", self.prefix, delivery_stream_id.simple())
    }

    /// The durable consumer every worker shares on a delivery stream's JetStream stream (or,
    /// for a Kinesis source, on each of its shard streams).
    pub fn delivery_consumer(&self, delivery_stream_id: Uuid) -> String {
        format!("delivery_{}", delivery_stream_id.simple())
    }

    /// The JetStream stream where a delivery stream's workers note what each delivery holds
    /// before sending it (the delivery ledger: exact duplicate counts after a crash).
    pub fn delivery_ledger_stream(&self, delivery_stream_id: Uuid) -> String {
        format!("FJ_{}_DSL_{}", self.prefix, delivery_stream_id.simple())
    }

    /// The subject of a delivery stream's ledger entries.
    pub fn delivery_ledger_subject(&self, delivery_stream_id: Uuid) -> String {
        format!("fj.{}.dsl.{}", self.prefix, delivery_stream_id.simple())
    }

    /// KV key of a delivery stream spec, by tenant and name (hex encoded, as stream keys).
    pub fn delivery_stream_key(tenant_id: Uuid, name: &str) -> String {
        format!("delivery.{}.{}", tenant_id.simple(), hex::encode(name))
    }

    /// KV key of a tenant's spec (its write throughput quota).
    pub fn tenant_key(tenant_id: Uuid) -> String {
        format!("tenant.{}", tenant_id.simple())
    }

    /// KV key of an access key spec. Access key ids are `[A-Z0-9]`, safe as a key token.
    pub fn access_key_key(access_key_id: &str) -> String {
        format!("key.{access_key_id}")
    }
}

/// Whether a prefix is acceptable in every derived name.
pub fn is_valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 32
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_from_ids() {
        let names = Names::new("dev");
        let stream_id = Uuid::nil();
        assert_eq!(
            names.shard_stream(stream_id, 3),
            "FJ_dev_00000000000000000000000000000000_3"
        );
        assert_eq!(
            names.shard_subject(stream_id, 3),
            "fj.dev.00000000000000000000000000000000.3"
        );
        assert_eq!(names.events_stream(), "FJ_dev_EVENTS");
        assert_eq!(
            names.delivery_stream(stream_id),
            "FJ_dev_DS_00000000000000000000000000000000"
        );
        assert_eq!(
            Names::delivery_stream_key(stream_id, "ev"),
            "delivery.00000000000000000000000000000000.6576"
        );
        assert_eq!(names.events_subject("usage"), "fj.dev.events.usage");
        assert!(is_valid_prefix("dev1"));
        assert!(!is_valid_prefix("Dev"));
        assert!(!is_valid_prefix("a.b"));
    }
}
