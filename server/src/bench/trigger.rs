//! What the trigger workloads share: the modules they register (written here as WAT), the
//! registration, status and removal calls of `/v1/triggers/{name}`, and the parsing of a
//! trigger's status.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hyper::http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Client, Reply};

/// Longest trigger name the server accepts.
pub const NAME_BYTES_MAX: usize = 64;
/// How long a deleted trigger may take to disappear.
const GONE_WAIT: Duration = Duration::from_secs(30);

/// A trigger name for `--table` and a workload suffix: trigger names allow only letters,
/// digits, `-` and `_` and at most 64 characters, table names also `.` and up to 255. Other
/// characters become `_`; a name that is too long keeps its end (the suffix, which tells the
/// workloads apart) and as much of its start as fits.
pub fn name_for(table: &str, suffix: &str) -> String {
    let full: String = format!("{table}{suffix}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    if full.len() <= NAME_BYTES_MAX {
        return full;
    }
    let suffix_len = suffix.len().min(NAME_BYTES_MAX);
    let head = NAME_BYTES_MAX - suffix_len;
    // Every character is ASCII here, so byte offsets are character offsets.
    format!("{}{}", &full[..head], &full[full.len() - suffix_len..])
}

/// The bump allocator every module here exports: hands out memory above the first page and
/// grows the memory until the buffer fits.
const ALLOC: &str = r#"
  (global $next (mut i32) (i32.const 65536))
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (local.get $ptr) (local.get $len)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then (unreachable)))
        (br $grow)))
    (local.get $ptr))"#;

/// A module that does nothing with its batch and answers `{}` (every record succeeded).
pub fn noop_wat() -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{{}}"){ALLOC}
  ;; (0 << 32) | 2: the two bytes `{{}}` at address 0.
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.const 2)))
"#
    )
}

/// A module that, for every record of its batch, issues one `put_item` write-back into `sink`
/// whose item is the record's key: it finds each `"Keys":` in the batch JSON and copies the
/// object that follows (strings and their escapes are skipped over, so braces inside key
/// values do not count) into `{"TableName":"<sink>","Item":<keys>}`. The records' images must
/// not have an attribute named `Keys`. `sink` must need no escaping in a JSON or WAT string
/// (a table name does not).
pub fn write_back_wat(sink: &str) -> String {
    let prefix = format!(r#"{{"TableName":"{sink}","Item":"#);
    let prefix_len = prefix.len();
    let prefix_wat = prefix.replace('"', "\\\"");
    let mut wat = String::new();
    let _ = write!(
        wat,
        r#"(module
  (import "eddy" "put_item" (func $put_item (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..7: the needle `"Keys":`; 16..: the start of each write-back request.
  (data (i32.const 0) "\"Keys\":")
  (data (i32.const 16) "{prefix_wat}"){ALLOC}
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $end i32) (local $i i32) (local $out i32) (local $o i32)
    (local $c i32) (local $depth i32) (local $in_string i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    ;; The request: the prefix, one Keys object (never longer than the batch), `}}`.
    (local.set $out (call $alloc (i32.add (local.get $len) (i32.const {request_extra}))))
    (memory.copy (local.get $out) (i32.const 16) (i32.const {prefix_len}))
    (local.set $i (local.get $ptr))
    (block $done
      (loop $scan
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 7)) (local.get $end)))
        (if (i32.and
              (i32.eq (i32.load (local.get $i)) (i32.load (i32.const 0)))
              (i32.eq (i32.load offset=3 (local.get $i)) (i32.load (i32.const 3))))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 7)))
            (local.set $o (i32.add (local.get $out) (i32.const {prefix_len})))
            (local.set $depth (i32.const 0))
            (local.set $in_string (i32.const 0))
            (block $copied
              (loop $copy
                (if (i32.ge_u (local.get $i) (local.get $end)) (then (return (i64.const -2))))
                (local.set $c (i32.load8_u (local.get $i)))
                (i32.store8 (local.get $o) (local.get $c))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (local.set $o (i32.add (local.get $o) (i32.const 1)))
                (if (local.get $in_string)
                  (then
                    (if (i32.eq (local.get $c) (i32.const 92))
                      (then
                        ;; A backslash: the escaped byte is copied as it is.
                        (if (i32.ge_u (local.get $i) (local.get $end)) (then (return (i64.const -2))))
                        (i32.store8 (local.get $o) (i32.load8_u (local.get $i)))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (local.set $o (i32.add (local.get $o) (i32.const 1))))
                      (else
                        (if (i32.eq (local.get $c) (i32.const 34))
                          (then (local.set $in_string (i32.const 0)))))))
                  (else
                    (if (i32.eq (local.get $c) (i32.const 34)) (then (local.set $in_string (i32.const 1))))
                    (if (i32.eq (local.get $c) (i32.const 123))
                      (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
                    (if (i32.eq (local.get $c) (i32.const 125))
                      (then
                        (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
                        (br_if $copied (i32.eqz (local.get $depth)))))))
                (br $copy)))
            (i32.store8 (local.get $o) (i32.const 125))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (if (call $put_item (local.get $out) (i32.sub (local.get $o) (local.get $out)))
              (then (return (i64.const -1)))))
          (else (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (br $scan)))
    ;; Length 0: every record succeeded.
    (i64.const 0)))
"#,
        request_extra = prefix_len + 1,
    );
    wat
}

