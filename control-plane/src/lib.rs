//! Fjord's control plane: the source of truth for configuration.
//!
//! It owns tenants, access keys and streams in Postgres ([`store`]), the reconciler that makes
//! NATS JetStream and the config bucket match that desired state ([`reconciler`]), stream
//! administration in Kinesis terms ([`kinesis`]) served to the gateway over the internal API
//! ([`http`]), identity and access ([`auth`]), the REST API under `/api/v1` ([`api`]) served on
//! the same listener (including records over REST for the console and SDK-less apps, through
//! [`shards`]), the gateway's events ([`gateway_events`], including per-minute stream metrics)
//! with their clean-up ([`housekeeping`]), and operator actions ([`admin`]). The AWS record API
//! is the data plane's job.

pub mod admin;
pub mod api;
pub mod auth;
pub mod firehose;
pub mod gateway_events;
pub mod housekeeping;
pub mod http;
pub mod kinesis;
pub mod reconciler;
pub mod shards;
pub mod store;

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use fjord_common::config::FjordConfig;
use fjord_common::naming::Names;
use fjord_common::token::TokenSigner;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::kinesis::KinesisAdmin;
use crate::reconciler::Reconciler;
use crate::store::Store;

/// Default retention of a new stream, as on AWS.
pub const DEFAULT_RETENTION_HOURS: i32 = 24;

/// Opens (creating if needed) the config bucket the data plane watches.
pub async fn config_bucket(
    jetstream: &jetstream::Context,
    names: &Names,
    replicas: usize,
) -> anyhow::Result<jetstream::kv::Store> {
    let bucket = names.config_bucket();
    if let Ok(store) = jetstream.get_key_value(&bucket).await {
        return Ok(store);
    }
    jetstream
        .create_key_value(jetstream::kv::Config {
            bucket: bucket.clone(),
            description: "fjord resource specs pushed to the data plane".to_owned(),
            history: 1,
            storage: jetstream::stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot create config bucket {bucket}"))
}

/// Runs the control plane (internal API and reconciler) until `cancel` fires.
pub async fn run(config: FjordConfig, cancel: CancellationToken) -> anyhow::Result<()> {
    run_with(config, cancel, |router| router).await
}

/// [`run`], serving what `mount` makes of the API router: given the router serving `/api/v1`
/// and the internal API (with its layers), it returns the router to serve. The binary mounts
/// the web console this way, so the control plane does not link it and the console calls the
/// REST API in-process.
pub async fn run_with(
    config: FjordConfig,
    cancel: CancellationToken,
    mount: impl FnOnce(axum::Router) -> axum::Router + Send,
) -> anyhow::Result<()> {
    let master_key = config.master_key()?;
    let internal_token = config.internal_token()?.to_owned();
    // Bound first: once the config bucket exists, gateways may forward calls here at once.
    let listener = tokio::net::TcpListener::bind(&config.control_plane.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.control_plane.listen))?;
    tracing::info!(listen = %config.control_plane.listen, "control plane listening");
    let store = Store::connect(&config.postgres.url, config.postgres.max_connections).await?;
    let nats = async_nats::connect(&config.nats.url)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", config.nats.url))?;
    let jetstream = jetstream::new(nats);
    let names = Names::new(&config.nats.prefix);
    // The events stream first: a gateway starts sending once it finds the config bucket.
    let events_stream =
        gateway_events::ensure_events_stream(&jetstream, &names, config.nats.replicas).await?;
    let config_bucket = config_bucket(&jetstream, &names, config.nats.replicas).await?;
    let event_consumer = gateway_events::EventConsumer {
        store: store.clone(),
        stream: events_stream,
        names: names.clone(),
    };
    let trusted_proxies = config.trusted_proxies()?;

    let shards = shards::Shards::new(jetstream.clone(), names.clone());
    let housekeeping_store = store.clone();
    let reconciler = Reconciler {
        store: store.clone(),
        jetstream,
        config_bucket,
        names,
        replicas: config.nats.replicas,
        region: config.region.clone(),
        interval: Duration::from_millis(config.control_plane.reconcile_interval_ms),
    };
    let mut api_state = api::ApiState::from_master_key(store.clone(), &master_key)
        .context("cannot prepare password hashing")?;
    api_state.region = config.region.clone();
    let api_state = api_state.with_shards(shards);
    let admin = KinesisAdmin {
        store,
        region: config.region.clone(),
        tokens: TokenSigner::new(master_key.derive("pagination-tokens")),
        default_retention_hours: DEFAULT_RETENTION_HOURS,
    };

    let tasks = TaskTracker::new();
    let reconciler_cancel = cancel.clone();
    let reconciler_task = tasks.spawn(async move { reconciler.run(reconciler_cancel).await });
    let consumer_cancel = cancel.clone();
    // A consumer that fails stops the process: events would otherwise pile up unseen.
    let consumer_task = tasks.spawn(async move {
        let consumed = event_consumer.run(consumer_cancel.clone()).await;
        if let Err(error) = &consumed {
            tracing::error!(%error, "gateway events consumer failed; stopping");
            consumer_cancel.cancel();
        }
        consumed
    });
    // Prunes metrics past their retention; stops with the process.
    tasks.spawn(housekeeping::run(housekeeping_store, cancel.clone()));
    let router = http::router(http::InternalState {
        admin,
        secret_box: Some(master_key.secret_box()),
        internal_token: std::sync::Arc::from(internal_token),
    })
    .merge(api::router(api_state))
    // Which peers may name the client in `X-Forwarded-For` (`api::extract::ClientAddress`).
    .layer(axum::Extension(trusted_proxies));
    let router = mount(router);
    let server_cancel = cancel.clone();
    // The peer address feeds sign-in rate limiting.
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { server_cancel.cancelled().await });
    tasks.close();
    let served = server.await.context("control plane server failed");
    cancel.cancel();
    let reconciled = reconciler_task.await.context("reconciler panicked")?;
    let consumed = consumer_task
        .await
        .context("gateway events consumer panicked")?;
    tasks.wait().await;
    served?;
    reconciled?;
    consumed
}
