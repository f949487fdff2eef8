//! Small pieces every page uses: errors, loading and empty states, the secret box.

use leptos::prelude::*;

use crate::api::Me;
use crate::error::ConsoleError;
use crate::pages::use_me;

/// An error as a person should read it; a lost session links to the sign-in page.
#[component]
pub fn ErrorNote(error: ConsoleError) -> impl IntoView {
    match error {
        ConsoleError::SignedOut => view! {
            <p class="error" role="alert">
                "Your session has ended. " <a href="/sign-in">"Sign in again"</a>
            </p>
        }
        .into_any(),
        other => view! {
            <p class="error" role="alert">
                {other.to_string()}
            </p>
        }
        .into_any(),
    }
}

/// What a failed action said, if it failed.
pub fn action_error<T: Clone + Send + Sync + 'static>(
    value: Option<Result<T, ConsoleError>>,
) -> impl IntoView {
    value
        .and_then(Result::err)
        .map(|error| view! { <ErrorNote error /> })
}

/// Shown while anything waits.
#[component]
pub fn Loading(#[prop(default = "Loading…")] label: &'static str) -> impl IntoView {
    view! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {label}
        </p>
    }
}

/// An empty list's explanation, with what to do next.
#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <div class="empty">{children()}</div> }
}

/// A secret shown once: selectable text, a copy button (with JavaScript) and the warning.
#[component]
pub fn SecretBox(label: &'static str, value: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = value.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
        copied.set(true);
    };
    view! {
        <div class="secret">
            <label>
                {label} <input class="mono" type="text" readonly value=value.clone() />
            </label>
            <button type="button" class="secondary" on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}

/// Renders `render(me)` for admins and owners; tells anyone else what the page needs. (The
/// REST API refuses them regardless: this only spares them forms that would fail.) Pages create
/// their resources before calling this, never inside `render`: a resource created while a
/// suspense resolves is numbered differently on the server and in the browser, and hydration
/// then fails.
pub fn admin_only(
    what: &'static str,
    render: impl Fn(Me) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let me = use_me();
    view! {
        <Suspense fallback=|| view! { <Loading /> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match me.await {
                        Err(error) => view! { <ErrorNote error /> }.into_any(),
                        Ok(me) if !me.role.is_admin() => view! {
                            <p class="error" role="alert">
                                {format!("{what} needs the admin role; you are a {}.", me.role.as_str())}
                            </p>
                        }
                        .into_any(),
                        Ok(me) => render(me),
                    }
                })
            }}
        </Suspense>
    }
}

/// A list page's title, with its create button for people who may write.
#[component]
pub fn ListHeading(
    title: &'static str,
    create_href: &'static str,
    create_label: &'static str,
) -> impl IntoView {
    let me = use_me();
    view! {
        <div class="heading">
            <h1>{title}</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let can_write = me.await.map(|me| me.role.can_write()).unwrap_or(false);
                    can_write.then(|| view! {
                        <leptos_router::components::A href=create_href attr:class="button">{create_label}</leptos_router::components::A>
                    })
                })}
            </Suspense>
        </div>
    }
}

/// Deleting `name` (of `kind`, one of [`DELETABLE`](crate::server_fns::delete::DELETABLE))
/// once its name was typed: `title` heads the section, `warning` says what is lost.
#[component]
pub fn DeleteZone(
    kind: &'static str,
    name: String,
    title: &'static str,
    warning: &'static str,
) -> impl IntoView {
    let delete = ServerAction::<crate::server_fns::delete::DeleteNamed>::new();
    let typed = RwSignal::new(String::new());
    let expected = name.clone();
    let matches = move || typed.get().trim() == expected;
    view! {
        <section aria-labelledby="delete" class="danger">
            <h2 id="delete">{title}</h2>
            <p>{warning}</p>
            <ActionForm action=delete>
                <input type="hidden" name="kind" value=kind />
                <input type="hidden" name="name" value=name.clone() />
                <label>
                    <span>{format!("Type {name} to confirm")}</span>
                    <input type="text" name="confirm" autocomplete="off" required on:input=move |ev| typed.set(event_target_value(&ev)) />
                </label>
                {move || action_error(delete.value().get())}
                <button type="submit" class="danger" disabled=move || !typed.get().is_empty() && !matches()>"Delete"</button>
            </ActionForm>
        </section>
    }
}

/// A counter that goes up every minute while the page is open in a browser with JavaScript:
/// resources keyed on it refetch (monitoring views). Without JavaScript it stays at 0.
pub fn minute_tick() -> RwSignal<u32> {
    let tick = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || tick.update(|t| *t = t.wrapping_add(1)),
            std::time::Duration::from_secs(60),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    }
    tick
}
