//! The OpenSearch sink against a real OpenSearch node: the index equals the items after inserts,
//! updates and deletes; replays of older batches (in any order, before or after a delete) never
//! regress or resurrect a document, because versions are the records' seqs and the index keeps
//! delete tombstones for the changelog's retention (`index.gc_deletes`); version conflicts count
//! as applied; an unreachable node is a transient failure, refused credentials and mapping
//! conflicts are permanent; and a connector (`PUT /v1/connectors/{name}`, `"Type": "opensearch"`)
//! keeps an index equal to its table, from the stream, from a snapshot start and across `kill -9`.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue as SdkValue;
use eddy_connectors::opensearch::document::{default_index_name, document_id};
use eddy_connectors::opensearch::{OpenSearchSink, parse_time_value};
use eddy_connectors::sink::{Batch, Sink, SinkError};
use eddy_core::changelog::{ChangeEvent, ChangeRecord};
use eddy_core::{AttributeValue, Item, Number};
use eddy_tests::rest::{call, call_json};
use eddy_tests::{TestServer, hash_table, item, n, s};
use serde_json::{Value, json};

/// How long a connector may take to catch up in these tests.
const CATCH_UP: Duration = Duration::from_secs(60);

/// The node from `EDDY_TEST_OPENSEARCH_URL`, or `None` after printing why the test is skipped.
/// Under CI (`CI` set) a missing node fails the test instead.
fn opensearch() -> Option<String> {
    match std::env::var("EDDY_TEST_OPENSEARCH_URL").ok().filter(|v| !v.is_empty()) {
        Some(url) => Some(url.trim_end_matches('/').to_string()),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OpenSearch is not running under CI (scripts/test starts it)"
            );
            println!("skipped: OpenSearch not running (scripts/test starts it)");
            None
        }
    }
}

static INDEX_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An index name no other test uses.
fn unique_index(prefix: &str) -> String {
    let n = INDEX_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("eddy-it-{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

fn sink(url: &str, index: &str, extra: Value) -> OpenSearchSink {
    let mut settings = json!({"Url": url, "Index": index});
    if let (Some(settings), Value::Object(extra)) = (settings.as_object_mut(), extra) {
        settings.extend(extra);
    }
    OpenSearchSink::from_config(&settings).expect("valid settings")
}

fn num(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).expect("a number"))
}

