//! What the connector workloads share: the sink and its settings from the environment that
//! `scripts/services/minio.sh env` and `scripts/services/opensearch.sh env` print, the
//! connector's configuration, the `/v1/connectors/{name}` calls and the status they read, and
//! the server's memory from `/proc/<pid>/status`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::http::Method;
use serde_json::{Value, json};

use super::client::{Client, Endpoint, Operation, Target};
use super::credentials;
use super::keys::Bodies;
use super::signer::Signer;

/// The bucket the S3 runs write to (each run under a prefix of its own).
pub const S3_BUCKET: &str = "eddy-bench";
/// Records per batch (one S3 object, or one round of `_bulk` requests).
pub const BATCH_MAX_RECORDS: u32 = 10_000;
/// Bytes per batch.
pub const BATCH_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// How long the probe write may take to reach the sink (the sink's check comes first).
const PROBE_WAIT: Duration = Duration::from_secs(60);
/// Stated drain targets, in records per second.
pub const TARGET_S3: f64 = 50_000.0;
pub const TARGET_OPENSEARCH: f64 = 20_000.0;

/// The sink a run exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    S3,
    OpenSearch,
}

impl Sink {
    /// The drain workload's name.
    pub fn workload(self) -> &'static str {
        match self {
            Sink::S3 => "connector-s3",
            Sink::OpenSearch => "connector-opensearch",
        }
    }

    /// The drain target, records per second.
    pub fn target(self) -> f64 {
        match self {
            Sink::S3 => TARGET_S3,
            Sink::OpenSearch => TARGET_OPENSEARCH,
        }
    }

    /// What the sink holds per record.
    pub fn unit(self) -> &'static str {
        match self {
            Sink::S3 => "records/s",
            Sink::OpenSearch => "docs/s",
        }
    }
}

/// The sink's settings, read from the environment.
#[derive(Debug, Clone)]
pub enum Settings {
    S3 {
        endpoint: String,
        access_key: String,
        secret_key: String,
        region: String,
        prefix: String,
        gzip: bool,
    },
    OpenSearch {
        url: String,
        index: String,
    },
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| {
        anyhow::anyhow!(
            "{name} is not set (see `scripts/services/minio.sh env` / `scripts/services/opensearch.sh env`)"
        )
    })
}

impl Settings {
    /// The settings of `sink` for run `run` (a fresh S3 prefix or OpenSearch index per run);
    /// S3 objects are gzipped.
    pub fn from_env(sink: Sink, run: u128) -> anyhow::Result<Settings> {
        Ok(match sink {
            Sink::S3 => Settings::S3 {
                endpoint: env("EDDY_TEST_S3_ENDPOINT")?.trim_end_matches('/').to_string(),
                access_key: env("EDDY_TEST_S3_ACCESS_KEY")?,
                secret_key: env("EDDY_TEST_S3_SECRET_KEY")?,
                region: std::env::var("EDDY_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".to_string()),
                prefix: format!("bench/{run}"),
                gzip: true,
            },
            Sink::OpenSearch => Settings::OpenSearch {
                url: env("EDDY_TEST_OPENSEARCH_URL")?.trim_end_matches('/').to_string(),
                index: format!("eddy-bench-{run}"),
            },
        })
    }

    /// The sink's URL (S3 endpoint or OpenSearch node).
    pub fn url(&self) -> &str {
        match self {
            Settings::S3 { endpoint, .. } => endpoint,
            Settings::OpenSearch { url, .. } => url,
        }
    }

    /// The same settings with the sink reached at `url` (a proxy in front of it) and, for S3,
    /// objects gzipped or not.
    pub fn through(&self, url: &str, gzip: bool) -> Settings {
        match self.clone() {
            Settings::S3 { access_key, secret_key, region, prefix, .. } => {
                Settings::S3 { endpoint: url.to_string(), access_key, secret_key, region, prefix, gzip }
            }
            Settings::OpenSearch { index, .. } => Settings::OpenSearch { url: url.to_string(), index },
        }
    }

