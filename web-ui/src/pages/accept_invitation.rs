//! Accepting an invitation: the link an admin hands over carries the token in its fragment
//! (`/accept-invitation#token=…`), which browsers never send to a server; with JavaScript the
//! page copies it into the form, without it the invitee pastes it.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::action_error;
use crate::server_fns::auth::AcceptInvitation;

#[component]
pub fn AcceptInvitationPage() -> impl IntoView {
    let accept = ServerAction::<AcceptInvitation>::new();
    let token = RwSignal::new(String::new());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Ok(hash) = window().location().hash()
            && let Some(found) = hash.strip_prefix("#token=")
        {
            token.set(found.to_owned());
        }
    });
    view! {
        <Title text="Accept invitation · Fjord" />
        <main class="narrow" id="main" tabindex="-1">
            <h1>"Join a tenant on Fjord"</h1>
            <p class="hint">"New to Fjord? Choose a password (at least 12 characters). Already have an account? Enter its password."</p>
            <ActionForm action=accept>
                <label>
                    "Invitation token"
                    <input type="text" name="token" required class="mono" autocomplete="off" prop:value=move || token.get() />
                </label>
                <label>
                    "Password" <input type="password" name="password" required minlength="12" autocomplete="new-password" />
                </label>
                {move || action_error(accept.value().get())}
                <button type="submit" disabled=move || accept.pending().get()>"Join"</button>
            </ActionForm>
        </main>
    }
}
