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
//! `EDDY_TEST_S3_SECRET_KEY`, `EDDY_TEST_S3_REGION` (bucket [`S3_BUCKET`], created with the
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

use bytes::Bytes;
use hyper::http::Method;
use serde_json::{Value, json};

use super::client::{Client, Endpoint, Target};
use super::credentials;
use super::get_records::{self, Preload};
use super::keys::Bodies;
use super::report::{OpResult, Report};
use super::signer::Signer;
use super::table;

/// The bucket the S3 run writes to (each run under a prefix of its own).
pub const S3_BUCKET: &str = "eddy-bench";
/// Records per batch (one S3 object, or one round of `_bulk` requests).
const BATCH_MAX_RECORDS: u32 = 10_000;
/// Bytes per batch.
const BATCH_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// How often the connector's status is read while it drains.
const POLL: Duration = Duration::from_millis(20);
/// A drain that exports no record for this long has stalled.
const STALL_MAX: Duration = Duration::from_secs(60);
/// Stated targets, in records per second.
pub const TARGET_S3: f64 = 50_000.0;
pub const TARGET_OPENSEARCH: f64 = 20_000.0;

/// The sink a run exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    S3,
    OpenSearch,
}

impl Sink {
    /// The workload's name.
    pub fn workload(self) -> &'static str {
        match self {
            Sink::S3 => "connector-s3",
            Sink::OpenSearch => "connector-opensearch",
        }
    }

    fn target(self) -> f64 {
        match self {
            Sink::S3 => TARGET_S3,
            Sink::OpenSearch => TARGET_OPENSEARCH,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Sink::S3 => "records/s",
            Sink::OpenSearch => "docs/s",
        }
    }
}

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

/// The sink's settings, read from the environment.
enum Settings {
    S3 { endpoint: String, access_key: String, secret_key: String, region: String, prefix: String },
    OpenSearch { url: String, index: String },
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| {
        anyhow::anyhow!(
            "{name} is not set (see `scripts/services/minio.sh env` / `scripts/services/opensearch.sh env`)"
        )
    })
}

impl Settings {
    fn from_env(sink: Sink, run: u128) -> anyhow::Result<Settings> {
        Ok(match sink {
            Sink::S3 => Settings::S3 {
                endpoint: env("EDDY_TEST_S3_ENDPOINT")?,
                access_key: env("EDDY_TEST_S3_ACCESS_KEY")?,
                secret_key: env("EDDY_TEST_S3_SECRET_KEY")?,
                region: std::env::var("EDDY_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".to_string()),
                prefix: format!("bench/{run}"),
            },
            Sink::OpenSearch => Settings::OpenSearch {
                url: env("EDDY_TEST_OPENSEARCH_URL")?.trim_end_matches('/').to_string(),
                index: format!("eddy-bench-{run}"),
            },
        })
    }

