//! Wasm triggers end to end (`/v1/triggers`): registration and its validation, a materialized
//! view whose write-backs apply exactly once (also across `kill -9` and restarts), filters,
//! retries then dead letters for runaway, trapping, memory-hungry and oversized modules,
//! bisection isolating a poison record, partial batch responses, per-item order with
//! ParallelizationFactor 2, the own-table rule, and replay from the dead-letter table.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use eddy_tests::rest::call_json;
use eddy_tests::{TestServer, hash_table, item, n, s, unique_table_name};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Guests, in WAT

/// Lays strings out in guest memory from offset 16 and names each `S0`, `S1`, ... in `body`,
/// replaced by `(i32.const offset) (i32.const len)`.
pub(crate) fn module(strings: &[&str], body: &str) -> String {
    let mut data = String::new();
    let mut body = body.to_string();
    let mut offset = 16;
    // Replace the highest index first so `S1` does not eat into `S10`.
    let mut spans = Vec::new();
    for s in strings {
        let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
        data.push_str(&format!("  (data (i32.const {offset}) \"{escaped}\")\n"));
        spans.push((offset, s.len()));
        offset += s.len();
    }
    assert!(offset < 8192, "strings overlap the output buffer");
    for (i, (offset, len)) in spans.iter().enumerate().rev() {
        body = body.replace(&format!("S{i}"), &format!("(i32.const {offset}) (i32.const {len})"));
    }
    format!(
        r#"(module
  (import "eddy" "log" (func $log (param i32 i32)))
  (import "eddy" "put_item" (func $put (param i32 i32) (result i32)))
  (import "eddy" "update_item" (func $update (param i32 i32) (result i32)))
  (import "eddy" "get_item" (func $get (param i32 i32) (result i64)))
  (memory (export "memory") 2)
{data}
  (global $next (mut i32) (i32.const 65536))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (local.get $ptr) (local.get $len)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.const 1)))
        (br $grow)))
    (local.get $ptr))
  ;; the position just after the first match of the needle in [p, end), or -1
  (func $find (param $p i32) (param $end i32) (param $n i32) (param $nlen i32) (result i32)
    (local $i i32)
    (block $none
      (loop $outer
        (br_if $none (i32.gt_u (i32.add (local.get $p) (local.get $nlen)) (local.get $end)))
        (local.set $i (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.eq (local.get $i) (local.get $nlen))
              (then (return (i32.add (local.get $p) (local.get $nlen)))))
            (br_if $mismatch
              (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                      (i32.load8_u (i32.add (local.get $n) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $inner)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $outer)))
    (i32.const -1))
  ;; the position of the next double quote at or after p
  (func $quote (param $p i32) (param $end i32) (result i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.eq (i32.load8_u (local.get $p)) (i32.const 34)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $p))
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $p i32) (local $end i32) (local $a i32) (local $ae i32) (local $b i32) (local $be i32)
    (local $o i32) (local $f i32)
    (local.set $p (local.get $ptr))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
{body})
)"#
    )
}

/// For each record, reads the string after `needle_a` and after `needle_b` (in that order, in
/// the record's NewImage) and issues `update_item` with `prefix + b + middle + a + suffix`. With
/// `poison`, a batch holding the text `poison` traps; with `fail_marker`, the first record
/// holding it is reported in `batchItemFailures`.
fn per_record_update(
    needle_a: &str,
    needle_b: &str,
    prefix: &str,
    middle: &str,
    suffix: &str,
    poison: bool,
    fail_marker: Option<&str>,
) -> String {
    let marker = fail_marker.unwrap_or("#no marker#");
    let strings = [
        needle_a,
        needle_b,
        prefix,
        middle,
        suffix,
        "\"SequenceNumber\":\"",
        "poison",
        marker,
        "{\"batchItemFailures\":[{\"itemIdentifier\":\"",
        "\"}]}",
    ];
    let poison_check = if poison {
        "(if (i32.ge_s (call $find (local.get $ptr) (local.get $end) S6) (i32.const 0)) (then unreachable))"
    } else {
        ""
    };
    let body = format!(
        r#"
    {poison_check}
    (block $done
      (loop $each
        (local.set $a (call $find (local.get $p) (local.get $end) S0))
        (br_if $done (i32.lt_s (local.get $a) (i32.const 0)))
        (local.set $ae (call $quote (local.get $a) (local.get $end)))
        (local.set $b (call $find (local.get $ae) (local.get $end) S1))
        (br_if $done (i32.lt_s (local.get $b) (i32.const 0)))
        (local.set $be (call $quote (local.get $b) (local.get $end)))
        (local.set $o (call $copy (i32.const 8192) S2))
        (local.set $o (call $copy (local.get $o) (local.get $b) (i32.sub (local.get $be) (local.get $b))))
        (local.set $o (call $copy (local.get $o) S3))
        (local.set $o (call $copy (local.get $o) (local.get $a) (i32.sub (local.get $ae) (local.get $a))))
        (local.set $o (call $copy (local.get $o) S4))
        (if (i32.ne (call $update (i32.const 8192) (i32.sub (local.get $o) (i32.const 8192))) (i32.const 0))
          (then (return (i64.const -1))))
        ;; skip the rest of this record (its OldImage) up to its SequenceNumber
        (local.set $p (call $find (local.get $be) (local.get $end) S5))
        (br_if $done (i32.lt_s (local.get $p) (i32.const 0)))
        (br $each)))
    ;; a partial batch response for the first record holding the marker
    (local.set $f (call $find (local.get $ptr) (local.get $end) S7))
    (if (i32.ge_s (local.get $f) (i32.const 0))
      (then
        (local.set $f (call $find (local.get $f) (local.get $end) S5))
        (local.set $o (call $copy (i32.const 12288) S8))
        (local.set $o (call $copy (local.get $o) (local.get $f) (i32.const 21)))
        (local.set $o (call $copy (local.get $o) S9))
        (return (i64.or (i64.shl (i64.const 12288) (i64.const 32))
                        (i64.extend_i32_u (i32.sub (local.get $o) (i32.const 12288)))))))
    (i64.const 0)"#
    );
    module(&strings, &body)
}

