//! Sign in with email and password (`POST /api/v1/auth/sign-in`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::action_error;
use crate::server_fns::auth::SignIn;

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let show_password = RwSignal::new(false);
    let pending = sign_in.pending();
    view! {
        <Title text="Sign in · Fjord" />
        <main class="narrow sign-in" id="main" tabindex="-1">
            <h1>
                <img src="/console/assets/favicon.svg" alt="" width="32" height="32" />
                " Sign in to Fjord"
            </h1>
            <ActionForm action=sign_in>
                <input type="hidden" name="next" value=next />
                <label>
                    "Email" <input type="email" name="email" required autocomplete="username" autofocus />
                </label>
                <label>
                    "Password"
                    <input
                        type=move || if show_password.get() { "text" } else { "password" }
                        name="password"
                        required
                        autocomplete="current-password"
                    />
                </label>
                <button
                    type="button"
                    class="link"
                    aria-pressed=move || show_password.get().to_string()
                    on:click=move |_| show_password.update(|shown| *shown = !*shown)
                >
                    {move || if show_password.get() { "Hide password" } else { "Show password" }}
                </button>
                <label>
                    "Tenant " <span class="hint">"(account id or name; optional)"</span>
                    <input type="text" name="tenant" autocomplete="organization" />
                </label>
                {move || action_error(sign_in.value().get())}
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
        </main>
    }
}
