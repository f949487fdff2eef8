//! Logging set-up shared by every `fjord` role.

use tracing_subscriber::EnvFilter;

/// Installs a `fmt` subscriber on standard error, filtered by `RUST_LOG` (default `info`), so
/// standard output carries only what a command prints for its user.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
