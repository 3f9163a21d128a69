//! `--workload connector-s3` and `--workload connector-opensearch`: how fast a connector drains a
//! backlog into its sink.
//!
//! `<table>-connector-s3` (or `-connector-opensearch`) is recreated and loaded with `--records`
//! new items by BatchWriteItem (25 puts a request, `--concurrency` connections). Then the
//! connector of the same name is created with `PUT /v1/connectors/{name}` and `Start:
//! trim_horizon`, and `GET /v1/connectors/{name}` is polled every 20 ms until `RecordsExported`
//! reaches N with `LagRecords` 0. The drain is timed from the PUT being sent to that poll.
//!
//! The sinks come from the environment that `scripts/services/minio.sh env` and
//! `scripts/services/opensearch.sh env` print: `EDDY_TEST_S3_ENDPOINT`, `EDDY_TEST_S3_ACCESS_KEY`,
//! `EDDY_TEST_S3_SECRET_KEY`, `EDDY_TEST_S3_REGION` (bucket `eddy-bench`, created with the
//! `aws` CLI when missing, a fresh prefix per run) and `EDDY_TEST_OPENSEARCH_URL` (a fresh index
//! per run, whose document count is checked after the drain).
//!
//! With `--server-pid`, the server's peak RSS during the drain is read from
//! `/proc/<pid>/status`: the peak is reset through `/proc/<pid>/clear_refs` before the
//! connector is created when permitted (else `VmHWM` is the peak since the server started), and
//! `VmRSS` is also sampled at every poll.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::client::{Client, Target};
use super::connector_setup::{
    self as setup, BATCH_MAX_RECORDS, Settings, Sink, delete_if_present, memory, mib, reset_peak, status,
};
use super::get_records::{self, Preload};
use super::keys::Bodies;
use super::report::{OpResult, Report};
use super::table;

/// How often the connector's status is read while it drains.
const POLL: Duration = Duration::from_millis(20);
/// A drain that exports no record for this long has stalled.
const STALL_MAX: Duration = Duration::from_secs(60);

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The workload's table, also the connector's name.
    pub table: String,
    pub sink: Sink,
    pub records: u64,
    /// Preload connections.
    pub concurrency: usize,
    pub value_bytes: u64,
    /// `--server-pid`: whose memory to report.
    pub server_pid: Option<u32>,
}

/// One drain, timed.
struct Drained {
    elapsed: Duration,
    registered: Duration,
    status: setup::Status,
    /// Largest `VmRSS` seen at a poll, KiB.
    rss_sampled_kib: u64,
}

