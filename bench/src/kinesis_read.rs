//! Read phase (c): every shard from TRIM_HORIZON with GetRecords, shards in parallel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::ShardIteratorType;

use crate::kinesis::KinesisArgs;
use crate::kinesis_client::{RetryStats, describe, with_retries};
use crate::kinesis_write::PerShard;
use crate::results::ReadSummary;
use crate::util::{CpuSample, MB};

/// Empty, caught-up responses in a row after which a shard counts as drained even though fewer
/// records than expected were seen (a 20 ms pause separates them).
const EMPTY_CAUGHT_UP_LIMIT: u32 = 5;

async fn list_shards(client: &Client, name: &str) -> Result<Vec<String>> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let req = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(name),
        };
        let out = req
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ListShards {name}: {}", describe(&e)))?;
        shards.extend(out.shards().iter().map(|s| s.shard_id().to_owned()));
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    Ok(shards)
}

#[derive(Default)]
struct ShardTally {
    records: u64,
    bytes: u64,
    calls: u64,
    empty_calls: u64,
    note: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn read_shard(
    client: Client,
    name: String,
    shard: String,
    expected: Option<u64>,
    limit: i32,
    max_attempts: u32,
    stats: Arc<RetryStats>,
    deadline: Instant,
) -> ShardTally {
    let mut t = ShardTally::default();
    let iterator = with_retries(max_attempts, &stats, |_| {
        client
            .get_shard_iterator()
            .stream_name(&name)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
    })
    .await;
    let mut iterator = match iterator {
        Ok(out) => out.shard_iterator().map(str::to_owned),
        Err(e) => {
            t.note = Some(format!("GetShardIterator {shard}: {}", describe(&e)));
            return t;
        }
    };
    let mut caught_up_empty = 0u32;
    while let Some(it) = iterator.take() {
        if expected.is_some_and(|n| t.records >= n) {
            break;
        }
        if Instant::now() >= deadline {
            t.note = Some(format!("{shard}: read-back deadline reached"));
            break;
        }
        let out = with_retries(max_attempts, &stats, |_| {
            client.get_records().shard_iterator(&it).limit(limit).send()
        })
        .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                t.note = Some(format!("GetRecords {shard}: {}", describe(&e)));
                break;
            }
        };
        t.calls += 1;
        let records = out.records();
        t.records += records.len() as u64;
        t.bytes += records
            .iter()
            .map(|r| r.data().as_ref().len() as u64)
            .sum::<u64>();
        iterator = out.next_shard_iterator().map(str::to_owned);
        if records.is_empty() {
            t.empty_calls += 1;
            // MillisBehindLatest == 0 on an empty page: the shard is drained. Some emulators
            // omit the field; treat that the same way.
            if matches!(out.millis_behind_latest(), None | Some(0)) {
                caught_up_empty += 1;
                let short = expected.is_some_and(|n| t.records < n);
                if !short || caught_up_empty >= EMPTY_CAUGHT_UP_LIMIT {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        } else {
            caught_up_empty = 0;
        }
    }
    t
}

/// (c): read every shard from TRIM_HORIZON until the records written in (a) are all seen.
pub(crate) async fn read_back(
    args: &KinesisArgs,
    client: &Client,
    name: &str,
    per_shard: &PerShard,
    expected: u64,
) -> Result<(ReadSummary, Vec<String>)> {
    let shards = list_shards(client, name).await?;
    let stats = Arc::new(RetryStats::default());
    let deadline = Instant::now() + Duration::from_secs(args.phase_timeout_secs);
    // Stop each shard at the count PutRecords reported for it (when the server named shards).
    let known = !per_shard.is_empty();

    let cpu0 = CpuSample::take(&args.server_pids);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for shard in shards {
        let shard_expected = known.then(|| per_shard.get(&shard).copied().unwrap_or(0));
        tasks.push(tokio::spawn(read_shard(
            client.clone(),
            name.to_owned(),
            shard,
            shard_expected,
            args.get_limit,
            args.max_attempts,
            stats.clone(),
            deadline,
        )));
    }
    let (mut records, mut bytes, mut calls, mut empty) = (0, 0, 0, 0);
    let mut notes = Vec::new();
    for task in tasks {
        let t = task.await.context("GetRecords worker panicked")?;
        records += t.records;
        bytes += t.bytes;
        calls += t.calls;
        empty += t.empty_calls;
        notes.extend(t.note);
    }
    let wall = t0.elapsed();
    let cpu1 = CpuSample::take(&args.server_pids);
    let (client_cpu, server_cpu) = cpu0.per_item_us(&cpu1, records);
    let secs = wall.as_secs_f64().max(1e-9);
    let summary = ReadSummary {
        expected,
        records,
        bytes,
        calls,
        empty_calls: empty,
        retries: stats.get(),
        seconds: secs,
        records_per_sec: records as f64 / secs,
        mb_per_sec: bytes as f64 / MB / secs,
        complete: records >= expected,
        client_cpu_us_per_record: client_cpu,
        server_cpu_us_per_record: server_cpu,
    };
    Ok((summary, notes))
}