/// The module of a registration.
#[derive(Debug, Clone, Copy)]
pub enum Module<'a> {
    /// WAT text, sent as `ModuleWat`.
    Wat(&'a str),
    /// A wasm binary, sent base64-encoded as `Module`.
    Wasm(&'a [u8]),
}

/// The body of `PUT /v1/triggers/{name}`: `module` on `table` from `starting_position`
/// (`LATEST`, `TRIM_HORIZON`) in batches of `batch_size`, with no batching window.
pub fn registration(table: &str, module: Module<'_>, starting_position: &str, batch_size: u32) -> Value {
    let mut body = json!({
        "TableName": table,
        "StartingPosition": starting_position,
        "BatchSize": batch_size,
        "MaximumBatchingWindowInSeconds": 0,
    });
    match module {
        Module::Wat(text) => body["ModuleWat"] = text.into(),
        Module::Wasm(bytes) => {
            body["Module"] = base64::engine::general_purpose::STANDARD.encode(bytes).into()
        }
    }
    body
}

fn path(name: &str) -> String {
    format!("/v1/triggers/{name}")
}

fn check(what: &str, reply: &Reply) -> anyhow::Result<()> {
    if !reply.is_success() {
        anyhow::bail!("{what}: HTTP {}: {}", reply.status, reply.body_text());
    }
    Ok(())
}

/// Registers (or replaces) the trigger `name`.
pub async fn register(client: &mut Client, name: &str, body: &Value) -> anyhow::Result<()> {
    let reply = client.rest(Method::PUT, &path(name), Some(Bytes::from(body.to_string()))).await?;
    check(&format!("PUT {}", path(name)), &reply)
}

/// Deletes the trigger `name` if there is one, and waits until it is gone.
pub async fn delete_if_present(client: &mut Client, name: &str) -> anyhow::Result<()> {
    let reply = client.rest(Method::DELETE, &path(name), None).await?;
    if reply.status == 404 {
        return Ok(());
    }
    check(&format!("DELETE {}", path(name)), &reply)?;
    let deadline = tokio::time::Instant::now() + GONE_WAIT;
    loop {
        let reply = client.rest(Method::GET, &path(name), None).await?;
        if reply.status == 404 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("trigger {name} still exists {} s after DELETE", GONE_WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The status of the trigger `name` (`GET /v1/triggers/{name}`).
pub async fn status(client: &mut Client, name: &str) -> anyhow::Result<Status> {
    let reply = client.rest(Method::GET, &path(name), None).await?;
    check(&format!("GET {}", path(name)), &reply)?;
    parse_status(&reply.body)
}

/// The parts of a trigger's status the workloads read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Status {
    pub state: String,
    #[serde(default)]
    pub last_error: Option<String>,
    pub invocations: u64,
    pub failures: u64,
    pub records_processed: u64,
    pub records_dead_lettered: u64,
    pub write_backs: u64,
    /// Absent while the trigger's table is gone.
    #[serde(default)]
    pub lag_records: Option<u64>,
    /// The last successful commit, seconds since the epoch with a millisecond fraction.
    #[serde(default)]
    pub last_processed_time: Option<f64>,
    /// Commit -> invocation delays the server measured (first deliveries).
    #[serde(default)]
    pub invocation_delay: Option<InvocationDelay>,
}

/// The server's commit -> invocation delay histogram of a trigger, in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationDelay {
    pub count: u64,
    pub p50_millis: Option<f64>,
    pub p99_millis: Option<f64>,
    pub max_millis: Option<f64>,
}

#[derive(Deserialize)]
struct Described {
    #[serde(rename = "Trigger")]
    trigger: Status,
}

/// Parses the body of `GET /v1/triggers/{name}`.
pub fn parse_status(body: &[u8]) -> anyhow::Result<Status> {
    serde_json::from_slice::<Described>(body)
        .map(|d| d.trigger)
        .map_err(|e| anyhow::anyhow!("unexpected trigger status ({e}): {}", String::from_utf8_lossy(body)))
}

impl Status {
    /// One line for the report.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "state {}, {} invocations, {} records processed, {} write-backs, {} failures, {} dead-lettered, lag {}",
            self.state,
            self.invocations,
            self.records_processed,
            self.write_backs,
            self.failures,
            self.records_dead_lettered,
            self.lag_records.map_or_else(|| "-".to_string(), |n| format!("{n} records")),
        );
        if let Some(error) = &self.last_error {
            let _ = write!(line, "; last error: {error}");
        }
        line
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{Module, NAME_BYTES_MAX, name_for, noop_wat, parse_status, registration, write_back_wat};

    #[test]
    fn trigger_names_follow_the_server_rules() {
        assert_eq!(name_for("eddy-bench", "-trigger-latency"), "eddy-bench-trigger-latency");
        assert_eq!(name_for("my.bench_1", "-orders"), "my_bench_1-orders");
        let long = "t".repeat(200);
        let name = name_for(&long, "-trigger-throughput");
        assert_eq!(name.len(), NAME_BYTES_MAX);
        assert!(name.ends_with("-trigger-throughput"));
        assert!(name.starts_with("ttt"));
        for name in [name_for(&long, "-x"), name_for("a.b.c", "-y")] {
            assert!(name.len() <= NAME_BYTES_MAX);
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        }
    }

    #[test]
    fn a_status_is_parsed() {
        let body = br#"{"Trigger":{"TriggerName":"t","State":"Enabled","Invocations":3,"Failures":0,
            "RecordsProcessed":2500,"RecordsDeadLettered":0,"WriteBacks":7,"LagRecords":0,
            "LastProcessedTime":1764037000.123,"BatchSize":1000,"TableName":"x",
            "InvocationDelay":{"Count":3,"P50Millis":0.4,"P99Millis":2.1,"MaxMillis":2.05}}}"#;
        let status = parse_status(body).unwrap();
        assert_eq!(status.state, "Enabled");
        assert_eq!((status.invocations, status.records_processed, status.write_backs), (3, 2500, 7));
        assert_eq!(status.lag_records, Some(0));
        assert_eq!(status.last_processed_time, Some(1_764_037_000.123));
        let delay = status.invocation_delay.clone().unwrap();
        assert_eq!((delay.count, delay.p99_millis), (3, Some(2.1)));
        assert_eq!(status.last_error, None);
        assert!(status.summary().contains("2500 records processed"));
        // A trigger whose table is gone has no lag, and a failed one says why.
        let body = br#"{"Trigger":{"State":"Failed","LastError":"table deleted","Invocations":0,"Failures":1,
            "RecordsProcessed":0,"RecordsDeadLettered":0,"WriteBacks":0}}"#;
        let status = parse_status(body).unwrap();
        assert_eq!((status.lag_records, status.last_processed_time), (None, None));
        assert!(status.summary().ends_with("last error: table deleted"));
        assert!(parse_status(b"{}").is_err());
        assert!(parse_status(br#"{"Trigger":{"State":"Enabled"}}"#).is_err());
    }

    #[test]
    fn registration_bodies() {
        let body = registration("src", Module::Wat("(module)"), "LATEST", 1);
        assert_eq!(body["TableName"], "src");
        assert_eq!(body["ModuleWat"], "(module)");
        assert_eq!(body["StartingPosition"], "LATEST");
        assert_eq!(body["BatchSize"], 1);
        assert_eq!(body["MaximumBatchingWindowInSeconds"], 0);
        assert!(body.get("Module").is_none());
        let body = registration("src", Module::Wasm(b"\0asm"), "TRIM_HORIZON", 1000);
        assert_eq!(body["Module"], "AGFzbQ==");
        assert!(body.get("ModuleWat").is_none());
    }

    #[test]
    fn the_modules_carry_their_constants() {
        let wat = write_back_wat("bench.sink-1");
        // The prefix `{"TableName":"bench.sink-1","Item":` is 35 bytes.
        assert!(wat.contains(r#"(data (i32.const 16) "{\"TableName\":\"bench.sink-1\",\"Item\":")"#));
        assert!(wat.contains("(i32.const 35)"));
        assert!(wat.contains("(i32.const 36)"));
        assert!(wat.contains(r#"(data (i32.const 0) "\"Keys\":")"#));
        assert!(wat.contains(r#"(export "handle")"#) && wat.contains(r#"(export "alloc")"#));
        assert_eq!(wat.matches('(').count(), wat.matches(')').count());
        let noop = noop_wat();
        assert!(noop.contains(r#"(data (i32.const 0) "{}")"#));
        assert_eq!(noop.matches('(').count(), noop.matches(')').count());
    }

    struct NoItems;

    impl eddy_triggers::HostReader for NoItems {
        fn get_item(&self, _: &str, _: &serde_json::Value) -> Result<Option<serde_json::Value>, String> {
            Ok(None)
        }
    }

    fn compile(wat: &str) -> eddy_triggers::CompiledModule {
        let runtime = eddy_triggers::Runtime::new(eddy_triggers::RuntimeConfig {
            pool_slots: 0,
            ..eddy_triggers::RuntimeConfig::default()
        })
        .unwrap();
        runtime.compile(wat.as_bytes(), eddy_triggers::Limits::default()).unwrap()
    }

    /// A batch shaped as the server sends it: two records, the second with a key whose string
    /// holds braces, quotes and a backslash.
    const BATCH: &str = r#"{"Records":[
        {"eventID":"1","eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"tl-1-0"},"sk":{"S":"0"}},
         "NewImage":{"pk":{"S":"tl-1-0"},"sk":{"S":"0"},"v":{"S":"abc}"}},"SequenceNumber":"1"}},
        {"eventID":"2","eventName":"INSERT","dynamodb":{"Keys": {"pk":{"S":"x}{\"\\y"},"sk":{"S":"{"}},
         "SequenceNumber":"2"}}]}"#;

    #[test]
    fn the_write_back_module_puts_each_records_key_into_the_sink() {
        let module = compile(&write_back_wat("bench-sink"));
        let done = module.invoke(BATCH.as_bytes(), std::sync::Arc::new(NoItems)).unwrap();
        assert_eq!(done.response, serde_json::json!({}));
        assert!(done.batch_item_failures.is_empty());
        let requests: Vec<serde_json::Value> = done.writes.iter().map(|w| w.request.clone()).collect();
        assert_eq!(
            requests,
            [
                serde_json::json!({"TableName": "bench-sink", "Item": {"pk": {"S": "tl-1-0"}, "sk": {"S": "0"}}}),
                serde_json::json!({"TableName": "bench-sink", "Item": {"pk": {"S": "x}{\"\\y"}, "sk": {"S": "{"}}}),
            ]
        );
        assert!(done.writes.iter().all(|w| w.kind == eddy_triggers::WriteKind::Put));
        // A batch cut inside a key object fails the invocation rather than writing half a key.
        let cut = &BATCH[..BATCH.find("tl-1-0").unwrap()];
        assert!(module.invoke(cut.as_bytes(), std::sync::Arc::new(NoItems)).is_err());
        // No record, no write-back.
        let done = module.invoke(br#"{"Records":[]}"#, std::sync::Arc::new(NoItems)).unwrap();
        assert!(done.writes.is_empty());
    }

    #[test]
    fn the_noop_module_answers_an_empty_object() {
        let module = compile(&noop_wat());
        let done = module.invoke(BATCH.as_bytes(), std::sync::Arc::new(NoItems)).unwrap();
        assert_eq!(done.response, serde_json::json!({}));
        assert!(done.writes.is_empty());
    }
}
