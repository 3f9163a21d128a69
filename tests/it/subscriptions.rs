//! HTTP streaming subscriptions (`GET /v1/tables/{table}/stream`) and `eddy tail`: start
//! positions, SSE ids and Last-Event-ID resume without gap or duplicate, NDJSON, filters,
//! heartbeats, a slow subscriber that misses nothing, and the end event when the table goes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use eddy_tests::rest::{EventStream, call};
use eddy_tests::{TestServer, error_type, hash_table, item, s};

const WAIT: Duration = Duration::from_secs(20);

async fn put(client: &aws_sdk_dynamodb::Client, table: &str, pk: &str) {
    client.put_item().table_name(table).set_item(Some(item([("pk", s(pk))]))).send().await.unwrap();
}

fn stream(server: &TestServer, table: &str, query: &str) -> EventStream {
    let stream = EventStream::open(server.endpoint(), &format!("/v1/tables/{table}/stream?{query}"), &[]);
    assert_eq!(stream.status, 200, "{}", stream.head);
    stream
}

/// The next `count` records' sequence numbers (as numbers), skipping heartbeats.
fn seqs(stream: &mut EventStream, count: usize) -> Vec<u64> {
    (0..count)
        .map(|_| {
            let event = stream.next_non_heartbeat(WAIT).expect("a record");
            assert_eq!(event.event.as_deref(), Some("record"), "{event:?}");
            let id = event.id.clone().expect("an id");
            assert_eq!(id.len(), 21);
            assert_eq!(event.json()["dynamodb"]["SequenceNumber"], id.as_str());
            id.parse().unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn start_positions_trim_horizon_latest_sequence_and_time() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-start").await;
    for i in 0..5 {
        put(&client, &table, &format!("a{i}")).await;
    }
    let mut from_start = stream(&server, &table, "from=TRIM_HORIZON");
    assert_eq!(seqs(&mut from_start, 5), vec![1, 2, 3, 4, 5]);
    let mut latest = stream(&server, &table, "");
    let mut at_seq = stream(&server, &table, "from=000000000000000000003");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let time = format!("{}Z", eddy_server::wire::time::iso8601_millis(after.as_millis() as u64));
    put(&client, &table, "b").await;
    let mut at_time = stream(&server, &table, &format!("from={time}"));
    assert_eq!(seqs(&mut latest, 1), vec![6]);
    assert_eq!(seqs(&mut at_seq, 4), vec![3, 4, 5, 6]);
    assert_eq!(seqs(&mut at_time, 1), vec![6]);
    assert_eq!(seqs(&mut from_start, 1), vec![6]);
    let record = stream(&server, &table, "from=6").next_non_heartbeat(WAIT).unwrap().json();
    assert_eq!(record["eventName"], "INSERT");
    assert_eq!(record["eventSource"], "aws:dynamodb");
    assert_eq!(record["dynamodb"]["Keys"]["pk"]["S"], "b");
    assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
}

#[tokio::test(flavor = "multi_thread")]
async fn last_event_id_resumes_without_gap_or_duplicate() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-resume").await;
    for i in 0..10 {
        put(&client, &table, &format!("k{i}")).await;
    }
    let mut first = stream(&server, &table, "from=trim_horizon");
    assert_eq!(seqs(&mut first, 4), vec![1, 2, 3, 4]);
    drop(first);
    for i in 10..15 {
        put(&client, &table, &format!("k{i}")).await;
    }
    // Last-Event-ID wins over from.
    let path = format!("/v1/tables/{table}/stream?from=latest");
    let mut resumed =
        EventStream::open(server.endpoint(), &path, &[("Last-Event-ID", "000000000000000000004")]);
    assert_eq!(resumed.status, 200);
    assert_eq!(seqs(&mut resumed, 11), (5..=15).collect::<Vec<_>>());
    put(&client, &table, "live").await;
    assert_eq!(seqs(&mut resumed, 1), vec![16]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ndjson_filters_and_heartbeats() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-ndjson").await;
    let filter = "%7B%22dynamodb%22%3A%7B%22Keys%22%3A%7B%22pk%22%3A%7B%22S%22%3A%5B%7B%22prefix%22%3A%22keep%22%7D%5D%7D%7D%7D%7D";
    let mut ndjson =
        stream(&server, &table, &format!("format=ndjson&from=trim_horizon&heartbeat_ms=50&filter={filter}"));
    assert!(ndjson.head.contains("application/x-ndjson"), "{}", ndjson.head);
    assert_eq!(ndjson.next_line(WAIT).as_deref(), Some(""), "an idle NDJSON stream sends empty lines");
    for pk in ["keep-1", "drop-1", "keep-2", "drop-2", "keep-3"] {
        put(&client, &table, pk).await;
    }
    let mut kept = Vec::new();
    while kept.len() < 3 {
        let line = ndjson.next_line(WAIT).expect("a line");
        if line.is_empty() {
            continue;
        }
        let record: serde_json::Value = serde_json::from_str(&line).unwrap();
        kept.push(record["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_string());
    }
    assert_eq!(kept, ["keep-1", "keep-2", "keep-3"]);

    let mut sse = stream(&server, &table, "heartbeat_ms=50");
    assert!(sse.head.contains("text/event-stream"), "{}", sse.head);
    let beat = sse.next_event(WAIT).expect("a heartbeat");
    assert_eq!(beat.comment.as_deref(), Some("heartbeat"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_and_unknown_tables_are_refused() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-bad").await;
    for query in ["from=yesterday", "format=xml", "heartbeat_ms=1", "filter=%7B", "nope=1", "from=99"] {
        let (status, body) =
            call(server.endpoint(), "GET", &format!("/v1/tables/{table}/stream?{query}"), None);
        assert_eq!(status, 400, "{query}: {body}");
        assert!(error_type(&body).ends_with("#ValidationException"), "{query}: {body}");
    }
    let path = format!("/v1/tables/{table}/stream");
    let bad_id = EventStream::open(server.endpoint(), &path, &[("Last-Event-ID", "abc")]);
    assert_eq!(bad_id.status, 400);
    let (status, body) = call(server.endpoint(), "GET", "/v1/tables/missing/stream", None);
    assert_eq!(status, 404, "{body}");
    assert!(error_type(&body).ends_with("#ResourceNotFoundException"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_subscriber_receives_every_record_in_order_and_never_holds_up_writers() {
    const RECORDS: usize = 3000;
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-slow").await;
    let mut slow = stream(&server, &table, "from=latest");
    // The subscriber reads nothing while every write is acknowledged: the writes cannot wait for
    // it, and its records (about 3 MB) are far more than the socket buffers hold.
    let padding = "x".repeat(1000);
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        let table = table.clone();
        let padding = padding.clone();
        writers.push(tokio::spawn(async move {
            for batch in 0..RECORDS / 4 / 25 {
                let requests = (0..25)
                    .map(|i| {
                        let pk = format!("w{w}-{batch}-{i}");
                        let put = PutRequest::builder()
                            .set_item(Some(item([("pk", s(pk)), ("pad", s(padding.clone()))])))
                            .build()
                            .unwrap();
                        WriteRequest::builder().put_request(put).build()
                    })
                    .collect::<Vec<_>>();
                let out = client.batch_write_item().request_items(&table, requests).send().await.unwrap();
                assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let got = tokio::task::spawn_blocking(move || {
        let mut got = Vec::with_capacity(RECORDS);
        while got.len() < RECORDS {
            let event = slow.next_non_heartbeat(WAIT).expect("every record arrives");
            got.push(event.id.unwrap().parse::<u64>().unwrap());
        }
        got
    })
    .await
    .unwrap();
    assert_eq!(got, (1..=RECORDS as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_table_ends_the_subscription_with_an_end_event() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-delete").await;
    put(&client, &table, "a").await;
    let mut sse = stream(&server, &table, "from=trim_horizon");
    let mut ndjson = stream(&server, &table, "from=trim_horizon&format=ndjson");
    assert_eq!(seqs(&mut sse, 1), vec![1]);
    client.delete_table().table_name(&table).send().await.unwrap();
    let end = sse.next_non_heartbeat(WAIT).expect("an end event");
    assert_eq!(end.event.as_deref(), Some("end"), "{end:?}");
    assert_eq!(end.json()["Reason"], "TableDeleted");
    assert_eq!(end.json()["TableName"], table.as_str());
    assert!(sse.next_event(Duration::from_secs(2)).is_none(), "the stream ends after the end event");
    ndjson.next_line(WAIT).expect("the record");
    let last: serde_json::Value =
        serde_json::from_str(&ndjson.next_line(WAIT).expect("an end line")).unwrap();
    assert_eq!(last["End"]["Reason"], "TableDeleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn eddy_tail_json_prints_records_live() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-tail").await;
    put(&client, &table, "before").await;
    let mut tail = Command::new(env!("CARGO_BIN_EXE_eddy-it"))
        .args(["tail", &table, "--from", "trim_horizon", "--json", "--endpoint", server.endpoint()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn eddy tail");
    let stdout = tail.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first: serde_json::Value = serde_json::from_str(&rx.recv_timeout(WAIT).unwrap()).unwrap();
    assert_eq!(first["dynamodb"]["Keys"]["pk"]["S"], "before");
    put(&client, &table, "after").await;
    client.delete_item().table_name(&table).key("pk", s("before")).send().await.unwrap();
    let second: serde_json::Value = serde_json::from_str(&rx.recv_timeout(WAIT).unwrap()).unwrap();
    let third: serde_json::Value = serde_json::from_str(&rx.recv_timeout(WAIT).unwrap()).unwrap();
    assert_eq!(second["eventName"], "INSERT");
    assert_eq!(second["dynamodb"]["SequenceNumber"], "000000000000000000002");
    assert_eq!(third["eventName"], "REMOVE");
    client.delete_table().table_name(&table).send().await.unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = tail.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "eddy tail did not exit after the table was deleted");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_the_server_ends_open_subscriptions() {
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "sub-stop").await;
    let mut sse = stream(&server, &table, "");
    // A graceful stop is not held open by the subscription (stop() panics after 30 s).
    server.stop();
    let end = sse.next_non_heartbeat(WAIT).expect("an end event");
    assert_eq!(end.event.as_deref(), Some("end"), "{end:?}");
    assert_eq!(end.json()["Reason"], "ServerShutdown");
}