fn attrs(pairs: Vec<(&str, AttributeValue)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn keys_of(pk: &str) -> Item {
    attrs(vec![("pk", AttributeValue::S(pk.into()))])
}

/// A change record of the item `pk`: `new` holds the other attributes (ignored for REMOVE).
fn record(seq: u64, event: ChangeEvent, pk: &str, new: Vec<(&str, AttributeValue)>) -> ChangeRecord {
    let keys = keys_of(pk);
    let new = (event != ChangeEvent::Remove).then(|| {
        let mut item = keys.clone();
        item.extend(attrs(new));
        item
    });
    ChangeRecord { seq, event, keys, old: None, new, created_at_millis: 0, transaction_id: None, hops: 0 }
}

fn batch(records: Vec<ChangeRecord>) -> Batch {
    Batch { table: "Items".into(), key_attributes: vec!["pk".into()], records, records_json: Vec::new() }
}

/// Every document of `index` after a refresh: `pk` → (`_version`, `_source`).
fn documents(url: &str, index: &str) -> BTreeMap<String, (u64, Value)> {
    let (status, refreshed) = call_json(url, "POST", &format!("/{index}/_refresh"), None);
    assert_eq!(status, 200, "{refreshed}");
    let query = json!({"size": 10000, "version": true, "query": {"match_all": {}}});
    let (status, found) = call_json(url, "POST", &format!("/{index}/_search"), Some(&query.to_string()));
    assert_eq!(status, 200, "{found}");
    found["hits"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| {
            let source = hit["_source"].clone();
            let pk = source["pk"].as_str().expect("a pk").to_string();
            let id = document_id(&["pk".to_string()], &keys_of(&pk)).expect("an id");
            assert_eq!(hit["_id"].as_str(), Some(id.as_str()), "the id derives from the key");
            (pk, (hit["_version"].as_u64().expect("a version"), source))
        })
        .collect()
}

/// The index's `index.gc_deletes`.
fn gc_deletes(url: &str, index: &str) -> String {
    let (status, settings) = call_json(url, "GET", &format!("/{index}/_settings?flat_settings=true"), None);
    assert_eq!(status, 200, "{settings}");
    settings[index]["settings"]["index.gc_deletes"].as_str().unwrap_or("60s (the default)").to_string()
}

fn delete_index(url: &str, index: &str) {
    call(url, "DELETE", &format!("/{index}"), None);
}

#[tokio::test]
async fn index_equals_the_items_after_inserts_updates_and_deletes() {
    let Some(url) = opensearch() else { return };
    let index = unique_index("crud");
    let sink = sink(&url, &index, json!({}));
    sink.check().await.expect("check creates the index");
    sink.write(&batch(vec![
        record(1, ChangeEvent::Insert, "a", vec![("n", num("1"))]),
        record(2, ChangeEvent::Insert, "b", vec![("n", num("2"))]),
        record(3, ChangeEvent::Insert, "c", vec![("n", num("3"))]),
    ]))
    .await
    .expect("inserts");
    sink.write(&batch(vec![
        record(
            4,
            ChangeEvent::Modify,
            "a",
            vec![("n", num("10")), ("note", AttributeValue::S("updated".into()))],
        ),
        record(5, ChangeEvent::Remove, "b", vec![]),
        record(
            6,
            ChangeEvent::Insert,
            "d",
            vec![
                ("price", num("12.5")),
                ("big", num("123456789012345678901234567890")),
                ("blob", AttributeValue::B(vec![0, 255])),
                ("tags", AttributeValue::Ss(["y".to_string(), "x".to_string()].into())),
                (
                    "sizes",
                    AttributeValue::Ns(
                        [Number::parse("3").expect("3"), Number::parse("1").expect("1")].into(),
                    ),
                ),
                ("ok", AttributeValue::Bool(true)),
                ("nothing", AttributeValue::Null),
                (
                    "nested",
                    AttributeValue::M(attrs(vec![(
                        "list",
                        AttributeValue::L(vec![AttributeValue::S("p".into()), AttributeValue::S("q".into())]),
                    )])),
                ),
            ],
        ),
        // Two changes of one item in one batch: the last wins.
        record(7, ChangeEvent::Modify, "c", vec![("n", num("30"))]),
        record(8, ChangeEvent::Modify, "c", vec![("n", num("31"))]),
    ]))
    .await
    .expect("updates and deletes");

    let docs = documents(&url, &index);
    let expected: BTreeMap<String, (u64, Value)> = [
        ("a".to_string(), (4, json!({"pk": "a", "n": 10, "note": "updated"}))),
        ("c".to_string(), (8, json!({"pk": "c", "n": 31}))),
        (
            "d".to_string(),
            (
                6,
                json!({
                    "pk": "d", "price": 12.5, "big": "123456789012345678901234567890", "blob": "AP8=",
                    "tags": ["x", "y"], "sizes": [1, 3], "ok": true, "nothing": null,
                    "nested": {"list": ["p", "q"]},
                }),
            ),
        ),
    ]
    .into();
    assert_eq!(docs, expected, "documents carry the item as plain JSON and the record's seq as version");
    let stats = sink.stats();
    assert_eq!((stats.indexed, stats.deleted, stats.conflicts), (6, 1, 0), "{stats:?}");
    delete_index(&url, &index);
}

#[tokio::test]
async fn replaying_an_older_batch_after_a_newer_one_never_regresses_a_document() {
    let Some(url) = opensearch() else { return };
    let index = unique_index("replay");
    let sink = sink(&url, &index, json!({}));
    sink.check().await.expect("check");
    let older = batch(vec![
        record(1, ChangeEvent::Insert, "a", vec![("v", AttributeValue::S("old".into()))]),
        record(2, ChangeEvent::Insert, "b", vec![("v", AttributeValue::S("old".into()))]),
    ]);
    let newer = batch(vec![
        record(3, ChangeEvent::Modify, "a", vec![("v", AttributeValue::S("new".into()))]),
        record(4, ChangeEvent::Insert, "c", vec![("v", AttributeValue::S("new".into()))]),
    ]);
    // Out of order: the newer batch lands first (a retry of the older one arrives late).
    sink.write(&newer).await.expect("newer");
    sink.write(&older).await.expect("a late older batch is not an error");
    sink.write(&newer).await.expect("a replayed batch is not an error");
    let docs = documents(&url, &index);
    assert_eq!(
        docs["a"],
        (3, json!({"pk": "a", "v": "new"})),
        "the older record did not overwrite the newer"
    );
    assert_eq!(docs["b"], (2, json!({"pk": "b", "v": "old"})), "what only the older batch had is applied");
    assert_eq!(docs["c"], (4, json!({"pk": "c", "v": "new"})));
    assert_eq!(docs.len(), 3);
    delete_index(&url, &index);
}

#[tokio::test]
async fn version_conflicts_count_as_applied() {
    let Some(url) = opensearch() else { return };
    let index = unique_index("conflicts");
    let sink = sink(&url, &index, json!({}));
    let once = batch(
        (1..=20)
            .map(|i| record(i, ChangeEvent::Insert, &format!("k{i}"), vec![("i", num(&i.to_string()))]))
            .collect(),
    );
    sink.write(&once).await.expect("first write (creates the index on the way)");
    assert_eq!(sink.stats().indexed, 20);
    sink.write(&once).await.expect("the same batch again is success");
    let stats = sink.stats();
    assert_eq!(
        (stats.indexed, stats.conflicts),
        (20, 20),
        "every replayed write was a version conflict: {stats:?}"
    );
    assert_eq!(documents(&url, &index).len(), 20);
    delete_index(&url, &index);
}

#[tokio::test]
async fn a_late_replay_of_an_older_insert_does_not_resurrect_a_deleted_document() {
    let Some(url) = opensearch() else { return };
    let index = unique_index("tombstone");
    let sink = sink(&url, &index, json!({}));
    sink.check().await.expect("check");
    let insert = batch(vec![record(1, ChangeEvent::Insert, "a", vec![("v", AttributeValue::S("x".into()))])]);
    sink.write(&insert).await.expect("insert");
    sink.write(&batch(vec![record(2, ChangeEvent::Remove, "a", vec![])])).await.expect("delete");
    sink.write(&insert).await.expect("the late replay is not an error");
    assert!(documents(&url, &index).is_empty(), "the delete's tombstone refused the older insert");
    // A delete of a document that was never indexed leaves a tombstone too.
    sink.write(&batch(vec![record(4, ChangeEvent::Remove, "b", vec![])]))
        .await
        .expect("delete of a missing doc");
    sink.write(&batch(vec![record(3, ChangeEvent::Insert, "b", vec![])])).await.expect("older insert");
    assert!(documents(&url, &index).is_empty());
    // Tombstones last as long as the changelog's retention, not OpenSearch's default 60 s: a
    // replay of a record older than a delete can only come while that record is retained.
    let setting = gc_deletes(&url, &index);
    assert_eq!(setting, sink.gc_deletes());
    assert!(parse_time_value(&setting).expect("a time") >= Duration::from_secs(24 * 3600), "{setting}");
    delete_index(&url, &index);
}

#[tokio::test]
async fn check_raises_gc_deletes_on_an_existing_index_and_keeps_its_mapping() {
    let Some(url) = opensearch() else { return };
    let index = unique_index("existing");
    let create = json!({"mappings": {"properties": {"pk": {"type": "keyword"}}}});
    let (status, created) = call_json(&url, "PUT", &format!("/{index}"), Some(&create.to_string()));
    assert_eq!(status, 200, "{created}");
    assert_eq!(gc_deletes(&url, &index), "60s (the default)");
    let sink =
        sink(&url, &index, json!({"GcDeletes": "48h", "Mapping": {"properties": {"pk": {"type": "text"}}}}));
    sink.check().await.expect("check");
    assert_eq!(gc_deletes(&url, &index), "48h");
    let (_, mapping) = call_json(&url, "GET", &format!("/{index}/_mapping"), None);
    assert_eq!(
        mapping[&index]["mappings"]["properties"]["pk"]["type"], "keyword",
        "an existing mapping is left alone"
    );
    delete_index(&url, &index);
}

#[tokio::test]
async fn a_mapping_conflict_is_permanent() {
    let Some(url) = opensearch() else { return };
    let index = unique_index("mapping");
    let sink = sink(&url, &index, json!({"Mapping": {"properties": {"price": {"type": "long"}}}}));
    sink.check().await.expect("check creates the index with the mapping");
    let (_, mapping) = call_json(&url, "GET", &format!("/{index}/_mapping"), None);
    assert_eq!(mapping[&index]["mappings"]["properties"]["price"]["type"], "long");
    let bad = batch(vec![
        record(1, ChangeEvent::Insert, "ok", vec![("price", num("5"))]),
        record(2, ChangeEvent::Insert, "bad", vec![("price", AttributeValue::S("not a number".into()))]),
    ]);
    match sink.write(&bad).await {
        Err(SinkError::Permanent(reason)) => {
            assert!(reason.contains("mapper_parsing_exception") && reason.contains("price"), "{reason}")
        }
        other => panic!("a mapping conflict must be permanent, got {other:?}"),
    }
    delete_index(&url, &index);
}

#[tokio::test]
async fn large_batches_go_in_several_bulk_requests() {
    let Some(url) = opensearch() else { return };
    let index = unique_index("split");
    let sink = sink(&url, &index, json!({"BulkRequestBytesMax": 4096}));
    let pad = "p".repeat(200);
    let records = (1..=100).map(|i| {
        record(i, ChangeEvent::Insert, &format!("k{i:03}"), vec![("pad", AttributeValue::S(pad.clone()))])
    });
    sink.write(&batch(records.collect())).await.expect("write");
    let stats = sink.stats();
    assert!(stats.requests >= 5, "{stats:?}");
    assert_eq!(documents(&url, &index).len(), 100);
    delete_index(&url, &index);
}

#[tokio::test]
async fn without_an_index_setting_the_index_is_named_after_the_table() {
    let Some(url) = opensearch() else { return };
    let table = format!("Items-{}", unique_index("Default"));
    let index = default_index_name(&table);
    assert_eq!(index, table.to_lowercase());
    let sink = OpenSearchSink::from_config(&json!({"Url": url})).expect("settings");
    sink.check().await.expect("check without an index only reaches the node");
    let mut b = batch(vec![record(1, ChangeEvent::Insert, "a", vec![])]);
    b.table = table;
    sink.write(&b).await.expect("write creates the index first");
    assert_eq!(
        gc_deletes(&url, &index),
        sink.gc_deletes(),
        "the index got Eddy's settings, not auto-created ones"
    );
    assert_eq!(documents(&url, &index).len(), 1);
    delete_index(&url, &index);
}

#[tokio::test]
async fn an_unreachable_node_is_a_transient_failure() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let sink = sink("http://127.0.0.1:1", "unreachable", json!({}));
    assert!(matches!(sink.check().await, Err(SinkError::Transient(_))));
    let result = sink.write(&batch(vec![record(1, ChangeEvent::Insert, "a", vec![])])).await;
    assert!(matches!(result, Err(SinkError::Transient(ref m)) if m.contains("cannot reach")), "{result:?}");
}

