//! `fjord-bench`: load generator for Kinesis-compatible endpoints (Fjord, kinesalite,
//! kinesis-mock, ...), for Firehose-compatible delivery streams, and the raw JetStream baseline
//! they are compared against.
//!
//! See `bench/README.md` for what each number means and `bench/run` for the side-by-side run.

mod firehose;
mod firehose_objects;
mod firehose_phases;
mod jetstream;
mod kinesis;
mod kinesis_client;
mod kinesis_read;
mod kinesis_write;
mod report;
mod report_delivery;
mod results;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "fjord-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Benchmark a Kinesis-compatible endpoint with the official AWS SDK: PutRecords throughput,
    /// GetRecords read-back, PutRecord latency.
    Kinesis(kinesis::KinesisArgs),
    /// Benchmark Firehose-compatible delivery streams with the official AWS SDK:
    /// PutRecordBatch throughput end to end (until every record is found in the delivered
    /// objects on the local filesystem) and freshness at a 1 s buffering interval.
    Firehose(firehose::FirehoseArgs),
    /// The raw baseline: publish / pull-consume straight on JetStream with async-nats.
    Jetstream(jetstream::JetStreamArgs),
    /// Print Markdown tables comparing `--json` outputs against the JetStream baseline.
    Report(report::ReportArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Report(args) => report::run(args),
        Command::Kinesis(args) => runtime()?.block_on(kinesis::run(args)),
        Command::Jetstream(args) => runtime()?.block_on(jetstream::run(args)),
        Command::Firehose(args) => runtime()?.block_on(firehose::run(args)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
