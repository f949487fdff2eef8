//! `fjord-bench report`: a Markdown comparison of bench JSON files against the raw JetStream
//! baseline; delivery streams get a table of their own (`report_delivery`).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::report_delivery;
use crate::results::{JetStreamResult, KinesisResult, LatencySummary, RunResult};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReportArgs {
    /// Result files written with `--json` (kinesis, firehose or jetstream runs).
    #[arg(long, num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// The raw JetStream run the ratios are computed against.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Also write the Markdown here.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

fn load(path: &PathBuf) -> Result<RunResult> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Thousands separators for rates: 71234.5 -> "71,235".
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

pub(crate) fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn lat(l: &LatencySummary) -> String {
    if l.requests == 0 {
        "–".to_owned()
    } else {
        format!("{} / {}", ms(l.p50_ms), ms(l.p99_ms))
    }
}

pub(crate) fn ratio(v: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b > 0.0 => format!("{:.2}×", v / b),
        _ => "–".to_owned(),
    }
}

pub(crate) fn cpu(records: u64, client: f64, server: Option<f64>) -> String {
    if records == 0 {
        return "–".to_owned();
    }
    match server {
        Some(s) => format!("{client:.1} / {s:.1}"),
        None => format!("{client:.1} / –"),
    }
}

pub(crate) fn run(args: ReportArgs) -> Result<()> {
    let baseline = match &args.baseline {
        Some(p) => match load(p)? {
            RunResult::Jetstream(j) => Some(j),
            RunResult::Kinesis(_) | RunResult::Firehose(_) => {
                anyhow::bail!("--baseline {} is not a jetstream run", p.display())
            }
        },
        None => None,
    };
    let mut kinesis = Vec::new();
    let mut jetstreams = Vec::new();
    let mut firehose = Vec::new();
    for path in &args.inputs {
        if args.baseline.as_ref() == Some(path) {
            continue;
        }
        match load(path)? {
            RunResult::Kinesis(k) => kinesis.push(k),
            RunResult::Jetstream(j) => jetstreams.push(j),
            RunResult::Firehose(f) => firehose.push(f),
        }
    }
    let mut md = render(baseline.as_ref(), &jetstreams, &kinesis);
    md.push_str(&report_delivery::render(
        baseline.as_ref(),
        &kinesis,
        &firehose,
    ));
    print!("{md}");
    if let Some(out) = &args.output {
        std::fs::write(out, &md).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

fn render(base: Option<&JetStreamResult>, js: &[JetStreamResult], kin: &[KinesisResult]) -> String {
    let base_pub = base.map(|b| b.publish.records_per_sec);
    let base_read = base.map(|b| b.read.records_per_sec);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| target | PutRecords rec/s | MB/s | × raw JS publish | PutRecord p50 / p99 ms, c=1 \
         | p50 / p99 ms, c=16 | read-back rec/s | × raw JS read | CPU µs/rec client / server (write) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for j in base.into_iter().chain(js) {
        let _ = writeln!(
            s,
            "| {} (publish, {} acks in flight) | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            j.label,
            j.in_flight,
            num(j.publish.records_per_sec),
            j.publish.mb_per_sec,
            ratio(j.publish.records_per_sec, base_pub),
            lat(&j.publish_latency_c1),
            lat(&j.publish_latency_c16),
            num(j.read.records_per_sec),
            ratio(j.read.records_per_sec, base_read),
            cpu(
                j.publish.stored,
                j.publish.client_cpu_us_per_record,
                j.publish.server_cpu_us_per_record
            ),
        );
    }
    for k in kin {
        let p = &k.put_records;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            k.label,
            num(p.records_per_sec),
            p.mb_per_sec,
            ratio(p.records_per_sec, base_pub),
            lat(&k.put_record_c1),
            lat(&k.put_record_c16),
            num(k.read_back.records_per_sec),
            ratio(k.read_back.records_per_sec, base_read),
            cpu(
                p.stored,
                p.client_cpu_us_per_record,
                p.server_cpu_us_per_record
            ),
        );
    }

    let _ = writeln!(s, "\n**Details per target**\n");
    let _ = writeln!(
        s,
        "| target | records × size | shards / batch / in flight | stored / attempted \
         | failed records | retries (put / read / lat) | stream ACTIVE ms | read back / expected \
         | read CPU µs/rec client / server |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---:|---|---|");
    for j in base.into_iter().chain(js) {
        let _ = writeln!(
            s,
            "| {} | {} × {} B | – / – / {} | {} / {} | {} | – | – | {} / {} | {} |",
            j.label,
            j.publish.attempted,
            j.record_size,
            j.in_flight,
            j.publish.stored,
            j.publish.attempted,
            j.publish.failed_records,
            j.read.records,
            j.read.expected,
            cpu(
                j.read.records,
                j.read.client_cpu_us_per_record,
                j.read.server_cpu_us_per_record
            ),
        );
    }
    for k in kin {
        let p = &k.put_records;
        let failed = p.failures().unwrap_or_else(|| "0".to_owned());
        let _ = writeln!(
            s,
            "| {} | {} × {} B | {} / {} / {} | {} / {} | {} | {} / {} / {} | {:.0} | {} / {}{} | {} |",
            k.label,
            p.attempted,
            k.record_size,
            k.shards,
            k.batch,
            k.concurrency,
            p.stored,
            p.attempted,
            failed,
            p.retries,
            k.read_back.retries,
            k.put_record_c1.retries + k.put_record_c16.retries,
            k.stream_active_ms,
            k.read_back.records,
            k.read_back.expected,
            if k.read_back.complete {
                ""
            } else {
                " **incomplete**"
            },
            cpu(
                k.read_back.records,
                k.read_back.client_cpu_us_per_record,
                k.read_back.server_cpu_us_per_record
            ),
        );
    }
    let notes: Vec<String> = base
        .into_iter()
        .chain(js)
        .flat_map(|j| j.notes.iter().map(move |n| format!("- {}: {n}", j.label)))
        .chain(
            kin.iter()
                .flat_map(|k| k.notes.iter().map(move |n| format!("- {}: {n}", k.label))),
        )
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "\n**Notes from the runs**\n\n{}", notes.join("\n"));
    }
    let _ = writeln!(
        s,
        "\nMB = 10^6 bytes of record payload. Latencies are client-side round trips including \
         retries. Read-back runs all shards in parallel with GetRecords (Limit 10000); raw \
         JetStream reads with one pull consumer fetching 1000 messages at a time. CPU is \
         user+system time from /proc per stored (or read) record; \"server\" sums the processes \
         given with --server-pid."
    );
    s
}
