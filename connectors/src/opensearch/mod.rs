//! The OpenSearch sink: keeps one index per table equal to the table, with one document per item
//! (id derived from the item's key, see [`document`]) written through `_bulk` with the record's
//! seq as an external version, so replays and out-of-order retries can never overwrite newer data.
//!
//! OpenSearch forgets the version of a deleted document after the index's `index.gc_deletes`
//! (60 s by default); a replay of an older INSERT after that would bring the item back. The sink
//! therefore sets `index.gc_deletes` to the changelog's retention (24 h by default) on the index
//! it creates (and raises it on an index that exists with less): a record older than a delete
//! can only be replayed while it is within retention, so the tombstone outlives every replay.

pub mod bulk;
pub mod document;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::sink::{Batch, Sink, SinkError, SinkFuture};

/// The named bounds of the OpenSearch sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSearchLimits {
    /// Largest `_bulk` request body; a batch with more goes in several requests (OpenSearch
    /// advises 5–15 MB per bulk request; its `http.max_content_length` default is 100 MB).
    pub bulk_request_bytes_max: usize,
    /// How long to wait for a TCP connection to the node.
    pub connect_timeout: Duration,
    /// How long one request may take end to end before it counts as a transient failure.
    pub request_timeout: Duration,
    /// How much of an unexpected response body goes into an error message.
    pub error_body_bytes_max: usize,
}

impl Default for OpenSearchLimits {
    fn default() -> Self {
        OpenSearchLimits {
            bulk_request_bytes_max: 8 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            error_body_bytes_max: 512,
        }
    }
}

/// The settings keys `from_config` accepts.
const FIELDS: &[&str] =
    &["Url", "Index", "Username", "Password", "Mapping", "GcDeletes", "BulkRequestBytesMax"];

/// What the sink has written since it was built.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpenSearchStats {
    /// Documents created or replaced.
    pub indexed: u64,
    /// Documents deleted (or their delete tombstones written).
    pub deleted: u64,
    /// Writes OpenSearch refused as version conflicts: already applied by an earlier attempt.
    pub conflicts: u64,
    /// `_bulk` requests sent that OpenSearch answered.
    pub requests: u64,
}

/// Exports batches to one OpenSearch index.
pub struct OpenSearchSink {
    /// The node's base URL, without a trailing slash.
    url: String,
    /// The configured index; `None` means the default name of the batch's table.
    index: Option<String>,
    username: Option<String>,
    password: Option<String>,
    /// `mappings` of the index Eddy creates.
    mapping: Option<Value>,
    /// `index.gc_deletes` of the index Eddy creates, as an OpenSearch time value.
    gc_deletes: String,
    limits: OpenSearchLimits,
    client: reqwest::Client,
    /// The index known to exist with a long enough `gc_deletes`; checked again after a
    /// transient failure, in case the index was deleted meanwhile.
    ensured: Mutex<Option<String>>,
    indexed: AtomicU64,
    deleted: AtomicU64,
    conflicts: AtomicU64,
    requests: AtomicU64,
}

impl std::fmt::Debug for OpenSearchSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("OpenSearchSink")
            .field("url", &self.url)
            .field("index", &self.index)
            .field("username", &self.username)
            .field("gc_deletes", &self.gc_deletes)
            .finish_non_exhaustive()
    }
}

