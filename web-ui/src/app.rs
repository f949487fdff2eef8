//! The document shell and the route table.

use leptos::prelude::*;
use leptos_meta::{MetaTags, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::pages;

/// The HTML document around every page. Styles and icon come from Fjord itself, never a CDN.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="stylesheet" href="/console/assets/console.css" />
                <link rel="icon" type="image/svg+xml" href="/console/assets/favicon.svg" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The console. Every route renders fully on the server before the first byte
/// (`SsrMode::Async`), so a browser without JavaScript gets whole pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Router>
            <FocusOnNavigation />
            <Routes fallback=pages::NotFound>
                <Route path=path!("/sign-in") view=pages::SignInPage ssr=SsrMode::Async />
                <Route
                    path=path!("/accept-invitation")
                    view=pages::AcceptInvitationPage
                    ssr=SsrMode::Async
                />
                <ParentRoute path=path!("") view=pages::Layout ssr=SsrMode::Async>
                    <Route
                        path=path!("/")
                        view=|| view! { <Redirect path="/streams" /> }
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/streams") view=pages::StreamsPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/streams/new")
                        view=pages::CreateStreamPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/streams/:name")
                        view=pages::StreamPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/streams/:name/data")
                        view=pages::DataPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/streams/:name/monitoring")
                        view=pages::MonitoringPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/delivery-streams")
                        view=pages::DeliveryStreamsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/delivery-streams/new")
                        view=pages::CreateDeliveryStreamPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/delivery-streams/:name")
                        view=pages::DeliveryStreamPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/buckets") view=pages::BucketsPage ssr=SsrMode::Async />
                    <Route path=path!("/keys") view=pages::KeysPage ssr=SsrMode::Async />
                    <Route path=path!("/users") view=pages::UsersPage ssr=SsrMode::Async />
                    <Route path=path!("/audit") view=pages::AuditPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/getting-started")
                        view=pages::GettingStartedPage
                        ssr=SsrMode::Async
                    />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// After a navigation inside the app, moves the focus to the new page's `main` (as the skip
/// link does), so a keyboard or screen-reader user continues at the new content; otherwise the
/// focus stays on a link or button that may be gone, and the next Tab starts from nowhere.
#[component]
fn FocusOnNavigation() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    Effect::new(move |previous: Option<String>| {
        let path = location.pathname.get();
        if previous.is_some_and(|previous| previous != path) {
            focus_main();
        }
        path
    });
}

/// Focuses `#main` once the new page is in the document (next tick, or once more shortly
/// after when the page was still loading).
fn focus_main() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast as _;
        fn attempt() -> bool {
            document()
                .get_element_by_id("main")
                .and_then(|main| main.dyn_into::<web_sys::HtmlElement>().ok())
                .is_some_and(|main| main.focus().is_ok())
        }
        set_timeout(
            || {
                if !attempt() {
                    set_timeout(
                        || {
                            attempt();
                        },
                        std::time::Duration::from_millis(300),
                    );
                }
            },
            std::time::Duration::ZERO,
        );
    }
}
