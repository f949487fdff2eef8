//! Postgres specifics: the error mapping and the transaction helper.

pub(crate) mod error;
