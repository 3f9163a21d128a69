//! Proves Query and Scan select, order, filter, count, project and paginate items as DynamoDB
//! does, including the 1 MB page limit and parallel scan segments.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType, Select};
use eddy_tests::{Item, TestServer, expect_validation, hash_range_table, hash_table, item, n, s};

fn sk_of(item: &Item) -> String {
    match item.get("sk") {
        Some(AttributeValue::S(v)) => v.clone(),
        Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("sort key missing: {other:?}"),
    }
}

fn pk_of(item: &Item) -> String {
    match item.get("pk") {
        Some(AttributeValue::S(v)) => v.clone(),
        other => panic!("partition key missing: {other:?}"),
    }
}

/// A table with partition "p" holding sort keys a#00..a#09 and b#00..b#09 (S), plus a
/// partition "q" with one item that must never show up in queries on "p".
async fn string_sorted_table(client: &Client) -> String {
    let table = hash_range_table(client, "qs", ScalarAttributeType::S).await;
    for prefix in ["a", "b"] {
        for i in 0..10 {
            client
                .put_item()
                .table_name(&table)
                .item("pk", s("p"))
                .item("sk", s(format!("{prefix}#{i:02}")))
                .item("i", n(i))
                .item("even", AttributeValue::Bool(i % 2 == 0))
                .send()
                .await
                .unwrap();
        }
    }
    client.put_item().table_name(&table).item("pk", s("q")).item("sk", s("a#00")).send().await.unwrap();
    table
}

async fn query_sks(
    client: &Client,
    table: &str,
    cond: &str,
    values: Vec<(&str, AttributeValue)>,
) -> Vec<String> {
    let mut req = client
        .query()
        .table_name(table)
        .key_condition_expression(cond)
        .expression_attribute_values(":p", s("p"));
    for (k, v) in values {
        req = req.expression_attribute_values(k, v);
    }
    let out = req.send().await.unwrap_or_else(|e| panic!("{cond}: {e:?}"));
    assert!(out.last_evaluated_key().is_none(), "small result must fit one page");
    assert_eq!(out.count() as usize, out.items().len());
    out.items().iter().map(sk_of).collect()
}

fn keys(prefix: &str, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}#{i:02}")).collect()
}

#[tokio::test]
async fn query_supports_every_sort_key_operator() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;

    let all: Vec<String> = keys("a", 0..=9).into_iter().chain(keys("b", 0..=9)).collect();
    assert_eq!(query_sks(&client, &table, "pk = :p", vec![]).await, all);
    assert_eq!(
        query_sks(&client, &table, "pk = :p AND sk = :v", vec![(":v", s("a#03"))]).await,
        keys("a", 3..=3)
    );
    assert_eq!(
        query_sks(&client, &table, "pk = :p AND sk < :v", vec![(":v", s("a#03"))]).await,
        keys("a", 0..=2)
    );
    assert_eq!(
        query_sks(&client, &table, "pk = :p AND sk <= :v", vec![(":v", s("a#03"))]).await,
        keys("a", 0..=3)
    );
    assert_eq!(
        query_sks(&client, &table, "pk = :p AND sk > :v", vec![(":v", s("b#07"))]).await,
        keys("b", 8..=9)
    );
    assert_eq!(
        query_sks(&client, &table, "pk = :p AND sk >= :v", vec![(":v", s("b#07"))]).await,
        keys("b", 7..=9)
    );
    assert_eq!(
        query_sks(
            &client,
            &table,
            "pk = :p AND sk BETWEEN :lo AND :hi",
            vec![(":lo", s("a#08")), (":hi", s("b#01"))]
        )
        .await,
        vec!["a#08", "a#09", "b#00", "b#01"]
    );
    assert_eq!(
        query_sks(&client, &table, "pk = :p AND begins_with(sk, :pre)", vec![(":pre", s("b#"))]).await,
        keys("b", 0..=9)
    );
    // Key condition operands may come in either order and with parentheses.
    assert_eq!(
        query_sks(&client, &table, "(:v > sk) AND (pk = :p)", vec![(":v", s("a#02"))]).await,
        keys("a", 0..=1)
    );
    assert_eq!(
        query_sks(&client, &table, "pk = :p AND sk > :v", vec![(":v", s("c"))]).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn query_on_binary_sort_key_orders_bytes_unsigned() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "qb", ScalarAttributeType::B).await;
    let values: Vec<Vec<u8>> = vec![vec![0x80], vec![0x00], vec![0xff, 0x00], vec![0x01, 0x02], vec![0x01]];
    for v in &values {
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("p"))
            .item("sk", eddy_tests::b(v.clone()))
            .send()
            .await
            .unwrap();
    }
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    let got: Vec<Vec<u8>> = out
        .items()
        .iter()
        .map(|i| match i.get("sk") {
            Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
            other => panic!("{other:?}"),
        })
        .collect();
    let mut want = values.clone();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn query_backwards_reverses_order() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p AND begins_with(sk, :a)")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", s("a#"))
        .scan_index_forward(false)
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().iter().map(sk_of).collect::<Vec<_>>(), vec!["a#09", "a#08", "a#07"]);
    assert!(out.last_evaluated_key().is_some());
}

