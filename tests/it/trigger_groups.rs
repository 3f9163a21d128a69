//! Batches that commit together: a trigger with `BatchSize: 1` behind a backlog invokes each
//! record alone but commits many batches at once. Each batch must see the write-backs of the
//! batches before it, and a write-back rejected at commit must fail only its own batch.

use aws_sdk_dynamodb::Client;
use eddy_tests::{TestServer, hash_table, item, s};
use serde_json::json;

use crate::triggers::{dead_letters, describe, module, register, scan_all, string, wait_for, wait_processed};

/// The string after `"Keys":{"pk":{"S":"` in the batch (the record's key), copied between
/// `S2` and `S3` into a write-back request at 8192, issued with `call`.
fn key_write_back(call: &str) -> String {
    format!(
        r#"
    (local.set $a (call $find (local.get $p) (local.get $end) S0))
    (if (i32.lt_s (local.get $a) (i32.const 0)) (then (return (i64.const -1))))
    (local.set $ae (call $quote (local.get $a) (local.get $end)))
    (local.set $o (call $copy (i32.const 8192) S2))
    (local.set $o (call $copy (local.get $o) (local.get $a) (i32.sub (local.get $ae) (local.get $a))))
    (local.set $o (call $copy (local.get $o) S3))
    (if (i32.ne (call ${call} (i32.const 8192) (i32.sub (local.get $o) (i32.const 8192))) (i32.const 0))
      (then (return (i64.const -2))))"#
    )
}

