//! The data viewer (like the AWS console's): pick a shard and a starting position, page
//! through records; follow new ones live; put a test record.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::stream::StreamTabs;
use super::{use_flash, use_me};
use crate::api::{PutRecordResult, Record, Stream};
use crate::components::{Empty, ErrorNote, Loading, action_error};
use crate::model::format;
use crate::model::record_data::{decoded_len, view_base64};
use crate::server_fns::records::{PutRecord, ReadPosition, read_records};
use crate::server_fns::streams::describe_stream;

const POSITIONS: [(&str, &str); 5] = [
    ("trim_horizon", "Trim horizon (oldest)"),
    ("latest", "Latest"),
    ("at_sequence", "At sequence number"),
    ("after_sequence", "After sequence number"),
    ("at_timestamp", "At timestamp (UTC)"),
];

#[component]
pub fn DataPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let stream = Resource::new(name, describe_stream);
    let position = move || {
        let query = query.read();
        query.get("shard").map(|shard| ReadPosition {
            shard,
            from: query
                .get("from")
                .unwrap_or_else(|| "trim_horizon".to_owned()),
            sequence: query.get("sequence"),
            timestamp: query.get("timestamp").map(|t| format::rfc3339_utc(&t)),
            cursor: query.get("cursor"),
            limit: None,
        })
    };
    let records = Resource::new(
        move || (name(), position()),
        |(name, position)| async move {
            match position {
                Some(position) => read_records(name, position).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let me = use_me();
    view! {
        <Title text=move || format!("Data viewer · {} · Fjord", name()) />
        <StreamTabs name=name() current="data" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match stream.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(stream) => {
                        let can_write = me.await.map(|me| me.role.can_write()).unwrap_or(false);
                        view! {
                            <ReadForm stream=stream.clone() />
                            {can_write.then(|| view! { <PutTestRecord stream=stream.clone() /> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
        <section aria-labelledby="records">
            <h2 id="records">"Records"</h2>
            <Transition fallback=|| view! { <Loading label="Reading records…" /> }>
                {move || Suspend::new(async move {
                    match records.await {
                        Err(error) => view! { <ErrorNote error /> }.into_any(),
                        Ok(None) => view! { <Empty><p>"Pick a shard and a starting position, then " <strong>"Get records"</strong> "."</p></Empty> }.into_any(),
                        Ok(Some(page)) => {
                            let next = position().map(|p| {
                                format!("/streams/{}/data?shard={}&cursor={}", name(), p.shard, crate::model::format::url_encode(&page.next_cursor))
                            });
                            let behind = format::milliseconds(page.millis_behind_latest);
                            view! {
                                <p class="hint">{format!("{} · {behind} behind the newest", count_label(page.records.len()))}</p>
                                <RecordsTable records=page.records.clone() />
                                {next.map(|href| view! { <p><a class="button secondary" href=href>"Next page"</a></p> })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                stream.await.ok().map(|stream| view! { <LiveTail stream /> })
            })}
        </Suspense>
    }
}

#[component]
fn ReadForm(stream: Stream) -> impl IntoView {
    let query = use_query_map();
    let current = move |key: &str| query.read().get(key).unwrap_or_default();
    let chosen_from = current("from");
    let chosen_shard = current("shard");
    let action = format!("/streams/{}/data", stream.name);
    view! {
        <Form method="GET" action=action attr:class="toolbar" attr:aria-label="Read records">
            <label>
                "Shard"
                <select name="shard">
                    {stream.shards.iter().map(|shard| {
                        let selected = shard.shard_id == chosen_shard;
                        view! { <option value=shard.shard_id.clone() selected=selected>{shard.shard_id.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Starting position"
                <select name="from">
                    {POSITIONS.iter().map(|(value, label)| {
                        let selected = *value == chosen_from;
                        view! { <option value=*value selected=selected>{*label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Sequence number" <input type="text" name="sequence" class="mono" inputmode="numeric" value=current("sequence") />
            </label>
            <label>
                "Timestamp (UTC)" <input type="datetime-local" name="timestamp" step="1" value=current("timestamp") />
            </label>
            <button type="submit">"Get records"</button>
        </Form>
    }
}

#[component]
fn RecordsTable(records: Vec<Record>) -> impl IntoView {
    if records.is_empty() {
        return view! { <Empty><p>"No records at this position. Try " <em>"Trim horizon"</em> ", or put a test record."</p></Empty> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="records">
                <thead>
                    <tr>
                        <th scope="col">"Partition key"</th>
                        <th scope="col">"Sequence number"</th>
                        <th scope="col">"Arrival time"</th>
                        <th scope="col">"Data"</th>
                    </tr>
                </thead>
                <tbody>
                    {records.into_iter().map(|record| view! { <RecordRow record /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn RecordRow(record: Record) -> impl IntoView {
    let data = view_base64(&record.data_base64);
    let size = format::bytes(decoded_len(&record.data_base64) as u64);
    view! {
        <tr>
            <td class="mono">{record.partition_key.clone()}</td>
            <td class="mono small">{record.sequence_number.clone()}</td>
            <td>{format::timestamp(&record.arrival_time)}</td>
            <td>
                <span class="badge">{format!("{} · {size}", data.label())}</span>
                <pre class="data">{data.body().to_owned()}</pre>
            </td>
        </tr>
    }
}

#[component]
fn PutTestRecord(stream: Stream) -> impl IntoView {
    let put = ServerAction::<PutRecord>::new();
    let flashed = use_flash::<PutRecordResult>("put_record");
    let name = stream.name.clone();
    let result = move || put.value().get().and_then(Result::ok).or_else(&flashed);
    view! {
        <details class="card" open=move || result().is_some()>
            <summary>"Put a test record"</summary>
            <ActionForm action=put>
                <input type="hidden" name="name" value=stream.name.clone() />
                <label>
                    "Partition key" <input type="text" name="partition_key" required maxlength="256" value="test" />
                </label>
                <label>
                    "Data " <span class="hint">"(stored as typed, UTF-8)"</span>
                    <textarea name="data" rows="3" class="mono">"{\"hello\": \"fjord\"}"</textarea>
                </label>
                {move || action_error(put.value().get())}
                {move || result().map(|put| {
                    let href = format!("/streams/{}/data?shard={}&from=at_sequence&sequence={}", name, put.shard_id, put.sequence_number);
                    view! {
                        <p class="ok" role="status">
                            "Put into " <span class="mono">{put.shard_id.clone()}</span> " at sequence number "
                            <span class="mono">{put.sequence_number.clone()}</span> ". " <a href=href>"View it"</a>
                        </p>
                    }
                })}
                <button type="submit" disabled=move || put.pending().get()>"Put record"</button>
            </ActionForm>
        </details>
    }
}

/// New records as they arrive (server-sent events through `/console/tail`); needs
/// JavaScript, so a browser without it is told so.
#[component]
fn LiveTail(stream: Stream) -> impl IntoView {
    let shard = RwSignal::new(
        stream
            .shards
            .first()
            .map(|s| s.shard_id.clone())
            .unwrap_or_default(),
    );
    let following = RwSignal::new(false);
    let arrived: RwSignal<Vec<Record>> = RwSignal::new(Vec::new());
    let status = RwSignal::new(String::new());
    let name = stream.name.clone();
    #[cfg(feature = "hydrate")]
    let source: StoredValue<Option<web_sys::EventSource>, LocalStorage> =
        StoredValue::new_local(None);
    let toggle = move |_| {
        if following.get_untracked() {
            #[cfg(feature = "hydrate")]
            if let Some(source) = source.try_update_value(Option::take).flatten() {
                source.close();
            }
            following.set(false);
            status.set("Stopped.".to_owned());
            return;
        }
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast as _;
            use wasm_bindgen::closure::Closure;
            let url = format!(
                "/console/tail/{}/{}?from=latest",
                name,
                shard.get_untracked()
            );
            let Ok(events) = web_sys::EventSource::new(&url) else {
                status.set("Could not open the live tail.".to_owned());
                return;
            };
            let on_record = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    let Some(text) = event.data().as_string() else {
                        return;
                    };
                    if let Ok(record) = serde_json::from_str::<Record>(&text) {
                        arrived.update(|list| {
                            list.insert(0, record);
                            list.truncate(100);
                        });
                    }
                },
            );
            let _ = events
                .add_event_listener_with_callback("record", on_record.as_ref().unchecked_ref());
            on_record.forget();
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                status.set("Connection interrupted; reconnecting…".to_owned());
            });
            events.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error.forget();
            source.set_value(Some(events));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &name;
        following.set(true);
        status.set("Following new records…".to_owned());
    };
    view! {
        <section aria-labelledby="tail" class="card">
            <h2 id="tail">"Live tail"</h2>
            <noscript><p class="hint">"Live tail needs JavaScript. Without it, read from " <em>"Latest"</em> " above and reload."</p></noscript>
            <div class="toolbar">
                <label>
                    "Shard"
                    <select on:change=move |ev| shard.set(event_target_value(&ev)) prop:disabled=move || following.get()>
                        {stream.shards.iter().map(|s| view! { <option value=s.shard_id.clone()>{s.shard_id.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="button" on:click=toggle>{move || if following.get() { "Stop" } else { "Start live tail" }}</button>
                <span role="status" aria-live="polite" class="hint">{move || status.get()}</span>
            </div>
            {move || {
                let records = arrived.get();
                (!records.is_empty()).then(|| view! { <RecordsTable records /> })
            }}
        </section>
    }
}

fn count_label(count: usize) -> String {
    if count == 1 {
        "1 record".to_owned()
    } else {
        format!("{count} records")
    }
}
