//! A stream's monitoring tab: per-minute charts of the last hour, refreshed every minute while
//! the page is open (with JavaScript; without it, a reload shows the new minutes).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::stream::StreamTabs;
use crate::components::{ErrorNote, Loading};
use crate::server_fns::streams::stream_charts;

#[component]
pub fn MonitoringPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let tick = RwSignal::new(0u32);
    let charts = Resource::new(
        move || (name(), tick.get()),
        |(name, _)| stream_charts(name),
    );
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
