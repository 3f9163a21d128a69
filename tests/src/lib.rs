//! Shared harness for the integration tests: runs the real server binary on a temporary data
//! directory and a free port, and hands out AWS SDK clients and raw HTTP access to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod rest;
pub mod s3;

use std::collections::HashMap;
use std::fmt::Debug;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use aws_sdk_dynamodb;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

/// How long the server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound on any single SDK call, so a hung server fails a test instead of hanging it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of the server's stderr is kept for failure messages.
const STDERR_KEEP_BYTES: usize = 64 * 1024;

/// Credentials the tests sign with; the server accepts any key pair by default.
const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "secret";
const REGION: &str = "us-east-1";

/// A running `eddy-it serve` process on its own data directory.
pub struct TestServer {
    data_dir: tempfile::TempDir,
    child: Option<Child>,
    endpoint: String,
    stderr: Arc<Mutex<String>>,
    /// Flags added to `eddy-it serve`, kept for restarts.
    extra_args: Vec<String>,
    /// Environment variables set for the server process, kept for restarts.
    extra_env: Vec<(String, String)>,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory and a free port.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts a server like [`TestServer::start`] with extra `serve` flags, e.g.
    /// `&["--dev-clock", "--shard-period-secs", "2"]`.
    pub fn start_with(extra_args: &[&str]) -> TestServer {
        TestServer::start_with_env(extra_args, &[])
    }

    /// Starts a server like [`TestServer::start_with`] with extra environment variables for
    /// the server process (e.g. the S3 settings of table exports).
    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let data_dir = tempfile::Builder::new().prefix("eddy-it-").tempdir().expect("create temp dir");
        let stderr = Arc::new(Mutex::new(String::new()));
        let extra_args: Vec<String> = extra_args.iter().map(|a| a.to_string()).collect();
        let extra_env: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, endpoint) = spawn(data_dir.path(), &stderr, &extra_args, &extra_env);
        TestServer { data_dir, child: Some(child), endpoint, stderr, extra_args, extra_env }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The data directory the server runs on.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// What the server wrote to stderr so far (the last 64 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// An SDK client for this server: plain HTTP, fixed credentials, no retries (a test sees
    /// exactly what the server answered) and a bounded operation time.
    pub fn client(&self) -> Client {
        client_for(&self.endpoint)
    }

    /// A DynamoDB Streams SDK client for this server, configured like [`TestServer::client`].
    pub fn streams_client(&self) -> aws_sdk_dynamodbstreams::Client {
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_dynamodbstreams::config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).build())
            .build();
        aws_sdk_dynamodbstreams::Client::from_conf(config)
    }

    /// Moves the server's clock forward by `seconds` (the server must run with `--dev-clock`)
    /// and waits for the trim that follows; returns the response body.
    pub fn advance_clock(&self, seconds: u64) -> serde_json::Value {
        let body = format!("{{\"AdvanceSeconds\": {seconds}}}");
        let (status, value) = rest::call_json(&self.endpoint, "POST", "/v1/dev/clock", Some(&body));
        assert_eq!(status, 200, "advance clock: {value}");
        value
    }

    /// Kills the server with SIGKILL and waits for it to exit.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a graceful exit; panics if the server does not exit in time or
    /// exits with a failure status.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let status =
            Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait().expect("wait for server") {
                Some(exit) => {
                    assert!(
                        exit.success(),
                        "server exited with {exit} after SIGTERM; stderr:\n{}",
                        self.stderr()
                    );
                    return;
                }
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "server did not exit within {STOP_TIMEOUT:?} of SIGTERM; stderr:\n{}",
                        self.stderr()
                    );
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Starts the server again on the same data directory (on a new port). A server that is
    /// still running is stopped gracefully first.
    pub fn restart(&mut self) {
        self.stop();
        let (child, endpoint) = spawn(self.data_dir.path(), &self.stderr, &self.extra_args, &self.extra_env);
        self.child = Some(child);
        self.endpoint = endpoint;
    }

    /// POSTs `body` to `/` with a correct SigV4 signature, bypassing the SDK, for requests the
    /// SDK cannot produce. `target` is the whole `X-Amz-Target` value (none when `None`).
    /// Returns the HTTP status and the response body.
    pub fn raw_post(&self, target: Option<&str>, body: &str) -> (u16, String) {
        raw_post(&self.endpoint, target, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The `eddy-it` binary cargo built next to the test executable. (`CARGO_BIN_EXE_eddy-it` is
/// only defined when compiling the test target itself, not this library.)
fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let mut dir = exe.parent().expect("test executable directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(format!("eddy-it{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "server binary {} not found; build with `cargo test -p eddy-tests`", bin.display());
    bin
}

fn spawn(
    data_dir: &Path,
    stderr_log: &Arc<Mutex<String>>,
    extra_args: &[String],
    extra_env: &[(String, String)],
) -> (Child, String) {
    let mut child = Command::new(server_binary())
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--region")
        .arg(REGION)
        .args(extra_args)
        .envs(extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn eddy-it");

    let stderr = child.stderr.take().expect("piped stderr");
    let log = Arc::clone(stderr_log);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            let mut kept = log.lock().unwrap();
            kept.push_str(&line);
            if kept.len() > STDERR_KEEP_BYTES {
                let mut cut = kept.len() - STDERR_KEEP_BYTES;
                while !kept.is_char_boundary(cut) {
                    cut += 1;
                }
                kept.drain(..cut);
            }
            line.clear();
        }
    });

    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if !sent && let Some(at) = line.find("listening on ") {
                let url = line[at + "listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_string();
                let _ = tx.send(url);
                sent = true;
            }
            line.clear();
        }
    });

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(url) => return (child, url),
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(exit) = child.try_wait().expect("wait for server") {
                    // Let the stderr thread catch up before reporting.
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "server exited with {exit} before listening; stderr:\n{}",
                        stderr_log.lock().unwrap()
                    );
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "server did not print a listening line within {START_TIMEOUT:?}; stderr:\n{}",
                        stderr_log.lock().unwrap()
                    );
                }
            }
        }
    }
}

