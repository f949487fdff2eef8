//! Fjord's data plane: the AWS-compatible gateway on NATS JetStream, and the delivery
//! workers.
//!
//! The gateway verifies SigV4 signatures against access keys pushed by the control plane,
//! stores and reads records in JetStream (one stream per shard, one message per put call and
//! shard; one message per record for delivery streams), and forwards stream and delivery
//! stream administration to the control plane. The delivery workers drain delivery streams
//! into object stores ([`delivery`]). Neither talks to Postgres, and neither holds state of
//! its own: any gateway can serve any request, any worker can take over any delivery.

mod aws;
mod catalog;
pub mod delivery;
mod events;
mod gateway;
mod iterator;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use fjord_common::config::FjordConfig;
use fjord_common::naming::Names;
use fjord_common::sigv4::SigningKeyCache;
use fjord_common::token::TokenSigner;
use tokio_util::sync::CancellationToken;

use crate::aws::forward::Forwarder;
use crate::catalog::Catalog;
use crate::events::{GatewayEvents, RefusalPolicy};
use crate::gateway::Gateway;

/// Room left in a NATS message for headers and framing.
const MESSAGE_OVERHEAD_BYTES: usize = 4096;

/// The config bucket, once the control plane has created it; `None` if `cancel` fired first.
pub(crate) async fn open_config_bucket(
    jetstream: &async_nats::jetstream::Context,
    names: &Names,
    cancel: &CancellationToken,
) -> Option<async_nats::jetstream::kv::Store> {
    let bucket_name = names.config_bucket();
    loop {
        match jetstream.get_key_value(&bucket_name).await {
            Ok(bucket) => return Some(bucket),
            Err(error) => {
                tracing::info!(%error, bucket = %bucket_name, "waiting for the control plane to create the config bucket");
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Runs the gateway until `cancel` fires.
pub async fn run(config: FjordConfig, cancel: CancellationToken) -> anyhow::Result<()> {
    let master_key = config.master_key()?;
    let internal_token = config.internal_token()?;
    let nats = async_nats::connect(&config.nats.url)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", config.nats.url))?;
    let max_payload = nats.server_info().max_payload;
    let jetstream = async_nats::jetstream::new(nats);
    let names = Names::new(&config.nats.prefix);
    let Some(bucket) = open_config_bucket(&jetstream, &names, &cancel).await else {
        return Ok(());
    };
    let catalog = Catalog::new(bucket, master_key.secret_box());
    let (events, event_queue) = GatewayEvents::new(RefusalPolicy {
        per_window: config.gateway.refused_calls_per_window,
        window: Duration::from_millis(config.gateway.refused_calls_window_ms),
    });
    let events = Arc::new(events);
    let gateway = Arc::new(Gateway {
        catalog: catalog.clone(),
        jetstream: jetstream.clone(),
        names: names.clone(),
        iterators: TokenSigner::new(master_key.derive("shard-iterators")),
        iterator_lifetime_ms: config.gateway.iterator_lifetime_ms,
        signing_keys: SigningKeyCache::new(),
        forwarder: Forwarder::new(&config.gateway.control_plane_url, internal_token)?,
        max_message_bytes: max_payload
            .saturating_sub(MESSAGE_OVERHEAD_BYTES)
            .max(64 * 1024),
        events: events.clone(),
        trusted_proxies: config.trusted_proxies()?,
    });
    if max_payload < 2 * 1024 * 1024 {
        tracing::warn!(
            max_payload,
            "the NATS server's max_payload is below 2 MiB: records near 1 MiB will be refused; set max_payload: 8MB"
        );
    }
    let listener = tokio::net::TcpListener::bind(&config.gateway.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.gateway.listen))?;
    tracing::info!(listen = %config.gateway.listen, "gateway listening");
    let watch = tokio::spawn(catalog.watch(cancel.clone()));
    // The event path to the control plane: the flusher and every request queue events; the
    // publisher drains the queue until the gateway (the last sender) is gone.
    let events_cancel = CancellationToken::new();
    let flusher = tokio::spawn(events::run_flusher(
        events,
        Duration::from_millis(config.gateway.key_usage_flush_ms),
        Duration::from_millis(config.gateway.metrics_flush_ms),
        events_cancel.clone(),
    ));
    let publisher = tokio::spawn(events::run_publisher(
        jetstream,
        names,
        event_queue,
        events_cancel.clone(),
    ));
    let server_cancel = cancel.clone();
    // The peer address is the source ip of audited calls.
    let served = axum::serve(
        listener,
        aws::protocol::router(gateway.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { server_cancel.cancelled().await })
    .await
    .context("gateway server failed");
    cancel.cancel();
    // Served requests are done: send the last usage and traffic, then publish what is queued.
    events_cancel.cancel();
    flusher.await.context("event flusher panicked")?;
    drop(gateway);
    publisher.await.context("event publisher panicked")?;
    watch.await.context("config watch panicked")??;
    served
}
