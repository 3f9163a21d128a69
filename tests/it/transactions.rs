//! Proves TransactWriteItems is all or nothing (cancellation reasons in request order, the
//! failing item returned on request), ClientRequestToken retries are idempotent, and
//! TransactGetItems reads one snapshot that concurrent transactions never break.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Get, Put, ReturnValuesOnConditionCheckFailure, TransactGetItem, TransactWriteItem, Update,
};
use eddy_tests::{Item, TestServer, expect_error, expect_validation, hash_table, item, n, s};

fn put(table: &str, item: Item) -> Put {
    Put::builder().table_name(table).set_item(Some(item)).build().unwrap()
}

fn add(table: &str, pk: &str, by: i64) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(pk))
        .update_expression("ADD c :d")
        .expression_attribute_values(":d", n(by))
        .build()
        .unwrap();
    TransactWriteItem::builder().update(update).build()
}

fn get(table: &str, pk: &str) -> TransactGetItem {
    TransactGetItem::builder().get(Get::builder().table_name(table).key("pk", s(pk)).build().unwrap()).build()
}

async fn counter(client: &Client, table: &str, pk: &str) -> Option<String> {
    let out = client.get_item().table_name(table).key("pk", s(pk)).send().await.unwrap();
    out.item().and_then(|i| i.get("c")).map(|v| v.as_n().unwrap().clone())
}

#[tokio::test]
async fn one_failed_condition_cancels_the_whole_transaction() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "tx").await;
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item([("pk", s("a")), ("v", n(1))])))
        .send()
        .await
        .unwrap();

    let failing = Put::builder()
        .table_name(&table)
        .set_item(Some(item([("pk", s("a")), ("v", n(2))])))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .unwrap();
    let result = client
        .transact_write_items()
        .transact_items(add(&table, "b", 1))
        .transact_items(TransactWriteItem::builder().put(failing).build())
        .transact_items(add(&table, "c", 1))
        .send()
        .await;
    let err = result.unwrap_err().into_service_error();
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = err else {
        panic!("expected TransactionCanceledException, got {err:?}")
    };
    assert_eq!(
        cancelled.message(),
        Some(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]"
        )
    );
    let reasons = cancelled.cancellation_reasons();
    let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or_default()).collect();
    assert_eq!(codes, ["None", "ConditionalCheckFailed", "None"]);
    assert_eq!(reasons[0].message(), None);
    assert_eq!(reasons[1].message(), Some("The conditional request failed"));
    assert_eq!(reasons[1].item().and_then(|i| i.get("v")), Some(&n(1)), "ALL_OLD returns the item");
    assert_eq!(reasons[0].item(), None);

    assert_eq!(counter(&client, &table, "b").await, None, "nothing was written");
    assert_eq!(counter(&client, &table, "c").await, None, "nothing was written");
    let a = client.get_item().table_name(&table).key("pk", s("a")).send().await.unwrap();
    assert_eq!(a.item().and_then(|i| i.get("v")), Some(&n(1)));
}

#[tokio::test]
async fn all_passing_actions_commit_together_and_a_condition_check_writes_nothing() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "tx").await;
    let other = hash_table(&client, "tx2").await;
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item([("pk", s("a")), ("v", n(1))])))
        .send()
        .await
        .unwrap();

    let check = ConditionCheck::builder()
        .table_name(&table)
        .key("pk", s("a"))
        .condition_expression("v = :one")
        .expression_attribute_values(":one", n(1))
        .build()
        .unwrap();
    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().condition_check(check.clone()).build())
        .send()
        .await
        .unwrap();
    let a = client.get_item().table_name(&table).key("pk", s("a")).send().await.unwrap();
    assert_eq!(a.item().cloned(), Some(item([("pk", s("a")), ("v", n(1))])));

    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .transact_items(TransactWriteItem::builder().put(put(&other, item([("pk", s("x"))]))).build())
        .transact_items(add(&table, "b", 5))
        .send()
        .await
        .unwrap();
    assert_eq!(counter(&client, &table, "b").await.as_deref(), Some("5"));
    let x = client.get_item().table_name(&other).key("pk", s("x")).send().await.unwrap();
    assert!(x.item().is_some());
}

#[tokio::test]
async fn two_actions_on_one_item_and_more_than_100_actions_are_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "tx").await;

    let message = expect_validation(
        client
            .transact_write_items()
            .transact_items(add(&table, "a", 1))
            .transact_items(add(&table, "a", 2))
            .send()
            .await,
    );
    assert_eq!(message, "Transaction request cannot include multiple operations on one item");

    let many: Vec<_> = (0..101).map(|i| add(&table, &format!("k{i}"), 1)).collect();
    let message =
        expect_validation(client.transact_write_items().set_transact_items(Some(many)).send().await);
    assert!(message.contains("Member must have length less than or equal to 100"), "{message}");
    assert_eq!(counter(&client, &table, "k0").await, None);

    let gets: Vec<_> = (0..101).map(|i| get(&table, &format!("k{i}"))).collect();
    let message = expect_validation(client.transact_get_items().set_transact_items(Some(gets)).send().await);
    assert!(message.contains("Member must have length less than or equal to 100"), "{message}");
}

