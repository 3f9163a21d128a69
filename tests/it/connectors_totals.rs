//! A connector's totals and last error are durable: they commit with its checkpoint, so after a
//! graceful restart or `kill -9` `GET /v1/connectors/{name}` shows the same `RecordsExported`,
//! `BytesExported`, `BatchesExported` and `LastError` as before, and the totals keep counting
//! from there, each record once. A connector that was FAILED is tried again after a restart.

use eddy_tests::rest::call_json;
use eddy_tests::s3::S3Service;
use eddy_tests::{TestServer, hash_table};
use serde_json::{Value, json};

use crate::connectors_s3::{
    assert_exported_exactly_once, body, changelog, describe, put_connector, wait_caught_up, wait_for,
    write_orders,
};

/// The figures that must survive a restart.
fn totals(c: &Value) -> Value {
    json!({
        "RecordsExported": c["RecordsExported"],
        "BytesExported": c["BytesExported"],
        "BatchesExported": c["BatchesExported"],
        "Failures": c["Failures"],
        "LastExportedTime": c["LastExportedTime"],
    })
}

/// Bytes of every object under `prefix` (uncompressed objects: the record JSON lines).
fn object_bytes(s3: &S3Service, bucket: &str, prefix: &str) -> u64 {
    s3.list(bucket, prefix).iter().map(|key| s3.get(bucket, key).len() as u64).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn totals_survive_restarts_and_kill_9_and_keep_counting_each_record_once() {
    let Some(s3) = S3Service::from_env() else { return };
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "totals").await;
    let bucket = s3.create_bucket("eddy-totals");
    let prefix = format!("cdc/{table}/");
    write_orders(&client, &table, 0..80).await;
    let config = body(&s3, &bucket, &table, json!({"Batch": {"MaxRecords": 10, "FlushIntervalMillis": 0}}));
    assert_eq!(put_connector(&server, "totals", &config).0, 201);
    let expected = changelog(&server, &table);
    let before = wait_caught_up(&server, "totals", expected.len() as u64);
    assert_eq!(before["RecordsExported"], json!(expected.len()));
    assert_eq!(before["BytesExported"], json!(object_bytes(&s3, &bucket, &prefix)));
    assert!(before["BatchesExported"].as_u64() >= Some(expected.len() as u64 / 10));

    // A graceful restart: the same totals at once, before the connector does anything.
    server.restart();
    let after = describe(&server, "totals");
    assert_eq!(totals(&after), totals(&before), "after a restart: {after}");

    // They keep counting from there.
    let client = server.client();
    write_orders(&client, &table, 80..120).await;
    let expected = changelog(&server, &table);
    let more = wait_caught_up(&server, "totals", expected.len() as u64);
    assert_eq!(more["RecordsExported"], json!(expected.len()));
    assert!(more["BatchesExported"].as_u64() > before["BatchesExported"].as_u64());
    assert_eq!(more["BytesExported"], json!(object_bytes(&s3, &bucket, &prefix)));

    // `kill -9` in the middle of an export: whatever was written twice counts once.
    write_orders(&client, &table, 120..400).await;
    wait_for(&server, "totals", "exported more", |c| {
        c["RecordsExported"].as_u64() > more["RecordsExported"].as_u64()
    });
    server.kill9();
    server.restart();
    let expected = changelog(&server, &table);
    let last = wait_caught_up(&server, "totals", expected.len() as u64);
    assert_exported_exactly_once(&s3, &bucket, &prefix, &expected);
    assert_eq!(last["RecordsExported"], json!(expected.len()), "{last}");
    assert_eq!(last["BytesExported"], json!(object_bytes(&s3, &bucket, &prefix)), "{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_error_survives_a_restart_and_a_failed_connector_is_tried_again() {
    let Some(s3) = S3Service::from_env() else { return };
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "lasterr").await;
    write_orders(&client, &table, 0..5).await;
    let bucket = s3.create_bucket("eddy-lasterr");
    let unreachable = json!({"S3": {"Endpoint": "http://127.0.0.1:9"}, "Retry": {"MaxAttempts": 2}});
    for name in ["held", "failing"] {
        let (status, value) = put_connector(&server, name, &body(&s3, &bucket, &table, unreachable.clone()));
        assert_eq!(status, 201, "{value}");
    }
    let failed = wait_for(&server, "failing", "failed", |c| c["State"] == "FAILED");
    let held = wait_for(&server, "held", "failed", |c| c["State"] == "FAILED");
    assert!(held["LastError"].as_str().is_some_and(|e| e.contains("gave up after 2 attempts")), "{held}");
    // A paused connector does not run, so after the restart it shows what was committed.
    let (status, paused) = call_json(server.endpoint(), "POST", "/v1/connectors/held/pause", None);
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["Connector"]["LastError"], held["LastError"]);

    server.restart();
    let c = describe(&server, "held");
    assert_eq!(c["State"], "PAUSED");
    assert_eq!((&c["LastError"], &c["LastErrorTime"]), (&held["LastError"], &held["LastErrorTime"]), "{c}");
    // The FAILED one runs again (as `restart` would), fails again, and says so with a new time.
    let again = wait_for(&server, "failing", "failed again", |c| {
        c["State"] == "FAILED" && c["LastErrorTime"].as_f64() > failed["LastErrorTime"].as_f64()
    });
    assert!(again["LastError"].as_str().is_some_and(|e| e.contains("gave up after 2 attempts")), "{again}");
    assert_eq!(again["CheckpointSequenceNumber"], "000000000000000000000");
}
