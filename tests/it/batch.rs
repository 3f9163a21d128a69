//! Proves BatchWriteItem and BatchGetItem apply puts, deletes and reads across tables within
//! DynamoDB's per-request limits, and reject oversized or duplicate batches.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use eddy_tests::{Item, TestServer, expect_validation, hash_table, item, n, s};

fn put(item: Item) -> WriteRequest {
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
}

fn delete(key: Item) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().unwrap())
        .build()
}

fn keys(keys: Vec<Item>) -> KeysAndAttributes {
    KeysAndAttributes::builder().set_keys(Some(keys)).build().unwrap()
}

fn pk_set(items: &[Item]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| match i.get("pk") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(v)) => v.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

async fn count(client: &Client, table: &str) -> i32 {
    client
        .scan()
        .table_name(table)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count()
}

#[tokio::test]
async fn batch_write_puts_and_deletes_up_to_25() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bw").await;
    let puts: Vec<WriteRequest> =
        (0..25).map(|i| put(item([("pk", s(format!("k{i}"))), ("v", n(i))]))).collect();
    let out = client.batch_write_item().request_items(&table, puts).send().await.unwrap();
    assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()), "{:?}", out.unprocessed_items());
    assert_eq!(count(&client, &table).await, 25);

    // Mixed: delete ten, overwrite five, add five.
    let mut mixed: Vec<WriteRequest> = (0..10).map(|i| delete(item([("pk", s(format!("k{i}")))]))).collect();
    mixed.extend((10..15).map(|i| put(item([("pk", s(format!("k{i}"))), ("v", n(i * 100))]))));
    mixed.extend((25..30).map(|i| put(item([("pk", s(format!("k{i}"))), ("v", n(i))]))));
    client.batch_write_item().request_items(&table, mixed).send().await.unwrap();
    assert_eq!(count(&client, &table).await, 20);
    let got = client.get_item().table_name(&table).key("pk", s("k12")).send().await.unwrap();
    assert_eq!(got.item().unwrap().get("v"), Some(&n(1200)));
    let got = client.get_item().table_name(&table).key("pk", s("k3")).send().await.unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn batch_write_of_26_requests_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bw26").await;
    let puts: Vec<WriteRequest> = (0..26).map(|i| put(item([("pk", s(format!("k{i}")))]))).collect();
    expect_validation(client.batch_write_item().request_items(&table, puts).send().await);
    assert_eq!(count(&client, &table).await, 0, "a rejected batch writes nothing");

    // The limit is per request, across tables.
    let other = hash_table(&client, "bw26b").await;
    let a: Vec<WriteRequest> = (0..13).map(|i| put(item([("pk", s(format!("a{i}")))]))).collect();
    let b: Vec<WriteRequest> = (0..13).map(|i| put(item([("pk", s(format!("b{i}")))]))).collect();
    expect_validation(
        client.batch_write_item().request_items(&table, a).request_items(&other, b).send().await,
    );
}

#[tokio::test]
async fn batch_write_with_duplicate_keys_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bwdup").await;
    let requests =
        vec![put(item([("pk", s("same")), ("v", n(1))])), put(item([("pk", s("same")), ("v", n(2))]))];
    expect_validation(client.batch_write_item().request_items(&table, requests).send().await);
    let requests = vec![put(item([("pk", s("same"))])), delete(item([("pk", s("same"))]))];
    expect_validation(client.batch_write_item().request_items(&table, requests).send().await);
    assert_eq!(count(&client, &table).await, 0);
}

#[tokio::test]
async fn batch_write_empty_or_invalid_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bwbad").await;
    expect_validation(client.batch_write_item().request_items(&table, vec![]).send().await);
    // A put missing the key.
    expect_validation(
        client.batch_write_item().request_items(&table, vec![put(item([("other", s("x"))]))]).send().await,
    );
    // A delete with a non-key attribute.
    expect_validation(
        client
            .batch_write_item()
            .request_items(&table, vec![delete(item([("pk", s("x")), ("v", n(1))]))])
            .send()
            .await,
    );
}

#[tokio::test]
async fn batch_write_to_missing_table_is_not_found() {
    let server = TestServer::start();
    let client = server.client();
    let err = client
        .batch_write_item()
        .request_items("no-such-table", vec![put(item([("pk", s("x"))]))])
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}