    /// Makes the destination ready: the bucket exists (the index is created by the connector).
    pub fn prepare(&self) -> anyhow::Result<()> {
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
            Settings::S3 { endpoint, access_key, secret_key, region, prefix, gzip } => (
                "s3",
                "S3",
                json!({
                    "Endpoint": endpoint, "Bucket": S3_BUCKET, "Prefix": prefix, "Region": region,
                    "AccessKeyId": access_key, "SecretAccessKey": secret_key,
                    "AllowHttp": endpoint.starts_with("http://"), "Gzip": gzip,
                }),
            ),
            Settings::OpenSearch { url, index } => {
                ("opensearch", "OpenSearch", json!({"Url": url, "Index": index}))
            }
        }
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        match self {
            Settings::S3 { endpoint, prefix, gzip, .. } => {
                let gzip = if *gzip { "gzip" } else { "no gzip" };
                format!("s3 {endpoint} bucket {S3_BUCKET} prefix {prefix} ({gzip})")
            }
            Settings::OpenSearch { url, index } => format!("opensearch {url} index {index}"),
        }
    }
}

/// The connector's configuration: `table` from `start` (`trim_horizon`, `latest`), batches of
/// at most [`BATCH_MAX_RECORDS`] and [`BATCH_MAX_BYTES`] that wait `flush_millis` for more
/// records, default retry policy.
pub fn configuration(table: &str, settings: &Settings, start: &str, flush_millis: u64) -> Value {
    let (kind, key, sink) = settings.config();
    let mut body = json!({
        "Type": kind,
        "TableName": table,
        "Start": start,
        "Batch": {"MaxRecords": BATCH_MAX_RECORDS, "MaxBytes": BATCH_MAX_BYTES, "FlushIntervalMillis": flush_millis},
    });
    body[key] = sink;
    body
}

fn path(name: &str) -> String {
    format!("/v1/connectors/{name}")
}

/// Creates (or replaces) the connector `name` with `body`.
pub async fn put(client: &mut Client, name: &str, body: &Value) -> anyhow::Result<()> {
    let reply = client.rest(Method::PUT, &path(name), Some(Bytes::from(body.to_string()))).await?;
    if !reply.is_success() {
        anyhow::bail!("PUT {}: HTTP {}: {}", path(name), reply.status, reply.body_text());
    }
    Ok(())
}

/// The parts of `GET /v1/connectors/{name}` the workloads read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub state: String,
    pub records_exported: u64,
    pub bytes_exported: u64,
    pub batches_exported: u64,
    pub failures: u64,
    pub lag_records: Option<u64>,
    pub last_error: Option<String>,
    /// When a batch last went out by the server's clock, milliseconds since the epoch.
    pub last_exported_millis: Option<f64>,
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
        // Seconds with a millisecond fraction.
        last_exported_millis: c["LastExportedTime"].as_f64().map(|s| (s * 1000.0).round()),
    })
}

