//! Proves ReturnConsumedCapacity reports DynamoDB's figures (4 KB read units, half price when
//! eventually consistent, 1 KB write units on the larger image, Query and Scan rounded once over
//! the items evaluated) in the TOTAL and INDEXES shapes, and that DescribeEndpoints and
//! DescribeLimits answer through the SDK.

use aws_sdk_dynamodb::types::{
    ConsumedCapacity, Get, KeysAndAttributes, Put, PutRequest, ReturnConsumedCapacity,
    ReturnItemCollectionMetrics, ScalarAttributeType, TransactGetItem, TransactWriteItem, WriteRequest,
};
use eddy_tests::{TestServer, expect_validation, hash_range_table, hash_table, item, n, s};

/// A string making an item of `pk` = "k" and `data` this long about `total` bytes.
fn filler(total: usize) -> String {
    "x".repeat(total - ("pk".len() + 1 + "data".len()))
}

fn units(c: Option<&ConsumedCapacity>) -> f64 {
    c.and_then(ConsumedCapacity::capacity_units).expect("ConsumedCapacity with CapacityUnits")
}

#[tokio::test]
async fn point_operations_report_read_and_write_units() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "cap").await;
    let big = filler(3584); // 3.5 KB
    let put = client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("data", s(&big))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let c = put.consumed_capacity().unwrap();
    assert_eq!(c.table_name(), Some(table.as_str()));
    assert_eq!(c.capacity_units(), Some(4.0));
    assert!(c.table().is_none(), "TOTAL has no per-table breakdown");

    let get = |consistent: Option<bool>, rcc: ReturnConsumedCapacity| {
        client
            .get_item()
            .table_name(&table)
            .key("pk", s("k"))
            .set_consistent_read(consistent)
            .projection_expression("pk")
            .return_consumed_capacity(rcc)
            .send()
    };
    // The projection does not make the read cheaper: the whole item is read.
    assert_eq!(units(get(None, ReturnConsumedCapacity::Total).await.unwrap().consumed_capacity()), 0.5);
    assert_eq!(units(get(Some(true), ReturnConsumedCapacity::Total).await.unwrap().consumed_capacity()), 1.0);
    let indexes = get(Some(true), ReturnConsumedCapacity::Indexes).await.unwrap();
    let c = indexes.consumed_capacity().unwrap();
    assert_eq!(c.capacity_units(), Some(1.0));
    assert_eq!(c.table().and_then(|t| t.capacity_units()), Some(1.0));
    assert!(c.global_secondary_indexes().is_none() && c.local_secondary_indexes().is_none());
    assert!(get(None, ReturnConsumedCapacity::None).await.unwrap().consumed_capacity().is_none());
    let missing = client
        .get_item()
        .table_name(&table)
        .key("pk", s("absent"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(units(missing.consumed_capacity()), 0.5, "a miss costs the minimum");

    // Shrinking the item pays for the larger, old image; deleting pays for the old item.
    let update = client
        .update_item()
        .table_name(&table)
        .key("pk", s("k"))
        .update_expression("SET #d = :small")
        .expression_attribute_names("#d", "data")
        .expression_attribute_values(":small", s("tiny"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    assert_eq!(units(update.consumed_capacity()), 4.0);
    assert!(update.item_collection_metrics().is_none(), "no local secondary index, no item collection");
    let delete = client
        .delete_item()
        .table_name(&table)
        .key("pk", s("k"))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let c = delete.consumed_capacity().unwrap();
    assert_eq!((c.capacity_units(), c.table().and_then(|t| t.capacity_units())), (Some(1.0), Some(1.0)));

    let message = expect_validation(
        client
            .get_item()
            .table_name(&table)
            .key("pk", s("k"))
            .return_consumed_capacity(ReturnConsumedCapacity::from("SOME"))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "1 validation error detected: Value 'SOME' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
    );
}

#[tokio::test]
async fn query_and_scan_round_once_over_items_evaluated() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "capq", ScalarAttributeType::N).await;
    // Ten items of 1000 bytes: 10,000 bytes evaluated is 3 units of 4 KB, not 10.
    for i in 0..10 {
        let data = "y".repeat(1000 - ("pk".len() + 1 + "sk".len() + 21 + "data".len()));
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("p"))
            .item("sk", n(i))
            .item("data", s(data))
            .send()
            .await
            .unwrap();
    }
    let query = |consistent: bool| {
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            // The filter matches nothing: capacity counts what was read, not what was returned.
            .filter_expression("attribute_exists(nothing)")
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
    };
    let strong = query(true).await.unwrap();
    assert_eq!((strong.count(), strong.scanned_count()), (0, 10));
    assert_eq!(units(strong.consumed_capacity()), 3.0);
    assert_eq!(units(query(false).await.unwrap().consumed_capacity()), 1.5);
    let scan = client
        .scan()
        .table_name(&table)
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let c = scan.consumed_capacity().unwrap();
    assert_eq!(c.capacity_units(), Some(3.0));
    assert_eq!(c.table().and_then(|t| t.capacity_units()), Some(3.0));
    let limited = client
        .scan()
        .table_name(&table)
        .limit(1)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(units(limited.consumed_capacity()), 0.5);
}

