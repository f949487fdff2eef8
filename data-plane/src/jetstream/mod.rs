//! JetStream specifics of the data plane: the record message format.

pub(crate) mod records;