/// A stand-in node that answers every request with `status` and a JSON error body.
fn answering(status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = format!(r#"{{"error":{{"type":"status_{status}"}},"status":{status}}}"#);
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

#[tokio::test]
async fn refused_credentials_are_permanent_and_overload_is_transient() {
    for status in [401, 403] {
        let sink = sink(&answering(status), "idx", json!({"Username": "u", "Password": "wrong"}));
        match sink.check().await {
            Err(SinkError::Permanent(m)) => assert!(m.contains("credentials") && !m.contains("wrong"), "{m}"),
            other => panic!("{status} must be permanent, got {other:?}"),
        }
    }
    for status in [429, 503] {
        let sink = sink(&answering(status), "idx", json!({}));
        assert!(matches!(sink.check().await, Err(SinkError::Transient(_))), "{status}");
    }
}

// ---------------------------------------------------------------------------------------------
// End to end: a connector keeps an index equal to its table.

fn connector_body(url: &str, table: &str, start: &str) -> Value {
    json!({
        "Type": "opensearch",
        "TableName": table,
        "Start": start,
        "Batch": {"MaxRecords": 40, "FlushIntervalMillis": 100},
        "Retry": {"InitialBackoffMillis": 50, "MaxBackoffMillis": 500},
        // The test node has no security plugin and ignores the credentials.
        "OpenSearch": {"Url": url, "Username": "eddy", "Password": "not-shown"},
    })
}

fn describe(server: &TestServer, name: &str) -> Value {
    let (status, value) = call_json(server.endpoint(), "GET", &format!("/v1/connectors/{name}"), None);
    assert_eq!(status, 200, "{value}");
    value["Connector"].clone()
}

/// Waits until the connector's checkpoint reaches the table's high watermark.
fn wait_caught_up(server: &TestServer, name: &str) -> Value {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let c = describe(server, name);
        if c["State"] == "RUNNING" && c["LagRecords"] == 0 && c["CheckpointSequenceNumber"].is_string() {
            return c;
        }
        assert!(c["State"] != "FAILED" && Instant::now() < deadline, "connector {name} never caught up: {c}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn write_orders(client: &Client, table: &str, range: std::ops::Range<u32>) {
    for i in range {
        let key = format!("order-{i:04}");
        let tags = SdkValue::Ss(vec!["new".into(), format!("t{}", i % 3)]);
        let row = item([("pk", s(&key)), ("total", n(i)), ("state", s("new")), ("tags", tags)]);
        client.put_item().table_name(table).set_item(Some(row)).send().await.expect("put");
        if i % 4 == 0 {
            client
                .update_item()
                .table_name(table)
                .key("pk", s(&key))
                .update_expression("SET #s = :s, #t = #t + :one")
                .expression_attribute_names("#s", "state")
                .expression_attribute_names("#t", "total")
                .expression_attribute_values(":s", s("paid"))
                .expression_attribute_values(":one", n(1))
                .send()
                .await
                .expect("update");
        }
        if i % 5 == 0 {
            client.delete_item().table_name(table).key("pk", s(&key)).send().await.expect("delete");
        }
    }
}

/// The table as the sink maps it: `pk` → the item as plain JSON (this data has integers,
/// strings and string sets only).
async fn table_as_json(client: &Client, table: &str) -> BTreeMap<String, Value> {
    fn plain(value: &SdkValue) -> Value {
        match value {
            SdkValue::S(s) => json!(s),
            SdkValue::N(n) => json!(n.parse::<i64>().expect("an integer")),
            SdkValue::Ss(set) => {
                let mut set = set.clone();
                set.sort();
                json!(set)
            }
            other => panic!("unexpected value {other:?}"),
        }
    }
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
        for row in page.items() {
            let doc: serde_json::Map<String, Value> =
                row.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
            out.insert(row["pk"].as_s().expect("pk").clone(), Value::Object(doc));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

fn index_as_json(url: &str, index: &str) -> BTreeMap<String, Value> {
    documents(url, index).into_iter().map(|(pk, (_, source))| (pk, source)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_keeps_an_index_equal_to_its_table() {
    let Some(url) = opensearch() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "os-stream").await;
    let index = default_index_name(&table);
    write_orders(&client, &table, 0..60).await;
    let (status, created) = call_json(
        server.endpoint(),
        "PUT",
        "/v1/connectors/search",
        Some(&connector_body(&url, &table, "trim_horizon").to_string()),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["Connector"]["OpenSearch"]["Password"], "****", "the password is never shown");
    write_orders(&client, &table, 60..100).await;
    // Re-put some items and delete others after the connector started, across batches.
    write_orders(&client, &table, 10..30).await;
    let c = wait_caught_up(&server, "search");
    assert!(c["LastError"].is_null() || c["LastError"] == "", "{c}");
    let expected = table_as_json(&client, &table).await;
    assert!(expected.len() > 50, "{}", expected.len());
    assert_eq!(index_as_json(&url, &index), expected);
    assert_eq!(gc_deletes(&url, &index), "86400s");
    let (status, deleted) = call_json(server.endpoint(), "DELETE", "/v1/connectors/search", None);
    assert_eq!(status, 200, "{deleted}");
    delete_index(&url, &index);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_start_indexes_the_table_then_follows_the_stream() {
    let Some(url) = opensearch() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "os-snap").await;
    let index = default_index_name(&table);
    write_orders(&client, &table, 0..90).await;
    let (status, created) = call_json(
        server.endpoint(),
        "PUT",
        "/v1/connectors/snap",
        Some(&connector_body(&url, &table, "snapshot").to_string()),
    );
    assert_eq!(status, 201, "{created}");
    write_orders(&client, &table, 80..110).await;
    let c = wait_caught_up(&server, "snap");
    assert_eq!(c["Phase"], "STREAM", "{c}");
    let expected = table_as_json(&client, &table).await;
    assert_eq!(index_as_json(&url, &index), expected);
    let (status, deleted) = call_json(server.endpoint(), "DELETE", "/v1/connectors/snap", None);
    assert_eq!(status, 200, "{deleted}");
    delete_index(&url, &index);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_export_then_restart_leaves_the_index_equal_to_the_table() {
    let Some(url) = opensearch() else { return };
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "os-crash").await;
    let index = default_index_name(&table);
    write_orders(&client, &table, 0..300).await;
    let mut body = connector_body(&url, &table, "trim_horizon");
    body["Batch"]["MaxRecords"] = json!(10);
    let (status, created) =
        call_json(server.endpoint(), "PUT", "/v1/connectors/crash", Some(&body.to_string()));
    assert_eq!(status, 201, "{created}");
    // Let some batches through, then kill the server mid-export.
    let deadline = Instant::now() + CATCH_UP;
    while describe(&server, "crash")["RecordsExported"].as_u64() <= Some(20) {
        assert!(Instant::now() < deadline, "no batch was exported");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill9();
    server.restart();
    let client = server.client();
    write_orders(&client, &table, 280..320).await;
    wait_caught_up(&server, "crash");
    assert_eq!(index_as_json(&url, &index), table_as_json(&client, &table).await);
    delete_index(&url, &index);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_conflict_makes_the_connector_failed_with_the_reason() {
    let Some(url) = opensearch() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "os-fail").await;
    let index = default_index_name(&table);
    write_orders(&client, &table, 0..5).await;
    let mut body = connector_body(&url, &table, "trim_horizon");
    body["OpenSearch"]["Mapping"] = json!({"properties": {"state": {"type": "long"}}});
    let (status, created) =
        call_json(server.endpoint(), "PUT", "/v1/connectors/bad", Some(&body.to_string()));
    assert_eq!(status, 201, "{created}");
    let deadline = Instant::now() + CATCH_UP;
    let c = loop {
        let c = describe(&server, "bad");
        if c["State"] == "FAILED" {
            break c;
        }
        assert!(Instant::now() < deadline, "the connector never failed: {c}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let reason = c["LastError"].as_str().unwrap_or_default();
    assert!(reason.contains("mapper_parsing_exception") && reason.contains("state"), "{c}");
    delete_index(&url, &index);
}