#[tokio::test]
async fn query_pagination_visits_each_item_once_in_order() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "qpage", ScalarAttributeType::N).await;
    for i in 0..50 {
        client.put_item().table_name(&table).item("pk", s("p")).item("sk", n(i)).send().await.unwrap();
    }
    for forward in [true, false] {
        let mut seen = Vec::new();
        let mut start: Option<Item> = None;
        let mut pages = 0;
        loop {
            let out = client
                .query()
                .table_name(&table)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s("p"))
                .scan_index_forward(forward)
                .limit(7)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            pages += 1;
            assert!(out.items().len() <= 7);
            seen.extend(out.items().iter().map(|i| sk_of(i).parse::<i64>().unwrap()));
            match out.last_evaluated_key() {
                Some(k) => {
                    assert_eq!(k.len(), 2, "LastEvaluatedKey holds exactly the key: {k:?}");
                    start = Some(k.clone());
                }
                None => break,
            }
            assert!(pages < 20, "pagination does not end");
        }
        let mut want: Vec<i64> = (0..50).collect();
        if !forward {
            want.reverse();
        }
        assert_eq!(seen, want, "forward={forward}");
        // 50 = 7 * 7 + 1; a last page may be empty with LastEvaluatedKey on the one before.
        assert!((8..=9).contains(&pages), "pages={pages}");
    }
}

#[tokio::test]
async fn filter_counts_matched_and_scanned_separately() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .filter_expression("even = :t AND i >= :three")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .expression_attribute_values(":three", n(3))
        .send()
        .await
        .unwrap();
    // i in {4, 6, 8} for both prefixes.
    assert_eq!(out.count(), 6);
    assert_eq!(out.scanned_count(), 20);
    assert_eq!(out.items().len(), 6);

    // Limit bounds the items evaluated, not the items returned.
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .filter_expression("even = :t")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .limit(5)
        .send()
        .await
        .unwrap();
    assert_eq!(out.scanned_count(), 5);
    assert_eq!(out.count(), 3);
    assert_eq!(out.items().iter().map(sk_of).collect::<Vec<_>>(), vec!["a#00", "a#02", "a#04"]);
    assert_eq!(out.last_evaluated_key().map(sk_of).as_deref(), Some("a#04"));

    let out =
        client.scan().table_name(&table).filter_expression("attribute_not_exists(i)").send().await.unwrap();
    assert_eq!(out.count(), 1);
    assert_eq!(out.scanned_count(), 21);
}

#[tokio::test]
async fn filter_on_key_attribute_in_query_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    expect_validation(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .filter_expression("sk = :v")
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":v", s("a#01"))
            .send()
            .await,
    );
}

#[tokio::test]
async fn select_count_returns_only_counts() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 20);
    assert_eq!(out.scanned_count(), 20);
    assert!(out.items().is_empty(), "{:?}", out.items());

    let out = client.scan().table_name(&table).select(Select::Count).send().await.unwrap();
    assert_eq!(out.count(), 21);
    assert!(out.items().is_empty());
}

#[tokio::test]
async fn select_specific_attributes_without_projection_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    expect_validation(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .select(Select::SpecificAttributes)
            .send()
            .await,
    );
    // ALL_ATTRIBUTES together with a projection is contradictory.
    expect_validation(
        client
            .scan()
            .table_name(&table)
            .select(Select::AllAttributes)
            .projection_expression("i")
            .send()
            .await,
    );
}

#[tokio::test]
async fn projection_returns_only_requested_attributes() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p AND sk = :sk")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":sk", s("a#04"))
        .projection_expression("i, nothing")
        .send()
        .await
        .unwrap();
    assert_eq!(out.items(), &[item([("i", n(4))])]);

    let out = client.scan().table_name(&table).projection_expression("sk").send().await.unwrap();
    assert_eq!(out.items().len(), 21);
    assert!(out.items().iter().all(|i| i.len() == 1 && i.contains_key("sk")));
}

