//! Small helpers shared by the Kinesis and JetStream generators: random payloads, unique names,
//! process CPU accounting through `/proc`, and latency histograms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use crate::results::LatencySummary;

/// Linux reports `utime`/`stime` in USER_HZ ticks, which is 100 on every mainstream architecture.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// 1 MB = 10^6 bytes of record payload (protocol overhead is not counted).
pub(crate) const MB: f64 = 1_000_000.0;

/// A tiny, fast, non-cryptographic PRNG (SplitMix64): good enough for incompressible payloads
/// and unique names, and it keeps the bench free of extra dependencies.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Seeded from the clock and the process id.
    pub(crate) fn from_entropy() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self(nanos ^ (u64::from(std::process::id()) << 32))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&last[..n]);
    }

    /// `len` lowercase alphanumeric characters.
    pub(crate) fn alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| CHARS[(self.next_u64() % CHARS.len() as u64) as usize] as char)
            .collect()
    }
}

/// `count * size` random bytes in one buffer (record `i` is `buf[i*size..(i+1)*size]`).
pub(crate) fn random_payloads(count: usize, size: usize, seed: u64) -> Vec<u8> {
    let mut buf = vec![0u8; count * size];
    SplitMix64::new(seed).fill(&mut buf);
    buf
}

/// A name unique enough for concurrent runs on one machine: `<prefix>-<unix secs>-<6 random>`.
pub(crate) fn unique_name(prefix: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{prefix}-{secs}-{}", SplitMix64::from_entropy().alnum(6))
}

/// Total CPU time (user + system) consumed so far by process `pid` (`None` = this process).
pub(crate) fn process_cpu(pid: Option<u32>) -> Result<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may contain spaces: parse after its closing parenthesis.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected {path} format"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14 and stime field 15.
    let tick = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .with_context(|| format!("{path}: missing field {}", i + 3))?
            .parse::<u64>()
            .with_context(|| format!("{path}: bad field {}", i + 3))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(Duration::from_secs_f64(ticks as f64 / CLOCK_TICKS_PER_SEC))
}

/// CPU time of this process and of the given server processes, sampled together.
#[derive(Clone, Debug)]
pub(crate) struct CpuSample {
    client: Duration,
    servers: Option<Duration>,
}

impl CpuSample {
    pub(crate) fn take(server_pids: &[u32]) -> Self {
        let client = process_cpu(None).unwrap_or_default();
        let servers = if server_pids.is_empty() {
            None
        } else {
            // A server that died mid-run makes the server figure meaningless: drop it.
            server_pids
                .iter()
                .map(|pid| process_cpu(Some(*pid)).ok())
                .sum::<Option<Duration>>()
        };
        Self { client, servers }
    }

    /// (client µs per item, server µs per item) between `self` and a later sample; zeros when
    /// there were no items.
    pub(crate) fn per_item_us(&self, later: &CpuSample, items: u64) -> (f64, Option<f64>) {
        if items == 0 {
            return (0.0, None);
        }
        let items = items as f64;
        let client = later.client.saturating_sub(self.client).as_secs_f64() * 1e6 / items;
        let servers = match (self.servers, later.servers) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() * 1e6 / items),
            _ => None,
        };
        (client, servers)
    }
}

/// A latency histogram in microseconds, 1 µs .. 10 min, 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("static histogram bounds are valid")
}

pub(crate) fn record_latency(hist: &mut Histogram<u64>, elapsed: Duration) {
    hist.saturating_record(elapsed.as_micros().clamp(1, u128::from(u64::MAX)) as u64);
}

pub(crate) fn summarize(
    hist: &Histogram<u64>,
    concurrency: usize,
    errors: u64,
    retries: u64,
    wall: Duration,
) -> LatencySummary {
    let ms = |us: u64| us as f64 / 1000.0;
    let requests = hist.len();
    LatencySummary {
        concurrency,
        requests,
        errors,
        retries,
        requests_per_sec: requests as f64 / wall.as_secs_f64().max(1e-9),
        mean_ms: hist.mean() / 1000.0,
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p90_ms: ms(hist.value_at_quantile(0.90)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
    }
}

pub(crate) fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Sends every batch `(start, len, body)` of `queue` with `concurrency` calls in flight: each of
/// `concurrency` workers pops the next batch, sends it with `send` and folds the answer into a
/// tally of its own with `fold`. The workers' tallies, to merge.
pub(crate) async fn send_in_flight<B, R, T, S, SFut, F>(
    concurrency: usize,
    queue: std::collections::VecDeque<(usize, usize, B)>,
    send: S,
    fold: F,
) -> Result<Vec<T>>
where
    B: Send + 'static,
    R: Send + 'static,
    T: Default + Send + 'static,
    S: Fn(usize, usize, B) -> SFut + Clone + Send + Sync + 'static,
    SFut: std::future::Future<Output = R> + Send,
    F: Fn(&mut T, usize, usize, R) + Clone + Send + Sync + 'static,
{
    let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (queue, send, fold) = (queue.clone(), send.clone(), fold.clone());
        workers.push(tokio::spawn(async move {
            let mut tally = T::default();
            loop {
                let next = queue.lock().expect("queue lock").pop_front();
                let Some((start, len, batch)) = next else {
                    break;
                };
                let answer = send(start, len, batch).await;
                fold(&mut tally, start, len, answer);
            }
            tally
        }));
    }
    let mut tallies = Vec::new();
    for worker in workers {
        tallies.push(worker.await.context("a sending worker panicked")?);
    }
    Ok(tallies)
}