    /// Makes the destination ready: the bucket exists (the index is created by the connector).
    fn prepare(&self) -> anyhow::Result<()> {
        let Settings::S3 { endpoint, access_key, secret_key, region, .. } = self else {
            return Ok(());
        };
        let output = std::process::Command::new("aws")
            .args(["s3api", "create-bucket", "--bucket", S3_BUCKET, "--endpoint-url", endpoint])
            .env("AWS_ACCESS_KEY_ID", access_key)
            .env("AWS_SECRET_ACCESS_KEY", secret_key)
            .env("AWS_DEFAULT_REGION", region)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .map_err(|e| {
                anyhow::anyhow!("running `aws s3api create-bucket` (is the aws CLI installed?): {e}")
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || stderr.contains("BucketAlreadyOwnedByYou") {
            return Ok(());
        }
        anyhow::bail!(
            "aws s3api create-bucket --bucket {S3_BUCKET} --endpoint-url {endpoint}: {}",
            stderr.trim()
        )
    }

    /// The sink's part of the connector's configuration.
    fn config(&self) -> (&'static str, &'static str, Value) {
        match self {
            Settings::S3 { endpoint, access_key, secret_key, region, prefix } => (
                "s3",
                "S3",
                json!({
                    "Endpoint": endpoint, "Bucket": S3_BUCKET, "Prefix": prefix, "Region": region,
                    "AccessKeyId": access_key, "SecretAccessKey": secret_key,
                    "AllowHttp": endpoint.starts_with("http://"), "Gzip": true,
                }),
            ),
            Settings::OpenSearch { url, index } => {
                ("opensearch", "OpenSearch", json!({"Url": url, "Index": index}))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Settings::S3 { endpoint, prefix, .. } => {
                format!("s3 {endpoint} bucket {S3_BUCKET} prefix {prefix} (gzip)")
            }
            Settings::OpenSearch { url, index } => format!("opensearch {url} index {index}"),
        }
    }
}

/// The connector's configuration for a drain of the table from its oldest record.
fn configuration(table: &str, settings: &Settings) -> Value {
    let (kind, key, sink) = settings.config();
    let mut body = json!({
        "Type": kind,
        "TableName": table,
        "Start": "trim_horizon",
        // No flush wait: the backlog fills every batch but the last, which should not wait.
        "Batch": {"MaxRecords": BATCH_MAX_RECORDS, "MaxBytes": BATCH_MAX_BYTES, "FlushIntervalMillis": 0},
    });
    body[key] = sink;
    body
}

fn path(name: &str) -> String {
    format!("/v1/connectors/{name}")
}

/// The parts of `GET /v1/connectors/{name}` the workload reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub state: String,
    pub records_exported: u64,
    pub bytes_exported: u64,
    pub batches_exported: u64,
    pub failures: u64,
    pub lag_records: Option<u64>,
    pub last_error: Option<String>,
}

/// Parses the body of `GET /v1/connectors/{name}`.
pub fn parse_status(body: &[u8]) -> anyhow::Result<Status> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        anyhow::anyhow!("unexpected connector status ({e}): {}", String::from_utf8_lossy(body))
    })?;
    let c = &value["Connector"];
    let Some(state) = c["State"].as_str() else {
        anyhow::bail!("unexpected connector status: {}", String::from_utf8_lossy(body));
    };
    let n = |field: &str| c[field].as_u64().unwrap_or(0);
    Ok(Status {
        state: state.to_string(),
        records_exported: n("RecordsExported"),
        bytes_exported: n("BytesExported"),
        batches_exported: n("BatchesExported"),
        failures: n("Failures"),
        lag_records: c["LagRecords"].as_u64(),
        last_error: c["LastError"].as_str().map(str::to_string),
    })
}

impl Status {
    fn summary(&self) -> String {
        let lag = self.lag_records.map_or("-".to_string(), |n| n.to_string());
        let mut line = format!(
            "state {}, {} records / {} bytes / {} batches exported, {} failures, lag {lag}",
            self.state, self.records_exported, self.bytes_exported, self.batches_exported, self.failures
        );
        if let Some(error) = &self.last_error {
            let _ = write!(line, ", last error: {error}");
        }
        line
    }
}

async fn status(client: &mut Client, name: &str) -> anyhow::Result<Status> {
    let reply = client.rest(Method::GET, &path(name), None).await?;
    if !reply.is_success() {
        anyhow::bail!("GET {}: HTTP {}: {}", path(name), reply.status, reply.body_text());
    }
    parse_status(&reply.body)
}

async fn delete_if_present(client: &mut Client, name: &str) -> anyhow::Result<()> {
    let reply = client.rest(Method::DELETE, &path(name), None).await?;
    if reply.is_success() || reply.status == 404 {
        return Ok(());
    }
    anyhow::bail!("DELETE {}: HTTP {}: {}", path(name), reply.status, reply.body_text())
}

/// Memory of the server process, in KiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`.
fn memory(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_memory(&text)
}

