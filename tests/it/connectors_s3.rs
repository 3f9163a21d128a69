//! S3 connectors against a real MinIO: the objects hold every change record of the table
//! exactly once (the same JSON the consumers API shows), in objects keyed by seq range, after
//! a plain run, after `kill -9` mid-export and a restart, with gzip, after a snapshot start;
//! pause and resume keep the checkpoint; bad buckets, credentials and endpoints fail clearly
//! without losing the checkpoint; configurations are validated and secrets never shown.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use eddy_tests::rest::call_json;
use eddy_tests::s3::S3Service;
use eddy_tests::{TestServer, hash_table, item, n, s};
use serde_json::{Value, json};

/// How long a connector may take to catch up in these tests.
const CATCH_UP: Duration = Duration::from_secs(60);

pub(crate) fn body(s3: &S3Service, bucket: &str, table: &str, extra: Value) -> Value {
    let mut body = json!({
        "Type": "s3",
        "TableName": table,
        "Start": "trim_horizon",
        "Batch": {"MaxRecords": 50, "FlushIntervalMillis": 100},
        "Retry": {"InitialBackoffMillis": 50, "MaxBackoffMillis": 500},
        "S3": {
            "Endpoint": s3.endpoint, "Bucket": bucket, "Prefix": "cdc", "Region": s3.region,
            "AccessKeyId": s3.access_key, "SecretAccessKey": s3.secret_key, "AllowHttp": true,
        },
    });
    merge(&mut body, extra);
    body
}

fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(into), Value::Object(patch)) => {
            for (k, v) in patch {
                merge(into.entry(k).or_insert(Value::Null), v);
            }
        }
        (into, patch) => *into = patch,
    }
}

pub(crate) fn put_connector(server: &TestServer, name: &str, body: &Value) -> (u16, Value) {
    call_json(server.endpoint(), "PUT", &format!("/v1/connectors/{name}"), Some(&body.to_string()))
}

pub(crate) fn describe(server: &TestServer, name: &str) -> Value {
    let (status, value) = call_json(server.endpoint(), "GET", &format!("/v1/connectors/{name}"), None);
    assert_eq!(status, 200, "{value}");
    value["Connector"].clone()
}

