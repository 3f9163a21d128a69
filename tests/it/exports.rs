//! Table export to S3 (MinIO) in DynamoDB's export format: the data files hold exactly the
//! table as of the export's snapshot, even while writes continue; the manifests, item counts,
//! MD5 checksums and recorded sequence number agree; DescribeExport and ListExports show it
//! through the AWS SDK; the REST API takes its own credentials; failures carry a failure code.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ExportStatus, PutRequest, WriteRequest};
use base64::Engine as _;
use eddy_tests::rest::call_json;
use eddy_tests::s3::S3Service as S3;
use eddy_tests::{TestServer, b, hash_table, item, n, s};
use md5::{Digest, Md5};
use serde_json::{Value, json};

/// How long an export may take in these tests.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(120);

/// The server environment that points DynamoDB API exports at this MinIO.
fn server_env(s3: &S3) -> Vec<(&'static str, String)> {
    vec![
        ("EDDY_EXPORT_S3_ENDPOINT", s3.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", s3.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret_key.clone()),
        ("AWS_REGION", s3.region.clone()),
    ]
}

fn start_server(s3: &S3, extra_env: &[(&'static str, String)]) -> TestServer {
    let mut env = server_env(s3);
    env.extend(extra_env.iter().cloned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_with_env(&[], &env)
}

/// What an export wrote, read back and checked against its manifests.
struct Exported {
    summary: Value,
    /// pk → the item as DynamoDB JSON.
    items: BTreeMap<String, Value>,
    data_files: usize,
}

/// Reads an export's manifests and data files, checking counts and MD5 checksums.
fn read_export(s3: &S3, bucket: &str, manifest_key: &str) -> Exported {
    let dir = manifest_key.trim_end_matches("manifest-summary.json");
    assert!(s3.get(bucket, &format!("{dir}_started")).is_empty(), "_started is an empty marker");
    let summary_bytes = s3.get(bucket, manifest_key);
    let summary: Value = serde_json::from_slice(&summary_bytes).expect("manifest-summary.json parses");
    let checksum = String::from_utf8(s3.get(bucket, &format!("{dir}manifest-summary.checksum"))).unwrap();
    assert_eq!(checksum, hex(&Md5::digest(&summary_bytes)));
    let files_key = summary["manifestFilesS3Key"].as_str().expect("manifestFilesS3Key");
    assert_eq!(files_key, format!("{dir}manifest-files.json"));
    let files = String::from_utf8(s3.get(bucket, files_key)).expect("manifest-files.json is text");
    let mut items = BTreeMap::new();
    let mut data_files = 0;
    let mut counted = 0;
    for line in files.lines() {
        let entry: Value = serde_json::from_str(line).expect("manifest-files.json line parses");
        let key = entry["dataFileS3Key"].as_str().expect("dataFileS3Key");
        assert!(key.starts_with(&format!("{dir}data/")) && key.ends_with(".json.gz"), "{key}");
        let gz = s3.get(bucket, key);
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&gz));
        assert_eq!(entry["md5Checksum"], json!(md5), "md5Checksum of {key}");
        assert!(entry["etag"].as_str().is_some_and(|e| !e.is_empty() && !e.contains('"')), "{entry}");
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut text).expect("data file gunzips");
        let mut in_file = 0;
        for line in text.lines() {
            let object: Value = serde_json::from_str(line).expect("data line parses");
            let item = object
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get("Item"))
                .expect("{\"Item\": ...}");
            let pk = item["pk"]["S"].as_str().expect("pk").to_string();
            assert!(items.insert(pk.clone(), item.clone()).is_none(), "{pk} exported twice");
            in_file += 1;
        }
        assert_eq!(entry["itemCount"], json!(in_file), "itemCount of {key}");
        counted += in_file;
        data_files += 1;
    }
    assert_eq!(summary["itemCount"], json!(counted));
    // Nothing else under the export's directory: the marker, two manifests with their
    // checksums, and the data files.
    assert_eq!(s3.list(bucket, dir).len(), 5 + data_files, "{:?}", s3.list(bucket, dir));
    Exported { summary, items, data_files }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every change record of `table` from its creation, through a consumer: (seq, pk, new image).
fn change_records(server: &TestServer, consumer: &str) -> Vec<(u64, String, Option<Value>)> {
    let mut out = Vec::new();
    loop {
        let (status, body) = call_json(
            server.endpoint(),
            "GET",
            &format!("/v1/consumers/{consumer}/records?Limit=1000"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let records = body["Records"].as_array().expect("Records").clone();
        let Some(last) = records.last() else { return out };
        for record in &records {
            let seq = record["dynamodb"]["SequenceNumber"].as_str().expect("SequenceNumber");
            let pk = record["dynamodb"]["Keys"]["pk"]["S"].as_str().expect("pk").to_string();
            out.push((seq.parse().expect("seq"), pk, record["dynamodb"].get("NewImage").cloned()));
        }
        let checkpoint = json!({ "SequenceNumber": last["dynamodb"]["SequenceNumber"] }).to_string();
        let (status, body) = call_json(
            server.endpoint(),
            "POST",
            &format!("/v1/consumers/{consumer}/checkpoint"),
            Some(&checkpoint),
        );
        assert_eq!(status, 200, "{body}");
    }
}

fn row(i: u64, version: u64) -> std::collections::HashMap<String, AttributeValue> {
    item([
        ("pk", s(format!("p{i:05}"))),
        ("v", n(version)),
        ("text", s(format!("row {i} version {version} {}", "x".repeat((i % 50) as usize)))),
        ("bin", b(vec![(i % 256) as u8; 3])),
        ("flag", AttributeValue::Bool(i.is_multiple_of(2))),
        ("tags", AttributeValue::Ss(vec![format!("t{}", i % 3), "all".into()])),
        ("nested", AttributeValue::M(item([("n", n(i)), ("l", AttributeValue::L(vec![s("a"), n(1.5)]))]))),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_under_concurrent_writes_holds_exactly_its_snapshot() {
    let Some(s3) = S3::from_env() else { return };
    let bucket = s3.create_bucket("eddy-export-snapshot");
    // Small data files, so the export writes many and takes a while under the writes.
    let server = start_server(&s3, &[("EDDY_EXPORT_DATA_FILE_BYTES_MAX", "16384".into())]);
    let client = server.client();
    let table = hash_table(&client, "export").await;
    let consumer = format!("c-{table}");
    let (status, body) = call_json(
        server.endpoint(),
        "POST",
        "/v1/consumers",
        Some(
            &json!({"ConsumerName": consumer, "TableName": table, "StartingPosition": "TRIM_HORIZON"})
                .to_string(),
        ),
    );
    assert_eq!(status, 200, "{body}");
    const ROWS: u64 = 2000;
    for chunk in (0..ROWS).collect::<Vec<_>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|&i| {
                let put = PutRequest::builder().set_item(Some(row(i, 0))).build().unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        let out = client.batch_write_item().request_items(&table, writes).send().await.unwrap();
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }

    // Writes that go on before, during and after the export: updates, new items, deletes.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (client, table, stop, written) = (client.clone(), table.clone(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match i % 4 {
                    0 => {
                        let key = item([("pk", s(format!("p{:05}", (i * 7) % ROWS)))]);
                        client.delete_item().table_name(&table).set_key(Some(key)).send().await.unwrap();
                    }
                    1 => {
                        client
                            .put_item()
                            .table_name(&table)
                            .set_item(Some(row(ROWS + i, 1)))
                            .send()
                            .await
                            .unwrap();
                    }
                    _ => {
                        client
                            .put_item()
                            .table_name(&table)
                            .set_item(Some(row(i % ROWS, i)))
                            .send()
                            .await
                            .unwrap();
                    }
                }
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let described = client.describe_table().table_name(&table).send().await.unwrap();
    let table_arn = described.table().and_then(|t| t.table_arn()).unwrap().to_string();
    let started = client
        .export_table_to_point_in_time()
        .table_arn(&table_arn)
        .s3_bucket(&bucket)
        .s3_prefix("snapshots/run1")
        .send()
        .await
        .unwrap();
    let description = started.export_description().expect("ExportDescription");
    assert_eq!(description.export_status(), Some(&ExportStatus::InProgress));
    let arn = description.export_arn().expect("ExportArn").to_string();
    assert!(arn.starts_with(&format!("{table_arn}/export/")), "{arn}");
    let written_at_start = written.load(Ordering::Relaxed);

    // Progress: IN_PROGRESS with a growing ItemCount, then COMPLETED.
    let deadline = Instant::now() + EXPORT_TIMEOUT;
    let mut last_count = 0;
    let completed = loop {
        let out = client.describe_export().export_arn(&arn).send().await.unwrap();
        let d = out.export_description().expect("ExportDescription").clone();
        let count = d.item_count().unwrap_or(0);
        assert!(count >= last_count, "ItemCount went back from {last_count} to {count}");
        last_count = count;
        match d.export_status() {
            Some(ExportStatus::InProgress) => {}
            Some(ExportStatus::Completed) => break d,
            other => panic!("export ended {other:?}: {:?} {:?}", d.failure_code(), d.failure_message()),
        }
        assert!(Instant::now() < deadline, "export did not finish in {EXPORT_TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Keep writing a little after the export, then stop.
    let target = written.load(Ordering::Relaxed) + 20;
    while written.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(written.load(Ordering::Relaxed) > written_at_start, "writes went on during the export");

    let manifest_key = completed.export_manifest().expect("ExportManifest").to_string();
    assert!(manifest_key.starts_with("snapshots/run1/AWSDynamoDB/"), "{manifest_key}");
    let exported = read_export(&s3, &bucket, &manifest_key);
    assert!(exported.data_files > 1, "small data files: {} written", exported.data_files);
    let summary = &exported.summary;
    assert_eq!(summary["exportArn"], json!(arn));
    assert_eq!(summary["tableArn"], json!(table_arn));
    assert_eq!(summary["s3Bucket"], json!(bucket));
    assert_eq!(summary["s3Prefix"], json!("snapshots/run1"));
    assert_eq!(summary["outputFormat"], json!("DYNAMODB_JSON"));
    assert_eq!(summary["version"], json!("2020-06-30"));
    for field in ["startTime", "endTime", "exportTime", "tableId", "s3SseAlgorithm"] {
        assert!(summary[field].is_string(), "{field} in {summary}");
    }
    assert!(summary["billedSizeBytes"].as_u64().is_some_and(|b| b > 0));
    assert_eq!(completed.item_count(), Some(exported.items.len() as i64));
    assert_eq!(summary["itemCount"], json!(exported.items.len()));

    // The snapshot's sequence number, in the manifest and the description alike.
    let sequence = summary["eddySequenceNumber"].as_str().expect("eddySequenceNumber").to_string();
    let (status, rest) = call_json(
        server.endpoint(),
        "GET",
        &format!("/v1/tables/{table}/exports/{}", arn.rsplit('/').next().unwrap()),
        None,
    );
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["ExportSequenceNumber"], json!(sequence));
    let snapshot_seq: u64 = sequence.parse().unwrap();

    // The table at that sequence number: every change up to it replayed, none after.
    let records = change_records(&server, &consumer);
    let mut at_snapshot: BTreeMap<String, Value> = BTreeMap::new();
    let mut after = 0;
    for (seq, pk, image) in &records {
        if *seq > snapshot_seq {
            after += 1;
            continue;
        }
        match image {
            Some(image) => at_snapshot.insert(pk.clone(), image.clone()),
            None => at_snapshot.remove(pk),
        };
    }
    assert!(records.iter().any(|(seq, ..)| *seq == snapshot_seq), "the sequence number is a record's");
    assert!(after > 0, "some writes committed after the snapshot");
    assert!(records.len() as u64 - after > ROWS, "some concurrent writes committed before the snapshot");
    assert_eq!(exported.items.len(), at_snapshot.len());
    for (pk, image) in &at_snapshot {
        assert_eq!(exported.items.get(pk), Some(image), "item {pk} as of the snapshot");
    }

    // ListExports through the SDK, for the table and for all tables.
    let listed = client.list_exports().table_arn(&table_arn).send().await.unwrap();
    let summaries = listed.export_summaries();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].export_arn(), Some(arn.as_str()));
    assert_eq!(summaries[0].export_status(), Some(&ExportStatus::Completed));
    let all = client.list_exports().send().await.unwrap();
    assert!(all.export_summaries().iter().any(|e| e.export_arn() == Some(arn.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_export_takes_credentials_survives_restart_and_failures_have_codes() {
    let Some(s3) = S3::from_env() else { return };
    let bucket = s3.create_bucket("eddy-export-rest");
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "export-rest").await;
    for i in 0..10 {
        client.put_item().table_name(&table).set_item(Some(row(i, 0))).send().await.unwrap();
    }
    let start = |bucket: &str, secret: &str| {
        json!({
            "S3Bucket": bucket, "S3Prefix": "rest", "S3Endpoint": s3.endpoint, "S3Region": s3.region,
            "AccessKeyId": s3.access_key, "SecretAccessKey": secret, "ExportFormat": "DYNAMODB_JSON",
        })
        .to_string()
    };
    let path = format!("/v1/tables/{table}/export");
    let (status, body) = call_json(server.endpoint(), "POST", &path, Some(&start(&bucket, &s3.secret_key)));
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["ExportStatus"], json!("IN_PROGRESS"));
    assert!(!body.to_string().contains(&s3.secret_key), "credentials are never echoed");
    let id = body["ExportId"].as_str().unwrap().to_string();
    let done = wait(&server, &table, &id);
    assert_eq!(done["ExportStatus"], json!("COMPLETED"), "{done}");
    let exported = read_export(&s3, &bucket, done["ExportManifest"].as_str().unwrap());
    assert_eq!(exported.items.len(), 10);
    assert_eq!(exported.data_files, 1);

    // A missing bucket and a wrong secret fail the export with a code, not the request.
    let (status, body) =
        call_json(server.endpoint(), "POST", &path, Some(&start("no-such-bucket-eddy", &s3.secret_key)));
    assert_eq!(status, 202, "{body}");
    let failed = wait(&server, &table, body["ExportId"].as_str().unwrap());
    assert_eq!(failed["ExportStatus"], json!("FAILED"), "{failed}");
    assert_eq!(failed["FailureCode"], json!("S3NoSuchBucket"), "{failed}");
    let (status, body) = call_json(server.endpoint(), "POST", &path, Some(&start(&bucket, "wrong-secret")));
    assert_eq!(status, 202, "{body}");
    let failed = wait(&server, &table, body["ExportId"].as_str().unwrap());
    assert_eq!(failed["FailureCode"], json!("S3AccessDenied"), "{failed}");

    // Records are durable: after a restart the completed export reads the same.
    server.restart();
    let (status, again) =
        call_json(server.endpoint(), "GET", &format!("/v1/tables/{table}/exports/{id}"), None);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, done);
    let (status, listed) =
        call_json(server.endpoint(), "GET", &format!("/v1/tables/{table}/exports?Limit=2"), None);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["Exports"].as_array().map(Vec::len), Some(2));
    assert!(listed["NextToken"].is_string(), "{listed}");

    // Bad requests.
    let (status, body) =
        call_json(server.endpoint(), "POST", "/v1/tables/missing/export", Some(&start(&bucket, "x")));
    assert_eq!(status, 404, "{body}");
    let (status, body) =
        call_json(server.endpoint(), "GET", &format!("/v1/tables/{table}/exports/nope"), None);
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn point_in_time_and_unknown_exports_are_refused() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "export-refused").await;
    let described = client.describe_table().table_name(&table).send().await.unwrap();
    let table_arn = described.table().and_then(|t| t.table_arn()).unwrap().to_string();
    let err = client
        .export_table_to_point_in_time()
        .table_arn(&table_arn)
        .s3_bucket("bucket")
        .export_time(aws_sdk_dynamodb::primitives::DateTime::from_secs(1_700_000_000))
        .send()
        .await
        .unwrap_err();
    let message = eddy_tests::expect_validation(Err::<(), _>(err));
    assert!(message.contains("point-in-time recovery"), "{message}");
    // Without S3 credentials in its environment (the server inherits the test's), the server
    // cannot serve the DynamoDB API form.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let err = client
            .export_table_to_point_in_time()
            .table_arn(&table_arn)
            .s3_bucket("bucket")
            .send()
            .await
            .unwrap_err();
        let message = eddy_tests::expect_validation(Err::<(), _>(err));
        assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");
    }
    let err = client
        .describe_export()
        .export_arn(format!("{table_arn}/export/01700000000000-deadbeef"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(eddy_tests::error_code(&err), Some("ExportNotFoundException"));
}

fn wait(server: &TestServer, table: &str, id: &str) -> Value {
    let deadline = Instant::now() + EXPORT_TIMEOUT;
    loop {
        let (status, body) =
            call_json(server.endpoint(), "GET", &format!("/v1/tables/{table}/exports/{id}"), None);
        assert_eq!(status, 200, "{body}");
        if body["ExportStatus"] != json!("IN_PROGRESS") {
            return body;
        }
        assert!(Instant::now() < deadline, "export {id} did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}
