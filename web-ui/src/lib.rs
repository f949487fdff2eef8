//! Fjord's web console: Leptos pages rendered on the server and hydrated in the browser.
//!
//! The server half (feature `ssr`, what the control plane links) renders pages and runs the
//! server functions, which call the REST API (`/api/v1`) in-process with the signed-in
//! person's token: the console has no other way into Fjord. The browser half (feature
//! `hydrate`, built to wasm by `web-ui/build.sh`) makes the same pages interactive. Every
//! core flow also works without JavaScript: forms post, the server answers with a redirect,
//! pages render on the server.
//!
//! Layout: [`api`] (what the console reads from REST), [`model`] (view models with the
//! logic, unit-tested), [`server_fns`] (one per file, by resource), [`pages`],
//! [`components`], [`server`] (the axum side: router, REST client, session cookies).

// Leptos view types nest deeply; the default limit (128) is too low for the larger pages.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod server_fns;

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A mark for the browser tests (and anyone curious) that the page is interactive now.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