#[tokio::test]
async fn query_key_condition_errors_are_validation_errors() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    let bad: Vec<(&str, Vec<(&str, AttributeValue)>)> = vec![
        // No partition key equality.
        ("sk = :v", vec![(":v", s("a"))]),
        ("pk > :v", vec![(":v", s("a"))]),
        // Non-key attribute.
        ("pk = :v AND i = :i", vec![(":v", s("p")), (":i", n(1))]),
        // OR is not allowed in key conditions.
        ("pk = :v OR sk = :w", vec![(":v", s("p")), (":w", s("a"))]),
        // Type mismatch with the schema.
        ("pk = :v", vec![(":v", n(1))]),
        // begins_with needs a string or binary, not a number.
        ("pk = :v AND begins_with(sk, :w)", vec![(":v", s("p")), (":w", n(1))]),
        // BETWEEN with a lower bound above the upper bound.
        ("pk = :v AND sk BETWEEN :hi AND :lo", vec![(":v", s("p")), (":hi", s("z")), (":lo", s("a"))]),
    ];
    for (cond, values) in bad {
        let mut req = client.query().table_name(&table).key_condition_expression(cond);
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        let result = req.send().await;
        assert!(
            eddy_tests::error_code(result.as_ref().unwrap_err()) == Some("ValidationException"),
            "{cond}: {result:?}"
        );
    }
}

#[tokio::test]
async fn scan_pages_stop_at_one_megabyte_and_cover_everything() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "big").await;
    let blob = "x".repeat(100 * 1024);
    let total = 30;
    for i in 0..total {
        client
            .put_item()
            .table_name(&table)
            .item("pk", s(format!("item-{i:03}")))
            .item("data", s(blob.clone()))
            .send()
            .await
            .unwrap();
    }

    let mut seen = Vec::new();
    let mut start: Option<Item> = None;
    let mut pages = 0;
    loop {
        let out =
            client.scan().table_name(&table).set_exclusive_start_key(start.take()).send().await.unwrap();
        pages += 1;
        let page_bytes: usize = out.items().len() * (100 * 1024);
        // A page stops once it reaches 1 MB, so it holds at most 1 MB plus one item.
        assert!(page_bytes <= 1024 * 1024 + 100 * 1024 + 1024, "page of {} items", out.items().len());
        seen.extend(out.items().iter().map(pk_of));
        match out.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
        assert!(pages < 20, "pagination does not end");
    }
    assert!(pages >= 3, "3 MB of items needs at least 3 pages, got {pages}");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an item was returned twice");
    assert_eq!(unique.len(), total);

    // The same limit applies to Query.
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("item-000"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 1);
}

#[tokio::test]
async fn query_pages_stop_at_one_megabyte() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "bigq", ScalarAttributeType::N).await;
    let blob = "y".repeat(100 * 1024);
    for i in 0..25 {
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("p"))
            .item("sk", n(i))
            .item("data", s(blob.clone()))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut start: Option<Item> = None;
    let mut pages = 0;
    loop {
        let out = client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.items().len() <= 11, "page of {} items of 100 KB", out.items().len());
        seen.extend(out.items().iter().map(|i| sk_of(i).parse::<i64>().unwrap()));
        match out.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
        assert!(pages < 20);
    }
    assert!(pages >= 3, "2.5 MB needs at least 3 pages, got {pages}");
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
}

#[tokio::test]
async fn parallel_scan_segments_are_disjoint_and_complete() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "par").await;
    let total = 100;
    for i in 0..total {
        client.put_item().table_name(&table).item("pk", s(format!("k{i}"))).send().await.unwrap();
    }
    let mut owner: HashMap<String, i32> = HashMap::new();
    for segment in 0..4 {
        let mut start: Option<Item> = None;
        for _ in 0..100 {
            let out = client
                .scan()
                .table_name(&table)
                .segment(segment)
                .total_segments(4)
                .limit(10)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            for i in out.items() {
                let pk = pk_of(i);
                if let Some(prev) = owner.insert(pk.clone(), segment) {
                    panic!("{pk} returned by segment {prev} and segment {segment}");
                }
            }
            match out.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
    }
    assert_eq!(owner.len(), total);
}

#[tokio::test]
async fn scan_segment_arguments_are_validated() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "parbad").await;
    expect_validation(client.scan().table_name(&table).segment(4).total_segments(4).send().await);
    expect_validation(client.scan().table_name(&table).segment(0).send().await);
    expect_validation(client.scan().table_name(&table).total_segments(2).send().await);
    expect_validation(client.scan().table_name(&table).segment(0).total_segments(1_000_001).send().await);
}