#[tokio::test]
async fn batches_report_one_entry_per_table() {
    let server = TestServer::start();
    let client = server.client();
    let one = hash_table(&client, "capb1").await;
    let two = hash_table(&client, "capb2").await;
    let put = |pk: &str, size: usize| {
        let data = "z".repeat(size - ("pk".len() + pk.len() + "data".len()));
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(item([("pk", s(pk)), ("data", s(data))])))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    // Each item is rounded on its own: 1500 + 500 bytes is 2 + 1 units, not 2.
    let written = client
        .batch_write_item()
        .request_items(&one, vec![put("a", 1500), put("b", 500)])
        .request_items(&two, vec![put("c", 5000)])
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let mut list: Vec<(String, f64)> = written
        .consumed_capacity()
        .iter()
        .map(|c| (c.table_name().unwrap().to_string(), c.capacity_units().unwrap()))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(list, vec![(one.clone(), 3.0), (two.clone(), 5.0)]);

    let keys = |pks: &[&str]| {
        let mut k = KeysAndAttributes::builder();
        for pk in pks {
            k = k.keys(item([("pk", s(*pk))]));
        }
        k
    };
    let read = client
        .batch_get_item()
        .request_items(&one, keys(&["a", "b", "missing"]).build().unwrap())
        .request_items(&two, keys(&["c"]).consistent_read(true).build().unwrap())
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let mut list: Vec<(String, f64, Option<f64>)> = read
        .consumed_capacity()
        .iter()
        .map(|c| {
            (
                c.table_name().unwrap().to_string(),
                c.capacity_units().unwrap(),
                c.table().and_then(|t| t.capacity_units()),
            )
        })
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    // Three eventually consistent reads of at most 4 KB each; one strongly consistent 5 KB read.
    assert_eq!(list, vec![(one, 1.5, Some(1.5)), (two, 2.0, Some(2.0))]);
}

#[tokio::test]
async fn transactions_cost_double() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "capt").await;
    let data = "t".repeat(1500 - ("pk".len() + 1 + "data".len()));
    let put = Put::builder()
        .table_name(&table)
        .set_item(Some(item([("pk", s("k")), ("data", s(data))])))
        .build()
        .unwrap();
    let written = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    // 1500 bytes is 2 write units, doubled.
    assert_eq!(units(written.consumed_capacity().first()), 4.0);
    let get = Get::builder().table_name(&table).key("pk", s("k")).build().unwrap();
    let read = client
        .transact_get_items()
        .transact_items(TransactGetItem::builder().get(get).build())
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let c = read.consumed_capacity().first().unwrap();
    assert_eq!((c.capacity_units(), c.table().and_then(|t| t.capacity_units())), (Some(2.0), Some(2.0)));
}

#[tokio::test]
async fn describe_endpoints_and_limits() {
    let server = TestServer::start();
    let client = server.client();
    let endpoints = client.describe_endpoints().send().await.unwrap();
    let endpoint = &endpoints.endpoints()[0];
    assert_eq!(endpoint.address(), server.endpoint().trim_start_matches("http://"));
    assert_eq!(endpoint.cache_period_in_minutes(), 1440);
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.account_max_read_capacity_units(), Some(80_000));
    assert_eq!(limits.account_max_write_capacity_units(), Some(80_000));
    assert_eq!(limits.table_max_read_capacity_units(), Some(40_000));
    assert_eq!(limits.table_max_write_capacity_units(), Some(40_000));
}
