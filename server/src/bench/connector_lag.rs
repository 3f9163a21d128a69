//! `--workload connector-s3-lag` and `--workload connector-opensearch-lag`: end-to-end lag of a
//! connector at a steady write rate, from a write's acknowledgement to the moment the sink holds
//! it.
//!
//! `<table>-connector-s3-lag` (or `-connector-opensearch-lag`) is recreated, the connector of
//! the same name is created with `Start: latest` (`Batch.MaxRecords` 10 000, `MaxBytes` 8 MiB,
//! `FlushIntervalMillis` from `--flush-interval-millis`, default 0) and a probe write must reach
//! the sink before the clock starts. Then PutItem goes open-loop at `--rate` (default 10 000/s)
//! over `--concurrency` connections for `--warmup` + `--duration` s, while a poller reads the
//! connector's status every 10 ms (`connector_poll`). Each acknowledged write is matched with the
//! first poll whose `RecordsExported` covers it; rows `ack->exported` (the server's
//! `LastExportedTime`) and `ack->seen` (the poll's arrival) give p50/p99/p999, the notes the max.
//! After the last write the run waits until the connector has exported every acknowledged write.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::client::{Client, Target};
use super::connector_poll::{self, Latest, Origin, POLL_INTERVAL};
use super::connector_setup::{self as setup, Settings, Sink, delete_if_present, memory, mib};
use super::keys::Bodies;
use super::report::{OpResult, Report};
use super::steady::{self, Schedule, Writes};
use super::table;

/// Longest wait for the connector to catch up after the last write, while it makes progress.
const DRAIN_MAX: Duration = Duration::from_secs(600);
/// A connector that exports nothing for this long while writes are missing has stalled.
const STALL_MAX: Duration = Duration::from_secs(60);

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
    /// `--server-pid`: whose RSS to sample once a second.
    pub server_pid: Option<u32>,
}

impl Plan {
    fn workload(&self) -> &'static str {
        match self.sink {
            Sink::S3 => "connector-s3-lag",
            Sink::OpenSearch => "connector-opensearch-lag",
        }
    }
}

