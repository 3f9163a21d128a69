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
    let first = hash_table(&client, "first").await;
    const RECORDS: u64 = 300;
    // A backlog, so the trigger starts behind and groups its one-record batches.
    put_keys(&client, &orders, (0..RECORDS).map(|i| format!("o{i:03}"))).await;
    // Only the first record ever seen is written: each batch reads the marker item and writes
    // it only while it is absent. A batch that did not see the buffered write-backs of the
    // batches before it would overwrite the marker with its own key.
    let get = format!(r#"{{"TableName":"{first}","Key":{{"pk":{{"S":"marker"}}}}}}"#);
    let put_prefix = format!(r#"{{"TableName":"{first}","Item":{{"pk":{{"S":"marker"}},"first":{{"S":""#);
    let body = format!(
        r#"
    (if (i32.ne (i32.wrap_i64 (call $get S1)) (i32.const 2)) (then (return (i64.const 0))))
    {}
    (i64.const 0)"#,
        key_write_back("put")
    );
    let wat = module(&[r#""Keys":{"pk":{"S":""#, &get, &put_prefix, r#""}}}"#], &body);
    register(
        &server,
        "first-seen",
        json!({"ModuleWat": wat, "TableName": orders, "StartingPosition": "TRIM_HORIZON", "BatchSize": 1}),
    );
    let status = wait_processed(&server, "first-seen", RECORDS);
    let items = scan_all(&client, &first).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(string(items[0].get("first")), "o000", "{items:?}");
    // Every record was still invoked alone, and only the first wrote.
    assert_eq!(status["Invocations"], RECORDS, "{status}");
    assert_eq!(status["WriteBacks"], 1, "{status}");
    assert_eq!(status["Failures"], 0, "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_back_rejected_in_a_group_fails_only_its_own_batch() {
    let server = TestServer::start();
    let client = server.client();
    let orders = hash_table(&client, "orders").await;
    let copies = hash_table(&client, "copies").await;
    // 41 records: o10 is written twice, and the second copy of it is refused by the condition.
    let keys = (0..40).map(|i| format!("o{i:02}")).chain(std::iter::once("o10".to_string()));
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
        t["LagRecords"] == 0 && t["RecordsDeadLettered"] == 1 && t["RecordsProcessed"] == 41
    });
    let mut copied: Vec<String> =
        scan_all(&client, &copies).await.iter().map(|i| string(i.get("pk"))).collect();
    copied.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("o{i:02}")).collect();
    assert_eq!(copied, expected, "every other record is copied exactly once");
    let letters = dead_letters(&server, "copy-once");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["ErrorType"], "WriteRejected", "{letters:?}");
    assert_eq!(letters[0]["Record"]["eventName"], "MODIFY", "{letters:?}");
    assert_eq!(letters[0]["Record"]["dynamodb"]["Keys"]["pk"]["S"], "o10", "{letters:?}");
    assert_eq!(describe(&server, "copy-once")["WriteBacks"], 40, "{status}");
}