/// Runs the workload.
pub async fn run(plan: &Plan, target: &Arc<Target>) -> anyhow::Result<Report> {
    let name = plan.sink.workload();
    let run = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?.as_millis();
    let settings = Settings::from_env(plan.sink, run)?;
    settings.prepare()?;
    let mut control = Client::new(Arc::clone(target));
    let connector = plan.table.clone();
    delete_if_present(&mut control, &connector).await?;

    let bodies = Arc::new(Bodies::new(&plan.table, plan.value_bytes as usize));
    table::recreate_with_stream(&mut control, &bodies, &plan.table).await?;
    let items = format!("items of {} bytes", plan.value_bytes);
    let batches = Arc::clone(&bodies);
    let preload =
        get_records::preload(&plan.table, plan.records, &items, plan.concurrency, target, move |f, n| {
            batches.batch_put_records(f, n)
        })
        .await?;
    report_preload(plan.records, &preload);

    let mut memory_notes = String::new();
    let before = plan.server_pid.and_then(memory);
    let peak_reset = plan.server_pid.is_some_and(reset_peak);
    if plan.server_pid.is_some() && before.is_none() {
        let _ = writeln!(memory_notes, "server memory: /proc/<pid>/status of --server-pid is unreadable");
    }

    // No flush wait: the backlog fills every batch but the last, which should not wait.
    let body = setup::configuration(&plan.table, &settings, "trim_horizon", 0);
    eprintln!("{name}: creating connector {connector} ({})", settings.describe());
    let drained = drain(&mut control, &connector, &body, plan.records, plan.server_pid).await?;
    let after = plan.server_pid.and_then(memory);
    delete_if_present(&mut control, &connector).await?;

    let checked = match &settings {
        Settings::OpenSearch { url, index } => Some(setup::count_documents(url, index).await?),
        Settings::S3 { .. } => None,
    };

    let per_sec = drained.status.records_exported as f64 / drained.elapsed.as_secs_f64().max(1e-9);
    let rows = vec![OpResult {
        workload: name,
        operation: "BatchWriteItem",
        concurrency: plan.concurrency,
        duration: preload.elapsed,
        ops: preload.latency.len(),
        errors: preload.retries,
        latency: preload.latency,
    }];
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "drain: {} records of {} exported to {} (trim_horizon, MaxRecords {BATCH_MAX_RECORDS}) in {:.3} s: {per_sec:.0} {}",
        drained.status.records_exported,
        plan.table,
        settings.describe(),
        drained.elapsed.as_secs_f64(),
        plan.sink.unit(),
    );
    let _ = writeln!(
        notes,
        "       {} batches, {} bytes, {} failed attempts; PUT answered in {:.1} ms",
        drained.status.batches_exported,
        drained.status.bytes_exported,
        drained.status.failures,
        drained.registered.as_secs_f64() * 1000.0,
    );
    if let Some(count) = checked {
        let verdict = if count == plan.records { "equal" } else { "NOT equal" };
        let _ =
            writeln!(notes, "index: {count} documents after refresh for {} items ({verdict})", plan.records);
    }
    if let (Some(before), Some(after)) = (before, after) {
        let peak = if peak_reset {
            format!("peak RSS during the drain {:.1} MiB (VmHWM, reset before the drain)", mib(after.hwm_kib))
        } else {
            format!(
                "peak RSS since the server started {:.1} MiB (VmHWM; clear_refs not permitted)",
                mib(after.hwm_kib)
            )
        };
        let _ = writeln!(
            memory_notes,
            "server memory (pid {}): RSS {:.1} MiB before the drain, {:.1} MiB after; {peak}; largest RSS sampled \
             while polling {:.1} MiB",
            plan.server_pid.unwrap_or_default(),
            mib(before.rss_kib),
            mib(after.rss_kib),
            mib(drained.rss_sampled_kib.max(after.rss_kib)),
        );
    }
    notes.push_str(&memory_notes);
    let goal = plan.sink.target();
    let verdict = if per_sec >= goal { "met" } else { "NOT met" };
    let _ = writeln!(notes, "target: {name} >= {goal:.0} {}: {verdict}", plan.sink.unit());
    let failure = match checked {
        Some(count) if count != plan.records => {
            Some(format!("the index holds {count} documents, expected {}", plan.records))
        }
        _ => None,
    };
    let summary = json!({
        "workload": name,
        "operation": "summary",
        "records": plan.records,
        "records_exported": drained.status.records_exported,
        "drain_s": drained.elapsed.as_secs_f64(),
        "records_per_s": per_sec.round(),
        "batches": drained.status.batches_exported,
        "bytes": drained.status.bytes_exported,
        "failures": drained.status.failures,
        "documents": checked,
        "server_peak_rss_kib": after.map(|m| m.hwm_kib),
        "server_peak_rss_reset": peak_reset,
        "target_met": per_sec >= goal,
    });
    Ok(Report { rows, notes, summary, failure })
}

fn report_preload(records: u64, preload: &Preload) {
    eprintln!(
        "preload: {records} items in {:.1} s ({:.0} items/s) by {} BatchWriteItem requests",
        preload.elapsed.as_secs_f64(),
        records as f64 / preload.elapsed.as_secs_f64().max(1e-9),
        preload.latency.len()
    );
}

/// Creates the connector and polls its status until all `records` are exported.
async fn drain(
    client: &mut Client,
    name: &str,
    body: &Value,
    records: u64,
    server_pid: Option<u32>,
) -> anyhow::Result<Drained> {
    let sent = Instant::now();
    setup::put(client, name, body).await?;
    let registered = sent.elapsed();
    let mut rss_sampled_kib = 0;
    let mut progress = (0, Instant::now());
    let mut next_print = Instant::now() + Duration::from_secs(1);
    loop {
        tokio::time::sleep(POLL).await;
        let status = status(client, name).await?;
        if let Some(m) = server_pid.and_then(memory) {
            rss_sampled_kib = rss_sampled_kib.max(m.rss_kib);
        }
        if status.state == "FAILED" {
            anyhow::bail!("connector {name} failed: {}", status.summary());
        }
        if status.records_exported >= records && status.lag_records == Some(0) {
            return Ok(Drained { elapsed: sent.elapsed(), registered, status, rss_sampled_kib });
        }
        if status.records_exported != progress.0 {
            progress = (status.records_exported, Instant::now());
        } else if progress.1.elapsed() > STALL_MAX {
            anyhow::bail!(
                "connector {name} exported nothing for {} s: {}",
                STALL_MAX.as_secs(),
                status.summary()
            );
        }
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(1);
            eprintln!("{:>5.1} s  {name}: {}", sent.elapsed().as_secs_f64(), status.summary());
        }
    }
}
