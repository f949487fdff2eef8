//! The audit log: who did what, when, from where; filterable, newest first.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::components::{Empty, ErrorNote, Loading, admin_only};
use crate::model::format;
use crate::server_fns::audit::{AuditFilter, list_audit};

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        let get = |key: &str| query.get(key).filter(|v| !v.is_empty());
        AuditFilter {
            action: get("action"),
            actor: get("actor"),
            outcome: get("outcome"),
            from: get("from").map(|t| format::rfc3339_utc(&t)),
            to: get("to").map(|t| format::rfc3339_utc(&t)),
            cursor: get("cursor"),
        }
    };
    let entries = Resource::new(filter, list_audit);
    let current = move |key: &str| query.read().get(key).unwrap_or_default();
    let log = move |_me: crate::api::Me| {
        let outcome = current("outcome");
        view! {
        <Form method="GET" action="/audit" attr:class="toolbar" attr:aria-label="Filter the audit log">
            <label>"Action starts with" <input type="text" name="action" placeholder="kinesis:" value=current("action") /></label>
            <label>"Actor" <input type="text" name="actor" placeholder="user id or key id" value=current("actor") /></label>
            <label>"Outcome"
                <select name="outcome">
                    <option value="" selected=outcome.is_empty()>"Any"</option>
                    <option value="success" selected=outcome == "success">"Success"</option>
                    <option value="failure" selected=outcome == "failure">"Failure"</option>
                </select>
            </label>
            <label>"From (UTC)" <input type="datetime-local" name="from" step="1" value=current("from") /></label>
            <label>"To (UTC)" <input type="datetime-local" name="to" step="1" value=current("to") /></label>
            <button type="submit">"Filter"</button>
        </Form>
        <Transition fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! { <Empty><p>"No entries match."</p></Empty> }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone().map(|cursor| {
                            let f = filter();
                            let keep = |key: &str, value: Option<String>| value.map(|v| format!("&{key}={}", crate::model::format::url_encode(&v))).unwrap_or_default();
                            format!("/audit?cursor={}{}{}{}", crate::model::format::url_encode(&cursor), keep("action", f.action), keep("actor", f.actor), keep("outcome", f.outcome))
                        });
                        view! {
                            <div class="table-wrap"><table>
                                <thead><tr>
                                    <th scope="col">"Time"</th><th scope="col">"Actor"</th><th scope="col">"Action"</th>
                                    <th scope="col">"Resource"</th><th scope="col">"Outcome"</th><th scope="col">"Source"</th>
                                </tr></thead>
                                <tbody>
                                    {page.items.into_iter().map(|entry| view! {
                                        <tr>
                                            <td>{format::timestamp(&entry.occurred_at)}</td>
                                            <td><span class="hint">{entry.actor_type.clone()}</span><br/><span class="mono small">{entry.actor_id.clone()}</span></td>
                                            <td class="mono">{entry.action.clone()}</td>
                                            <td class="mono small">{entry.resource.clone()}</td>
                                            <td>
                                                <span class=format!("status {}", entry.outcome)>{entry.outcome.clone()}</span>
                                                {entry.error_code.clone().map(|code| view! { <br/><span class="mono small">{code}</span> })}
                                            </td>
                                            <td class="mono small">{entry.source_ip.clone().unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                            {next.map(|href| view! { <p><a class="button secondary" href=href>"Older entries"</a></p> })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
        }
        .into_any()
    };
    view! {
        <Title text="Audit log · Fjord" />
        <h1>"Audit log"</h1>
        {admin_only("Reading the audit log", log)}
    }
}