impl OpenSearchSink {
    /// Builds the sink from the connector's `OpenSearch` settings: `Url` (required, `http://`;
    /// `https://` needs the `opensearch-tls` feature, on by default), `Index` (default: the table's name,
    /// lowercased and sanitized), `Username` and `Password` (HTTP basic auth), `Mapping` (the
    /// `mappings` object of the index when Eddy creates it), `GcDeletes` (default: the
    /// changelog's default retention) and `BulkRequestBytesMax`. Nothing is contacted yet.
    pub fn from_config(settings: &Value) -> Result<Self, SinkError> {
        let bad = |m: String| SinkError::Permanent(m);
        let object =
            settings.as_object().ok_or_else(|| bad("the OpenSearch settings must be an object".into()))?;
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(bad(format!(
                "unknown OpenSearch setting {unknown:?} (known: {})",
                FIELDS.join(", ")
            )));
        }
        let string = |name: &str| -> Result<Option<String>, SinkError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("OpenSearch setting {name} must be a string"))),
            }
        };
        let url = string("Url")?.ok_or_else(|| bad("OpenSearch setting Url is required".into()))?;
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| bad(format!("OpenSearch Url {url:?} is not a URL: {e}")))?;
        match parsed.scheme() {
            "http" => {}
            "https" if cfg!(feature = "opensearch-tls") => {}
            "https" => {
                return Err(bad(
                    "OpenSearch Url is https, but this build has no TLS (feature opensearch-tls)".into(),
                ));
            }
            other => return Err(bad(format!("OpenSearch Url must be http or https, not {other}"))),
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("OpenSearch Url must not have a query or fragment".into()));
        }
        let index = string("Index")?;
        if let Some(index) = &index {
            document::check_index_name(index).map_err(bad)?;
        }
        let username = string("Username")?;
        let password = string("Password")?;
        if password.is_some() && username.is_none() {
            return Err(bad("OpenSearch setting Password needs a Username".into()));
        }
        let mapping = match object.get("Mapping") {
            None | Some(Value::Null) => None,
            Some(m @ Value::Object(_)) => Some(m.clone()),
            Some(_) => {
                return Err(
                    bad("OpenSearch setting Mapping must be an object (the index's mappings)".into()),
                );
            }
        };
        let gc_deletes = match string("GcDeletes")? {
            Some(text) => {
                let value = parse_time_value(&text).ok_or_else(|| {
                    bad(format!("OpenSearch setting GcDeletes {text:?} is not a time such as \"24h\""))
                })?;
                if value < Duration::from_secs(60) {
                    return Err(bad("OpenSearch setting GcDeletes must be at least 60s".into()));
                }
                text
            }
            None => format!("{}s", eddy_core::Limits::default().retention.as_secs()),
        };
        let mut limits = OpenSearchLimits::default();
        if let Some(value) = object.get("BulkRequestBytesMax") {
            limits.bulk_request_bytes_max =
                value.as_u64().filter(|&v| v > 0).and_then(|v| usize::try_from(v).ok()).ok_or_else(|| {
                    bad("OpenSearch setting BulkRequestBytesMax must be a positive integer".into())
                })?;
        }
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        Ok(OpenSearchSink {
            url: url.trim_end_matches('/').to_string(),
            index,
            username,
            password,
            mapping,
            gc_deletes,
            limits,
            client,
            ensured: Mutex::new(None),
            indexed: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    /// Uses `table`'s default index name when the settings name no `Index`, so `check` can
    /// create the index before the first batch.
    pub fn with_table(mut self, table: &str) -> Self {
        if self.index.is_none() {
            self.index = Some(document::default_index_name(table));
        }
        self
    }

    /// The index the batches of `table` go to.
    pub fn index_for(&self, table: &str) -> String {
        self.index.clone().unwrap_or_else(|| document::default_index_name(table))
    }

    /// The `index.gc_deletes` the sink gives its index.
    pub fn gc_deletes(&self) -> &str {
        &self.gc_deletes
    }

    /// What the sink has written so far.
    pub fn stats(&self) -> OpenSearchStats {
        OpenSearchStats {
            indexed: self.indexed.load(Ordering::Relaxed),
            deleted: self.deleted.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}/{path}", self.url));
        match &self.username {
            Some(user) => request.basic_auth(user, self.password.as_deref()),
            None => request,
        }
    }

    /// Sends a request and reads its JSON answer with its status. Connection failures,
    /// timeouts, 429 and 5xx are transient; refused credentials (401/403) and 413 are
    /// permanent; any other status is the caller's to judge.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<(u16, Value), SinkError> {
        let response = request.send().await.map_err(|e| {
            SinkError::Transient(format!("{what}: cannot reach OpenSearch at {}: {}", self.url, chain(&e)))
        })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| {
            SinkError::Transient(format!("{what}: reading OpenSearch's answer failed: {}", chain(&e)))
        })?;
        let json = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
        match status {
            401 | 403 => Err(SinkError::Permanent(format!(
                "{what}: OpenSearch refused the credentials (status {status}): {}",
                self.snippet(&body)
            ))),
            413 => Err(SinkError::Permanent(format!(
                "{what}: OpenSearch refused a request as too large (status 413); lower BulkRequestBytesMax"
            ))),
            429 | 500..=599 => Err(SinkError::Transient(format!(
                "{what}: OpenSearch is busy or failing (status {status}): {}",
                self.snippet(&body)
            ))),
            _ if json.is_null() && (200..300).contains(&status) => Err(SinkError::Transient(format!(
                "{what}: OpenSearch's answer is not JSON: {}",
                self.snippet(&body)
            ))),
            _ => Ok((status, json)),
        }
    }

    fn brief(&self, body: &Value) -> String {
        self.snippet(body.to_string().as_bytes())
    }

    fn snippet(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let mut end = text.len().min(self.limits.error_body_bytes_max);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_string()
    }

    /// Makes sure `index` exists with a long enough `index.gc_deletes`: creates it with the
    /// settings and the configured mapping when missing, raises `gc_deletes` on an existing
    /// index that has less (the setting is dynamic), and leaves its mapping alone.
    async fn ensure_index(&self, index: &str) -> Result<(), SinkError> {
        if self.ensured.lock().is_ok_and(|e| e.as_deref() == Some(index)) {
            return Ok(());
        }
        let wanted = parse_time_value(&self.gc_deletes).unwrap_or(Duration::MAX);
        let what = format!("checking index {index}");
        let path = format!("{index}/_settings/index.gc_deletes?flat_settings=true&include_defaults=true");
        let (status, body) = self.send(&what, self.request(reqwest::Method::GET, &path)).await?;
        match status {
            200 => {
                let current = body[index]["settings"]["index.gc_deletes"]
                    .as_str()
                    .or_else(|| body[index]["defaults"]["index.gc_deletes"].as_str())
                    .and_then(parse_time_value);
                if current.is_none_or(|c| c < wanted) {
                    let settings = json!({"index": {"gc_deletes": self.gc_deletes}});
                    let request = json_body(
                        self.request(reqwest::Method::PUT, &format!("{index}/_settings")),
                        &settings,
                    );
                    let what = format!("raising index.gc_deletes of index {index} to {}", self.gc_deletes);
                    let (status, body) = self.send(&what, request).await?;
                    if status != 200 {
                        return Err(SinkError::Permanent(format!(
                            "{what}: status {status}: {}",
                            self.brief(&body)
                        )));
                    }
                }
            }
            404 => {
                let mut create = Map::new();
                create.insert("settings".into(), json!({"index": {"gc_deletes": self.gc_deletes}}));
                if let Some(mapping) = &self.mapping {
                    create.insert("mappings".into(), mapping.clone());
                }
                let request = json_body(self.request(reqwest::Method::PUT, index), &Value::Object(create));
                let what = format!("creating index {index}");
                let (status, body) = self.send(&what, request).await?;
                if body["error"]["type"] == "resource_already_exists_exception" {
                    // Someone else created it meanwhile: the retry checks its settings like any
                    // existing index's.
                    return Err(SinkError::Transient(format!("{what}: it was created meanwhile")));
                }
                if status != 200 {
                    return Err(SinkError::Permanent(format!(
                        "{what}: status {status}: {}",
                        self.brief(&body)
                    )));
                }
            }
            _ => return Err(SinkError::Permanent(format!("{what}: status {status}: {}", self.brief(&body)))),
        }
        if let Ok(mut ensured) = self.ensured.lock() {
            *ensured = Some(index.to_string());
        }
        Ok(())
    }

    async fn write_batch(&self, batch: &Batch) -> Result<(), SinkError> {
        let actions = bulk::actions(batch)?;
        if actions.is_empty() {
            return Ok(());
        }
        let index = self.index_for(&batch.table);
        self.ensure_index(&index).await?;
        let result = self.send_bulk(&index, &actions).await;
        if let Err(SinkError::Transient(_)) = &result
            && let Ok(mut ensured) = self.ensured.lock()
        {
            // The index may have been deleted: look again before the retry, so it is never
            // auto-created without Eddy's settings.
            *ensured = None;
        }
        result
    }

    async fn send_bulk(&self, index: &str, actions: &[bulk::Action]) -> Result<(), SinkError> {
        for body in bulk::bodies(actions, self.limits.bulk_request_bytes_max) {
            let what = format!("_bulk to index {index}");
            let request = self
                .request(reqwest::Method::POST, &format!("{index}/_bulk"))
                .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                .body(body);
            let (status, response) = self.send(&what, request).await?;
            if status != 200 {
                return Err(SinkError::Permanent(format!(
                    "{what}: status {status}: {}",
                    self.brief(&response)
                )));
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = bulk::read_response(&response).map_err(|e| match e {
                SinkError::Permanent(m) => SinkError::Permanent(format!("{what}: {m}")),
                SinkError::Transient(m) => SinkError::Transient(format!("{what}: {m}")),
            })?;
            self.indexed.fetch_add(outcome.indexed, Ordering::Relaxed);
            self.deleted.fetch_add(outcome.deleted, Ordering::Relaxed);
            self.conflicts.fetch_add(outcome.conflicts, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Sink for OpenSearchSink {
    /// Checks that the node answers and the credentials work, and creates the index (or raises
    /// its `gc_deletes`) when the index name is known.
    fn check(&self) -> SinkFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            match &self.index {
                Some(index) => self.ensure_index(index).await,
                None => {
                    let (status, body) =
                        self.send("checking OpenSearch", self.request(reqwest::Method::GET, "")).await?;
                    match status {
                        200 => Ok(()),
                        _ => Err(SinkError::Permanent(format!(
                            "checking OpenSearch: status {status}: {}",
                            self.brief(&body)
                        ))),
                    }
                }
            }
        })
    }

    fn write<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(self.write_batch(batch))
    }
}

