//! The AWS JSON 1.1 front: the protocol envelope (which verifies SigV4 with
//! `fjord_common::sigv4`), the Kinesis actions and the Firehose actions.

pub(crate) mod firehose;
pub(crate) mod forward;
pub(crate) mod kinesis;
pub(crate) mod protocol;
