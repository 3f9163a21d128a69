//! Named durable consumers (`/v1/consumers`): creation from each starting position, reading the
//! batch after the checkpoint, forward-only checkpoints, lag in records and seconds, pagination,
//! and a consumer stopped by the deletion of its table.

use eddy_tests::rest::call_json;
use eddy_tests::{TestServer, hash_table, item, s};
use serde_json::{Value, json};

async fn put(client: &eddy_tests::aws_sdk_dynamodb::Client, table: &str, pk: &str) {
    client.put_item().table_name(table).set_item(Some(item([("pk", s(pk))]))).send().await.unwrap();
}

fn create(server: &TestServer, body: Value) -> (u16, Value) {
    call_json(server.endpoint(), "POST", "/v1/consumers", Some(&body.to_string()))
}

fn get(server: &TestServer, path: &str) -> (u16, Value) {
    call_json(server.endpoint(), "GET", path, None)
}

fn checkpoint(server: &TestServer, name: &str, seq: &str) -> (u16, Value) {
    let body = json!({"SequenceNumber": seq}).to_string();
    call_json(server.endpoint(), "POST", &format!("/v1/consumers/{name}/checkpoint"), Some(&body))
}

fn seq(n: u64) -> String {
    format!("{n:021}")
}

fn error_type(value: &Value) -> &str {
    value["__type"].as_str().unwrap_or_default().rsplit('#').next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_records_checkpoints_and_lag() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "cons-life").await;
    for i in 0..5 {
        put(&client, &table, &format!("k{i}")).await;
    }
    let (status, created) = create(
        &server,
        json!({"ConsumerName": "c1", "TableName": table, "StartingPosition": "TRIM_HORIZON"}),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["Consumer"]["Status"], "ACTIVE");
    assert_eq!(created["Consumer"]["NextSequenceNumber"], seq(1));

    let (_, described) = get(&server, "/v1/consumers/c1");
    assert_eq!(described["Consumer"]["LagRecords"], 5);
    assert_eq!(described["Consumer"]["HighWatermarkSequenceNumber"], seq(5));
    assert!(described["Consumer"]["LagSeconds"].as_u64().is_some());

    let (status, batch) = get(&server, "/v1/consumers/c1/records?Limit=2");
    assert_eq!(status, 200, "{batch}");
    let records = batch["Records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["dynamodb"]["SequenceNumber"], seq(1));
    assert_eq!(batch["NextSequenceNumber"], seq(3));
    // Reading does not move the checkpoint.
    let (_, again) = get(&server, "/v1/consumers/c1/records?Limit=2");
    assert_eq!(again["Records"], batch["Records"]);

    let (status, moved) = checkpoint(&server, "c1", &seq(2));
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["Consumer"]["CheckpointSequenceNumber"], seq(2));
    let (_, next) = get(&server, "/v1/consumers/c1/records");
    assert_eq!(next["Records"].as_array().unwrap().len(), 3);
    assert_eq!(next["Records"][0]["dynamodb"]["SequenceNumber"], seq(3));
    assert_eq!(get(&server, "/v1/consumers/c1").1["Consumer"]["LagRecords"], 3);

    // Checkpoints only move forward, and never past the last record.
    let (status, body) = checkpoint(&server, "c1", &seq(1));
    assert_eq!((status, error_type(&body)), (400, "ValidationException"), "{body}");
    let (status, body) = checkpoint(&server, "c1", &seq(6));
    assert_eq!((status, error_type(&body)), (400, "ValidationException"), "{body}");
    let (status, body) = checkpoint(&server, "c1", "abc");
    assert_eq!((status, error_type(&body)), (400, "ValidationException"), "{body}");
    assert_eq!(checkpoint(&server, "c1", &seq(5)).0, 200);
    let (_, caught_up) = get(&server, "/v1/consumers/c1");
    assert_eq!(caught_up["Consumer"]["LagRecords"], 0);
    assert_eq!(caught_up["Consumer"]["LagSeconds"], 0);
    let (_, empty) = get(&server, "/v1/consumers/c1/records");
    assert_eq!(empty["Records"], json!([]));
    assert_eq!(empty["NextSequenceNumber"], seq(6));

    // A duplicate name conflicts; a deleted consumer is gone.
    let (status, body) = create(&server, json!({"ConsumerName": "c1", "TableName": table}));
    assert_eq!((status, error_type(&body)), (409, "ResourceInUseException"), "{body}");
    let (status, deleted) = call_json(server.endpoint(), "DELETE", "/v1/consumers/c1", None);
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["Consumer"]["ConsumerName"], "c1");
    let (status, body) = get(&server, "/v1/consumers/c1");
    assert_eq!((status, error_type(&body)), (404, "ResourceNotFoundException"), "{body}");
    let (status, body) = call_json(server.endpoint(), "DELETE", "/v1/consumers/c1", None);
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn starting_positions_and_bad_requests() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "cons-start").await;
    for i in 0..4 {
        put(&client, &table, &format!("k{i}")).await;
    }
    let next = |name: &str| {
        get(&server, &format!("/v1/consumers/{name}")).1["Consumer"]["NextSequenceNumber"].clone()
    };
    assert_eq!(create(&server, json!({"ConsumerName": "latest", "TableName": table})).0, 200);
    assert_eq!(next("latest"), seq(5));
    let at_seq = json!({"ConsumerName": "at-seq", "TableName": table, "StartingPosition": "AT_SEQUENCE_NUMBER",
        "StartingSequenceNumber": seq(3)});
    assert_eq!(create(&server, at_seq).0, 200);
    assert_eq!(next("at-seq"), seq(3));
    let at_time = json!({"ConsumerName": "at-time", "TableName": table, "StartingPosition": "AT_TIMESTAMP",
        "StartingPositionTimestamp": "1970-01-01T00:00:00Z"});
    assert_eq!(create(&server, at_time).0, 200);
    assert_eq!(next("at-time"), seq(1));
    let future = json!({"ConsumerName": "future", "TableName": table, "StartingPosition": "AT_TIMESTAMP",
        "StartingPositionTimestamp": 4_000_000_000u64});
    assert_eq!(create(&server, future).0, 200);
    assert_eq!(next("future"), seq(5));

    for bad in [
        json!({"TableName": table}),
        json!({"ConsumerName": "x", "TableName": table, "StartingPosition": "SOMEWHERE"}),
        json!({"ConsumerName": "x", "TableName": table, "StartingPosition": "AT_SEQUENCE_NUMBER"}),
        json!({"ConsumerName": "x", "TableName": table, "StartingSequenceNumber": seq(1)}),
        json!({"ConsumerName": "bad name!", "TableName": table}),
        json!({"ConsumerName": "x", "TableName": table, "Unknown": 1}),
    ] {
        let (status, body) = create(&server, bad.clone());
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = create(&server, json!({"ConsumerName": "x", "TableName": "missing"}));
    assert_eq!((status, error_type(&body)), (404, "ResourceNotFoundException"), "{body}");
    let (status, _) = get(&server, "/v1/consumers/latest/records?Limit=0");
    assert_eq!(status, 400);

    // Pagination: four consumers, two per page, in name order.
    let (_, page1) = get(&server, "/v1/consumers?Limit=2");
    let names = |page: &Value| -> Vec<String> {
        page["Consumers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["ConsumerName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&page1), ["at-seq", "at-time"]);
    let token = page1["NextToken"].as_str().expect("a NextToken");
    let (_, page2) = get(&server, &format!("/v1/consumers?Limit=2&NextToken={token}"));
    assert_eq!(names(&page2), ["future", "latest"]);
    assert!(page2.get("NextToken").is_none(), "{page2}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lag_seconds_follow_the_server_clock() {
    let server = TestServer::start_with(&["--dev-clock"]);
    let client = server.client();
    let table = hash_table(&client, "cons-lag").await;
    let body = json!({"ConsumerName": "lagging", "TableName": table, "StartingPosition": "TRIM_HORIZON"});
    assert_eq!(create(&server, body).0, 200);
    put(&client, &table, "a").await;
    server.advance_clock(120);
    let (_, described) = get(&server, "/v1/consumers/lagging");
    let lag = described["Consumer"]["LagSeconds"].as_u64().unwrap();
    assert!((120..180).contains(&lag), "{described}");
    assert_eq!(described["Consumer"]["LagRecords"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_of_a_deleted_table_is_stopped() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "cons-stop").await;
    put(&client, &table, "a").await;
    let body = json!({"ConsumerName": "orphan", "TableName": table, "StartingPosition": "TRIM_HORIZON"});
    assert_eq!(create(&server, body).0, 200);
    client.delete_table().table_name(&table).send().await.unwrap();
    let (status, described) = get(&server, "/v1/consumers/orphan");
    assert_eq!(status, 200);
    assert_eq!(described["Consumer"]["Status"], "STOPPED");
    assert!(described["Consumer"]["StatusReason"].as_str().unwrap().contains("deleted"), "{described}");
    let (status, body) = get(&server, "/v1/consumers/orphan/records");
    assert_eq!((status, error_type(&body)), (400, "ValidationException"), "{body}");
    let (status, _) = checkpoint(&server, "orphan", &seq(1));
    assert_eq!(status, 400);
    // A new table under the same name does not revive it.
    hash_table(&client, "cons-stop-other").await;
    assert_eq!(call_json(server.endpoint(), "DELETE", "/v1/consumers/orphan", None).0, 200);
}
