//! Buckets: where the buckets delivery streams name live. The list, registering an S3 or
//! S3-compatible bucket (admins; GCS and Azure through the REST API), and forgetting one.

use leptos::prelude::*;
use leptos_meta::Title;

use super::use_me;
use crate::api::Bucket;
use crate::components::{Empty, ErrorNote, Loading, action_error};
use crate::model::format;
use crate::server_fns::buckets::{DeleteBucket, RegisterBucket, list_buckets};

#[component]
pub fn BucketsPage() -> impl IntoView {
    let register = ServerAction::<RegisterBucket>::new();
    let delete = ServerAction::<DeleteBucket>::new();
    let buckets = Resource::new(
        move || (register.version().get(), delete.version().get()),
        |_| list_buckets(),
    );
    let me = use_me();
    let registered = move || register.value().get().is_some_and(|result| result.is_ok());
    view! {
        <Title text="Buckets · Fjord" />
        <h1>"Buckets"</h1>
        <p class="lead">"A delivery stream names its bucket as on AWS (arn:aws:s3:::name). Register the name here to say where the bucket lives and how to sign in there; a name that is not registered is Fjord's own storage on this installation."</p>
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let admin = me.await.map(|me| me.role.is_admin()).unwrap_or(false);
                admin.then(|| view! {
                    <details class="card" open>
                        <summary>"Register an S3 or S3-compatible bucket"</summary>
                        <p class="hint">"Fjord writes and deletes a test object before it registers the bucket. Google Cloud Storage and Azure buckets are registered through the REST API."</p>
                        <ActionForm action=register>
                            <label>"Name " <span class="hint">"(as delivery streams name it: 3 to 63 lowercase letters, digits, dots and hyphens)"</span>
                                <input type="text" name="name" required minlength="3" maxlength="63" pattern="[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]" placeholder="lake" />
                            </label>
                            <label>"Bucket at the store " <span class="hint">"(empty: the same name)"</span>
                                <input type="text" name="bucket" maxlength="255" />
                            </label>
                            <label>"Endpoint " <span class="hint">"(an S3-compatible store, e.g. http://minio:9000; empty: Amazon S3)"</span>
                                <input type="url" name="endpoint" maxlength="1024" placeholder="https://s3.example.com" />
                            </label>
                            <label>"Region " <span class="hint">"(empty: us-east-1)"</span>
                                <input type="text" name="region" maxlength="64" placeholder="us-east-1" />
                            </label>
                            <label class="choice">
                                <input type="checkbox" name="path_style" value="on" checked />
                                "Path-style requests " <span class="hint">"(most S3-compatible stores need them; used with an endpoint)"</span>
                            </label>
                            <label>"Access key id " <span class="hint">"(empty, with no secret: the workers' environment credentials)"</span>
                                <input type="text" name="access_key_id" maxlength="128" autocomplete="off" />
                            </label>
                            <label>"Secret access key " <span class="hint">"(stored sealed; never shown again)"</span>
                                <input type="password" name="secret_access_key" maxlength="256" autocomplete="new-password" />
                            </label>
                            {move || action_error(register.value().get())}
                            {move || registered().then(|| view! { <p class="ok" role="status">"Bucket registered."</p> })}
                            <button type="submit" disabled=move || register.pending().get()>
                                {move || if register.pending().get() { "Checking the bucket…" } else { "Register bucket" }}
                            </button>
                        </ActionForm>
                    </details>
                })
            })}
        </Suspense>
        {move || action_error(delete.value().get())}
        <Transition fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let admin = me.await.map(|me| me.role.is_admin()).unwrap_or(false);
                match buckets.await {
                    Err(error) => view! { <ErrorNote error /> }.into_any(),
                    Ok(list) if list.items.is_empty() => view! {
                        <Empty><p>"No buckets registered: delivery streams write to Fjord's own storage."</p></Empty>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table>
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Where"</th>
                                        <th scope="col">"Signs in with"</th>
                                        <th scope="col">"Registered"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.items.into_iter().map(|bucket| view! { <BucketRow bucket delete admin /> }).collect_view()}
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
fn BucketRow(bucket: Bucket, delete: ServerAction<DeleteBucket>, admin: bool) -> impl IntoView {
    let delete_label = format!("Forget {}", bucket.name);
    let name = bucket.name.clone();
    view! {
        <tr>
            <th scope="row" class="mono">{bucket.name.clone()}</th>
            <td>{bucket.store.place()}</td>
            <td>{bucket.store.credentials()}</td>
            <td>{format::timestamp(&bucket.created_at)}</td>
            <td class="row-actions">
                {admin.then(|| view! {
                    <details class="confirm">
                        <summary class="button danger small" aria-label=delete_label.clone()>"Forget"</summary>
                        <ActionForm action=delete>
                            <input type="hidden" name="name" value=name.clone() />
                            <p>"Delivery streams naming it must be deleted first. Its objects stay where they are."</p>
                            <button type="submit" class="danger small">{delete_label.clone()}</button>
                        </ActionForm>
                    </details>
                })}
            </td>
        </tr>
    }
}