#[tokio::test]
async fn batch_get_reads_across_two_tables() {
    let server = TestServer::start();
    let client = server.client();
    let t1 = hash_table(&client, "bg1").await;
    let t2 = hash_table(&client, "bg2").await;
    for i in 0..5 {
        client
            .put_item()
            .table_name(&t1)
            .item("pk", s(format!("a{i}")))
            .item("v", n(i))
            .send()
            .await
            .unwrap();
        client
            .put_item()
            .table_name(&t2)
            .item("pk", s(format!("b{i}")))
            .item("w", n(i))
            .send()
            .await
            .unwrap();
    }
    let out = client
        .batch_get_item()
        .request_items(
            &t1,
            keys(vec![item([("pk", s("a1"))]), item([("pk", s("a3"))]), item([("pk", s("missing"))])]),
        )
        .request_items(
            &t2,
            KeysAndAttributes::builder()
                .keys(item([("pk", s("b0"))]))
                .keys(item([("pk", s("b4"))]))
                .projection_expression("w")
                .consistent_read(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_keys().is_none_or(|u| u.is_empty()));
    let responses = out.responses().expect("Responses");
    assert_eq!(pk_set(&responses[&t1]), ["a1", "a3"].into_iter().map(String::from).collect());
    let mut ws: Vec<Item> = responses[&t2].clone();
    ws.sort_by_key(|i| format!("{:?}", i.get("w")));
    assert_eq!(ws, vec![item([("w", n(0))]), item([("w", n(4))])]);
}

#[tokio::test]
async fn batch_get_allows_100_keys_and_rejects_101() {
    let server = TestServer::start();
    let client = server.client();
    let t1 = hash_table(&client, "bg100a").await;
    let t2 = hash_table(&client, "bg100b").await;
    for chunk in 0..4 {
        let puts: Vec<WriteRequest> =
            (chunk * 25..chunk * 25 + 25).map(|i| put(item([("pk", s(format!("k{i}")))]))).collect();
        client.batch_write_item().request_items(&t1, puts).send().await.unwrap();
    }
    let hundred: Vec<Item> = (0..100).map(|i| item([("pk", s(format!("k{i}")))])).collect();
    let out = client.batch_get_item().request_items(&t1, keys(hundred.clone())).send().await.unwrap();
    let mut got = out.responses().and_then(|r| r.get(&t1)).map(|v| v.len()).unwrap_or(0);
    // A server may return part of a batch as UnprocessedKeys; anything returned must be real.
    if let Some(unprocessed) = out.unprocessed_keys().and_then(|u| u.get(&t1)) {
        got += unprocessed.keys().len();
    }
    assert_eq!(got, 100);

    let mut too_many = hundred.clone();
    too_many.push(item([("pk", s("k100"))]));
    expect_validation(client.batch_get_item().request_items(&t1, keys(too_many)).send().await);

    // The limit counts keys across all tables in the request.
    expect_validation(
        client
            .batch_get_item()
            .request_items(&t1, keys(hundred))
            .request_items(&t2, keys(vec![item([("pk", s("x"))])]))
            .send()
            .await,
    );
}

#[tokio::test]
async fn batch_get_with_duplicate_keys_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bgdup").await;
    expect_validation(
        client
            .batch_get_item()
            .request_items(&table, keys(vec![item([("pk", s("a"))]), item([("pk", s("a"))])]))
            .send()
            .await,
    );
}

#[tokio::test]
async fn batch_get_from_missing_table_is_not_found() {
    let server = TestServer::start();
    let client = server.client();
    let err = client
        .batch_get_item()
        .request_items("no-such-table", keys(vec![item([("pk", s("a"))])]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}

#[tokio::test]
async fn batch_get_over_16_mb_returns_unprocessed_keys() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bg16").await;
    let blob = "x".repeat(300 * 1024);
    // 60 items of 300 KB is about 18 MB, more than one BatchGetItem response may carry.
    for chunk in 0..6 {
        let puts: Vec<WriteRequest> = (chunk * 10..chunk * 10 + 10)
            .map(|i| put(item([("pk", s(format!("k{i:02}"))), ("d", s(blob.clone()))])))
            .collect();
        client.batch_write_item().request_items(&table, puts).send().await.unwrap();
    }
    let all: Vec<Item> = (0..60).map(|i| item([("pk", s(format!("k{i:02}")))])).collect();
    let mut pending = keys(all);
    let mut seen = BTreeSet::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let out = client.batch_get_item().request_items(&table, pending.clone()).send().await.unwrap();
        let got = out.responses().and_then(|r| r.get(&table)).cloned().unwrap_or_default();
        assert!(got.len() * 300 * 1024 <= 16 * 1024 * 1024, "response of {} items exceeds 16 MB", got.len());
        for pk in pk_set(&got) {
            assert!(seen.insert(pk.clone()), "{pk} returned twice");
        }
        match out.unprocessed_keys().and_then(|u| u.get(&table)) {
            Some(rest) if !rest.keys().is_empty() => pending = rest.clone(),
            _ => break,
        }
        assert!(rounds < 10, "unprocessed keys never drain");
    }
    assert!(rounds >= 2, "18 MB cannot come back in one response");
    assert_eq!(seen.len(), 60);
}