pub(crate) fn wait_for(server: &TestServer, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let c = describe(server, name);
        if check(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "connector {name} never {what}: {c}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the checkpoint reaches the high watermark (with at least `records` records).
pub(crate) fn wait_caught_up(server: &TestServer, name: &str, records: u64) -> Value {
    wait_for(server, name, "caught up", |c| {
        c["State"] == "RUNNING"
            && c["LagRecords"] == 0
            && c["HighWatermarkSequenceNumber"].as_str().and_then(|s| s.parse::<u64>().ok()) >= Some(records)
    })
}

/// Every change record of `table`, as the consumers API shows them.
pub(crate) fn changelog(server: &TestServer, table: &str) -> Vec<Value> {
    let consumer = format!("check-{table}");
    let create = json!({"ConsumerName": consumer, "TableName": table, "StartingPosition": "TRIM_HORIZON"});
    let (status, value) = call_json(server.endpoint(), "POST", "/v1/consumers", Some(&create.to_string()));
    assert_eq!(status, 200, "{value}");
    let mut out = Vec::new();
    loop {
        let path = format!("/v1/consumers/{consumer}/records?Limit=1000");
        let (status, page) = call_json(server.endpoint(), "GET", &path, None);
        assert_eq!(status, 200, "{page}");
        let records = page["Records"].as_array().cloned().unwrap_or_default();
        let Some(last) = records.last() else { break };
        let checkpoint = json!({"SequenceNumber": last["dynamodb"]["SequenceNumber"]});
        let path = format!("/v1/consumers/{consumer}/checkpoint");
        let (status, value) = call_json(server.endpoint(), "POST", &path, Some(&checkpoint.to_string()));
        assert_eq!(status, 200, "{value}");
        out.extend(records);
    }
    call_json(server.endpoint(), "DELETE", &format!("/v1/consumers/{consumer}"), None);
    out
}

/// Every object under `prefix` with its records, in key order.
fn objects(s3: &S3Service, bucket: &str, prefix: &str) -> Vec<(String, Vec<Value>)> {
    s3.list(bucket, prefix)
        .into_iter()
        .map(|key| {
            let raw = s3.get(bucket, &key);
            let text = if key.ends_with(".gz") {
                let mut text = String::new();
                flate2::read::GzDecoder::new(raw.as_slice()).read_to_string(&mut text).expect("gunzip");
                text
            } else {
                String::from_utf8(raw).expect("utf-8")
            };
            let records = text.lines().map(|l| serde_json::from_str(l).expect("an NDJSON line")).collect();
            (key, records)
        })
        .collect()
}

fn seq(record: &Value) -> u64 {
    record["dynamodb"]["SequenceNumber"].as_str().and_then(|s| s.parse().ok()).expect("SequenceNumber")
}

/// Checks the change-record objects under `prefix` against the changelog: keyed by their seq
/// range, disjoint, and together every record exactly once.
pub(crate) fn assert_exported_exactly_once(s3: &S3Service, bucket: &str, prefix: &str, expected: &[Value]) {
    let objects = objects(s3, bucket, prefix);
    let mut exported = BTreeMap::new();
    for (key, records) in &objects {
        let (first, last) = (seq(&records[0]), seq(records.last().expect("a record")));
        let name = key.rsplit('/').next().expect("a file name");
        assert!(name.starts_with(&format!("{first:021}-{last:021}.ndjson")), "{key} holds {first}..{last}");
        for record in records {
            assert!(
                exported.insert(seq(record), record.clone()).is_none(),
                "seq {} exported twice",
                seq(record)
            );
        }
    }
    let expected: BTreeMap<u64, Value> = expected.iter().map(|r| (seq(r), r.clone())).collect();
    assert_eq!(exported.len(), expected.len(), "records exported vs in the changelog");
    for (seq, record) in &expected {
        assert_eq!(exported.get(seq), Some(record), "record {seq}");
    }
}

pub(crate) async fn write_orders(client: &Client, table: &str, range: std::ops::Range<u32>) {
    for i in range {
        let key = format!("order-{i:05}");
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item([("pk", s(&key)), ("total", n(i)), ("state", s("new"))])))
            .send()
            .await
            .expect("put");
        if i % 5 == 0 {
            client
                .update_item()
                .table_name(table)
                .key("pk", s(&key))
                .update_expression("SET #s = :s")
                .expression_attribute_names("#s", "state")
                .expression_attribute_values(":s", s("paid"))
                .send()
                .await
                .expect("update");
        }
        if i % 7 == 0 {
            client.delete_item().table_name(table).key("pk", s(&key)).send().await.expect("delete");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_hold_every_change_record_exactly_once_keyed_by_seq_range() {
    let Some(s3) = S3Service::from_env() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "cdc").await;
    let bucket = s3.create_bucket("eddy-cdc");
    write_orders(&client, &table, 0..120).await;
    let (status, created) = put_connector(&server, "orders", &body(&s3, &bucket, &table, json!({})));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["Connector"]["S3"]["SecretAccessKey"], "****", "the secret is never shown");
    write_orders(&client, &table, 120..150).await;
    let expected = changelog(&server, &table);
    let c = wait_caught_up(&server, "orders", expected.len() as u64);
    assert_eq!(c["RecordsExported"], json!(expected.len()));
    assert_exported_exactly_once(&s3, &bucket, &format!("cdc/{table}/"), &expected);
    let objects = objects(&s3, &bucket, &format!("cdc/{table}/"));
    assert!(objects.iter().all(|(_, r)| r.len() <= 50), "MaxRecords bounds every object");
    assert_eq!(c["CheckpointSequenceNumber"], expected.last().unwrap()["dynamodb"]["SequenceNumber"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_export_then_restart_leaves_every_record_exactly_once() {
    let Some(s3) = S3Service::from_env() else { return };
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "crash").await;
    let bucket = s3.create_bucket("eddy-crash");
    write_orders(&client, &table, 0..400).await;
    // Small batches so the kill lands between many uploads and checkpoints.
    let config = body(&s3, &bucket, &table, json!({"Batch": {"MaxRecords": 7, "FlushIntervalMillis": 0}}));
    let (status, value) = put_connector(&server, "crashy", &config);
    assert_eq!(status, 201, "{value}");
    wait_for(&server, "crashy", "started exporting", |c| c["RecordsExported"].as_u64() > Some(20));
    server.kill9();
    server.restart();
    let client = server.client();
    write_orders(&client, &table, 400..430).await;
    let expected = changelog(&server, &table);
    let c = wait_caught_up(&server, "crashy", expected.len() as u64);
    assert_eq!(c["Batch"]["MaxRecords"], 7, "the configuration survived the crash");
    assert_exported_exactly_once(&s3, &bucket, &format!("cdc/{table}/"), &expected);

    // And a graceful restart in the middle of nothing changes nothing.
    server.restart();
    let c = wait_caught_up(&server, "crashy", expected.len() as u64);
    assert_eq!(c["State"], "RUNNING");
    assert_exported_exactly_once(&s3, &bucket, &format!("cdc/{table}/"), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_objects_hold_the_same_records() {
    let Some(s3) = S3Service::from_env() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "gz").await;
    let bucket = s3.create_bucket("eddy-gz");
    write_orders(&client, &table, 0..60).await;
    let config = body(&s3, &bucket, &table, json!({"S3": {"Gzip": true}}));
    assert_eq!(put_connector(&server, "gz", &config).0, 201);
    let expected = changelog(&server, &table);
    wait_caught_up(&server, "gz", expected.len() as u64);
    let keys = s3.list(&bucket, "");
    assert!(!keys.is_empty() && keys.iter().all(|k| k.ends_with(".ndjson.gz")), "{keys:?}");
    assert_exported_exactly_once(&s3, &bucket, &format!("cdc/{table}/"), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_over_the_multipart_threshold_is_uploaded_in_parts() {
    let Some(s3) = S3Service::from_env() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "big").await;
    let bucket = s3.create_bucket("eddy-big");
    let blob = "x".repeat(100 * 1024);
    for i in 0..60 {
        let key = format!("big-{i:03}");
        let put =
            client.put_item().table_name(&table).set_item(Some(item([("pk", s(&key)), ("blob", s(&blob))])));
        put.send().await.expect("put");
    }
    let config = body(
        &s3,
        &bucket,
        &table,
        json!({"Batch": {"MaxRecords": 1000, "MaxBytes": 16777216}, "S3": {"MultipartThresholdBytes": 5242880}}),
    );
    assert_eq!(put_connector(&server, "big", &config).0, 201);
    let expected = changelog(&server, &table);
    wait_caught_up(&server, "big", expected.len() as u64);
    let listed = s3.list_etags(&bucket, "");
    assert_eq!(listed.len(), 1, "one object of about 6 MB: {listed:?}");
    assert!(listed[0].1.contains('-'), "a multipart ETag ends in -<parts>: {listed:?}");
    assert_exported_exactly_once(&s3, &bucket, &format!("cdc/{table}/"), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_stops_exporting_and_resume_continues_from_the_checkpoint() {
    let Some(s3) = S3Service::from_env() else { return };
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "pause").await;
    let bucket = s3.create_bucket("eddy-pause");
    write_orders(&client, &table, 0..20).await;
    assert_eq!(put_connector(&server, "p", &body(&s3, &bucket, &table, json!({}))).0, 201);
    let before = wait_caught_up(&server, "p", 20);
    let (status, paused) = call_json(server.endpoint(), "POST", "/v1/connectors/p/pause", None);
    assert_eq!((status, paused["Connector"]["State"].as_str()), (200, Some("PAUSED")), "{paused}");
    write_orders(&client, &table, 20..40).await;
    std::thread::sleep(Duration::from_millis(800));
    let c = describe(&server, "p");
    assert_eq!(c["State"], "PAUSED");
    assert_eq!(
        c["CheckpointSequenceNumber"], before["CheckpointSequenceNumber"],
        "nothing exported while paused"
    );
    assert!(c["LagRecords"].as_u64() > Some(0));
    // The pause is durable.
    server.restart();
    assert_eq!(describe(&server, "p")["State"], "PAUSED");
    let (status, resumed) = call_json(server.endpoint(), "POST", "/v1/connectors/p/resume", None);
    assert_eq!(status, 200, "{resumed}");
    let expected = changelog(&server, &table);
    wait_caught_up(&server, "p", expected.len() as u64);
    assert_exported_exactly_once(&s3, &bucket, &format!("cdc/{table}/"), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bucket_credentials_or_endpoint_fail_clearly_and_keep_the_checkpoint() {
    let Some(s3) = S3Service::from_env() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bad").await;
    write_orders(&client, &table, 0..15).await;
    let missing = format!("eddy-missing-{}", std::process::id());
    let bucket = s3.create_bucket("eddy-bad");
    let cases = [
        ("no-bucket", json!({"S3": {"Bucket": missing}}), "does not exist"),
        (
            "bad-secret",
            json!({"S3": {"Bucket": bucket, "SecretAccessKey": "not-the-secret"}}),
            "credentials were refused",
        ),
        (
            "no-endpoint",
            json!({"S3": {"Bucket": bucket, "Endpoint": "http://127.0.0.1:9"}, "Retry": {"MaxAttempts": 2}}),
            "gave up after 2 attempts",
        ),
    ];
    for (name, patch, reason) in cases {
        let (status, value) = put_connector(&server, name, &body(&s3, &bucket, &table, patch));
        assert_eq!(status, 201, "{value}");
        let c = wait_for(&server, name, "failed", |c| c["State"] == "FAILED");
        let error = c["LastError"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{name}: {error}");
        assert!(!error.contains("<?xml"), "{name}: the S3 error is summarized: {error}");
        assert_eq!(c["CheckpointSequenceNumber"], "000000000000000000000", "{name} kept its checkpoint");
        assert_eq!(c["RecordsExported"], 0);
    }
    let expected = changelog(&server, &table);

    // The missing bucket appears: a restart exports everything from the checkpoint.
    s3.create_named_bucket(&missing);
    let (status, value) = call_json(server.endpoint(), "POST", "/v1/connectors/no-bucket/restart", None);
    assert_eq!(status, 200, "{value}");
    wait_caught_up(&server, "no-bucket", expected.len() as u64);
    assert_exported_exactly_once(&s3, &missing, &format!("cdc/{table}/"), &expected);

    // The credentials are fixed by a new configuration on the same table and start: the
    // checkpoint is kept, and the redacted secret of the others is not reused.
    let fixed = body(&s3, &bucket, &table, json!({"S3": {"Prefix": "fixed"}}));
    assert_eq!(put_connector(&server, "bad-secret", &fixed).0, 200);
    wait_caught_up(&server, "bad-secret", expected.len() as u64);
    assert_exported_exactly_once(&s3, &bucket, &format!("fixed/{table}/"), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_start_exports_every_item_then_streams_without_a_gap() {
    let Some(s3) = S3Service::from_env() else { return };
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "snap").await;
    let bucket = s3.create_bucket("eddy-snap");
    write_orders(&client, &table, 0..70).await;
    let before = changelog(&server, &table);
    let snapshot_seq = seq(before.last().unwrap());
    let config = body(&s3, &bucket, &table, json!({"Start": "snapshot", "Batch": {"MaxRecords": 25}}));
    assert_eq!(put_connector(&server, "snap", &config).0, 201);
    // Changes during the scan: each is in the stream after the snapshot's seq, and may also
    // show in the snapshot with its newer state.
    write_orders(&client, &table, 70..90).await;
    let all = changelog(&server, &table);
    let c = wait_caught_up(&server, "snap", all.len() as u64);
    assert_eq!(c["Phase"], "STREAM");
    assert_eq!(c["CheckpointSequenceNumber"], all.last().unwrap()["dynamodb"]["SequenceNumber"]);

    // The snapshot: INSERT records carrying the snapshot's seq, each item once.
    let parts = objects(&s3, &bucket, &format!("cdc/{table}/snapshot/"));
    let mut view: BTreeMap<String, Value> = BTreeMap::new();
    for (i, (key, records)) in parts.iter().enumerate() {
        assert!(key.ends_with(&format!("/snapshot/{snapshot_seq:021}/{i:06}.ndjson")), "{key}");
        assert!(records.len() <= 25);
        for r in records {
            assert_eq!((r["eventName"].as_str(), seq(r)), (Some("INSERT"), snapshot_seq));
            assert_eq!(r["eddy"]["Snapshot"], true);
            let pk = r["dynamodb"]["NewImage"]["pk"]["S"].as_str().unwrap().to_string();
            assert!(
                view.insert(pk, r["dynamodb"]["NewImage"].clone()).is_none(),
                "an item twice in the snapshot"
            );
        }
    }
    // Every item of the table at the snapshot's seq is in it.
    let mut at_snapshot: BTreeMap<String, Value> = BTreeMap::new();
    for r in &before {
        let pk = r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string();
        match r["eventName"].as_str() {
            Some("REMOVE") => at_snapshot.remove(&pk),
            _ => at_snapshot.insert(pk, r["dynamodb"]["NewImage"].clone()),
        };
    }
    assert!(at_snapshot.keys().all(|k| view.contains_key(k)), "an item of the snapshot's seq is missing");

    // Then exactly the change records after it, in order; replaying them over the snapshot
    // gives the table as it is now.
    let after: Vec<Value> = all.iter().filter(|r| seq(r) > snapshot_seq).cloned().collect();
    let streamed: Vec<Value> = objects(&s3, &bucket, &format!("cdc/{table}/"))
        .into_iter()
        .filter(|(k, _)| !k.contains("/snapshot/"))
        .flat_map(|(_, r)| r)
        .collect();
    assert_eq!(streamed, after);
    for r in &streamed {
        let pk = r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string();
        match r["eventName"].as_str() {
            Some("REMOVE") => view.remove(&pk),
            _ => view.insert(pk, r["dynamodb"]["NewImage"].clone()),
        };
    }
    let mut now: BTreeMap<String, Value> = BTreeMap::new();
    for r in &all {
        let pk = r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string();
        match r["eventName"].as_str() {
            Some("REMOVE") => now.remove(&pk),
            _ => now.insert(pk, r["dynamodb"]["NewImage"].clone()),
        };
    }
    assert_eq!(view, now);
}

#[tokio::test(flavor = "multi_thread")]
async fn configurations_are_validated_and_listed_without_secrets() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "cfg").await;
    let s3 = S3Service {
        endpoint: "http://127.0.0.1:9".into(),
        access_key: "ak".into(),
        secret_key: "very-secret".into(),
        region: "us-east-1".into(),
    };
    let bad = [
        (json!({"Batch": {"MaxRecords": 0}}), "Batch.MaxRecords"),
        (json!({"Retry": {"MaxBackoffMillis": 1, "InitialBackoffMillis": 100}}), "Retry.MaxBackoffMillis"),
        (json!({"Start": "tomorrow"}), "Start"),
        (json!({"S3": {"Bucket": "Not_A_Bucket"}}), "Bucket"),
        (json!({"S3": {"AllowHttp": false}}), "AllowHttp"),
        (json!({"Type": "opensearch", "S3": null, "OpenSearch": {}}), "OpenSearch"),
        (json!({"Surprise": 1}), "Surprise"),
    ];
    for (patch, field) in bad {
        let mut config = body(&s3, "bucket", &table, patch);
        if config["S3"].is_null() {
            config.as_object_mut().unwrap().remove("S3");
        }
        let (status, value) = put_connector(&server, "c", &config);
        assert_eq!(status, 400, "{field}: {value}");
        assert!(value["__type"].as_str().unwrap().ends_with("ValidationException"), "{value}");
        assert!(value["message"].as_str().unwrap().contains(field), "{field}: {value}");
    }
    let (status, value) = put_connector(&server, "c", &body(&s3, "bucket", "NoSuchTable", json!({})));
    assert_eq!(status, 404, "{value}");
    let (status, value) = put_connector(&server, "bad!name", &body(&s3, "bucket", &table, json!({})));
    assert_eq!(status, 400, "{value}");

    for name in ["c1", "c2", "c3"] {
        assert_eq!(put_connector(&server, name, &body(&s3, "bucket", &table, json!({}))).0, 201);
    }
    let (status, page) = call_json(server.endpoint(), "GET", "/v1/connectors?Limit=2", None);
    assert_eq!(status, 200);
    let names: Vec<&str> =
        page["Connectors"].as_array().unwrap().iter().map(|c| c["ConnectorName"].as_str().unwrap()).collect();
    assert_eq!(names, ["c1", "c2"]);
    let token = page["NextToken"].as_str().unwrap();
    let (_, page) =
        call_json(server.endpoint(), "GET", &format!("/v1/connectors?Limit=2&NextToken={token}"), None);
    assert_eq!(page["Connectors"][0]["ConnectorName"], "c3");
    assert!(page["NextToken"].is_null());
    let text = page.to_string();
    assert!(!text.contains("very-secret") && text.contains("****"), "{text}");
    let (status, value) = call_json(server.endpoint(), "DELETE", "/v1/connectors/c1", None);
    assert_eq!(status, 200, "{value}");
    let (status, _) = call_json(server.endpoint(), "GET", "/v1/connectors/c1", None);
    assert_eq!(status, 404);
}