async fn put_keys(client: &Client, table: &str, keys: impl IntoIterator<Item = String>) {
    for (i, key) in keys.into_iter().enumerate() {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item([("pk", s(key.clone())), ("n", eddy_tests::n(i))])))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_that_commit_together_see_each_others_write_backs() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let seen = hash_table(&client, "seen").await;
    const RECORDS: u64 = 300;
    // A backlog, so the trigger starts behind: its one-record batches are grouped, and groups
    // are invoked while the group before them commits.
    let keys: Vec<String> = (0..RECORDS).map(|i| format!("o{i:03}")).collect();
    put_keys(&client, &orders, keys.clone()).await;
    // Each batch reads the marker item and writes it back with its record's key appended: a
    // read-modify-write. A batch that did not see the write-backs of the batches before it
    // (buffered in its group, or in the group still committing) would lose their keys.
    let get = format!(r#"{{"TableName":"{seen}","Key":{{"pk":{{"S":"marker"}}}}}}"#);
    let put_prefix = format!(r#"{{"TableName":"{seen}","Item":{{"pk":{{"S":"marker"}},"seen":{{"S":""#);
    let body = r#"
    ;; the get_item response: its packed (ptr << 32) | len, stored at 0
    (i64.store (i32.const 0) (call $get S1))
    (local.set $b (i32.load (i32.const 4)))
    (local.set $be (i32.add (local.get $b) (i32.load (i32.const 0))))
    (local.set $a (call $find (local.get $p) (local.get $end) S0))
    (if (i32.lt_s (local.get $a) (i32.const 0)) (then (return (i64.const -1))))
    (local.set $ae (call $quote (local.get $a) (local.get $end)))
    (local.set $o (call $copy (i32.const 8192) S2))
    ;; the keys seen so far, if the marker exists
    (local.set $f (call $find (local.get $b) (local.get $be) S3))
    (if (i32.ge_s (local.get $f) (i32.const 0))
      (then (local.set $o (call $copy (local.get $o) (local.get $f)
        (i32.sub (call $quote (local.get $f) (local.get $be)) (local.get $f))))))
    (local.set $o (call $copy (local.get $o) (local.get $a) (i32.sub (local.get $ae) (local.get $a))))
    (local.set $o (call $copy (local.get $o) S4))
    (if (i32.ne (call $put (i32.const 8192) (i32.sub (local.get $o) (i32.const 8192))) (i32.const 0))
      (then (return (i64.const -2))))
    (i64.const 0)"#;
    let strings = [r#""Keys":{"pk":{"S":""#, &get, &put_prefix, r#""seen":{"S":""#, r#""}}}"#];
    register(
        &server,
        "append",
        json!({"ModuleWat": module(&strings, body), "TableName": orders, "StartingPosition": "TRIM_HORIZON", "BatchSize": 1}),
    );
    let status = wait_processed(&server, "append", RECORDS);
    let items = scan_all(&client, &seen).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(string(items[0].get("seen")), keys.concat(), "every batch saw every key before its own");
    // Every record was still invoked alone, and each wrote once.
    assert_eq!(status["Invocations"], RECORDS, "{status}");
    assert_eq!(status["WriteBacks"], RECORDS, "{status}");
    assert_eq!(status["Failures"], 0, "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_back_rejected_in_a_group_fails_only_its_own_batch() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let copies = hash_table(&client, "copies").await;
    // 301 records: o150 is written twice, and the second copy of it is refused by the
    // condition. It is the last record, in the third group (groups hold 128 one-record
    // batches), which is invoked while the second group commits.
    let keys = (0..300).map(|i| format!("o{i:03}")).chain(std::iter::once("o150".to_string()));
    put_keys(&client, &orders, keys).await;
    let put_prefix = format!(r#"{{"TableName":"{copies}","Item":{{"pk":{{"S":""#);
    let put_suffix = r#""}},"ConditionExpression":"attribute_not_exists(pk)"}"#;
    let body = format!("{}\n    (i64.const 0)", key_write_back("put"));
    let wat = module(&[r#""Keys":{"pk":{"S":""#, "", &put_prefix, put_suffix], &body);
    register(
        &server,
        "copy-once",
        json!({
            "ModuleWat": wat, "TableName": orders, "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1, "MaximumRetryAttempts": 0,
        }),
    );
    let status = wait_for(&server, "copy-once", "the rejected copy dead-lettered", |t| {
        t["LagRecords"] == 0 && t["RecordsDeadLettered"] == 1 && t["RecordsProcessed"] == 301
    });
    let mut copied: Vec<String> =
        scan_all(&client, &copies).await.iter().map(|i| string(i.get("pk"))).collect();
    copied.sort();
    let expected: Vec<String> = (0..300).map(|i| format!("o{i:03}")).collect();
    assert_eq!(copied, expected, "every other record is copied exactly once");
    let letters = dead_letters(&server, "copy-once");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["ErrorType"], "WriteRejected", "{letters:?}");
    assert_eq!(letters[0]["Record"]["eventName"], "MODIFY", "{letters:?}");
    assert_eq!(letters[0]["Record"]["dynamodb"]["Keys"]["pk"]["S"], "o150", "{letters:?}");
    assert_eq!(describe(&server, "copy-once")["WriteBacks"], 300, "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_batch_inside_a_group_is_dead_lettered_alone_and_the_rest_copied_once() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let copies = hash_table(&client, "copies").await;
    // Two poison records among 300: one in the first group, one in a pipelined later group.
    let key = |i: usize| if i == 100 || i == 250 { format!("poison{i}") } else { format!("o{i:03}") };
    put_keys(&client, &orders, (0..300).map(key)).await;
    let put_prefix = format!(r#"{{"TableName":"{copies}","Item":{{"pk":{{"S":""#);
    let put_suffix = r#""}},"ConditionExpression":"attribute_not_exists(pk)"}"#;
    let body = format!(
        "(if (i32.ge_s (call $find (local.get $ptr) (local.get $end) S1) (i32.const 0)) (then unreachable))\n{}\n    (i64.const 0)",
        key_write_back("put")
    );
    let wat = module(&[r#""Keys":{"pk":{"S":""#, "poison", &put_prefix, put_suffix], &body);
    register(
        &server,
        "poisoned",
        json!({
            "ModuleWat": wat, "TableName": orders, "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1, "MaximumRetryAttempts": 1,
        }),
    );
    wait_for(&server, "poisoned", "both poison records dead-lettered", |t| {
        t["LagRecords"] == 0 && t["RecordsDeadLettered"] == 2 && t["RecordsProcessed"] == 300
    });
    let mut copied: Vec<String> =
        scan_all(&client, &copies).await.iter().map(|i| string(i.get("pk"))).collect();
    copied.sort();
    let mut expected: Vec<String> = (0..300).map(key).filter(|k| !k.starts_with("poison")).collect();
    expected.sort();
    assert_eq!(copied, expected, "every other record is copied exactly once");
    let letters = dead_letters(&server, "poisoned");
    let mut poisoned: Vec<String> = letters
        .iter()
        .map(|l| l["Record"]["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string())
        .collect();
    poisoned.sort();
    assert_eq!(poisoned, ["poison100", "poison250"], "{letters:?}");
    assert!(letters.iter().all(|l| l["ErrorType"] == "Trap" && l["Attempts"] == 2.0), "{letters:?}");
}
