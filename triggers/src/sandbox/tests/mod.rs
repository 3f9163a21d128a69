//! Sandbox tests: guests written inline in WAT, run through the public API only.

mod abi;
mod concurrency;
mod good;
mod limits;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{CompiledModule, HostReader, Limits, Runtime, RuntimeConfig};

/// A runtime with a small pool, like a test machine can afford many of.
fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        pool_slots: 16,
        memory_bytes_ceiling: 64 * 1024 * 1024,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

/// Limits small enough that the bombs below go off quickly.
fn limits() -> Limits {
    Limits {
        fuel_per_invocation: 50_000_000,
        deadline: Duration::from_secs(10),
        memory_bytes_max: 4 * 1024 * 1024,
        ..Limits::default()
    }
}

fn compile(runtime: &Runtime, wat: &str, limits: Limits) -> CompiledModule {
    runtime.compile(wat.as_bytes(), limits).unwrap_or_else(|e| panic!("compiles: {e}"))
}

/// Committed items by table and key.
#[derive(Default)]
struct MapReader {
    items: Vec<(String, Value, Value)>,
    delay: Duration,
}

impl MapReader {
    fn with(mut self, table: &str, key: Value, item: Value) -> Self {
        self.items.push((table.into(), key, item));
        self
    }
}

impl HostReader for MapReader {
    fn get_item(&self, table: &str, key: &Value) -> Result<Option<Value>, String> {
        std::thread::sleep(self.delay);
        Ok(self.items.iter().find(|(t, k, _)| t == table && k == key).map(|(_, _, item)| item.clone()))
    }
}

fn no_items() -> Arc<dyn HostReader> {
    Arc::new(MapReader::default())
}

/// Strings laid out in guest memory from offset 64, with their `(offset, len)`.
struct Data {
    segments: String,
    spans: Vec<(usize, usize)>,
}

impl Data {
    fn new(strings: &[&str]) -> Data {
        let mut segments = String::new();
        let mut spans = Vec::new();
        let mut offset = 64;
        for s in strings {
            let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
            segments.push_str(&format!("  (data (i32.const {offset}) \"{escaped}\")\n"));
            spans.push((offset, s.len()));
            offset += s.len();
        }
        Data { segments, spans }
    }

    /// `(i32.const offset) (i32.const len)` of string `i`.
    fn arg(&self, i: usize) -> String {
        let (offset, len) = self.spans[i];
        format!("(i32.const {offset}) (i32.const {len})")
    }
}

/// A guest with every host import, a bump allocator above 64 KiB, 2 pages of memory, the
/// given data, helper functions `$pack` and `$log_packed`, and `handle` running `body` with
/// the batch at locals 0 and 1.
fn guest(data: &Data, body: &str) -> String {
    format!(
        r#"(module
  (import "eddy" "log" (func $log (param i32 i32)))
  (import "eddy" "get_item" (func $get (param i32 i32) (result i64)))
  (import "eddy" "put_item" (func $put (param i32 i32) (result i32)))
  (import "eddy" "update_item" (func $update (param i32 i32) (result i32)))
  (import "eddy" "delete_item" (func $delete (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $bump (mut i32) (i32.const 65536))
{segments}
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (i32.add (local.get $p) (local.get $len))
                             (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then unreachable))
        (br $grow)))
    (global.set $bump (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func $pack (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32)) (i64.extend_i32_u (local.get 1))))
  (func $log_packed (param i64)
    (call $log (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 32))) (i32.wrap_i64 (local.get 0))))
  (func (export "handle") (param i32 i32) (result i64)
    (local $i i32)
{body})
)"#,
        segments = data.segments
    )
}

/// A guest whose `handle` runs `body` and then returns the batch it was given.
fn echo_after(body: &str) -> String {
    guest(&Data::new(&[]), &format!("{body}\n    (call $pack (local.get 0) (local.get 1))"))
}