#[tokio::test]
async fn scan_pagination_visits_each_item_once() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "spage").await;
    for i in 0..50 {
        client.put_item().table_name(&table).item("pk", s(format!("k{i:02}"))).send().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut start: Option<Item> = None;
    for _ in 0..20 {
        let out = client
            .scan()
            .table_name(&table)
            .limit(6)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        assert!(out.items().len() <= 6);
        seen.extend(out.items().iter().map(pk_of));
        match out.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an item was returned twice: {seen:?}");
    assert_eq!(unique.len(), 50);
}

#[tokio::test]
async fn string_sort_keys_order_by_utf8_bytes() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "utf8", ScalarAttributeType::S).await;
    // UTF-8 byte order; UTF-16 code unit order would put the emoji (a surrogate pair) before
    // U+FF61.
    let ordered = ["A", "Z", "a", "z", "é", "中", "\u{FF61}", "\u{1F600}"];
    for v in ordered.iter().rev() {
        client.put_item().table_name(&table).item("pk", s("p")).item("sk", s(*v)).send().await.unwrap();
    }
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().iter().map(sk_of).collect::<Vec<_>>(), ordered);
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p AND sk > :v")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":v", s("\u{FF61}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().iter().map(sk_of).collect::<Vec<_>>(), vec!["\u{1F600}"]);
}

#[tokio::test]
async fn sort_key_condition_on_hash_only_table_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "hashonly").await;
    expect_validation(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p AND sk = :s")
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":s", s("x"))
            .send()
            .await,
    );
}

#[tokio::test]
async fn exclusive_start_key_must_match_the_key_schema() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    // Missing the sort key.
    expect_validation(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .exclusive_start_key("pk", s("p"))
            .send()
            .await,
    );
    // Wrong type.
    expect_validation(
        client
            .scan()
            .table_name(&table)
            .exclusive_start_key("pk", s("p"))
            .exclusive_start_key("sk", n(1))
            .send()
            .await,
    );
    // A start key from another partition than the one queried.
    expect_validation(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .exclusive_start_key("pk", s("q"))
            .exclusive_start_key("sk", s("a#00"))
            .send()
            .await,
    );
}

#[tokio::test]
async fn exclusive_start_key_of_deleted_item_still_resumes() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    let first = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .limit(3)
        .send()
        .await
        .unwrap();
    let start = first.last_evaluated_key().unwrap().clone();
    client.delete_item().table_name(&table).set_key(Some(start.clone())).send().await.unwrap();
    let rest = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .set_exclusive_start_key(Some(start))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.items().first().map(sk_of).as_deref(), Some("a#03"));
    assert_eq!(rest.count(), 17);
}

#[tokio::test]
async fn one_megabyte_limit_counts_scanned_data_not_returned_data() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "bigfilter").await;
    let blob = "x".repeat(100 * 1024);
    for i in 0..25 {
        client
            .put_item()
            .table_name(&table)
            .item("pk", s(format!("item-{i:03}")))
            .item("d", s(blob.clone()))
            .send()
            .await
            .unwrap();
    }
    // A filter that matches nothing still stops the page after 1 MB of items read.
    let out = client
        .scan()
        .table_name(&table)
        .filter_expression("attribute_exists(nothing_here)")
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 0);
    assert!(out.last_evaluated_key().is_some(), "1 MB read must end the page");
    assert!((9..=11).contains(&out.scanned_count()), "scanned {}", out.scanned_count());

    // So does Select COUNT.
    let out = client.scan().table_name(&table).select(Select::Count).send().await.unwrap();
    assert!(out.last_evaluated_key().is_some(), "1 MB read must end a COUNT page too");
    assert!((9..=11).contains(&out.count()), "counted {}", out.count());
}

#[tokio::test]
async fn limit_must_be_positive() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    expect_validation(client.scan().table_name(&table).limit(0).send().await);
    expect_validation(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .limit(-1)
            .send()
            .await,
    );
}

#[tokio::test]
async fn key_condition_allows_only_key_functions() {
    let server = TestServer::start();
    let client = server.client();
    let table = string_sorted_table(&client).await;
    for cond in [
        "pk = :p AND contains(sk, :v)",
        "pk = :p AND size(sk) > :n",
        "pk = :p AND sk <> :v",
        "pk = :p AND NOT sk = :v",
        "pk = :p AND attribute_exists(sk)",
    ] {
        let result = client
            .query()
            .table_name(&table)
            .key_condition_expression(cond)
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":v", s("a"))
            .expression_attribute_values(":n", n(1))
            .send()
            .await;
        assert_eq!(
            result.as_ref().err().and_then(eddy_tests::error_code),
            Some("ValidationException"),
            "{cond}: {result:?}"
        );
    }
}
