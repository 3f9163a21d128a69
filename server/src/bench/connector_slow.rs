//! `--workload connector-s3-slow-sink` and `--workload connector-opensearch-slow-sink`: the
//! server's memory while a connector's sink takes records `--sink-slowdown` (default 10) times
//! slower than they are written, so its backlog grows for the whole run.
//!
//! The slow path is real: the connector reaches the sink through a bandwidth-limiting TCP proxy
//! started inside the bench (`throttle`), which passes the bytes to the sink (S3 objects, not
//! gzipped so that bytes follow records; `_bulk` bodies) through one token bucket. PutItem goes
//! open-loop at `--rate` (default 10 000/s) for `--warmup` + `--duration` s. During the warmup the
//! proxy is open and measures the sink's bytes per record; then it is limited to
//! `rate / slowdown` records' worth of bytes a second (`--sink-slowdown 0` leaves it open: the
//! same run with a sink that keeps up, to compare memory with). Every second the run reads `VmRSS` of `--server-pid`
//! (required), the size of its `eddy.redb`, and the connector's `RecordsExported` and
//! `LagRecords`, and prints that time line with start / max / end RSS and the peak (`VmHWM`,
//! reset before the writes when `/proc/<pid>/clear_refs` permits).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::client::{Client, Endpoint, Target};
use super::connector_setup::{
    self as setup, Settings, Sink, data_file_bytes, delete_if_present, memory, mib, reset_peak,
};
use super::keys::Bodies;
use super::report::{OpResult, Report};
use super::steady::{self, Schedule, Writes};
use super::table;
use super::throttle::Proxy;

/// How often the run samples memory and the connector's status.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The workload's table, also the connector's name.
    pub table: String,
    pub sink: Sink,
    pub schedule: Schedule,
    /// Writer connections.
    pub concurrency: usize,
    pub value_bytes: u64,
    /// `Batch.FlushIntervalMillis` of the connector.
    pub flush_millis: u64,
    /// The server's pid, whose memory is sampled.
    pub server_pid: u32,
    /// How many times slower than the writes the sink is made (0: not at all).
    pub slowdown: u64,
}

impl Plan {
    fn workload(&self) -> &'static str {
        match self.sink {
            Sink::S3 => "connector-s3-slow-sink",
            Sink::OpenSearch => "connector-opensearch-slow-sink",
        }
    }
}

/// One sample of the time line.
#[derive(Debug, Clone, Copy)]
struct Tick {
    at: Duration,
    acked: u64,
    exported: u64,
    lag_records: u64,
    rss_kib: u64,
    data_bytes: Option<u64>,
    sink_bytes: u64,
}

