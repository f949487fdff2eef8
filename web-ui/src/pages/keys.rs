//! Access keys for the AWS-compatible endpoint and the REST API: create (the secret shown
//! once), list with last use, disable or enable, delete.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{use_flash, use_me};
use crate::api::{CreatedKey, Key, Role};
use crate::components::{Empty, ErrorNote, Loading, SecretBox, action_error};
use crate::model::format;
use crate::server_fns::keys::{CreateKey, DeleteKey, SetKeyEnabled, list_keys};

#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let toggle = ServerAction::<SetKeyEnabled>::new();
    let delete = ServerAction::<DeleteKey>::new();
    let keys = Resource::new(
        move || {
            (
                create.version().get(),
                toggle.version().get(),
                delete.version().get(),
            )
        },
        |_| list_keys(None),
    );
    let me = use_me();
    let flashed = use_flash::<CreatedKey>("create_key");
    let created = move || create.value().get().and_then(Result::ok).or_else(&flashed);
    view! {
        <Title text="Access keys · Fjord" />
        <h1>"Access keys"</h1>
        <p class="lead">"Apps sign calls to the Kinesis endpoint and the REST API with an access key. A key acts with its role, never more than its creator's."</p>
        {move || created().map(|key| view! {
            <div class="callout" role="status">
                <h2>{format!("Key “{}” created", key.name)}</h2>
                <p class="warning">"Copy the secret access key now: it is shown only this once and cannot be recovered."</p>
                <SecretBox label="Access key id" value=key.access_key_id.clone() />
                <SecretBox label="Secret access key" value=key.secret_access_key.clone() />
            </div>
        })}
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let me = match me.await {
                    Ok(me) => me,
                    Err(error) => return view! { <ErrorNote error /> }.into_any(),
                };
                let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| *r <= me.role).collect();
                let admin = me.role.is_admin();
                view! {
                    <details class="card" open>
                        <summary>"Create access key"</summary>
                        <ActionForm action=create>
                            <label>"Name " <span class="hint">"(what it is for)"</span>
                                <input type="text" name="name" required maxlength="128" placeholder="orders ingest" />
                            </label>
                            <label>"Role"
                                <select name="role">
                                    {roles.into_iter().map(|role| {
                                        let selected = role == Role::Developer.min(me.role);
                                        view! { <option value=role.as_str() selected=selected>{role.as_str()}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                            <fieldset class="inline">
                                <legend>"Belongs to"</legend>
                                {admin.then(|| view! {
                                    <label class="choice"><input type="radio" name="owner" value="tenant" checked />"The tenant"</label>
                                })}
                                <label class="choice"><input type="radio" name="owner" value="self" checked=!admin />"Me (a personal key)"</label>
                            </fieldset>
                            {move || action_error(create.value().get())}
                            <button type="submit" disabled=move || create.pending().get()>
                                {move || if create.pending().get() { "Creating…" } else { "Create access key" }}
                            </button>
                        </ActionForm>
                    </details>
                }.into_any()
            })}
        </Suspense>
        {move || action_error(toggle.value().get())}
        {move || action_error(delete.value().get())}
        <Transition fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match keys.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! { <Empty><p>"No access keys yet."</p></Empty> }.into_any(),
                    Ok(page) => view! {
                        <div class="table-wrap">
                            <table>
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Access key id"</th>
                                        <th scope="col">"Role"</th>
                                        <th scope="col">"Owner"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"Last used"</th>
                                        <th scope="col">"Created"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {page.items.into_iter().map(|key| view! { <KeyRow key toggle delete /> }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn KeyRow(
    key: Key,
    toggle: ServerAction<SetKeyEnabled>,
    delete: ServerAction<DeleteKey>,
) -> impl IntoView {
    let (toggle_id, delete_id) = (key.access_key_id.clone(), key.access_key_id.clone());
    let toggle_label = format!(
        "{} {}",
        if key.enabled { "Disable" } else { "Enable" },
        key.name
    );
    let delete_label = format!("Delete {}", key.name);
    let delete_text = format!("Delete {}", key.access_key_id);
    view! {
        <tr>
            <th scope="row">{key.name.clone()}</th>
            <td class="mono">{key.access_key_id.clone()}</td>
            <td>{key.role.as_str()}</td>
            <td>{if key.user_id.is_some() { "Personal" } else { "Tenant" }}</td>
            <td>{if key.enabled { view! { <span class="status active">"Active"</span> } } else { view! { <span class="status disabled">"Disabled"</span> } }}</td>
            <td>{key.last_used_at.as_deref().map(format::timestamp).unwrap_or_else(|| "Never".to_owned())}</td>
            <td>{format::timestamp(&key.created_at)}</td>
            <td class="row-actions">
                <ActionForm action=toggle>
                    <input type="hidden" name="access_key_id" value=toggle_id />
                    <input type="hidden" name="enabled" value=(!key.enabled).to_string() />
                    <button type="submit" class="secondary small" aria-label=toggle_label>
                        {if key.enabled { "Disable" } else { "Enable" }}
                    </button>
                </ActionForm>
                <details class="confirm">
                    <summary class="button danger small" aria-label=delete_label>"Delete"</summary>
                    <ActionForm action=delete>
                        <input type="hidden" name="access_key_id" value=delete_id />
                        <p>"Apps using it stop working at once."</p>
                        <button type="submit" class="danger small">{delete_text}</button>
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}
