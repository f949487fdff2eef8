//! The "Delivery streams" part of `fjord-bench report`: `firehose` runs beside the same
//! endpoint's PutRecords and the raw JetStream publish of the same run.

use std::fmt::Write as _;

use crate::report::{cpu, ms, num, ratio};
use crate::results::{FirehoseResult, JetStreamResult, KinesisResult};

/// `a / b` for a put and an end-to-end rate against one denominator.
fn ratios(put: f64, end_to_end: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b > 0.0 => format!("{} / {}", ratio(put, base), ratio(end_to_end, base)),
        _ => "–".to_owned(),
    }
}

pub(crate) fn render(
    base: Option<&JetStreamResult>,
    kinesis: &[KinesisResult],
    firehose: &[FirehoseResult],
) -> String {
    let mut s = String::new();
    if firehose.is_empty() {
        return s;
    }
    let base_pub = base.map(|b| b.publish.records_per_sec);
    let _ = writeln!(
        s,
        "\n**Delivery streams** (Firehose API → objects on the local filesystem)\n"
    );
    let _ = writeln!(
        s,
        "| target | PutRecordBatch rec/s | MB/s | end-to-end rec/s | MB/s \
         | × PutRecords (put / end to end) | × raw JS publish (put / end to end) \
         | freshness p50 / p99 / max ms | CPU µs/rec client / server (end to end) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in firehose {
        let (p, e, fr) = (&f.put, &f.end_to_end, &f.freshness);
        let put_records = kinesis
            .iter()
            .find(|k| k.label == f.kinesis_label)
            .map(|k| k.put_records.records_per_sec);
        let freshness = if fr.seen == 0 {
            "–".to_owned()
        } else {
            format!(
                "{} / {} / {} ({} s)",
                ms(fr.p50_ms),
                ms(fr.p99_ms),
                ms(fr.max_ms),
                fr.interval_seconds
            )
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {}{} | {:.1} | {} | {} | {} | {} |",
            f.label,
            num(p.records_per_sec),
            p.mb_per_sec,
            num(e.records_per_sec),
            if e.complete { "" } else { " **incomplete**" },
            e.mb_per_sec,
            ratios(p.records_per_sec, e.records_per_sec, put_records),
            ratios(p.records_per_sec, e.records_per_sec, base_pub),
            freshness,
            cpu(
                e.found,
                e.client_cpu_us_per_record,
                e.server_cpu_us_per_record
            ),
        );
    }
    let _ = writeln!(s);
    for f in firehose {
        let (p, e, fr) = (&f.put, &f.end_to_end, &f.freshness);
        let failed = p
            .failures()
            .map_or_else(|| "none failed".to_owned(), |f| format!("failed: {f}"));
        let _ = writeln!(
            s,
            "- {}: {} of {} records × {} B stored by PutRecordBatch ({} per call, {} in flight, \
             {}, {} retries), hints {} MiB / {} s; **{} checked byte for byte in {} objects: \
             {} found, {} missing, {} duplicates**, {} unrecognised lines; the last record \
             visible {:.0} ms after the last put was answered (folder scanned every {} ms); \
             PutRecordBatch alone: CPU µs/rec {}; delivery stream ACTIVE after {:.0} ms. \
             Freshness: {} records put one at a time at {}/s, {} seen in {} objects, {} missing \
             (folder scanned every {} ms), p50 / p90 / p99 / max {} / {} / {} / {} ms; \
             PutRecord p50 / p99 {} / {} ms.",
            f.label,
            p.stored,
            p.attempted,
            f.record_size,
            f.batch,
            f.concurrency,
            failed,
            p.retries,
            f.size_mib,
            f.interval_seconds,
            num(e.expected as f64),
            e.objects,
            num(e.found as f64),
            e.missing,
            e.duplicates,
            e.unrecognised,
            e.drain_after_last_put_ms,
            e.poll_ms,
            cpu(
                p.stored,
                p.client_cpu_us_per_record,
                p.server_cpu_us_per_record
            ),
            f.stream_active_ms,
            fr.records,
            fr.rate_per_sec,
            fr.seen,
            fr.objects,
            fr.missing,
            fr.poll_ms,
            ms(fr.p50_ms),
            ms(fr.p90_ms),
            ms(fr.p99_ms),
            ms(fr.max_ms),
            ms(fr.put_p50_ms),
            ms(fr.put_p99_ms),
        );
    }
    let _ = writeln!(
        s,
        "\nEnd to end runs from the first PutRecordBatch call until the scan that finds the last \
         stored record in an object; it includes the final buffering interval. Freshness is \
         from a PutRecord's answer to the scan that first sees an object holding the record. \
         \"× PutRecords\" divides by the same endpoint's Kinesis PutRecords rate in this run, \
         \"× raw JS publish\" by the raw JetStream publish rate. Client CPU includes reading \
         the objects back; server CPU sums the --server-pid processes (gateway + delivery \
         worker + NATS) per record found."
    );
    s
}