/// Parses `VmRSS` and `VmHWM` out of the text of `/proc/<pid>/status`.
pub fn parse_memory(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

/// Resets the peak RSS of `pid` to its current RSS (`echo 5 > /proc/<pid>/clear_refs`).
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One drain, timed.
struct Drained {
    elapsed: Duration,
    registered: Duration,
    status: Status,
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

    let body = configuration(&plan.table, &settings);
    eprintln!("{name}: creating connector {connector} ({})", settings.describe());
    let drained = drain(&mut control, &connector, &body, plan.records, plan.server_pid).await?;
    let after = plan.server_pid.and_then(memory);
    delete_if_present(&mut control, &connector).await?;

    let checked = match &settings {
        Settings::OpenSearch { url, index } => Some(count_documents(url, index).await?),
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
    let reply = client.rest(Method::PUT, &path(name), Some(Bytes::from(body.to_string()))).await?;
    if !reply.is_success() {
        anyhow::bail!("PUT {}: HTTP {}: {}", path(name), reply.status, reply.body_text());
    }
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

/// Refreshes `index` and counts its documents.
async fn count_documents(url: &str, index: &str) -> anyhow::Result<u64> {
    let endpoint = Endpoint::parse(url)?;
    // OpenSearch without its security plugin ignores the signature; any pair will do.
    let credentials = credentials::Credentials {
        access_key_id: credentials::DUMMY_ACCESS_KEY_ID.to_string(),
        secret_access_key: credentials::DUMMY_SECRET_ACCESS_KEY.to_string(),
        session_token: None,
        source: credentials::Source::Dummy,
    };
    let target =
        Arc::new(Target::new(endpoint, Signer::new(&credentials, credentials::DEFAULT_REGION.to_string())));
    let mut client = Client::new(target);
    let refresh = client.rest(Method::POST, &format!("/{index}/_refresh"), None).await?;
    if !refresh.is_success() {
        anyhow::bail!("POST {url}/{index}/_refresh: HTTP {}: {}", refresh.status, refresh.body_text());
    }
    let reply = client.rest(Method::GET, &format!("/{index}/_count"), None).await?;
    if !reply.is_success() {
        anyhow::bail!("GET {url}/{index}/_count: HTTP {}: {}", reply.status, reply.body_text());
    }
    let value: Value = serde_json::from_slice(&reply.body)?;
    value["count"].as_u64().ok_or_else(|| anyhow::anyhow!("GET {url}/{index}/_count: {value}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{Memory, Settings, configuration, parse_memory, parse_status};

    #[test]
    fn status_bodies() {
        let body = br#"{"Connector":{"ConnectorName":"c","State":"RUNNING","RecordsExported":20000,
            "BytesExported":123,"BatchesExported":2,"Failures":1,"LagRecords":0,"LastError":"x"}}"#;
        let s = parse_status(body).unwrap();
        assert_eq!((s.state.as_str(), s.records_exported, s.lag_records), ("RUNNING", 20000, Some(0)));
        assert_eq!((s.bytes_exported, s.batches_exported, s.failures), (123, 2, 1));
        assert_eq!(s.last_error.as_deref(), Some("x"));
        assert!(parse_status(b"{}").is_err());
    }

    #[test]
    fn proc_status() {
        let text = "Name:\teddy\nVmPeak:\t  900 kB\nVmHWM:\t  51200 kB\nVmRSS:\t  40960 kB\n";
        assert_eq!(parse_memory(text), Some(Memory { rss_kib: 40960, hwm_kib: 51200 }));
        assert_eq!(parse_memory("Name:\teddy\n"), None);
    }

    #[test]
    fn configurations() {
        let s3 = Settings::S3 {
            endpoint: "http://127.0.0.1:19000".into(),
            access_key: "a".into(),
            secret_key: "s".into(),
            region: "us-east-1".into(),
            prefix: "bench/1".into(),
        };
        let body = configuration("t-connector-s3", &s3);
        assert_eq!(body["Type"], "s3");
        assert_eq!(body["Start"], "trim_horizon");
        assert_eq!(body["S3"]["Bucket"], super::S3_BUCKET);
        assert_eq!(body["S3"]["AllowHttp"], true);
        let os = Settings::OpenSearch { url: "http://127.0.0.1:19200".into(), index: "eddy-bench-1".into() };
        let body = configuration("t", &os);
        assert_eq!(
            (body["Type"].as_str(), body["OpenSearch"]["Index"].as_str()),
            (Some("opensearch"), Some("eddy-bench-1"))
        );
    }
}
