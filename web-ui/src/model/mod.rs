//! View models: plain Rust the pages render, with the console's logic (validation, decoding,
//! formatting) kept out of components so it is unit-tested without a browser.

pub mod delivery_form;
pub mod format;
pub mod metrics;
pub mod record_data;
pub mod snippets;
pub mod stream_form;
pub mod tags;
