//! The AWS JSON 1.1 front: SigV4 verification, the protocol envelope, and the Kinesis actions.

pub(crate) mod forward;
pub(crate) mod kinesis;
pub(crate) mod protocol;
pub(crate) mod sigv4;