/// An SDK client for `endpoint` (see [`TestServer::client`]).
pub fn client_for(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).build())
        .build();
    Client::from_conf(config)
}

fn raw_post(endpoint: &str, target: Option<&str>, body: &str) -> (u16, String) {
    let authority = endpoint.trim_start_matches("http://").to_string();
    let url = format!("{endpoint}/");
    let content_type = "application/x-amz-json-1.0";
    let mut headers: Vec<(String, String)> =
        vec![("host".into(), authority.clone()), ("content-type".into(), content_type.into())];
    if let Some(target) = target {
        headers.push(("x-amz-target".into(), target.into()));
    }

    let identity = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("dynamodb")
        .time(SystemTime::now())
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let signable = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
    )
    .expect("signable request");
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params).expect("sign").into_parts();
    for (name, value) in instructions.headers() {
        headers.push((name.to_string(), value.to_string()));
    }

    let mut request = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    request.push_str(body);

    let mut stream = TcpStream::connect(&authority).expect("connect to server");
    stream.set_read_timeout(Some(OPERATION_TIMEOUT)).expect("set read timeout");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    parse_http_response(&response)
}

fn parse_http_response(raw: &[u8]) -> (u16, String) {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of HTTP headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 =
        status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    (status, String::from_utf8_lossy(&body).to_string())
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        raw = &raw[end + 2..];
        if size == 0 || raw.len() < size {
            break;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[(size + 2).min(raw.len())..];
    }
    out
}

/// The `__type` field of a JSON error body, or an empty string.
pub fn error_type(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("__type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The DynamoDB error code (`ValidationException`, ...) of a service error, if the call reached
/// the service and it answered with one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

/// Asserts that `result` failed with the service error `code`; returns the error message.
#[track_caller]
pub fn expect_error<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(
    result: Result<T, SdkError<E, R>>,
    code: &str,
) -> String {
    match result {
        Ok(value) => panic!("expected {code}, got success: {value:?}"),
        Err(err) => {
            assert_eq!(error_code(&err), Some(code), "expected {code}, got: {err:?}");
            err.as_service_error().and_then(|e| e.message()).unwrap_or_default().to_string()
        }
    }
}

/// Asserts that `result` failed with a `ValidationException`; returns the error message.
#[track_caller]
pub fn expect_validation<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(
    result: Result<T, SdkError<E, R>>,
) -> String {
    expect_error(result, "ValidationException")
}

// ---------------------------------------------------------------------------------------------
// Tables

static TABLE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A table name no other test uses: `prefix` plus a process-unique suffix.
pub fn unique_table_name(prefix: &str) -> String {
    let n = TABLE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// Creates an on-demand table with the given key attributes and returns its name.
pub async fn create_table(
    client: &Client,
    name: &str,
    hash: (&str, ScalarAttributeType),
    range: Option<(&str, ScalarAttributeType)>,
) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def(hash.0, hash.1.clone()))
        .key_schema(key_elem(hash.0, KeyType::Hash));
    if let Some((range_name, range_type)) = range {
        request = request
            .attribute_definitions(attr_def(range_name, range_type))
            .key_schema(key_elem(range_name, KeyType::Range));
    }
    request.send().await.unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
}

/// Creates a fresh on-demand table keyed by `pk` (S) and returns its name.
pub async fn hash_table(client: &Client, prefix: &str) -> String {
    let name = unique_table_name(prefix);
    create_table(client, &name, ("pk", ScalarAttributeType::S), None).await;
    name
}

/// Creates a fresh on-demand table keyed by `pk` (S) and `sk` (of `range_type`) and returns its
/// name.
pub async fn hash_range_table(client: &Client, prefix: &str, range_type: ScalarAttributeType) -> String {
    let name = unique_table_name(prefix);
    create_table(client, &name, ("pk", ScalarAttributeType::S), Some(("sk", range_type))).await;
    name
}

/// An attribute definition.
pub fn attr_def(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("attribute definition")
}

/// A key schema element.
pub fn key_elem(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key schema element")
}

// ---------------------------------------------------------------------------------------------
// Values

/// A map of attribute values, the shape of items and keys.
pub type Item = HashMap<String, AttributeValue>;

/// Builds an item (or key) from name/value pairs.
pub fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A string value.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number value.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A binary value.
pub fn b(value: impl Into<Vec<u8>>) -> AttributeValue {
    AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(value))
}

/// Expression attribute names or values from pairs.
pub fn map<V, const N: usize>(pairs: [(&str, V); N]) -> HashMap<String, V> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
