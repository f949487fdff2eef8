//! Shared vocabulary of Fjord's control plane and data plane.
//!
//! This crate owns what both planes must agree on without linking each other: the resource
//! specs the control plane publishes to NATS KV and the data plane caches ([`spec`]), the
//! names derived for JetStream objects ([`naming`]), sealed secrets ([`secret`]), tenants' registered buckets and opening their stores ([`buckets`]), roles and
//! the permission matrix ([`permissions`]), the AWS error vocabulary ([`aws_error`]), the
//! hash-key space ([`hash_key`]), SigV4 verification of incoming requests for the AWS endpoint
//! and the REST API alike ([`sigv4`]), the Firehose API surface and delivery stream specs ([`firehose`]), the record message codec ([`records`]) and partition-key
//! routing ([`routing`]), per-tenant write throughput buckets ([`throughput`]), the gateway's events to the control plane ([`events`]), the client
//! address behind trusted proxies ([`client_address`]), and configuration loading ([`config`]). It must never talk to Postgres or NATS itself.

pub mod aws_error;
pub mod buckets;
pub mod client_address;
pub mod config;
pub mod events;
pub mod firehose;
pub mod hash_key;
pub mod kinesis;
pub mod naming;
pub mod permissions;
pub mod records;
pub mod routing;
pub mod secret;
pub mod sequence;
pub mod shutdown;
pub mod sigv4;
pub mod spec;
pub mod stream_ref;
pub mod telemetry;
pub mod throughput;
pub mod token;