impl Status {
    /// One line for the report.
    pub fn summary(&self) -> String {
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

/// The status of the connector `name`.
pub async fn status(client: &mut Client, name: &str) -> anyhow::Result<Status> {
    let reply = client.rest(Method::GET, &path(name), None).await?;
    if !reply.is_success() {
        anyhow::bail!("GET {}: HTTP {}: {}", path(name), reply.status, reply.body_text());
    }
    parse_status(&reply.body)
}

/// Deletes the connector `name` if there is one.
pub async fn delete_if_present(client: &mut Client, name: &str) -> anyhow::Result<()> {
    let reply = client.rest(Method::DELETE, &path(name), None).await?;
    if reply.is_success() || reply.status == 404 {
        return Ok(());
    }
    anyhow::bail!("DELETE {}: HTTP {}: {}", path(name), reply.status, reply.body_text())
}

/// Creates the connector `name` with `body` (which starts at `latest`), writes one probe item
/// with partition key `probe` into `table` and waits until the connector has exported it, so
/// the sink's check (bucket listing, index creation) is behind it. Answers the status then.
pub async fn start_with_probe(
    client: &mut Client,
    bodies: &Bodies,
    name: &str,
    body: &Value,
    probe: &str,
) -> anyhow::Result<Status> {
    put(client, name, body).await?;
    let reply = client.call(Operation::PutItem, bodies.put_key(probe)).await?;
    if !reply.is_success() {
        anyhow::bail!("probe PutItem: HTTP {}: {}", reply.status, reply.body_text());
    }
    let deadline = Instant::now() + PROBE_WAIT;
    loop {
        let status = status(client, name).await?;
        if status.state == "FAILED" {
            anyhow::bail!("connector {name} failed: {}", status.summary());
        }
        if status.records_exported >= 1 && status.lag_records == Some(0) {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "connector {name} did not export the probe write within {} s: {}",
                PROBE_WAIT.as_secs(),
                status.summary()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Memory of the server process, in KiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`.
pub fn memory(pid: u32) -> Option<Memory> {
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

/// The size in bytes of the redb file (`eddy.redb`) that process `pid` has open, found through
/// `/proc/<pid>/fd`.
pub fn data_file_bytes(pid: u32) -> Option<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten().find_map(|fd| {
        let path = std::fs::read_link(fd.path()).ok()?;
        if path.file_name()? != "eddy.redb" {
            return None;
        }
        std::fs::metadata(&path).ok().map(|m| m.len())
    })
}

/// Resets the peak RSS of `pid` to its current RSS (`echo 5 > /proc/<pid>/clear_refs`).
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Refreshes `index` and counts its documents.
pub async fn count_documents(url: &str, index: &str) -> anyhow::Result<u64> {
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
            "BytesExported":123,"BatchesExported":2,"Failures":1,"LagRecords":0,"LastError":"x",
            "LastExportedTime":1764037000.123}}"#;
        let s = parse_status(body).unwrap();
        assert_eq!((s.state.as_str(), s.records_exported, s.lag_records), ("RUNNING", 20000, Some(0)));
        assert_eq!((s.bytes_exported, s.batches_exported, s.failures), (123, 2, 1));
        assert_eq!(s.last_error.as_deref(), Some("x"));
        assert_eq!(s.last_exported_millis, Some(1_764_037_000_123.0));
        assert!(parse_status(b"{}").is_err());
        let s = parse_status(br#"{"Connector":{"State":"PAUSED"}}"#).unwrap();
        assert_eq!((s.records_exported, s.lag_records, s.last_exported_millis), (0, None, None));
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
            gzip: true,
        };
        let body = configuration("t-connector-s3", &s3, "trim_horizon", 0);
        assert_eq!(body["Type"], "s3");
        assert_eq!(body["Start"], "trim_horizon");
        assert_eq!(body["Batch"]["FlushIntervalMillis"], 0);
        assert_eq!(body["S3"]["Bucket"], super::S3_BUCKET);
        assert_eq!((&body["S3"]["AllowHttp"], &body["S3"]["Gzip"]), (&true.into(), &true.into()));
        // Through a proxy: the endpoint changes, the credentials and prefix stay.
        let proxied = s3.through("http://127.0.0.1:4000", false);
        let body = configuration("t", &proxied, "latest", 1000);
        assert_eq!(body["S3"]["Endpoint"], "http://127.0.0.1:4000");
        assert_eq!((&body["S3"]["Prefix"], &body["S3"]["Gzip"]), (&"bench/1".into(), &false.into()));
        assert_eq!((&body["Start"], &body["Batch"]["FlushIntervalMillis"]), (&"latest".into(), &1000.into()));
        let os = Settings::OpenSearch { url: "http://127.0.0.1:19200".into(), index: "eddy-bench-1".into() };
        let body = configuration("t", &os, "trim_horizon", 0);
        assert_eq!(
            (body["Type"].as_str(), body["OpenSearch"]["Index"].as_str()),
            (Some("opensearch"), Some("eddy-bench-1"))
        );
        assert_eq!(os.through("http://127.0.0.1:4001", true).url(), "http://127.0.0.1:4001");
    }
}