/// The materialized view: per-customer order totals in `totals` (`ADD total_amount :a`).
fn totals_module(totals: &str, poison: bool, fail_marker: Option<&str>) -> String {
    per_record_update(
        "\"amount\":{\"N\":\"",
        "\"customer\":{\"S\":\"",
        &format!("{{\"TableName\":\"{totals}\",\"Key\":{{\"customer\":{{\"S\":\""),
        "\"}},\"UpdateExpression\":\"ADD total_amount :a, order_count :one\",\"ExpressionAttributeValues\":{\":a\":{\"N\":\"",
        "\"},\":one\":{\"N\":\"1\"}}}",
        poison,
        fail_marker,
    )
}

/// A module whose `handle` body is `body` (no data).
fn simple_module(body: &str) -> String {
    module(&[], body)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn put_trigger(server: &TestServer, name: &str, body: Value) -> (u16, Value) {
    call_json(server.endpoint(), "PUT", &format!("/v1/triggers/{name}"), Some(&body.to_string()))
}

pub(crate) fn register(server: &TestServer, name: &str, body: Value) -> Value {
    let (status, answer) = put_trigger(server, name, body);
    assert!(status == 200 || status == 201, "register {name}: {status} {answer}");
    answer["Trigger"].clone()
}

pub(crate) fn describe(server: &TestServer, name: &str) -> Value {
    let (status, body) = call_json(server.endpoint(), "GET", &format!("/v1/triggers/{name}"), None);
    assert_eq!(status, 200, "{body}");
    body["Trigger"].clone()
}

pub(crate) fn dead_letters(server: &TestServer, name: &str) -> Vec<Value> {
    let path = format!("/v1/triggers/{name}/dead-letters?Limit=1000");
    let (status, body) = call_json(server.endpoint(), "GET", &path, None);
    assert_eq!(status, 200, "{body}");
    body["DeadLetters"].as_array().cloned().unwrap_or_default()
}

/// Waits until the trigger has checkpointed every record of its table (lag 0).
fn wait_caught_up(server: &TestServer, name: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let trigger = describe(server, name);
        if trigger["LagRecords"] == 0 && trigger["HighWatermarkSequenceNumber"].is_string() {
            return trigger;
        }
        assert!(Instant::now() < deadline, "trigger {name} did not catch up: {trigger}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the trigger is caught up and its counters show `records` processed (the
/// checkpoint commits just before the counters move).
pub(crate) fn wait_processed(server: &TestServer, name: &str, records: u64) -> Value {
    wait_for(server, name, &format!("{records} records processed"), |t| {
        t["LagRecords"] == 0 && t["RecordsProcessed"].as_u64() == Some(records)
    })
}

/// Waits until `check` holds for the trigger's description.
pub(crate) fn wait_for(server: &TestServer, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let trigger = describe(server, name);
        if check(&trigger) {
            return trigger;
        }
        assert!(Instant::now() < deadline, "trigger {name}: {what} never happened: {trigger}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn totals_table(client: &Client, prefix: &str) -> String {
    let name = unique_table_name(prefix);
    eddy_tests::create_table(
        client,
        &name,
        ("customer", aws_sdk_dynamodb::types::ScalarAttributeType::S),
        None,
    )
    .await;
    name
}

async fn put_order(client: &Client, orders: &str, id: &str, customer: &str, amount: i64) {
    client
        .put_item()
        .table_name(orders)
        .set_item(Some(item([("pk", s(id)), ("customer", s(customer)), ("amount", n(amount))])))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put order {id}: {e:?}"));
}

pub(crate) async fn scan_all(client: &Client, table: &str) -> Vec<eddy_tests::Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

fn number(value: Option<&AttributeValue>) -> i64 {
    match value {
        Some(AttributeValue::N(n)) => n.parse().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

pub(crate) fn string(value: Option<&AttributeValue>) -> String {
    match value {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

/// Per-customer (total, count) recomputed from the orders table, skipping `except` ids.
async fn expected_totals(client: &Client, orders: &str, except: &[&str]) -> BTreeMap<String, (i64, i64)> {
    let mut totals = BTreeMap::new();
    for order in scan_all(client, orders).await {
        if except.contains(&string(order.get("pk")).as_str()) {
            continue;
        }
        let entry = totals.entry(string(order.get("customer"))).or_insert((0, 0));
        entry.0 += number(order.get("amount"));
        entry.1 += 1;
    }
    totals
}

async fn actual_totals(client: &Client, totals: &str) -> BTreeMap<String, (i64, i64)> {
    scan_all(client, totals)
        .await
        .into_iter()
        .map(|t| (string(t.get("customer")), (number(t.get("total_amount")), number(t.get("order_count")))))
        .collect()
}

fn mv_registration(orders: &str, totals: &str, extra: Value) -> Value {
    let mut body = json!({
        "ModuleWat": totals_module(totals, false, None),
        "TableName": orders,
        "StartingPosition": "TRIM_HORIZON",
        "FilterCriteria": {"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]},
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread")]
async fn materialized_view_totals_equal_a_recomputation_and_apply_exactly_once() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = totals_table(&client, "totals").await;
    let created = register(&server, "mv", mv_registration(&orders, &totals, json!({"BatchSize": 7})));
    assert_eq!(created["State"], "Enabled");
    assert_eq!(created["BatchSize"], 7);
    assert_eq!(created["ModuleSha256"].as_str().map(str::len), Some(64));
    assert!(created.get("ModuleWat").is_none() && created.get("Module").is_none());

    for i in 0..60 {
        put_order(&client, &orders, &format!("o{i}"), &format!("c{}", i % 4), (i * 7 % 50) + 1).await;
    }
    // Updating an order is a MODIFY: the filter keeps it away from the view.
    put_order(&client, &orders, "o0", "c0", 1000).await;
    let status = wait_processed(&server, "mv", 61);
    assert_eq!(status["Failures"], 0, "{status}");
    assert_eq!(status["WriteBacks"], 60, "{status}");
    let mut expected = expected_totals(&client, &orders, &[]).await;
    // o0 was counted at its first amount (1), not its update.
    let c0 = expected.get_mut("c0").unwrap();
    c0.0 = c0.0 - 1000 + 1;
    assert_eq!(actual_totals(&client, &totals).await, expected);
    assert!(dead_letters(&server, "mv").is_empty());

    // The listing and the logs answer; unknown triggers are 404.
    let (status, list) = call_json(server.endpoint(), "GET", "/v1/triggers", None);
    assert_eq!(status, 200);
    assert_eq!(list["Triggers"][0]["TriggerName"], "mv");
    let (status, _) = call_json(server.endpoint(), "GET", "/v1/triggers/mv/logs", None);
    assert_eq!(status, 200);
    let (status, body) = call_json(server.endpoint(), "GET", "/v1/triggers/nope", None);
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_is_validated_with_precise_messages() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let good = json!({"ModuleWat": simple_module("(i64.const 0)"), "TableName": orders, "StartingPosition": "LATEST"});
    let cases = [
        ("BatchSize", json!(0), "BatchSize"),
        ("BatchSize", json!(10_001), "BatchSize"),
        ("MaximumBatchingWindowInSeconds", json!(301), "MaximumBatchingWindowInSeconds"),
        ("MaximumRetryAttempts", json!(-2), "MaximumRetryAttempts"),
        ("MaximumRecordAgeInSeconds", json!(30), "MaximumRecordAgeInSeconds"),
        ("ParallelizationFactor", json!(11), "ParallelizationFactor"),
        ("TumblingWindowInSeconds", json!(901), "TumblingWindowInSeconds"),
        ("FunctionResponseTypes", json!(["Nope"]), "FunctionResponseTypes"),
        ("StartingPosition", json!("AT_TIMESTAMP"), "StartingPositionTimestamp"),
        ("ModuleWat", json!("(module)"), "memory"),
        ("Limits", json!({"FuelPerInvocation": 0}), "Limits.FuelPerInvocation"),
        ("Nonsense", json!(1), "Nonsense"),
    ];
    for (field, value, expected) in cases {
        let mut body = good.clone();
        body[field] = value.clone();
        let (status, answer) = put_trigger(&server, "t", body);
        assert_eq!(status, 400, "{field}={value}: {answer}");
        assert!(answer["__type"].as_str().unwrap_or_default().ends_with("ValidationException"), "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{field}={value}: {message}");
    }
    let mut missing_table = good.clone();
    missing_table["TableName"] = json!("no-such-table");
    assert_eq!(put_trigger(&server, "t", missing_table).0, 404);
    let (status, _) = put_trigger(&server, "bad.name", good.clone());
    assert_eq!(status, 400);
    assert_eq!(put_trigger(&server, "t", good.clone()).0, 201);
    assert_eq!(put_trigger(&server, "t", good).0, 200);
    let (status, deleted) = call_json(server.endpoint(), "DELETE", "/v1/triggers/t", None);
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(call_json(server.endpoint(), "GET", "/v1/triggers/t", None).0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_criteria_skip_records_but_checkpoint_them() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = totals_table(&client, "totals").await;
    let pattern = "{\"dynamodb\": {\"NewImage\": {\"customer\": {\"S\": [\"c1\"]}}}}";
    let mut body = mv_registration(&orders, &totals, json!({}));
    body["FilterCriteria"] = json!({"Filters": [{"Pattern": pattern}]});
    register(&server, "only-c1", body);
    for i in 0..20 {
        put_order(&client, &orders, &format!("o{i}"), &format!("c{}", i % 3), 10 + i).await;
    }
    wait_processed(&server, "only-c1", 20);
    let actual = actual_totals(&client, &totals).await;
    let expected = expected_totals(&client, &orders, &[]).await;
    assert_eq!(actual.len(), 1, "{actual:?}");
    assert_eq!(actual.get("c1"), expected.get("c1"));
}

/// Registers `body_wat` with `extra` settings on a fresh table, writes `count` orders and waits
/// until every one is dead-lettered; returns the dead letters and the status.
async fn dead_lettered(body_wat: String, extra: Value, count: usize) -> (Vec<Value>, Value, TestServer) {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let mut body = json!({"ModuleWat": body_wat, "TableName": orders, "StartingPosition": "TRIM_HORIZON"});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    register(&server, "bad", body);
    for i in 0..count {
        put_order(&client, &orders, &format!("o{i}"), "c", 1).await;
    }
    let status = wait_for(&server, "bad", "every record dead-lettered", |t| {
        t["LagRecords"] == 0 && t["RecordsDeadLettered"].as_u64() == Some(count as u64)
    });
    let letters = dead_letters(&server, "bad");
    assert_eq!(letters.len(), count, "{letters:?}");
    (letters, status, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_runs_out_of_fuel_is_retried_then_dead_lettered() {
    let extra = json!({"MaximumRetryAttempts": 2, "Limits": {"FuelPerInvocation": 2_000_000}});
    let (letters, status, _server) =
        dead_lettered(simple_module("(loop $forever (br $forever)) (i64.const 0)"), extra, 1).await;
    assert_eq!(letters[0]["ErrorType"], "FuelExhausted", "{letters:?}");
    assert_eq!(letters[0]["Attempts"], 3.0);
    assert!(letters[0]["Error"].as_str().unwrap_or_default().contains("fuel"));
    assert_eq!(letters[0]["Record"]["eventName"], "INSERT");
    assert_eq!(letters[0]["Record"]["dynamodb"]["NewImage"]["pk"]["S"], "o0");
    assert_eq!(status["Invocations"], 3, "{status}");
    assert_eq!(status["RecordsDeadLettered"], 1, "{status}");
    assert!(status["LastError"].as_str().unwrap_or_default().contains("fuel"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_is_dead_lettered_with_its_cause() {
    let extra = json!({"MaximumRetryAttempts": 0});
    let (letters, status, _server) = dead_lettered(simple_module("unreachable"), extra, 3).await;
    assert!(letters.iter().all(|l| l["ErrorType"] == "Trap"), "{letters:?}");
    assert!(letters[0]["Error"].as_str().unwrap_or_default().contains("unreachable"), "{letters:?}");
    assert_eq!(status["State"], "Enabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_hits_its_limit() {
    let extra = json!({"MaximumRetryAttempts": 0, "Limits": {"MemoryBytesMax": 4_194_304}});
    let body = "(loop $more (drop (memory.grow (i32.const 1))) (br $more)) (i64.const 0)";
    let (letters, _, _server) = dead_lettered(simple_module(body), extra, 1).await;
    assert_eq!(letters[0]["ErrorType"], "MemoryLimit", "{letters:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_output_is_refused() {
    let extra = json!({"MaximumRetryAttempts": 0, "Limits": {"OutputBytesMax": 1024}});
    // (0 << 32) | 100000: a 100 kB response.
    let (letters, _, _server) = dead_lettered(simple_module("(i64.const 100000)"), extra, 1).await;
    assert_eq!(letters[0]["ErrorType"], "OutputTooLarge", "{letters:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bisection_isolates_one_poison_record() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = totals_table(&client, "totals").await;
    for i in 0..16 {
        let customer = if i == 11 { "poison".to_string() } else { format!("c{}", i % 3) };
        put_order(&client, &orders, &format!("o{i}"), &customer, i + 1).await;
    }
    let mut body = mv_registration(
        &orders,
        &totals,
        json!({"BatchSize": 16, "BisectBatchOnFunctionError": true, "MaximumRetryAttempts": 0}),
    );
    body["ModuleWat"] = json!(totals_module(&totals, true, None));
    register(&server, "bisect", body);
    wait_processed(&server, "bisect", 16);
    let letters = dead_letters(&server, "bisect");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["Record"]["dynamodb"]["NewImage"]["pk"]["S"], "o11");
    assert_eq!(actual_totals(&client, &totals).await, expected_totals(&client, &orders, &["o11"]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_batch_responses_commit_the_records_before_the_failure() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = totals_table(&client, "totals").await;
    for i in 0..12 {
        let customer = if i == 5 { "bad".to_string() } else { format!("c{}", i % 2) };
        put_order(&client, &orders, &format!("o{i}"), &customer, 10 * (i + 1)).await;
    }
    let mut body = mv_registration(
        &orders,
        &totals,
        json!({"BatchSize": 12, "FunctionResponseTypes": ["ReportBatchItemFailures"], "MaximumRetryAttempts": 1}),
    );
    body["ModuleWat"] = json!(totals_module(&totals, false, Some("\"bad\"")));
    register(&server, "partial", body);
    wait_processed(&server, "partial", 12);
    let letters = dead_letters(&server, "partial");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["Record"]["dynamodb"]["NewImage"]["pk"]["S"], "o5");
    assert_eq!(letters[0]["ErrorType"], "ItemFailed");
    assert_eq!(letters[0]["Attempts"], 2.0);
    // Every other order counted exactly once: the prefix ran again alone before committing.
    assert_eq!(actual_totals(&client, &totals).await, expected_totals(&client, &orders, &["o5"]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn parallelization_keeps_per_item_order() {
    let server = TestServer::start();
    let client = server.client();
    let source = hash_table(&client, "versions").await;
    let target = hash_table(&client, "latest").await;
    for version in 1..=5 {
        for key in 0..12 {
            client
                .put_item()
                .table_name(&source)
                .set_item(Some(item([("pk", s(format!("k{key}"))), ("n", n(version))])))
                .send()
                .await
                .unwrap();
        }
    }
    // Each record sets `latest` on its item in `target`, on condition that it only grows: any
    // reordering of one item's records would fail a write-back.
    let wat = per_record_update(
        "\"n\":{\"N\":\"",
        "\"pk\":{\"S\":\"",
        &format!("{{\"TableName\":\"{target}\",\"Key\":{{\"pk\":{{\"S\":\""),
        "\"}},\"UpdateExpression\":\"SET latest = :v ADD seen :one\",\"ConditionExpression\":\"attribute_not_exists(latest) OR latest < :v\",\"ExpressionAttributeValues\":{\":v\":{\"N\":\"",
        "\"},\":one\":{\"N\":\"1\"}}}",
        false,
        None,
    );
    register(
        &server,
        "ordered",
        json!({"ModuleWat": wat, "TableName": source, "StartingPosition": "TRIM_HORIZON", "BatchSize": 60, "ParallelizationFactor": 2}),
    );
    let status = wait_caught_up(&server, "ordered");
    assert_eq!(status["Failures"], 0, "{status}");
    assert!(status["Invocations"].as_u64().unwrap_or(0) >= 2, "{status}");
    let items = scan_all(&client, &target).await;
    assert_eq!(items.len(), 12);
    for item in items {
        assert_eq!(number(item.get("latest")), 5, "{item:?}");
        assert_eq!(number(item.get("seen")), 5, "{item:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_to_the_own_source_table_are_refused() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let request = format!(
        "{{\"TableName\":\"{orders}\",\"Key\":{{\"pk\":{{\"S\":\"x\"}}}},\"UpdateExpression\":\"ADD n :one\",\"ExpressionAttributeValues\":{{\":one\":{{\"N\":\"1\"}}}}}}"
    );
    let body = "(if (i32.ne (call $update S0) (i32.const 0)) (then unreachable)) (i64.const 0)";
    register(
        &server,
        "selfish",
        json!({"ModuleWat": module(&[&request], body), "TableName": orders, "StartingPosition": "TRIM_HORIZON"}),
    );
    put_order(&client, &orders, "o1", "c", 1).await;
    let status = wait_caught_up(&server, "selfish");
    let letters = dead_letters(&server, "selfish");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["ErrorType"], "OwnTableWrite");
    assert!(status["LastError"].as_str().unwrap_or_default().contains("own source table"), "{status}");
    // Nothing was written back: the source table holds only the order.
    assert_eq!(scan_all(&client, &orders).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_replay_through_a_fixed_module() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = totals_table(&client, "totals").await;
    let mut body = mv_registration(&orders, &totals, json!({"BatchSize": 1, "MaximumRetryAttempts": 0}));
    body["ModuleWat"] = json!(totals_module(&totals, true, None));
    register(&server, "replay", body.clone());
    put_order(&client, &orders, "o1", "c1", 5).await;
    put_order(&client, &orders, "o2", "poison", 7).await;
    put_order(&client, &orders, "o3", "c1", 11).await;
    wait_caught_up(&server, "replay");
    assert_eq!(dead_letters(&server, "replay").len(), 1);

    // The same module fails again: the dead letter stays, with one more attempt.
    let (status, outcome) =
        call_json(server.endpoint(), "POST", "/v1/triggers/replay/dead-letters/replay", Some("{}"));
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["Failed"].as_array().map(Vec::len), Some(1), "{outcome}");
    let letters = dead_letters(&server, "replay");
    assert_eq!(letters[0]["Attempts"], 2.0, "{letters:?}");

    // A fixed module (no poison check) replays it; the checkpoint stays, the letter goes.
    body["ModuleWat"] = json!(totals_module(&totals, false, None));
    let replaced = register(&server, "replay", body);
    assert_eq!(replaced["Version"], 2);
    let (status, outcome) =
        call_json(server.endpoint(), "POST", "/v1/triggers/replay/dead-letters/replay", None);
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["Replayed"].as_array().map(Vec::len), Some(1), "{outcome}");
    assert!(dead_letters(&server, "replay").is_empty());
    assert_eq!(actual_totals(&client, &totals).await, expected_totals(&client, &orders, &[]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_resumes_from_the_checkpoint_and_disabled_triggers_stay_paused() {
    let mut server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = totals_table(&client, "totals").await;
    register(&server, "mv", mv_registration(&orders, &totals, json!({})));
    for i in 0..10 {
        put_order(&client, &orders, &format!("a{i}"), "c1", i + 1).await;
    }
    let before = wait_caught_up(&server, "mv");
    server.restart();
    let client = server.client();
    let after = describe(&server, "mv");
    assert_eq!(after["CheckpointSequenceNumber"], before["CheckpointSequenceNumber"]);
    assert_eq!(after["ModuleSha256"], before["ModuleSha256"]);
    // The counters were committed with the checkpoint and continue from there.
    for counter in ["RecordsProcessed", "WriteBacks", "Invocations"] {
        assert_eq!(after[counter], before[counter], "{counter}: {before} then {after}");
    }
    for i in 0..10 {
        put_order(&client, &orders, &format!("b{i}"), "c2", i + 1).await;
    }
    // Only the new records ran after the restart, counted on top of the first ten.
    let resumed = wait_processed(&server, "mv", 20);
    assert_eq!(resumed["WriteBacks"], 20, "{resumed}");
    assert_eq!(actual_totals(&client, &totals).await, expected_totals(&client, &orders, &[]).await);

    // Disabled survives a restart: records wait until it is enabled again.
    let (status, body) = call_json(server.endpoint(), "POST", "/v1/triggers/mv/disable", None);
    assert_eq!((status, body["Trigger"]["State"].as_str()), (200, Some("Disabled")), "{body}");
    server.restart();
    let client = server.client();
    put_order(&client, &orders, "c0", "c3", 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused = describe(&server, "mv");
    assert_eq!(
        (paused["State"].as_str(), paused["LagRecords"].as_u64()),
        (Some("Disabled"), Some(1)),
        "{paused}"
    );
    let (status, _) = call_json(server.endpoint(), "POST", "/v1/triggers/mv/enable", None);
    assert_eq!(status, 200);
    wait_caught_up(&server, "mv");
    assert_eq!(actual_totals(&client, &totals).await, expected_totals(&client, &orders, &[]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_batch_then_restart_keeps_totals_exact() {
    let mut server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = totals_table(&client, "totals").await;
    for i in 0..300 {
        put_order(&client, &orders, &format!("o{i}"), &format!("c{}", i % 7), (i % 13) + 1).await;
    }
    register(&server, "mv", mv_registration(&orders, &totals, json!({"BatchSize": 1})));
    // Kill while the trigger is catching up, once it has committed something.
    wait_for(&server, "mv", "a first commit", |t| t["RecordsProcessed"].as_u64().unwrap_or(0) > 0);
    server.kill9();
    server.restart();
    let client = server.client();
    let resumed = describe(&server, "mv");
    assert!(
        resumed["LagRecords"].as_u64().unwrap_or(0) > 0,
        "the kill came too late to test anything: {resumed}"
    );
    // The counters commit with the checkpoint: exact across the kill, like the totals.
    let done = wait_processed(&server, "mv", 300);
    assert_eq!(done["WriteBacks"], 300, "{done}");
    assert!(dead_letters(&server, "mv").is_empty());
    assert_eq!(actual_totals(&client, &totals).await, expected_totals(&client, &orders, &[]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loop_of_two_triggers_stops_at_the_hop_limit() {
    let server = TestServer::start();
    let client = server.client();
    let first = hash_table(&client, "ping").await;
    let second = hash_table(&client, "pong").await;
    // ping -> pong: pong[pk].seen += 1 (src = ping's n); pong -> ping: ping[pk].n += pong's seen.
    // Every write changes its item, so without the hop limit the two would run forever.
    let ping = per_record_update(
        "\"n\":{\"N\":\"",
        "\"pk\":{\"S\":\"",
        &format!("{{\"TableName\":\"{second}\",\"Key\":{{\"pk\":{{\"S\":\""),
        "\"}},\"UpdateExpression\":\"SET src = :n ADD seen :one\",\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},\":n\":{\"N\":\"",
        "\"}}}",
        false,
        None,
    );
    let pong = per_record_update(
        "\"pk\":{\"S\":\"",
        "\"seen\":{\"N\":\"",
        &format!("{{\"TableName\":\"{first}\",\"ExpressionAttributeValues\":{{\":v\":{{\"N\":\""),
        "\"}},\"UpdateExpression\":\"ADD n :v\",\"Key\":{\"pk\":{\"S\":\"",
        "\"}}}",
        false,
        None,
    );
    register(
        &server,
        "ping",
        json!({"ModuleWat": ping, "TableName": first, "StartingPosition": "TRIM_HORIZON"}),
    );
    register(
        &server,
        "pong",
        json!({"ModuleWat": pong, "TableName": second, "StartingPosition": "TRIM_HORIZON"}),
    );
    client
        .put_item()
        .table_name(&first)
        .set_item(Some(item([("pk", s("k")), ("n", n(1))])))
        .send()
        .await
        .unwrap();
    // Hops: the client's write 0, then 1 (pong), 2 (ping), ... 8 (ping); the next would be 9.
    let stopped = wait_for(&server, "ping", "the hop limit", |t| t["RecordsDeadLettered"] == 1);
    assert!(stopped["LastError"].as_str().unwrap_or_default().contains("hop"), "{stopped}");
    let letters = dead_letters(&server, "ping");
    assert_eq!(letters[0]["ErrorType"], "HopLimit", "{letters:?}");
    wait_caught_up(&server, "pong");
    let pong_item = scan_all(&client, &second).await;
    assert_eq!(number(pong_item[0].get("seen")), 4, "{pong_item:?}");
}

// ---------------------------------------------------------------------------------------------
// Tumbling windows

/// Sums `amount` over a window in `state` (`{"t": total}`); on the window's final invocation,
/// puts `{window: <window start>, total}` into `totals`.
fn window_sum_module(totals: &str) -> String {
    let strings = [
        "\"state\":{\"t\":".to_string(),
        "\"amount\":{\"N\":\"".to_string(),
        "\"isFinalInvokeForWindow\":true".to_string(),
        "\"start\":\"".to_string(),
        format!("{{\"TableName\":\"{totals}\",\"Item\":{{\"window\":{{\"S\":\""),
        "\"},\"total\":{\"N\":\"".to_string(),
        "\"}}}".to_string(),
        "{\"state\":{\"t\":".to_string(),
        "}}".to_string(),
    ];
    let mut data = String::new();
    let mut body = r#"
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    ;; the window's total so far
    (local.set $a (call $find (local.get $ptr) (local.get $end) S0))
    (if (i32.ge_s (local.get $a) (i32.const 0))
      (then (local.set $total (call $atoi (local.get $a)))))
    ;; plus each record's amount
    (local.set $p (local.get $ptr))
    (block $done
      (loop $each
        (local.set $a (call $find (local.get $p) (local.get $end) S1))
        (br_if $done (i32.lt_s (local.get $a) (i32.const 0)))
        (local.set $total (i64.add (local.get $total) (call $atoi (local.get $a))))
        (local.set $p (local.get $a))
        (br $each)))
    (if (i32.ge_s (call $find (local.get $ptr) (local.get $end) S2) (i32.const 0))
      (then
        ;; the final invocation: write the aggregate back
        (local.set $a (call $find (local.get $ptr) (local.get $end) S3))
        (local.set $o (call $copy (i32.const 8192) S4))
        (local.set $o (call $copy (local.get $o) (local.get $a) (i32.const 20)))
        (local.set $o (call $copy (local.get $o) S5))
        (local.set $o (call $itoa (local.get $o) (local.get $total)))
        (local.set $o (call $copy (local.get $o) S6))
        (if (i32.ne (call $put (i32.const 8192) (i32.sub (local.get $o) (i32.const 8192))) (i32.const 0))
          (then (return (i64.const -1))))
        (return (i64.const 0))))
    (local.set $o (call $copy (i32.const 12288) S7))
    (local.set $o (call $itoa (local.get $o) (local.get $total)))
    (local.set $o (call $copy (local.get $o) S8))
    (i64.or (i64.shl (i64.const 12288) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $o) (i32.const 12288))))"#
        .to_string();
    let mut offset = 16;
    let mut spans = Vec::new();
    for s in &strings {
        let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
        data.push_str(&format!("  (data (i32.const {offset}) \"{escaped}\")\n"));
        spans.push((offset, s.len()));
        offset += s.len();
    }
    assert!(offset < 4096, "strings overlap the digit buffer");
    for (i, (offset, len)) in spans.iter().enumerate().rev() {
        body = body.replace(&format!("S{i}"), &format!("(i32.const {offset}) (i32.const {len})"));
    }
    format!(
        r#"(module
  (import "eddy" "put_item" (func $put (param i32 i32) (result i32)))
  (memory (export "memory") 2)
{data}
  (global $next (mut i32) (i32.const 65536))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (local.get $ptr) (local.get $len)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.const 1)))
        (br $grow)))
    (local.get $ptr))
  ;; the position just after the first match of the needle in [p, end), or -1
  (func $find (param $p i32) (param $end i32) (param $n i32) (param $nlen i32) (result i32)
    (local $i i32)
    (block $none
      (loop $outer
        (br_if $none (i32.gt_u (i32.add (local.get $p) (local.get $nlen)) (local.get $end)))
        (local.set $i (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.eq (local.get $i) (local.get $nlen))
              (then (return (i32.add (local.get $p) (local.get $nlen)))))
            (br_if $mismatch
              (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                      (i32.load8_u (i32.add (local.get $n) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $inner)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $outer)))
    (i32.const -1))
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))
  ;; the decimal digits at p
  (func $atoi (param $p i32) (result i64)
    (local $v i64) (local $c i32)
    (block $done
      (loop $l
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10))
                               (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $v))
  ;; writes v in decimal at dst (digits reversed at 4096 first); returns the end
  (func $itoa (param $dst i32) (param $v i64) (result i32)
    (local $tmp i32)
    (local.set $tmp (i32.const 4096))
    (loop $l
      (i64.store8 (local.get $tmp) (i64.add (i64.rem_u (local.get $v) (i64.const 10)) (i64.const 48)))
      (local.set $tmp (i32.add (local.get $tmp) (i32.const 1)))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $l (i64.ne (local.get $v) (i64.const 0))))
    (block $done
      (loop $c
        (br_if $done (i32.eq (local.get $tmp) (i32.const 4096)))
        (local.set $tmp (i32.sub (local.get $tmp) (i32.const 1)))
        (i32.store8 (local.get $dst) (i32.load8_u (local.get $tmp)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (br $c)))
    (local.get $dst))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $p i32) (local $end i32) (local $a i32) (local $o i32) (local $total i64)
{body})
)"#
    )
}

async fn window_totals_table(client: &Client) -> String {
    let name = unique_table_name("windows");
    eddy_tests::create_table(
        client,
        &name,
        ("window", aws_sdk_dynamodb::types::ScalarAttributeType::S),
        None,
    )
    .await;
    name
}

fn window_registration(orders: &str, totals: &str, extra: Value) -> Value {
    let mut body = json!({
        "ModuleWat": window_sum_module(totals),
        "TableName": orders,
        "StartingPosition": "TRIM_HORIZON",
        "TumblingWindowInSeconds": 60,
        "FilterCriteria": {"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]},
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

/// Per-window sums of `amount` recomputed from the orders' change records: each INSERT counts in
/// the 60-second window holding its ApproximateCreationDateTime, keyed by the window's start in
/// RFC 3339.
fn expected_window_totals(server: &TestServer, orders: &str) -> BTreeMap<String, i64> {
    let name = format!("check-{}", unique_table_name("c"));
    let body = json!({"ConsumerName": name, "TableName": orders, "StartingPosition": "TRIM_HORIZON"});
    let (status, answer) = call_json(server.endpoint(), "POST", "/v1/consumers", Some(&body.to_string()));
    assert_eq!(status, 200, "{answer}");
    let mut totals = BTreeMap::new();
    loop {
        let path = format!("/v1/consumers/{name}/records?Limit=1000");
        let (status, batch) = call_json(server.endpoint(), "GET", &path, None);
        assert_eq!(status, 200, "{batch}");
        let records = batch["Records"].as_array().cloned().unwrap_or_default();
        let Some(last) = records.last() else { return totals };
        for record in &records {
            if record["eventName"] != "INSERT" {
                continue;
            }
            let created = record["dynamodb"]["ApproximateCreationDateTime"].as_i64().unwrap();
            let amount: i64 =
                record["dynamodb"]["NewImage"]["amount"]["N"].as_str().unwrap().parse().unwrap();
            let start = aws_sdk_dynamodb::primitives::DateTime::from_secs(created - created % 60)
                .fmt(aws_sdk_dynamodb::primitives::DateTimeFormat::DateTime)
                .unwrap();
            *totals.entry(start).or_insert(0) += amount;
        }
        let seq = last["dynamodb"]["SequenceNumber"].as_str().unwrap();
        let body = json!({"SequenceNumber": seq}).to_string();
        let (status, answer) =
            call_json(server.endpoint(), "POST", &format!("/v1/consumers/{name}/checkpoint"), Some(&body));
        assert_eq!(status, 200, "{answer}");
    }
}

async fn actual_window_totals(client: &Client, totals: &str) -> BTreeMap<String, i64> {
    scan_all(client, totals)
        .await
        .into_iter()
        .map(|t| (string(t.get("window")), number(t.get("total"))))
        .collect()
}

/// Waits until the totals table equals `expected`.
async fn wait_window_totals(client: &Client, totals: &str, expected: &BTreeMap<String, i64>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let actual = actual_window_totals(client, totals).await;
        if actual == *expected {
            return;
        }
        assert!(Instant::now() < deadline, "window totals {actual:?} never became {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tumbling_windows_write_exact_totals_per_window() {
    let server = TestServer::start_with(&["--dev-clock"]);
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = window_totals_table(&client).await;
    let created = register(&server, "win", window_registration(&orders, &totals, json!({"BatchSize": 3})));
    assert_eq!(created["TumblingWindowInSeconds"], 60);
    let mut id = 0;
    for (round, count) in [5, 4, 3].into_iter().enumerate() {
        for _ in 0..count {
            id += 1;
            put_order(&client, &orders, &format!("o{id}"), "c", id * 3 + round as i64).await;
        }
        // An update is a MODIFY: filtered out, but checkpointed with its window.
        put_order(&client, &orders, &format!("o{id}"), "c", 1000).await;
        wait_caught_up(&server, "win");
        server.advance_clock(60);
    }
    // Past the last window's end: its final invocation comes by the server clock.
    server.advance_clock(120);
    let expected = expected_window_totals(&server, &orders);
    assert!(expected.len() >= 3, "{expected:?}");
    wait_window_totals(&client, &totals, &expected).await;
    let status = describe(&server, "win");
    assert_eq!(status["Failures"], 0, "{status}");
    assert_eq!(status["WriteBacks"].as_u64(), Some(expected.len() as u64), "{status}");
    assert!(dead_letters(&server, "win").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn tumbling_window_state_survives_kill_9_between_invocations() {
    let mut server = TestServer::start_with(&["--dev-clock"]);
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let totals = window_totals_table(&client).await;
    for i in 0..300 {
        put_order(&client, &orders, &format!("o{i}"), "c", (i % 13) + 1).await;
    }
    register(&server, "win", window_registration(&orders, &totals, json!({"BatchSize": 1})));
    wait_for(&server, "win", "a first commit", |t| t["RecordsProcessed"].as_u64().unwrap_or(0) > 0);
    server.kill9();
    server.restart();
    let client = server.client();
    let resumed = describe(&server, "win");
    assert!(
        resumed["LagRecords"].as_u64().unwrap_or(0) > 0,
        "the kill came too late to test anything: {resumed}"
    );
    wait_caught_up(&server, "win");
    // The restart reset the dev clock to the system clock: move it past the windows.
    server.advance_clock(120);
    let expected = expected_window_totals(&server, &orders);
    wait_window_totals(&client, &totals, &expected).await;
    assert!(dead_letters(&server, "win").is_empty());
}
