//! Follows the delivery stream specs in the config bucket and keeps one delivery task running
//! per delivery stream this worker can deliver: started when a spec becomes deliverable,
//! restarted when it changes (UpdateDestination bumps the version), stopped when it goes.
//! A stopping task writes what it buffered once more, so a restart loses nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::kv;
use fjord_common::firehose::{DeliveryStreamSpec, DeliveryStreamStatus};
use futures::StreamExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::task::{DeliveryTask, WorkerContext};

/// A delivery task and what it was started for. Dropped without [`Running::stop`] (the
/// supervisor itself was dropped), the task is aborted: nothing is acknowledged or given
/// back, and JetStream hands its records to another worker after AckWait.
struct Running {
    spec: DeliveryStreamSpec,
    cancel: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops the task after it wrote (or gave back) what it buffered.
    async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(handle) = self.handle.take()
            && let Err(error) = handle.await
        {
            tracing::error!(%error, delivery_stream = %self.spec.name, "a delivery task failed");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// Whether two specs deliver the same way (the generation alone changing does not matter).
fn same_delivery(left: &DeliveryStreamSpec, right: &DeliveryStreamSpec) -> bool {
    DeliveryStreamSpec {
        generation: 0,
        ..left.clone()
    } == DeliveryStreamSpec {
        generation: 0,
        ..right.clone()
    }
}

/// Whether this worker delivers `spec`: every active delivery stream.
fn deliverable(spec: &DeliveryStreamSpec) -> bool {
    spec.status == DeliveryStreamStatus::Active
}

pub(crate) async fn supervise(
    context: Arc<WorkerContext>,
    bucket: kv::Store,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut running: HashMap<String, Running> = HashMap::new();
    'watching: loop {
        let mut watch = bucket
            .watch_with_history("delivery.>")
            .await
            .context("cannot watch delivery stream specs")?;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break 'watching,
                entry = watch.next() => match entry {
                    Some(Ok(entry)) => {
                        let spec = match entry.operation {
                            kv::Operation::Put => match serde_json::from_slice::<DeliveryStreamSpec>(&entry.value) {
                                Ok(spec) => Some(spec),
                                Err(error) => {
                                    tracing::warn!(%error, key = %entry.key, "ignoring a delivery stream spec that does not parse");
                                    None
                                }
                            },
                            kv::Operation::Delete | kv::Operation::Purge => None,
                        };
                        apply(&context, &mut running, entry.key, spec).await;
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "delivery spec watch failed, restarting");
                        break;
                    }
                    None => break,
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break 'watching,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    futures::future::join_all(running.into_values().map(Running::stop)).await;
    Ok(())
}

async fn apply(
    context: &Arc<WorkerContext>,
    running: &mut HashMap<String, Running>,
    key: String,
    spec: Option<DeliveryStreamSpec>,
) {
    let spec = spec.filter(deliverable);
    if let (Some(current), Some(spec)) = (running.get(&key), &spec)
        && same_delivery(&current.spec, spec)
    {
        return;
    }
    if let Some(current) = running.remove(&key) {
        tracing::info!(delivery_stream = %current.spec.name, "stopping delivery");
        current.stop().await;
    }
    let Some(spec) = spec else {
        return;
    };
    match DeliveryTask::new(context.clone(), spec.clone()) {
        Ok(task) => {
            let cancel = CancellationToken::new();
            let handle = tokio::spawn(task.run(cancel.clone()));
            running.insert(
                key,
                Running {
                    spec,
                    cancel,
                    handle: Some(handle),
                },
            );
        }
        Err(error) => tracing::error!(
            error = format!("{error:#}"),
            tenant_id = %spec.tenant_id,
            delivery_stream = %spec.name,
            "cannot deliver this delivery stream"
        ),
    }
}
