//! The commit -> invocation delay in a trigger's status: measured for records committed while
//! the trigger runs, never for a backlog that was there before it started.

use eddy_tests::{TestServer, hash_table, item, n, s};
use serde_json::json;

use crate::triggers::{module, register, wait_processed};

async fn put(client: &aws_sdk_dynamodb::Client, table: &str, count: usize) {
    for i in 0..count {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item([("pk", s(format!("k{i}"))), ("n", n(i))])))
            .send()
            .await
            .unwrap();
    }
}

fn noop(table: &str) -> serde_json::Value {
    json!({"ModuleWat": module(&[], "(i64.const 0)"), "TableName": table, "StartingPosition": "TRIM_HORIZON", "BatchSize": 1})
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_to_invocation_delay_is_measured_only_for_records_committed_while_running() {
    let server = TestServer::start();
    let client = server.client();

    // A backlog written before the trigger exists has no commit stamps: nothing is measured.
    let backlog = hash_table(&client, "backlog").await;
    put(&client, &backlog, 5).await;
    register(&server, "late", noop(&backlog));
    let status = wait_processed(&server, "late", 5);
    assert_eq!(status["InvocationDelay"]["Count"], 0, "{status}");
    assert!(status["InvocationDelay"]["P99Millis"].is_null(), "{status}");

    // Records committed while the trigger runs are measured, one per first invocation.
    let live = hash_table(&client, "live").await;
    register(&server, "live", noop(&live));
    put(&client, &live, 20).await;
    let status = wait_processed(&server, "live", 20);
    let delay = &status["InvocationDelay"];
    let count = delay["Count"].as_u64().unwrap();
    assert!(count >= 1 && count <= status["Invocations"].as_u64().unwrap(), "{status}");
    let (p50, p99, max) = (
        delay["P50Millis"].as_f64().unwrap(),
        delay["P99Millis"].as_f64().unwrap(),
        delay["MaxMillis"].as_f64().unwrap(),
    );
    assert!(0.0 <= p50 && p50 <= p99 && p99 <= max, "{status}");
}
