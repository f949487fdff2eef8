//! One stream: its details and shards, configuration edits, and deletion.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::use_me;
use crate::api::Stream;
use crate::components::{DeleteZone, ErrorNote, Loading, action_error};
use crate::model::{format, tags::tags_text};
use crate::server_fns::streams::{SetRetention, SetTags, describe_stream};

/// The tabs every stream page shows.
#[component]
pub fn StreamTabs(name: String, current: &'static str) -> impl IntoView {
    let tab = |label: &'static str, href: String, key: &'static str| {
        let selected = if key == current { "page" } else { "false" };
        view! { <a href=href aria-current=selected>{label}</a> }
    };
    view! {
        <p class="crumbs"><A href="/streams">"Data streams"</A> <span>{format!(" / {name}")}</span></p>
        <h1>{name.clone()}</h1>
        <nav class="tabs" aria-label="Stream">
            {tab("Details", format!("/streams/{name}"), "details")}
            {tab("Data viewer", format!("/streams/{name}/data"), "data")}
            {tab("Monitoring", format!("/streams/{name}/monitoring"), "monitoring")}
        </nav>
    }
}

#[component]
pub fn StreamPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let retention = ServerAction::<SetRetention>::new();
    let tags = ServerAction::<SetTags>::new();
    let stream = Resource::new(
        move || (name(), retention.version().get(), tags.version().get()),
        |(name, _, _)| describe_stream(name),
    );
    let me = use_me();
    view! {
        <Title text=move || format!("{} · Data streams · Fjord", name()) />
        <StreamTabs name=name() current="details" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let can_write = me.await.map(|me| me.role.can_write()).unwrap_or(false);
                match stream.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(stream) => view! {
                        <StreamDetails stream=stream.clone() />
                        <Shards stream=stream.clone() />
                        {can_write.then(|| view! {
                            <Configuration stream=stream.clone() retention tags />
                            <DeleteZone
                                kind="streams"
                                name=stream.name.clone()
                                title="Delete data stream"
                                warning="Deleting removes the stream and every record in it. This cannot be undone."
                            />
                        })}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StreamDetails(stream: Stream) -> impl IntoView {
    view! {
        <section aria-labelledby="details">
            <h2 id="details">"Stream details"</h2>
            <dl class="facts">
                <div><dt>"Status"</dt><dd><span class=format!("status {}", stream.status.to_lowercase())>{stream.status.clone()}</span></dd></div>
                <div><dt>"Capacity mode"</dt><dd>{stream.mode.label()}</dd></div>
                <div><dt>"Open shards"</dt><dd>{stream.open_shard_count}</dd></div>
                <div><dt>"Retention"</dt><dd>{format::retention(stream.retention_hours)}</dd></div>
                <div><dt>"Created"</dt><dd>{format::timestamp(&stream.created_at)}</dd></div>
                <div class="wide"><dt>"ARN"</dt><dd class="mono">{stream.arn.clone()}</dd></div>
            </dl>
        </section>
    }
}

#[component]
fn Shards(stream: Stream) -> impl IntoView {
    view! {
        <section aria-labelledby="shards">
            <h2 id="shards">{format!("Shards ({})", stream.shards.len())}</h2>
            <div class="table-wrap">
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Shard"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Hash key range"</th>
                            <th scope="col">"Sequence numbers"</th>
                            <th scope="col">"Parent"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {stream.shards.into_iter().map(|shard| view! {
                            <tr>
                                <th scope="row" class="mono">{shard.shard_id.clone()}</th>
                                <td>{if shard.open { "Open" } else { "Closed" }}</td>
                                <td class="mono small">{format!("{} –", shard.starting_hash_key)} <br/> {shard.ending_hash_key.clone()}</td>
                                <td class="mono small">{format!("{} –", shard.starting_sequence_number)} <br/> {shard.ending_sequence_number.clone().unwrap_or_else(|| "(open)".to_owned())}</td>
                                <td class="mono small">{shard.parent_shard_id.clone().unwrap_or_else(|| "–".to_owned())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Configuration(
    stream: Stream,
    retention: ServerAction<SetRetention>,
    tags: ServerAction<SetTags>,
) -> impl IntoView {
    let saved = |value: Option<Result<(), crate::error::ConsoleError>>| {
        matches!(value, Some(Ok(()))).then(|| view! { <p class="ok" role="status">"Saved."</p> })
    };
    let (retention_name, tags_name) = (stream.name.clone(), stream.name.clone());
    let current_tags = tags_text(&stream.tags);
    let current_retention = stream.retention_hours;
    view! {
        <section aria-labelledby="configuration">
            <h2 id="configuration">"Configuration"</h2>
            <div class="cards">
                <ActionForm action=retention attr:class="card">
                    <input type="hidden" name="name" value=retention_name />
                    <label>
                        "Retention period (hours, 24–8760)"
                        <input type="number" name="retention_hours" min="24" max="8760" required value=current_retention />
                    </label>
                    {move || action_error(retention.value().get())}
                    {move || saved(retention.value().get())}
                    <button type="submit">"Save retention"</button>
                </ActionForm>
                <ActionForm action=tags attr:class="card">
                    <input type="hidden" name="name" value=tags_name />
                    <label>
                        "Tags (key=value, one per line)"
                        <textarea name="tags" rows="4">{current_tags}</textarea>
                    </label>
                    {move || action_error(tags.value().get())}
                    {move || saved(tags.value().get())}
                    <button type="submit">"Save tags"</button>
                </ActionForm>
            </div>
        </section>
    }
}
