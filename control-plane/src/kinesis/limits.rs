//! DescribeLimits: the tenant's quotas and usage.

use fjord_common::aws_error::AwsError;
use serde_json::{Value, json};

use super::{Caller, KinesisAdmin, store_error};

pub(super) async fn describe_limits(
    admin: &KinesisAdmin,
    caller: &Caller,
) -> Result<Value, AwsError> {
    let tenant = admin
        .store
        .tenant(caller.tenant_id)
        .await
        .map_err(store_error)?;
    let usage = admin
        .store
        .usage(caller.tenant_id)
        .await
        .map_err(store_error)?;
    Ok(json!({
        "ShardLimit": tenant.shard_limit,
        "OpenShardCount": usage.open_shard_count,
        "OnDemandStreamCount": usage.on_demand_stream_count,
        "OnDemandStreamCountLimit": tenant.on_demand_stream_limit,
    }))
}
