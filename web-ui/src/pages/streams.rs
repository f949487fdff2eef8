//! The streams list and the create-stream page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::{Empty, ErrorNote, ListHeading, Loading, action_error};
use crate::model::format;
use crate::model::stream_form::{name_error, retention_error, shard_count_error};
use crate::model::tags::parse_tags;
use crate::server_fns::streams::{CreateStream, StreamsOverview, list_streams};

#[component]
pub fn StreamsPage() -> impl IntoView {
    let query = use_query_map();
    let streams = Resource::new(move || query.read().get("cursor"), list_streams);
    view! {
        <Title text="Data streams · Fjord" />
        <ListHeading title="Data streams" create_href="/streams/new" create_label="Create data stream" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match streams.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(overview) if overview.page.items.is_empty() => view! {
                        <Empty>
                            <p>"No data streams yet."</p>
                            <p>"Create one here, or with " <code>"aws kinesis create-stream"</code> " — see " <a href="/getting-started">"Getting started"</a> "."</p>
                        </Empty>
                    }.into_any(),
                    Ok(StreamsOverview { page, sparklines }) => {
                        let next = page.next_cursor.clone().map(|cursor| format!("/streams?cursor={}", crate::model::format::url_encode(&cursor)));
                        view! {
                        <div class="table-wrap">
                            <table>
                                <caption class="visually-hidden">"Data streams"</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"Capacity mode"</th>
                                        <th scope="col">"Open shards"</th>
                                        <th scope="col">"Incoming records, last hour"</th>
                                        <th scope="col">"Retention"</th>
                                        <th scope="col">"Created"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {page.items.into_iter().map(|stream| {
                                        let href = format!("/streams/{}", stream.name);
                                        let spark = sparklines.get(&stream.name).cloned();
                                        view! {
                                            <tr>
                                                <th scope="row"><A href=href>{stream.name.clone()}</A></th>
                                                <td><span class=format!("status {}", stream.status.to_lowercase())>{stream.status.clone()}</span></td>
                                                <td>{stream.mode.label()}</td>
                                                <td class="num">{stream.open_shard_count.map(|n| n.to_string()).unwrap_or_else(|| "–".to_owned())}</td>
                                                <td class="spark">{spark.map(|spark| view! {
                                                    <span class="sparkline" inner_html=spark.svg></span>
                                                    <span class="num">{format::thousands(spark.last_hour)}</span>
                                                })}</td>
                                                <td>{format::retention(stream.retention_hours)}</td>
                                                <td>{format::timestamp(&stream.created_at)}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        {next.map(|href| view! { <p><a class="button secondary" href=href>"More streams"</a></p> })}
                    }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn CreateStreamPage() -> impl IntoView {
    let create = ServerAction::<CreateStream>::new();
    let name = RwSignal::new(String::new());
    let mode = RwSignal::new("on_demand".to_owned());
    let shard_count = RwSignal::new("1".to_owned());
    let retention = RwSignal::new("24".to_owned());
    let tags = RwSignal::new(String::new());
    // Problems are shown once a field was touched, so an empty form is not all red.
    let touched = RwSignal::new(false);
    let name_problem = move || touched.get().then(|| name_error(&name.get())).flatten();
    let shard_problem = move || shard_count_error(&mode.get(), &shard_count.get());
    let retention_problem = move || retention_error(&retention.get());
    let tags_problem = move || parse_tags(&tags.get()).err();
    let invalid = move || {
        name_error(&name.get()).is_some()
            || shard_problem().is_some()
            || retention_problem().is_some()
            || tags_problem().is_some()
    };
    let pending = create.pending();
    view! {
        <Title text="Create data stream · Fjord" />
        <p class="crumbs"><A href="/streams">"Data streams"</A> " / Create"</p>
        <h1>"Create data stream"</h1>
        <ActionForm action=create>
            <fieldset>
                <legend>"Data stream configuration"</legend>
                <label>
                    "Data stream name"
                    <input
                        type="text"
                        name="name"
                        required
                        maxlength="128"
                        pattern="[a-zA-Z0-9_.\\-]+"
                        aria-describedby="name-hint"
                        aria-invalid=move || name_problem().is_some().to_string()
                        on:input=move |ev| { touched.set(true); name.set(event_target_value(&ev)); }
                    />
                </label>
                <p class="hint" id="name-hint">"1–128 characters: letters, digits, _ . and -."</p>
                {move || name_problem().map(|problem| view! { <p class="field-error" role="alert">{problem}</p> })}
            </fieldset>
            <fieldset>
                <legend>"Capacity mode"</legend>
                <label class="choice">
                    <input type="radio" name="mode" value="on_demand" checked on:change=move |_| mode.set("on_demand".into()) />
                    "On-demand " <span class="hint">"— scales without shard planning"</span>
                </label>
                <label class="choice">
                    <input type="radio" name="mode" value="provisioned" on:change=move |_| mode.set("provisioned".into()) />
                    "Provisioned " <span class="hint">"— a fixed number of shards"</span>
                </label>
                <label>
                    "Provisioned shards"
                    <input
                        type="number"
                        name="shard_count"
                        min="1"
                        max="100000"
                        prop:value=move || shard_count.get()
                        aria-invalid=move || shard_problem().is_some().to_string()
                        on:input=move |ev| shard_count.set(event_target_value(&ev))
                    />
                </label>
                <p class="hint">"Used for provisioned mode only; each shard takes 1 MB/s or 1,000 records/s in."</p>
                {move || shard_problem().map(|problem| view! { <p class="field-error" role="alert">{problem}</p> })}
            </fieldset>
            <fieldset>
                <legend>"Data retention and tags"</legend>
                <label>
                    "Retention period (hours)"
                    <input
                        type="number"
                        name="retention_hours"
                        min="24"
                        max="8760"
                        prop:value=move || retention.get()
                        aria-invalid=move || retention_problem().is_some().to_string()
                        on:input=move |ev| retention.set(event_target_value(&ev))
                    />
                </label>
                {move || retention_problem().map(|problem| view! { <p class="field-error" role="alert">{problem}</p> })}
                <label>
                    "Tags " <span class="hint">"(key=value, one per line; optional)"</span>
                    <textarea
                        name="tags"
                        rows="3"
                        aria-invalid=move || tags_problem().is_some().to_string()
                        on:input=move |ev| tags.set(event_target_value(&ev))
                    ></textarea>
                </label>
                {move || tags_problem().map(|problem| view! { <p class="field-error" role="alert">{problem}</p> })}
            </fieldset>
            {move || action_error(create.value().get())}
            <div class="actions">
                <A href="/streams" attr:class="button secondary">"Cancel"</A>
                <button type="submit" disabled=move || pending.get() || (touched.get() && invalid())>
                    {move || if pending.get() { "Creating…" } else { "Create data stream" }}
                </button>
            </div>
        </ActionForm>
    }
}