#[tokio::test]
async fn a_retry_with_the_same_token_writes_once_and_a_different_request_is_a_mismatch() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "tx").await;
    for _ in 0..3 {
        client
            .transact_write_items()
            .client_request_token("token-1")
            .transact_items(add(&table, "a", 1))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(counter(&client, &table, "a").await.as_deref(), Some("1"), "the retries wrote nothing");

    let result = client
        .transact_write_items()
        .client_request_token("token-1")
        .transact_items(add(&table, "a", 2))
        .send()
        .await;
    expect_error(result, "IdempotentParameterMismatchException");
    assert_eq!(counter(&client, &table, "a").await.as_deref(), Some("1"));

    client
        .transact_write_items()
        .client_request_token("token-2")
        .transact_items(add(&table, "a", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(counter(&client, &table, "a").await.as_deref(), Some("2"), "a new token is a new request");
}

#[tokio::test]
async fn transact_get_items_returns_items_in_request_order() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "tx").await;
    for (pk, v) in [("a", 1), ("b", 2)] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s(pk)), ("v", n(v)), ("w", s("x"))])))
            .send()
            .await
            .unwrap();
    }
    let projected = TransactGetItem::builder()
        .get(
            Get::builder()
                .table_name(&table)
                .key("pk", s("a"))
                .projection_expression("#v")
                .expression_attribute_names("#v", "v")
                .build()
                .unwrap(),
        )
        .build();
    let out = client
        .transact_get_items()
        .transact_items(get(&table, "b"))
        .transact_items(get(&table, "missing"))
        .transact_items(projected)
        .send()
        .await
        .unwrap();
    let responses = out.responses();
    assert_eq!(responses.len(), 3);
    assert_eq!(responses[0].item().and_then(|i| i.get("v")), Some(&n(2)));
    assert_eq!(responses[1].item(), None);
    assert_eq!(responses[2].item().cloned(), Some(item([("v", n(1))])));

    let message = expect_validation(
        client
            .transact_get_items()
            .transact_items(get(&table, "a"))
            .transact_items(get(&table, "a"))
            .send()
            .await,
    );
    assert_eq!(message, "Transaction request cannot include multiple operations on one item");
}

/// One transfer of `amount` from `from` to `to`, refused when `from` would go negative.
fn transfer(table: &str, from: &str, to: &str, amount: i64) -> Vec<TransactWriteItem> {
    let debit = Update::builder()
        .table_name(table)
        .key("pk", s(from))
        .update_expression("SET v = v - :d")
        .condition_expression("v >= :d")
        .expression_attribute_values(":d", n(amount))
        .build()
        .unwrap();
    let credit = Update::builder()
        .table_name(table)
        .key("pk", s(to))
        .update_expression("SET v = v + :d")
        .expression_attribute_values(":d", n(amount))
        .build()
        .unwrap();
    vec![
        TransactWriteItem::builder().update(debit).build(),
        TransactWriteItem::builder().update(credit).build(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transfers_never_show_a_broken_sum_to_transact_get_items() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "tx").await;
    for pk in ["x", "y"] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s(pk)), ("v", n(50))])))
            .send()
            .await
            .unwrap();
    }
    let committed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for task in 0..4i64 {
        let (client, table, committed) = (client.clone(), table.clone(), Arc::clone(&committed));
        writers.push(tokio::spawn(async move {
            for i in 0..40i64 {
                let (from, to) = if (task + i) % 2 == 0 { ("x", "y") } else { ("y", "x") };
                let result = client
                    .transact_write_items()
                    .set_transact_items(Some(transfer(&table, from, to, 1 + (task * 7 + i) % 30)))
                    .send()
                    .await;
                match result {
                    Ok(_) => {
                        committed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let e = e.into_service_error();
                        assert!(e.is_transaction_canceled_exception(), "{e:?}");
                    }
                }
            }
        }));
    }
    let reader = {
        let (client, table, done) = (client.clone(), table.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) || reads == 0 {
                let out = client
                    .transact_get_items()
                    .transact_items(get(&table, "x"))
                    .transact_items(get(&table, "y"))
                    .send()
                    .await
                    .unwrap();
                let sum: i64 = out
                    .responses()
                    .iter()
                    .map(|r| {
                        r.item().and_then(|i| i.get("v")).unwrap().as_n().unwrap().parse::<i64>().unwrap()
                    })
                    .sum();
                assert_eq!(sum, 100, "a reader saw half a transfer");
                reads += 1;
            }
            reads
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.await.unwrap();
    assert!(reads > 0);
    assert!(committed.load(Ordering::Relaxed) > 0, "some transfers committed");
    let x = client.get_item().table_name(&table).key("pk", s("x")).send().await.unwrap();
    let y = client.get_item().table_name(&table).key("pk", s("y")).send().await.unwrap();
    let value =
        |i: Option<&Item>| i.and_then(|i| i.get("v")).unwrap().as_n().unwrap().parse::<i64>().unwrap();
    assert_eq!(value(x.item()) + value(y.item()), 100);
    assert!(value(x.item()) >= 0 && value(y.item()) >= 0);
}

#[tokio::test]
async fn the_cancellation_body_has_dynamodb_shape() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "tx").await;
    client.put_item().table_name(&table).set_item(Some(item([("pk", s("a"))]))).send().await.unwrap();
    let body = serde_json::json!({
        "TransactItems": [
            {"Update": {"TableName": table, "Key": {"pk": {"S": "b"}}, "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "a"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
        ]
    });
    let (status, text) = server.raw_post(Some("DynamoDB_20120810.TransactWriteItems"), &body.to_string());
    assert_eq!(status, 400);
    let got: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["__type"], "com.amazonaws.dynamodb.v20120810#TransactionCanceledException");
    assert_eq!(
        got["CancellationReasons"],
        serde_json::json!([
            {"Code": "None"},
            {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed", "Item": {"pk": {"S": "a"}}}
        ])
    );
}
