//! The frame around every signed-in page: who is signed in where, the tenant switcher,
//! sign-out, and the navigation (admin pages are offered only to admins; the API refuses
//! everyone else anyway).

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use crate::api::Me;
use crate::components::ErrorNote;
use crate::error::ConsoleError;
use crate::server_fns::Flash;
use crate::server_fns::auth::{SignOut, SwitchTenant, take_flash, who_am_i};

pub type MeResource = Resource<Result<Me, ConsoleError>>;
type FlashResource = Resource<Result<Option<Flash>, ConsoleError>>;

/// The signed-in person, loaded once per page load by [`Layout`].
pub fn use_me() -> MeResource {
    expect_context::<MeResource>()
}

/// What a no-JavaScript form post left for this page, if it was `form`'s.
pub fn use_flash<T: for<'de> serde::Deserialize<'de>>(
    form: &'static str,
) -> impl Fn() -> Option<T> + Copy + Send + Sync + 'static {
    let flash = use_context::<FlashResource>();
    move || {
        flash
            .and_then(|flash| flash.get())
            .and_then(Result::ok)
            .flatten()
            .and_then(|flash| flash.value_of(form))
    }
}

#[component]
pub fn Layout() -> impl IntoView {
    let me: MeResource = Resource::new(|| (), |_| who_am_i());
    let flash: FlashResource = Resource::new(|| (), |_| take_flash());
    provide_context(me);
    provide_context(flash);
    let sign_out = ServerAction::<SignOut>::new();
    let switch = ServerAction::<SwitchTenant>::new();
    // Another tenant means other data everywhere on the page: load it afresh.
    Effect::new(move |_| {
        if matches!(switch.value().get(), Some(Ok(()))) {
            #[cfg(feature = "hydrate")]
            let _ = window().location().assign("/streams");
        }
    });
    view! {
        // `rel=external`: the browser, not the router, follows it, and so moves the focus.
        <a class="skip" href="#main" rel="external">
            "Skip to content"
        </a>
        <header class="top">
            <a class="brand" href="/streams">
                <img src="/console/assets/favicon.svg" alt="" width="24" height="24" />
                "Fjord"
            </a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let me = me.await.ok()?;
                    let current = me.tenant.id.clone();
                    let several = me.memberships.len() > 1;
                    Some(view! {
                        <div class="account">
                            <span class="who">
                                <span class="email">{me.user.email.clone()}</span>
                                <span class="role badge">{me.role.as_str()}</span>
                            </span>
                            {several.then(|| view! {
                                <ActionForm action=switch>
                                    <label class="inline">
                                        <span class="visually-hidden">"Tenant"</span>
                                        <select name="tenant" aria-label="Tenant">
                                            {me.memberships.iter().map(|m| {
                                                let selected = m.tenant.id == current;
                                                view! {
                                                    <option value=m.tenant.account_id.clone() selected=selected>
                                                        {format!("{} ({})", m.tenant.name, m.tenant.account_id)}
                                                    </option>
                                                }
                                            }).collect_view()}
                                        </select>
                                    </label>
                                    <button type="submit" class="secondary">"Switch"</button>
                                </ActionForm>
                            })}
                            {(!several).then(|| view! {
                                <span class="tenant">{format!("{} · {}", me.tenant.name, me.tenant.account_id)}</span>
                            })}
                            <ActionForm action=sign_out>
                                <button type="submit" class="secondary">"Sign out"</button>
                            </ActionForm>
                        </div>
                    })
                })}
            </Suspense>
        </header>
        <div class="frame">
            <nav class="side" aria-label="Console">
                <A href="/streams">"Data streams"</A>
                <A href="/delivery-streams">"Delivery streams"</A>
                <A href="/buckets">"Buckets"</A>
                <A href="/keys">"Access keys"</A>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = me.await.map(|me| me.role.is_admin()).unwrap_or(false);
                        admin.then(|| view! {
                            <A href="/users">"Users and roles"</A>
                            <A href="/audit">"Audit log"</A>
                        })
                    })}
                </Suspense>
                <A href="/getting-started">"Getting started"</A>
            </nav>
            <main id="main" tabindex="-1">
                {move || switch.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error /> })}
                <Outlet />
            </main>
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p>
                <a href="/streams">"Go to your streams"</a>
            </p>
        </main>
    }
}