/// Runs the workload.
pub async fn run(plan: &Plan, target: &Arc<Target>) -> anyhow::Result<Report> {
    let name = plan.workload();
    let schedule = plan.schedule;
    schedule.check(name)?;
    if schedule.warmup.is_zero() {
        anyhow::bail!("{name}: the warmup measures the sink's bytes per record; give --warmup 1 or more");
    }
    let pid = plan.server_pid;
    let unreadable = || anyhow::anyhow!("{name}: /proc/{pid}/status of --server-pid {pid} is unreadable");
    memory(pid).ok_or_else(unreadable)?;
    let run = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?.as_millis();
    let direct = Settings::from_env(plan.sink, run)?;
    direct.prepare()?;
    let upstream = Endpoint::parse(direct.url())?.host_port();
    let proxy = Proxy::start(upstream.clone()).await?;
    let settings = direct.through(&proxy.url(), false);

    let mut control = Client::new(Arc::clone(target));
    let connector = plan.table.clone();
    delete_if_present(&mut control, &connector).await?;
    let bodies = Arc::new(Bodies::new(&plan.table, plan.value_bytes as usize));
    table::recreate_with_stream(&mut control, &bodies, &plan.table).await?;
    let prefix = format!("cs-{:08x}-", run as u32);
    let body = setup::configuration(&plan.table, &settings, "latest", plan.flush_millis);
    eprintln!(
        "{name}: creating connector {connector} ({}, latest) through a proxy to {upstream}",
        settings.describe()
    );
    setup::start_with_probe(&mut control, &bodies, &connector, &body, &format!("{prefix}probe")).await?;

    let mut clients = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency {
        let mut client = Client::new(Arc::clone(target));
        client.connect().await?;
        clients.push(client);
    }
    let rss_start = memory(pid).ok_or_else(unreadable)?.rss_kib;
    let peak_reset = reset_peak(pid);
    let origin = Instant::now();
    let writes = Arc::new(Writes::new(origin, prefix, schedule));
    let start = Instant::now() + Duration::from_millis(20);
    eprintln!(
        "{name}: {} writes/s over {} connections; {} s with the sink open, then {} s with it {}",
        schedule.rate,
        plan.concurrency,
        schedule.warmup.as_secs(),
        schedule.duration.as_secs(),
        slowdown_text(plan.slowdown),
    );
    let writers = tokio::spawn(steady::run(Arc::clone(&writes), Arc::clone(&bodies), clients, start, name));

    let mut ticks: Vec<Tick> = Vec::new();
    let mut limit: Option<(u64, f64, usize)> = None;
    let mut failed = None;
    let mut interval =
        tokio::time::interval_at(tokio::time::Instant::from_std(start) + SAMPLE_INTERVAL, SAMPLE_INTERVAL);
    loop {
        interval.tick().await;
        let done = writers.is_finished();
        let status = setup::status(&mut control, &connector).await?;
        let tick = Tick {
            at: start.elapsed(),
            acked: writes.acked.load(Ordering::Relaxed),
            exported: status.records_exported,
            lag_records: status.lag_records.unwrap_or(0),
            rss_kib: memory(pid).map_or(0, |m| m.rss_kib),
            data_bytes: data_file_bytes(pid),
            sink_bytes: proxy.bytes_up(),
        };
        if status.state == "FAILED" && failed.is_none() {
            failed = Some(status.summary());
        }
        if limit.is_none() && tick.at >= schedule.warmup {
            // Bytes the sink took per record so far (the probe and the sink's check included).
            let per_record = tick.sink_bytes as f64 / tick.exported.max(1) as f64;
            let bytes_per_sec = match plan.slowdown {
                0 => 0,
                n => (schedule.rate as f64 * per_record / n as f64).ceil().max(1.0) as u64,
            };
            proxy.set_rate(bytes_per_sec);
            limit = Some((bytes_per_sec, per_record, ticks.len()));
        }
        eprintln!(
            "{name} {:>4.0} s  acked {:>9}  exported {:>9}  lag {:>9} records  RSS {:>7.1} MiB  {}",
            tick.at.as_secs_f64(),
            tick.acked,
            tick.exported,
            tick.lag_records,
            mib(tick.rss_kib),
            if limit.is_some() && plan.slowdown > 0 { "sink throttled" } else { "sink open" },
        );
        ticks.push(tick);
        if done {
            break;
        }
    }
    writers.await?;
    let hwm_kib = memory(pid).map(|m| m.hwm_kib);
    let last = setup::status(&mut control, &connector).await?;
    // Deleting stops the task, cancelling the upload in flight; the backlog is not drained.
    delete_if_present(&mut control, &connector).await?;
    drop(proxy);
    let start_ns = writes.ns(start);
    let memory = Memory { start_kib: rss_start, hwm_kib, peak_reset };
    Ok(report(plan, &writes, start_ns, &ticks, limit, memory, &last, failed))
}

struct Memory {
    start_kib: u64,
    hwm_kib: Option<u64>,
    peak_reset: bool,
}

