//! The console's server half: the axum router the control plane mounts under `/`, the
//! in-process REST client the server functions use, and the browser session (cookies).
//!
//! It never reads Postgres or NATS: everything it shows or changes goes through the REST API
//! (`/api/v1`) with the signed-in person's bearer token, exactly as an app would call it.

mod assets;
pub mod charts;
pub mod rest;
pub mod session;
mod tail;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::app::{App, shell};

/// How the console is served.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The folder `web-ui/build.sh` writes: `pkg/` holds the wasm and its JS glue. Without it
    /// the pages still render and every form still posts; they just don't hydrate.
    pub site_root: PathBuf,
    /// Mark cookies `Secure` (set behind TLS).
    pub secure_cookies: bool,
    /// Where apps reach the AWS-compatible endpoint, for the getting-started page.
    pub kinesis_endpoint: String,
    /// The region the endpoint signs for.
    pub region: String,
}

/// What every page render and server function can reach (`use_context::<Console>()`).
#[derive(Clone)]
pub struct Console {
    pub(crate) api: Router,
    pub(crate) options: Arc<ConsoleOptions>,
    pub(crate) refreshes: Arc<session::RefreshCache>,
}

impl Console {
    pub fn options(&self) -> &ConsoleOptions {
        &self.options
    }
}

/// The console's routes. `api` is the router serving `/api/v1` (the control plane's, with its
/// layers): the console calls it in-process, so a page costs no extra network hop and the
/// API sees the browser's address.
pub fn router(options: ConsoleOptions, api: Router) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("fjord_console")
        .site_root(options.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .build();
    let console = Console {
        api,
        options: Arc::new(options.clone()),
        refreshes: Arc::new(session::RefreshCache::default()),
    };
    let routes = generate_route_list(App);
    let context_console = console.clone();
    let shell_options = leptos_options.clone();
    Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            move || provide_context(context_console.clone()),
            move || shell(shell_options.clone()),
        )
        .route("/console/tail/{stream}/{shard}", get(tail::tail))
        .route("/console/assets/{file}", get(assets::asset))
        .nest_service(
            "/pkg",
            tower_http::services::ServeDir::new(options.site_root.join("pkg")).precompressed_gzip(),
        )
        .fallback(assets::not_found)
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            session::session_layer,
        ))
        .layer(axum::Extension(console))
        .with_state(leptos_options)
}