/// Parses an OpenSearch time value (`500ms`, `60s`, `5m`, `24h`, `7d`, also `nanos`, `micros`).
pub fn parse_time_value(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    Some(match unit {
        "nanos" => Duration::from_nanos(n),
        "micros" => Duration::from_micros(n),
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    })
}

/// `request` with `value` as its JSON body (reqwest's `json` feature would bring serde glue we
/// do not need for two small bodies).
fn json_body(request: reqwest::RequestBuilder, value: &Value) -> reqwest::RequestBuilder {
    request.header(reqwest::header::CONTENT_TYPE, "application/json").body(value.to_string())
}

/// An error with its causes, which is where reqwest says what actually went wrong.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permanent(settings: Value) -> String {
        match OpenSearchSink::from_config(&settings) {
            Err(SinkError::Permanent(m)) => m,
            other => panic!("expected a permanent error, got {other:?}"),
        }
    }

    #[test]
    fn settings_are_parsed_with_defaults() {
        let sink = OpenSearchSink::from_config(&json!({"Url": "http://127.0.0.1:9200/"})).unwrap();
        assert_eq!(sink.url, "http://127.0.0.1:9200");
        assert_eq!(sink.index_for("Orders"), "orders");
        assert_eq!(sink.gc_deletes(), "86400s");
        assert_eq!(sink.with_table("Orders").index, Some("orders".to_string()));
        let sink = OpenSearchSink::from_config(&json!({
            "Url": "http://h:1", "Index": "idx", "Username": "u", "Password": "secret",
            "Mapping": {"properties": {}}, "GcDeletes": "48h", "BulkRequestBytesMax": 1000
        }))
        .unwrap();
        assert_eq!(sink.with_table("Orders").index_for("Orders"), "idx");
        let sink =
            OpenSearchSink::from_config(&json!({"Url": "http://h:1", "Password": "secret", "Username": "u"}))
                .unwrap();
        assert!(!format!("{sink:?}").contains("secret"));
    }

    #[test]
    fn bad_settings_are_permanent_errors() {
        assert!(permanent(json!({})).contains("Url"));
        assert!(permanent(json!({"Url": "not a url"})).contains("not a URL"));
        assert!(permanent(json!({"Url": "ftp://h"})).contains("ftp"));
        assert!(permanent(json!({"Url": "http://h", "Index": "Bad"})).contains("uppercase"));
        assert!(permanent(json!({"Url": "http://h", "URL": "x"})).contains("unknown"));
        assert!(permanent(json!({"Url": "http://h", "Password": "p"})).contains("Username"));
        assert!(permanent(json!({"Url": "http://h", "Mapping": "x"})).contains("Mapping"));
        assert!(permanent(json!({"Url": "http://h", "GcDeletes": "10s"})).contains("60s"));
        assert!(permanent(json!({"Url": "http://h", "GcDeletes": "soon"})).contains("GcDeletes"));
        assert!(
            permanent(json!({"Url": "http://h", "BulkRequestBytesMax": 0})).contains("BulkRequestBytesMax")
        );
    }

    #[test]
    fn time_values_parse() {
        assert_eq!(parse_time_value("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_time_value("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_time_value("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_time_value("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_time_value("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_time_value("h"), None);
        assert_eq!(parse_time_value("12"), None);
        assert_eq!(parse_time_value("-1s"), None);
    }
}
