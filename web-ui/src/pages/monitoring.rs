//! A stream's monitoring tab: per-minute charts of the last hour, refreshed every minute while
//! the page is open (with JavaScript; without it, a reload shows the new minutes).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::stream::StreamTabs;
use crate::components::{ErrorNote, Loading, minute_tick};
use crate::server_fns::streams::stream_charts;

#[component]
pub fn MonitoringPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let tick = minute_tick();
    let charts = Resource::new(
        move || (name(), tick.get()),
        |(name, _)| stream_charts(name),
    );
    view! {
        <Title text=move || format!("Monitoring · {} · Fjord", name()) />
        <StreamTabs name=name() current="monitoring" />
        <p class="hint">"Per minute, the last hour (UTC). Updated every minute while this page is open."</p>
        <Transition fallback=|| view! { <Loading label="Loading metrics…" /> }>
            {move || Suspend::new(async move {
                match charts.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(charts) => view! {
                        <div class="charts">
                            {charts.into_iter().map(|chart| view! {
                                <figure class="chart card">
                                    <figcaption><strong>{chart.title.clone()}</strong></figcaption>
                                    <div class="plot" role="img" aria-label=chart.summary.clone() inner_html=chart.svg></div>
                                    <p class="hint">{chart.summary}</p>
                                </figure>
                            }).collect_view()}
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
