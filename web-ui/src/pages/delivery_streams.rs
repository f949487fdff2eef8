//! Delivery streams (Firehose): the list, the create page, and one delivery stream's page with
//! its configuration, the last hour of delivery (metrics and recent failures), a test-record
//! form and deletion.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{use_flash, use_me};
use crate::api::DeliveryStream;
use crate::components::{
    DeleteZone, Empty, ErrorNote, ListHeading, Loading, action_error, minute_tick,
};
use crate::model::delivery_form::{
    BACKUP_MODES, COMPRESSIONS, CONTENT_ENCODINGS, bucket_error, endpoint_url_error,
    error_prefix_error, http_size_error, interval_error, name_error, prefix_error, retry_error,
    size_error,
};
use crate::model::format;
use crate::model::tags::parse_tags;
use crate::server_fns::delivery_streams::{
    CreateDeliveryStream, PutDeliveryRecord, delivery_monitoring, describe_delivery_stream,
    list_delivery_streams,
};
use crate::server_fns::streams::list_streams;

/// Buffer size and interval, in words.
fn buffering(stream: &DeliveryStream) -> String {
    format!(
        "{} MiB or {} s",
        stream.destination.buffering_size_mib, stream.destination.buffering_interval_seconds
    )
}

#[component]
pub fn DeliveryStreamsPage() -> impl IntoView {
    let query = use_query_map();
    let streams = Resource::new(move || query.read().get("cursor"), list_delivery_streams);
    view! {
        <Title text="Delivery streams · Fjord" />
        <ListHeading title="Delivery streams" create_href="/delivery-streams/new" create_label="Create delivery stream" />
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match streams.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <Empty>
                            <p>"No delivery streams yet."</p>
                            <p>"A delivery stream buffers records put into it (or read from a data stream) and writes them to a bucket. Create one here, or with " <code>"aws firehose create-delivery-stream"</code> "."</p>
                        </Empty>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone().map(|cursor| format!("/delivery-streams?cursor={}", format::url_encode(&cursor)));
                        view! {
                            <div class="table-wrap">
                                <table>
                                    <caption class="visually-hidden">"Delivery streams"</caption>
                                    <thead>
                                        <tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"Status"</th>
                                            <th scope="col">"Source"</th>
                                            <th scope="col">"Destination"</th>
                                            <th scope="col">"Buffering"</th>
                                            <th scope="col">"Compression"</th>
                                            <th scope="col">"Created"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {page.items.into_iter().map(|stream| {
                                            let href = format!("/delivery-streams/{}", stream.name);
                                            let target = stream.destination.target();
                                            let (source, buffer) = (stream.source_label(), buffering(&stream));
                                            let status_class = format!("status {}", stream.status.to_lowercase());
                                            let created = format::timestamp(&stream.created_at);
                                            let DeliveryStream { name, status, destination, .. } = stream;
                                            view! {
                                                <tr>
                                                    <th scope="row"><A href=href>{name}</A></th>
                                                    <td><span class=status_class>{status}</span></td>
                                                    <td>{source}</td>
                                                    <td class="mono small">{target}</td>
                                                    <td>{buffer}</td>
                                                    <td>{destination.compression}</td>
                                                    <td>{created}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {next.map(|href| view! { <p><a class="button secondary" href=href>"More delivery streams"</a></p> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// A text field bound to `value`, with its problem shown under it once touched.
#[component]
fn Field(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    touched: RwSignal<bool>,
    problem: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] hint: &'static str,
) -> impl IntoView {
    // Each field shows its problem once it was typed in, so an empty form is not all red.
    let mine = RwSignal::new(false);
    let shown = move || mine.get().then(|| problem.get()).flatten();
    let hint_id = format!("{name}-hint");
    view! {
        <label>
            {label}
            <input
                type=kind
                name=name
                prop:value=move || value.get()
                aria-describedby=hint_id.clone()
                aria-invalid=move || shown().is_some().to_string()
                on:input=move |ev| { mine.set(true); touched.set(true); value.set(event_target_value(&ev)); }
            />
        </label>
        <p class="hint" id=hint_id>{hint}</p>
        {move || shown().map(|problem| view! { <p class="field-error" role="alert">{problem}</p> })}
    }
}

#[component]
pub fn CreateDeliveryStreamPage() -> impl IntoView {
    let create = ServerAction::<CreateDeliveryStream>::new();
    let data_streams = Resource::new(|| (), |_| list_streams(None));
    let name = RwSignal::new(String::new());
    let bucket = RwSignal::new(String::new());
    let prefix = RwSignal::new(String::new());
    let error_prefix = RwSignal::new(String::new());
    let size = RwSignal::new("5".to_owned());
    let interval = RwSignal::new("300".to_owned());
    let tags = RwSignal::new(String::new());
    let kind = RwSignal::new("bucket".to_owned());
    let endpoint_url = RwSignal::new(String::new());
    let retry = RwSignal::new("300".to_owned());
    // Submitting is offered again once the form was touched and is valid.
    let touched = RwSignal::new(false);
    let to_endpoint = move || kind.get() == "http_endpoint";
    let endpoint_problem = Signal::derive(move || {
        to_endpoint()
            .then(|| endpoint_url_error(&endpoint_url.get()))
            .flatten()
    });
    let retry_problem =
        Signal::derive(move || to_endpoint().then(|| retry_error(&retry.get())).flatten());
    let name_problem = Signal::derive(move || name_error(&name.get()));
    let bucket_problem = Signal::derive(move || bucket_error(&bucket.get()));
    let prefix_problem = Signal::derive(move || prefix_error(&prefix.get()));
    let error_prefix_problem =
        Signal::derive(move || error_prefix_error(&prefix.get(), &error_prefix.get()));
    let size_problem = Signal::derive(move || {
        if to_endpoint() {
            http_size_error(&size.get())
        } else {
            size_error(&size.get())
        }
    });
    let interval_problem = Signal::derive(move || interval_error(&interval.get()));
    let tags_problem = move || parse_tags(&tags.get()).err();
    let invalid = move || {
        [
            name_problem.get(),
            bucket_problem.get(),
            prefix_problem.get(),
            error_prefix_problem.get(),
            size_problem.get(),
            interval_problem.get(),
            tags_problem(),
            endpoint_problem.get(),
            retry_problem.get(),
        ]
        .iter()
        .any(Option::is_some)
    };
    let pending = create.pending();
    view! {
        <Title text="Create delivery stream · Fjord" />
        <p class="crumbs"><A href="/delivery-streams">"Delivery streams"</A> " / Create"</p>
        <h1>"Create delivery stream"</h1>
        <ActionForm action=create>
            <fieldset>
                <legend>"Delivery stream"</legend>
                <Field label="Delivery stream name" name="name" value=name touched problem=name_problem
                    hint="1–64 characters: letters, digits, _ . and -." />
            </fieldset>
            <fieldset>
                <legend>"Source"</legend>
                <label class="choice">
                    <input type="radio" name="source" value="direct_put" checked />
                    "Direct put " <span class="hint">"— producers call PutRecord and PutRecordBatch"</span>
                </label>
                <label class="choice">
                    <input type="radio" name="source" value="kinesis_stream" />
                    "Data stream " <span class="hint">"— read from one of your data streams"</span>
                </label>
                <label>
                    "Data stream to read " <span class="hint">"(for a data stream source)"</span>
                    <Suspense fallback=|| view! { <select name="source_stream" disabled><option>"Loading…"</option></select> }>
                        {move || Suspend::new(async move {
                            let names: Vec<String> = data_streams.await.map(|overview| overview.page.items.into_iter().map(|s| s.name).collect()).unwrap_or_default();
                            view! {
                                <select name="source_stream">
                                    {names.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                </label>
            </fieldset>
            <fieldset>
                <legend>"Destination"</legend>
                <label class="choice">
                    <input type="radio" name="destination" value="bucket" checked on:change=move |_| kind.set("bucket".to_owned()) />
                    "Bucket " <span class="hint">"— objects in a bucket"</span>
                </label>
                <label class="choice">
                    <input type="radio" name="destination" value="http_endpoint" on:change=move |_| kind.set("http_endpoint".to_owned()) />
                    "HTTP endpoint " <span class="hint">"— POSTed with Firehose's HTTP endpoint contract; the bucket below keeps what it does not take"</span>
                </label>
            </fieldset>
            <fieldset>
                <legend>"HTTP endpoint " <span class="hint">"(for an HTTP endpoint destination)"</span></legend>
                <Field label="Endpoint URL" name="endpoint_url" value=endpoint_url touched problem=endpoint_problem
                    hint="http:// or https://, up to 1000 characters." />
                <label>
                    "Endpoint name " <span class="hint">"(optional)"</span>
                    <input type="text" name="endpoint_name" />
                </label>
                <label>
                    "Access key " <span class="hint">"(optional; sent as X-Amz-Firehose-Access-Key, never shown again)"</span>
                    <input type="password" name="access_key" autocomplete="off" />
                </label>
                <label>
                    "Request encoding"
                    <select name="content_encoding">
                        {CONTENT_ENCODINGS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                    </select>
                </label>
                <Field label="Retry duration (seconds)" name="retry_seconds" kind="number" value=retry touched problem=retry_problem
                    hint="0–7200: how long a refused request is retried before its records go to the backup bucket." />
                <label>
                    "Backup bucket gets"
                    <select name="backup_mode">
                        {BACKUP_MODES.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                    </select>
                </label>
            </fieldset>
            <fieldset>
                <legend>"Bucket " <span class="hint">"(for an HTTP endpoint: its backup bucket)"</span></legend>
                <Field label="Bucket" name="bucket" value=bucket touched problem=bucket_problem
                    hint="Delivered as arn:aws:s3:::<bucket>; without a configured object store, Fjord's local storage." />
                <Field label="Prefix (optional)" name="prefix" value=prefix touched problem=prefix_problem
                    hint="Up to 1024 characters; may use !{timestamp:yyyy/MM/dd}. Without expressions, yyyy/MM/dd/HH/ follows it." />
                <Field label="Error output prefix" name="error_output_prefix" value=error_prefix touched problem=error_prefix_problem
                    hint="Where records that cannot be delivered go; needed when the prefix has !{…} expressions." />
            </fieldset>
            <fieldset>
                <legend>"Buffering and compression"</legend>
                <Field label="Buffer size (MiB)" name="size_mib" kind="number" value=size touched problem=size_problem
                    hint="1–128 (1–64 for an HTTP endpoint): records are delivered when this much has arrived…" />
                <Field label="Buffer interval (seconds)" name="interval_seconds" kind="number" value=interval touched problem=interval_problem
                    hint="0–900: …or when the oldest record is this old." />
                <label>
                    "Compression"
                    <select name="compression">
                        {COMPRESSIONS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                    </select>
                </label>
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
                <A href="/delivery-streams" attr:class="button secondary">"Cancel"</A>
                <button type="submit" disabled=move || pending.get() || (touched.get() && invalid())>
                    {move || if pending.get() { "Creating…" } else { "Create delivery stream" }}
                </button>
            </div>
        </ActionForm>
    }
}

#[component]
pub fn DeliveryStreamPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let stream = Resource::new(name, describe_delivery_stream);
    let me = use_me();
    view! {
        <Title text=move || format!("{} · Delivery streams · Fjord", name()) />
        <p class="crumbs"><A href="/delivery-streams">"Delivery streams"</A> <span>{format!(" / {}", name())}</span></p>
        <h1>{name()}</h1>
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let can_write = me.await.map(|me| me.role.can_write()).unwrap_or(false);
                match stream.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(stream) => view! {
                        <DeliveryDetails stream=stream.clone() />
                        <DeliveryMonitoringSection name=stream.name.clone() />
                        {(can_write && stream.source == "direct_put").then(|| view! { <PutTestRecord name=stream.name.clone() /> })}
                        {can_write.then(|| view! {
                            <DeleteZone
                                kind="delivery-streams"
                                name=stream.name.clone()
                                title="Delete delivery stream"
                                warning="Deleting stops delivery and drops records not yet delivered. Objects already in the bucket stay."
                            />
                        })}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DeliveryDetails(stream: DeliveryStream) -> impl IntoView {
    let destination = stream.destination.clone();
    let tags = if stream.tags.is_empty() {
        "–".to_owned()
    } else {
        stream
            .tags
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let or_dash = |text: &str| {
        if text.is_empty() {
            "–".to_owned()
        } else {
            text.to_owned()
        }
    };
    view! {
        <section aria-labelledby="details">
            <h2 id="details">"Delivery stream details"</h2>
            <dl class="facts">
                <div><dt>"Status"</dt><dd><span class=format!("status {}", stream.status.to_lowercase())>{stream.status.clone()}</span></dd></div>
                <div><dt>"Source"</dt><dd>{stream.source_label()}</dd></div>
                <div><dt>"Version"</dt><dd>{stream.version_id}</dd></div>
                <div><dt>"Created"</dt><dd>{format::timestamp(&stream.created_at)}</dd></div>
                <div class="wide"><dt>"ARN"</dt><dd class="mono">{stream.arn.clone()}</dd></div>
                <div class="wide"><dt>"Tags"</dt><dd>{tags}</dd></div>
            </dl>
        </section>
        {destination.http_endpoint.clone().map(|endpoint| view! {
            <section aria-labelledby="endpoint">
                <h2 id="endpoint">"HTTP endpoint"</h2>
                <dl class="facts">
                    <div class="wide"><dt>"URL"</dt><dd class="mono">{endpoint.url}</dd></div>
                    <div><dt>"Name"</dt><dd>{or_dash(&endpoint.name)}</dd></div>
                    <div><dt>"Access key"</dt><dd>{if endpoint.access_key_set { "Set (never shown)" } else { "None" }}</dd></div>
                    <div><dt>"Request encoding"</dt><dd>{endpoint.content_encoding}</dd></div>
                    <div><dt>"Retry duration"</dt><dd>{format!("{} s", endpoint.retry_duration_seconds)}</dd></div>
                    <div><dt>"Backup mode"</dt><dd>{endpoint.backup_mode}</dd></div>
                </dl>
            </section>
        })}
        <section aria-labelledby="destination">
            <h2 id="destination">{if destination.http_endpoint.is_some() { "Backup bucket" } else { "Destination" }}</h2>
            <dl class="facts">
                <div><dt>"Bucket"</dt><dd class="mono">{destination.bucket_arn.clone()}</dd></div>
                <div><dt>"Prefix"</dt><dd class="mono">{or_dash(&destination.prefix)}</dd></div>
                <div><dt>"Error output prefix"</dt><dd class="mono">{or_dash(&destination.error_output_prefix)}</dd></div>
                <div><dt>"Buffering"</dt><dd>{buffering(&stream)}</dd></div>
                <div><dt>"Compression"</dt><dd>{destination.compression.clone()}</dd></div>
                <div class="wide"><dt>"Transformation"</dt><dd class="mono">{destination.transformation()}</dd></div>
                <div class="wide"><dt>"Dynamic partitioning"</dt><dd class="mono">{destination.partitioning()}</dd></div>
                <div class="wide"><dt>"Format conversion"</dt><dd class="mono">{destination.conversion.as_ref().map_or_else(|| "–".to_owned(), |conversion| conversion.describe())}</dd></div>
                <div><dt>"Destination id"</dt><dd class="mono">{destination.destination_id.clone()}</dd></div>
            </dl>
        </section>
    }
}

/// The last hour of delivery: totals, charts per minute and the newest failures, refreshed
/// every minute while the page is open (with JavaScript).
#[component]
fn DeliveryMonitoringSection(name: String) -> impl IntoView {
    let tick = minute_tick();
    let monitoring = Resource::new(
        move || (name.clone(), tick.get()),
        |(name, _)| delivery_monitoring(name),
    );
    view! {
        <section aria-labelledby="monitoring">
            <h2 id="monitoring">"Delivery, the last hour"</h2>
            <p class="hint">"Per minute (UTC), as the workers report it every few seconds. Records are retried until delivered; each failed attempt is counted."</p>
            <Transition fallback=|| view! { <Loading label="Loading metrics…" /> }>
                {move || Suspend::new(async move {
                    match monitoring.await {
                        Err(error) => view! { <ErrorNote error /> }.into_any(),
                        Ok(monitoring) => {
                            let totals = monitoring.totals.clone();
                            view! {
                                <dl class="facts">
                                    <div><dt>"Records delivered"</dt><dd>{format::thousands(totals.delivered_records)}</dd></div>
                                    <div><dt>"Bytes delivered"</dt><dd>{format::bytes(totals.delivered_bytes)}</dd></div>
                                    <div><dt>"Objects written"</dt><dd>{format::thousands(totals.deliveries)}</dd></div>
                                    <div><dt>"Failed attempts"</dt><dd>{format::thousands(totals.failed_attempts)}</dd></div>
                                    <div><dt>"Duplicates"</dt><dd>{format::thousands(totals.duplicates)}</dd></div>
                                    <div><dt>"Data freshness (max)"</dt><dd>{format::milliseconds(totals.freshness_ms_max as i64)}</dd></div>
                                </dl>
                                <div class="charts">
                                    {monitoring.charts.into_iter().map(|chart| view! {
                                        <figure class="chart card">
                                            <figcaption><strong>{chart.title.clone()}</strong></figcaption>
                                            <div class="plot" role="img" aria-label=chart.summary.clone() inner_html=chart.svg></div>
                                            <p class="hint">{chart.summary}</p>
                                        </figure>
                                    }).collect_view()}
                                </div>
                                <h3 id="failures">"Recent delivery failures"</h3>
                                {if monitoring.failures.is_empty() {
                                    view! { <p class="hint">"None reported."</p> }.into_any()
                                } else {
                                    view! {
                                        <table aria-labelledby="failures">
                                            <thead><tr><th scope="col">"When"</th><th scope="col">"Stage"</th><th scope="col">"Records"</th><th scope="col">"What happened"</th></tr></thead>
                                            <tbody>
                                                {monitoring.failures.into_iter().map(|failure| view! {
                                                    <tr>
                                                        <td>{format::timestamp(&failure.occurred_at)}</td>
                                                        <td>{failure.stage}</td>
                                                        <td>{format::thousands(failure.records)}</td>
                                                        <td class="mono">{failure.message}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PutTestRecord(name: String) -> impl IntoView {
    let put = ServerAction::<PutDeliveryRecord>::new();
    let flashed = use_flash::<String>("put_delivery_record");
    let result = move || put.value().get().and_then(Result::ok).or_else(&flashed);
    view! {
        <details class="card" open=move || result().is_some()>
            <summary>"Put a test record"</summary>
            <ActionForm action=put>
                <input type="hidden" name="name" value=name />
                <label>
                    "Data " <span class="hint">"(stored as typed, UTF-8)"</span>
                    <textarea name="data" rows="3" class="mono">"{\"hello\": \"fjord\"}"</textarea>
                </label>
                <label class="choice">
                    <input type="checkbox" name="newline" value="on" checked />
                    "End it with a newline " <span class="hint">"(Firehose adds no delimiter between records)"</span>
                </label>
                {move || action_error(put.value().get())}
                {move || result().map(|id| view! {
                    <p class="ok" role="status">{format!("Put as record {id}; it is delivered with the next buffer.")}</p>
                })}
                <button type="submit" disabled=move || put.pending().get()>"Put record"</button>
            </ActionForm>
        </details>
    }
}