#[allow(clippy::too_many_arguments)]
fn report(
    plan: &Plan,
    writes: &Writes,
    start_ns: u64,
    ticks: &[Tick],
    limit: Option<(u64, f64, usize)>,
    memory: Memory,
    last: &setup::Status,
    failed: Option<String>,
) -> Report {
    let name = plan.workload();
    let (bytes_per_sec, per_record, from) = limit.unwrap_or((0, 0.0, 0));
    let throttled = &ticks[from.min(ticks.len())..];
    let (first, end) = (throttled.first().copied(), throttled.last().copied());
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "     t  writes acked  records exported  lag (records)  RSS (MiB)  eddy.redb (MiB)  to sink (KiB/s)"
    );
    let mut previous_bytes = 0;
    for t in ticks {
        let _ = writeln!(
            notes,
            "{:>4.0} s  {:>12}  {:>16}  {:>13}  {:>9.1}  {:>15}  {:>15.0}",
            t.at.as_secs_f64(),
            t.acked,
            t.exported,
            t.lag_records,
            mib(t.rss_kib),
            t.data_bytes.map_or("-".to_string(), |b| format!("{:.1}", b as f64 / 1_048_576.0)),
            t.sink_bytes.saturating_sub(previous_bytes) as f64 / 1024.0,
        );
        previous_bytes = t.sink_bytes;
    }
    let mut failure = failed.map(|why| format!("the connector failed: {why}"));
    if let (Some(first), Some(end)) = (first, end) {
        let secs = (end.at.saturating_sub(first.at)).as_secs_f64().max(1e-9);
        // The writes' own span: the last sample may come after they ended.
        let (measured, span) = steady::achieved(writes, start_ns);
        let write_rate = measured as f64 / span.as_secs_f64().max(1e-9);
        let drain_rate = end.exported.saturating_sub(first.exported) as f64 / secs;
        let json_per_record = last.bytes_exported as f64 / last.records_exported.max(1) as f64;
        let backlog = end.lag_records.saturating_sub(first.lag_records);
        let rss_max = ticks.iter().map(|t| t.rss_kib).chain([memory.start_kib]).max().unwrap_or(0);
        let limited = match plan.slowdown {
            0 => "then left open (--sink-slowdown 0)".to_string(),
            n => format!(
                "then limited to {:.1} KiB/s, {:.0} records/s, {n}x below the rate",
                bytes_per_sec as f64 / 1024.0,
                plan.schedule.rate as f64 / n as f64
            ),
        };
        let _ = writeln!(notes, "sink: {per_record:.0} bytes a record measured while open; {limited}");
        // The sink takes a batch's bytes over seconds and counts its records when it is done,
        // so its intake in bytes is the smoother measure of its rate.
        let intake_rate =
            end.sink_bytes.saturating_sub(first.sink_bytes) as f64 / secs / per_record.max(1e-9);
        let _ = writeln!(
            notes,
            "after the warmup, {secs:.0} s: writes {write_rate:.0}/s; sink takes {intake_rate:.0} records/s in bytes ({:.1}x slower), \
             {drain_rate:.0} {} acknowledged; backlog +{backlog} records (≈ {:.0} MiB of record JSON), {} records behind at the end",
            write_rate / intake_rate.max(1e-9),
            plan.sink.unit(),
            backlog as f64 * json_per_record / 1_048_576.0,
            end.lag_records,
        );
        let peak = match (memory.hwm_kib, memory.peak_reset) {
            (Some(hwm), true) => format!("peak {:.1} MiB (VmHWM since the writes started)", mib(hwm)),
            (Some(hwm), false) => {
                format!("peak since the server started {:.1} MiB (VmHWM; clear_refs not permitted)", mib(hwm))
            }
            (None, _) => "peak unknown".to_string(),
        };
        let _ = writeln!(
            notes,
            "server memory (pid {}): RSS start {:.1} MiB, max {:.1} MiB, end {:.1} MiB; {peak}; after the warmup {:+.1} MiB while the backlog grew {:.0} MiB",
            plan.server_pid,
            mib(memory.start_kib),
            mib(rss_max),
            mib(end.rss_kib),
            mib(end.rss_kib) - mib(first.rss_kib),
            backlog as f64 * json_per_record / 1_048_576.0,
        );
        if drain_rate <= 0.0 && failure.is_none() {
            failure = Some("the throttled sink took no records".to_string());
        }
    } else if failure.is_none() {
        failure = Some("the run ended before the sink was throttled".to_string());
    }
    let (measured, span) = steady::achieved(writes, start_ns);
    let rows = vec![OpResult {
        workload: name,
        operation: "PutItem",
        concurrency: plan.concurrency,
        duration: span,
        ops: measured,
        errors: writes.failed.load(Ordering::Relaxed),
        latency: steady::put_latency(writes, start_ns),
    }];
    let summary = serde_json::json!({
        "workload": name,
        "operation": "summary",
        "rate_target": plan.schedule.rate,
        "sink_slowdown": plan.slowdown,
        "sink_limit_bytes_per_s": bytes_per_sec,
        "rss_start_kib": memory.start_kib,
        "rss_max_kib": ticks.iter().map(|t| t.rss_kib).max(),
        "rss_end_kib": end.map(|t| t.rss_kib),
        "peak_rss_kib": memory.hwm_kib,
        "lag_records_end": end.map(|t| t.lag_records),
        "records_exported": last.records_exported,
        "timeline": ticks.iter().map(|t| serde_json::json!([t.at.as_secs(), t.acked, t.exported, t.lag_records, t.rss_kib])).collect::<Vec<_>>(),
    });
    Report { rows, notes, summary, failure }
}

fn slowdown_text(slowdown: u64) -> String {
    match slowdown {
        0 => "still open (--sink-slowdown 0)".to_string(),
        n => format!("{n}x slower"),
    }
}
