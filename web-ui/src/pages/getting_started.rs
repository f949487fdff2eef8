//! Getting started: the endpoint, the account id, and snippets filled in with them.

use leptos::prelude::*;
use leptos_meta::Title;

use super::use_me;
use crate::components::{ErrorNote, Loading};
use crate::model::snippets::{Snippets, snippets};
use crate::server_fns::auth::load_console_info;

#[component]
pub fn GettingStartedPage() -> impl IntoView {
    let me = use_me();
    let info = Resource::new(|| (), |_| load_console_info());
    view! {
        <Title text="Getting started · Fjord" />
        <h1>"Getting started"</h1>
        <Suspense fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                let (me, info) = match (me.await, info.await) {
                    (Ok(me), Ok(info)) => (me, info),
                    (Err(error), _) | (_, Err(error)) => return view! { <ErrorNote error /> }.into_any(),
                };
                let Snippets { aws_cli, boto3, rust, curl } = snippets(&info, &me.tenant.account_id);
                view! {
                    <dl class="facts">
                        <div class="wide"><dt>"Kinesis endpoint"</dt><dd class="mono">{info.kinesis_endpoint.clone()}</dd></div>
                        <div><dt>"Region"</dt><dd class="mono">{info.region.clone()}</dd></div>
                        <div><dt>"Account id"</dt><dd class="mono">{me.tenant.account_id.clone()}</dd></div>
                        <div class="wide"><dt>"REST API"</dt><dd class="mono"><span>{info.rest_base.clone()}</span> " · " <a href="/api/v1/reference">"reference"</a></dd></div>
                    </dl>
                    <p>"Every snippet needs an access key: create one under " <a href="/keys">"Access keys"</a> " and put its id and secret where the snippets say."</p>
                    <h2>"AWS CLI"</h2>
                    <pre class="snippet">{aws_cli}</pre>
                    <h2>"Python (boto3)"</h2>
                    <pre class="snippet">{boto3}</pre>
                    <h2>"Rust (aws-sdk-kinesis)"</h2>
                    <pre class="snippet">{rust}</pre>
                    <h2>"curl, REST API (SigV4)"</h2>
                    <pre class="snippet">{curl}</pre>
                }.into_any()
            })}
        </Suspense>
    }
}