/// Runs the workload.
pub async fn run(plan: &Plan, target: &Arc<Target>) -> anyhow::Result<Report> {
    let name = plan.workload();
    plan.schedule.check(name)?;
    let run = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?.as_millis();
    let settings = Settings::from_env(plan.sink, run)?;
    settings.prepare()?;
    let mut control = Client::new(Arc::clone(target));
    let connector = plan.table.clone();
    delete_if_present(&mut control, &connector).await?;
    let bodies = Arc::new(Bodies::new(&plan.table, plan.value_bytes as usize));
    table::recreate_with_stream(&mut control, &bodies, &plan.table).await?;

    let prefix = format!("cl-{:08x}-", run as u32);
    let body = setup::configuration(&plan.table, &settings, "latest", plan.flush_millis);
    eprintln!("{name}: creating connector {connector} ({}, latest)", settings.describe());
    let probed =
        setup::start_with_probe(&mut control, &bodies, &connector, &body, &format!("{prefix}probe")).await?;
    let base = probed.records_exported;

    let mut clients = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency {
        let mut client = Client::new(Arc::clone(target));
        client.connect().await?;
        clients.push(client);
    }
    let origin = Origin::now();
    let writes = Arc::new(Writes::new(origin.instant, prefix, plan.schedule));
    let latest = Arc::new(Latest::default());
    latest.count.store(base, Ordering::Relaxed);
    let poller = connector_poll::spawn(
        Arc::clone(target),
        connector.clone(),
        origin,
        plan.server_pid,
        Arc::clone(&latest),
    )?;
    let rss_start = plan.server_pid.and_then(memory).map(|m| m.rss_kib);

    let start = Instant::now() + Duration::from_millis(20);
    let start_ns = origin.ns(start);
    eprintln!(
        "{name}: {} writes/s over {} connections, {} s warmup + {} s measured ({} writes)",
        plan.schedule.rate,
        plan.concurrency,
        plan.schedule.warmup.as_secs(),
        plan.schedule.duration.as_secs(),
        writes.total()
    );
    let ticker = tokio::spawn(print_progress(name, Arc::clone(&writes), Arc::clone(&latest), start));
    steady::run(Arc::clone(&writes), Arc::clone(&bodies), clients, start, name).await;
    let writes_done = Instant::now();

    // Wait for the connector to export every acknowledged write.
    let acked = writes.acked.load(Ordering::Relaxed);
    let mut progress = (latest.count.load(Ordering::Relaxed), Instant::now());
    loop {
        let count = latest.count.load(Ordering::Relaxed);
        if count >= base + acked || latest.failed.load(Ordering::Acquire) {
            break;
        }
        if count != progress.0 {
            progress = (count, Instant::now());
        }
        if progress.1.elapsed() >= STALL_MAX || writes_done.elapsed() >= DRAIN_MAX {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ticker.abort();
    latest.stop();
    let log = match tokio::task::spawn_blocking(move || poller.join()).await? {
        Ok(result) => result?,
        Err(_) => anyhow::bail!("the status poller panicked"),
    };
    let rss_end = plan.server_pid.and_then(memory).map(|m| m.rss_kib);
    let final_status = setup::status(&mut control, &connector).await?;
    let documents = match &settings {
        Settings::OpenSearch { url, index } => Some(setup::count_documents(url, index).await?),
        Settings::S3 { .. } => None,
    };
    delete_if_present(&mut control, &connector).await?;

    let mut report = report(plan, &writes, &log, base, start_ns, &final_status);
    let mut notes = String::new();
    if let Some(count) = documents {
        let verdict = if count == final_status.records_exported { "equal" } else { "NOT equal" };
        let _ = writeln!(
            notes,
            "index: {count} documents after refresh for {} records exported ({verdict})",
            final_status.records_exported
        );
        if count != final_status.records_exported && report.failure.is_none() {
            report.failure = Some(format!(
                "the index holds {count} documents, expected {}",
                final_status.records_exported
            ));
        }
    }
    if let Some(pid) = plan.server_pid {
        let max = log.seconds.iter().filter_map(|s| s.rss_kib).chain(rss_start).chain(rss_end).max();
        let fmt = |v: Option<u64>| v.map_or("-".to_string(), |k| format!("{:.1}", mib(k)));
        let _ = writeln!(
            notes,
            "server memory (pid {pid}): RSS {} MiB before the writes, max {} MiB (sampled once a second), {} MiB at the end",
            fmt(rss_start),
            fmt(max),
            fmt(rss_end)
        );
    }
    report.notes.push_str(&notes);
    Ok(report)
}

fn report(
    plan: &Plan,
    writes: &Writes,
    log: &connector_poll::Log,
    base: u64,
    start_ns: u64,
    last: &setup::Status,
) -> Report {
    let name = plan.workload();
    let schedule = plan.schedule;
    let acks = writes.acks();
    let lags = connector_poll::match_writes(&acks, schedule.first_measured(), &log.samples, base);
    let (measured, span) = steady::achieved(writes, start_ns);
    let put = steady::put_latency(writes, start_ns);
    let failed = writes.failed.load(Ordering::Relaxed);
    let rows = vec![
        OpResult {
            workload: name,
            operation: "PutItem",
            concurrency: plan.concurrency,
            duration: span,
            ops: measured,
            errors: failed,
            latency: put,
        },
        OpResult {
            workload: name,
            operation: "ack->exported",
            concurrency: 1,
            duration: span,
            ops: lags.exported.len(),
            errors: lags.missing,
            latency: lags.exported.clone(),
        },
        OpResult {
            workload: name,
            operation: "ack->seen",
            concurrency: 1,
            duration: span,
            ops: lags.seen.len(),
            errors: lags.missing,
            latency: lags.seen.clone(),
        },
    ];
    // The sink's throughput over the measured window of the writes.
    let window_from = start_ns + schedule.due_ns(schedule.first_measured());
    let window_to = window_from + schedule.duration.as_nanos() as u64;
    let exported_in_window = connector_poll::count_at(&log.samples, window_to, base)
        - connector_poll::count_at(&log.samples, window_from, base);
    let sink_rate = exported_in_window as f64 / schedule.duration.as_secs_f64().max(1e-9);
    let achieved = measured as f64 / span.as_secs_f64().max(1e-9);
    let acked = writes.acked.load(Ordering::Relaxed);
    let last_ack = acks.iter().flatten().max().copied().unwrap_or(start_ns);
    let drained =
        log.samples.iter().find(|s| s.count >= base + acked).map(|s| s.exported_ns.saturating_sub(last_ack));
    let ms = |us: u64| us as f64 / 1000.0;
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "writes: {} scheduled at {}/s, {acked} acknowledged, {failed} failed, {} not sent (over {} s late); achieved {achieved:.1} writes/s over the measured {:.2} s",
        writes.total(),
        schedule.rate,
        writes.late_unsent.load(Ordering::Relaxed),
        steady::LATE_SEND_MAX.as_secs(),
        span.as_secs_f64()
    );
    let _ = writeln!(
        notes,
        "sink: {exported_in_window} records exported during the measured {} s: {sink_rate:.0} {}; {} batches in all ({:.0} records a batch), {} failed attempts",
        schedule.duration.as_secs(),
        plan.sink.unit(),
        last.batches_exported,
        last.records_exported as f64 / last.batches_exported.max(1) as f64,
        last.failures,
    );
    let _ = writeln!(
        notes,
        "lag: ack->exported p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; ack->seen max {:.1} ms; {} writes matched, {} never exported, {} exported before their ack (0 ms)",
        ms(lags.exported.value_at_quantile(0.5)),
        ms(lags.exported.value_at_quantile(0.99)),
        ms(lags.exported.max()),
        ms(lags.seen.max()),
        lags.matched,
        lags.missing,
        lags.before_ack,
    );
    let _ = writeln!(
        notes,
        "     polled every {} ms ({} polls, {} failed); exported = the server's LastExportedTime (1 ms), seen = the poll's answer",
        POLL_INTERVAL.as_millis(),
        log.polls,
        log.errors
    );
    if let Some(d) = drained {
        let _ = writeln!(
            notes,
            "drain: every acknowledged write exported {:.3} s after the last acknowledgement",
            d as f64 / 1e9
        );
    }
    let failure = if let Some(why) = &log.failed {
        Some(format!("the connector failed: {why}"))
    } else if lags.missing > 0 {
        Some(format!(
            "{} acknowledged writes were not exported (none for {} s)",
            lags.missing,
            STALL_MAX.as_secs()
        ))
    } else {
        None
    };
    let summary = serde_json::json!({
        "workload": name,
        "operation": "summary",
        "rate_target": schedule.rate,
        "rate_achieved": (achieved * 10.0).round() / 10.0,
        "writes_acknowledged": acked,
        "writes_failed": failed,
        "sink_records_per_s": sink_rate.round(),
        "lag_exported_p50_ms": ms(lags.exported.value_at_quantile(0.5)),
        "lag_exported_p99_ms": ms(lags.exported.value_at_quantile(0.99)),
        "lag_exported_max_ms": ms(lags.exported.max()),
        "lag_seen_p99_ms": ms(lags.seen.value_at_quantile(0.99)),
        "lag_seen_max_ms": ms(lags.seen.max()),
        "poll_interval_ms": POLL_INTERVAL.as_millis() as u64,
        "flush_interval_ms": plan.flush_millis,
        "batches": last.batches_exported,
        "missing": lags.missing,
        "timeline": log
            .seconds
            .iter()
            .map(|s| serde_json::json!([s.at_ns / 1_000_000, s.count, s.lag_records, s.rss_kib]))
            .collect::<Vec<_>>(),
    });
    Report { rows, notes, summary, failure }
}

/// One line a second on stderr: writes sent and acknowledged, records exported, lag.
async fn print_progress(name: &'static str, writes: Arc<Writes>, latest: Arc<Latest>, start: Instant) {
    let second = Duration::from_secs(1);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::from_std(start) + second, second);
    loop {
        let now = ticks.tick().await.into_std();
        eprintln!(
            "{name} {:>4.0} s  sent {:>9}  acked {:>9}  exported {:>9}  lag {:>8} records",
            now.duration_since(start).as_secs_f64(),
            writes.sent.load(Ordering::Relaxed),
            writes.acked.load(Ordering::Relaxed),
            latest.count.load(Ordering::Relaxed),
            latest.lag_records.load(Ordering::Relaxed),
        );
    }
}
