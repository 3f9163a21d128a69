//! Proves acknowledged writes survive a graceful restart and a `kill -9` in the middle of a
//! concurrent write load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use eddy_tests::{TestServer, hash_table, n, s};

#[tokio::test]
async fn writes_survive_graceful_restart() {
    let mut server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "restart").await;
    for i in 0..200 {
        client
            .put_item()
            .table_name(&table)
            .item("pk", s(format!("k{i}")))
            .item("v", n(i))
            .item("blob", s("z".repeat(i * 10)))
            .send()
            .await
            .unwrap();
    }
    // Overwrites and deletes must survive too.
    client.put_item().table_name(&table).item("pk", s("k0")).item("v", n(-1)).send().await.unwrap();
    client.delete_item().table_name(&table).key("pk", s("k1")).send().await.unwrap();

    server.stop();
    server.restart();
    let client = server.client();

    let desc = client.describe_table().table_name(&table).send().await.unwrap();
    assert_eq!(desc.table().and_then(|t| t.table_name()), Some(table.as_str()));
    for i in 0..200 {
        let got = client.get_item().table_name(&table).key("pk", s(format!("k{i}"))).send().await.unwrap();
        match i {
            0 => assert_eq!(got.item().and_then(|it| it.get("v")), Some(&n(-1))),
            1 => assert!(got.item().is_none(), "deleted item came back"),
            _ => {
                let it = got.item().unwrap_or_else(|| panic!("k{i} lost across restart"));
                assert_eq!(it.get("v"), Some(&n(i)));
                assert_eq!(it.get("blob"), Some(&s("z".repeat(i * 10))));
            }
        }
    }
    let count = client.scan().table_name(&table).select(Select::Count).send().await.unwrap().count();
    assert_eq!(count, 199);
}

#[tokio::test]
async fn tables_and_settings_survive_restart() {
    let mut server = TestServer::start();
    let client = server.client();
    let a = hash_table(&client, "keep-a").await;
    let b = hash_table(&client, "keep-b").await;
    client.delete_table().table_name(&b).send().await.unwrap();
    server.restart();
    let client = server.client();
    let names = client.list_tables().send().await.unwrap().table_names().to_vec();
    assert_eq!(names, vec![a]);
}

/// key -> value of every write the server acknowledged.
type Acked = Arc<Mutex<HashMap<String, u64>>>;

/// Runs writers against `client` until the server dies; each records what was acknowledged.
/// Values grow with each write of a writer, so a later write of a key has a larger value.
fn spawn_writers(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    round: u64,
    acked: &Acked,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..6u64)
        .map(|writer| {
            let client = client.clone();
            let table = table.to_string();
            let acked = Arc::clone(acked);
            tokio::spawn(async move {
                for i in 0u64.. {
                    let value = round * 1_000_000_000 + i * 10 + writer;
                    let result = if i % 5 == 4 {
                        // Some writes update an earlier key, so the last acknowledged value wins.
                        let earlier = format!("r{round}-w{writer}-{}", i - 1);
                        client
                            .update_item()
                            .table_name(&table)
                            .key("pk", s(&earlier))
                            .update_expression("SET v = :v")
                            .expression_attribute_values(":v", n(value))
                            .send()
                            .await
                            .map(|_| earlier)
                            .map_err(|e| format!("{e:?}"))
                    } else {
                        let key = format!("r{round}-w{writer}-{i}");
                        client
                            .put_item()
                            .table_name(&table)
                            .item("pk", s(&key))
                            .item("v", n(value))
                            .send()
                            .await
                            .map(|_| key)
                            .map_err(|e| format!("{e:?}"))
                    };
                    match result {
                        Ok(key) => {
                            acked.lock().unwrap().insert(key, value);
                        }
                        Err(_) => return,
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_mid_load() {
    let mut server = TestServer::start();
    let table = hash_table(&server.client(), "crash").await;
    let acked: Acked = Arc::default();

    for round in 0..3u64 {
        let client = server.client();
        let before = acked.lock().unwrap().len();
        let writers = spawn_writers(&client, &table, round, &acked);
        // Let the load build up, then pull the plug at a different point each round.
        let target = before + 150 + 100 * round as usize;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while acked.lock().unwrap().len() < target && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill9();
        for w in writers {
            tokio::time::timeout(Duration::from_secs(70), w)
                .await
                .expect("writer stops after the kill")
                .unwrap();
        }
        let written = acked.lock().unwrap().len() - before;
        eprintln!("round {round}: {written} acknowledged writes before the kill");
        assert!(written >= 50, "round {round}: too few writes before the kill to mean anything: {written}");

        server.restart();
        let client = server.client();
        let snapshot = acked.lock().unwrap().clone();
        let mut lost = Vec::new();
        for (key, value) in &snapshot {
            let got = client.get_item().table_name(&table).key("pk", s(key)).send().await.unwrap();
            match got.item().and_then(|i| i.get("v")) {
                Some(AttributeValue::N(v)) if v.parse::<u64>().ok() == Some(*value) => {}
                // A later, unacknowledged update of the same key may also have committed.
                Some(AttributeValue::N(v)) if v.parse::<u64>().is_ok_and(|f| f > *value) => {}
                other => lost.push(format!("{key}: want {value}, got {other:?}")),
            }
        }
        assert!(
            lost.is_empty(),
            "round {round}: {} of {} acknowledged writes lost: {:?}",
            lost.len(),
            snapshot.len(),
            &lost[..lost.len().min(10)]
        );
    }

    // The server still takes writes after recovery.
    server.client().put_item().table_name(&table).item("pk", s("after")).send().await.unwrap();
}

#[tokio::test]
async fn table_settings_and_tags_survive_restart() {
    let mut server = TestServer::start();
    let client = server.client();
    let table = eddy_tests::unique_table_name("settings");
    eddy_tests::create_table(
        &client,
        &table,
        ("pk", aws_sdk_dynamodb::types::ScalarAttributeType::S),
        Some(("sk", aws_sdk_dynamodb::types::ScalarAttributeType::N)),
    )
    .await;
    let arn = format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}");
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(aws_sdk_dynamodb::types::Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap();
    let before = client.describe_table().table_name(&table).send().await.unwrap();
    let before = before.table().unwrap().clone();

    server.restart();
    let client = server.client();
    let after = client.describe_table().table_name(&table).send().await.unwrap();
    let after = after.table().unwrap();
    assert_eq!(after.key_schema(), before.key_schema());
    assert_eq!(after.table_arn(), before.table_arn());
    assert_eq!(after.creation_date_time(), before.creation_date_time());
    assert_eq!(
        after.billing_mode_summary().and_then(|b| b.billing_mode()),
        before.billing_mode_summary().and_then(|b| b.billing_mode())
    );
    let tags = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, vec![("k", "v")]);
}
