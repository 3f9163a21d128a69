//! Proves local secondary indexes behave as DynamoDB documents them: declared only at CreateTable
//! on a table with a sort key, sharing its partition key, described, queried in the order of their
//! own sort key (strongly consistent reads allowed), projecting their attributes while fetching
//! the rest from the table, and kept in step by every write path.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, DeleteGlobalSecondaryIndexAction, DeleteRequest, GlobalSecondaryIndexUpdate,
    KeyType, LocalSecondaryIndex, Projection, ProjectionType, PutRequest, ScalarAttributeType, Select,
    TableDescription, TableStatus, WriteRequest,
};
use eddy_tests::{
    Item, TestServer, attr_def, b, error_code, error_type, expect_validation, item, key_elem, n, s,
    unique_table_name,
};

use ScalarAttributeType::{B as TB, N as TN, S as TS};

// ---------------------------------------------------------------------------------------------
// Definitions

fn projection(kind: ProjectionType, non_key: &[&str]) -> Projection {
    let mut p = Projection::builder().projection_type(kind);
    for attr in non_key {
        p = p.non_key_attributes(*attr);
    }
    p.build()
}

/// A local secondary index on partition key `pk` with sort key `range`.
fn lsi(name: &str, range: &str, projection: Projection) -> LocalSecondaryIndex {
    LocalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem(range, KeyType::Range))
        .projection(projection)
        .build()
        .expect("local secondary index")
}

/// Table `pk` (S) + `sk` (S) with:
/// - `by_rank`: `rk` (N), KEYS_ONLY;
/// - `by_date`: `dt` (S), INCLUDE `title`;
/// - `by_blob`: `bl` (B), ALL.
async fn lsi_table(client: &Client) -> String {
    let name = unique_table_name("lsi");
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", TS))
        .attribute_definitions(attr_def("sk", TS))
        .attribute_definitions(attr_def("rk", TN))
        .attribute_definitions(attr_def("dt", TS))
        .attribute_definitions(attr_def("bl", TB))
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem("sk", KeyType::Range))
        .local_secondary_indexes(lsi("by_rank", "rk", projection(ProjectionType::KeysOnly, &[])))
        .local_secondary_indexes(lsi("by_date", "dt", projection(ProjectionType::Include, &["title"])))
        .local_secondary_indexes(lsi("by_blob", "bl", projection(ProjectionType::All, &[])))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name} with local indexes: {e:?}"));
    wait_until_active(client, &name).await;
    name
}

async fn describe(client: &Client, table: &str) -> TableDescription {
    let out = client.describe_table().table_name(table).send().await.unwrap_or_else(|e| panic!("{e:?}"));
    out.table().expect("Table").clone()
}

async fn wait_until_active(client: &Client, table: &str) -> TableDescription {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let t = describe(client, table).await;
        if t.table_status() == Some(&TableStatus::Active) {
            return t;
        }
        assert!(std::time::Instant::now() < deadline, "table {table} not ACTIVE: {t:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn local_names(t: &TableDescription) -> Vec<String> {
    let mut names: Vec<String> =
        t.local_secondary_indexes().iter().filter_map(|l| l.index_name()).map(str::to_string).collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Reads and comparisons

/// Every item a Query on `index` over partition `pk` returns, following LastEvaluatedKey.
async fn query_index(
    client: &Client,
    table: &str,
    index: &str,
    pk: &str,
    sort_cond: Option<(&str, Vec<(&str, AttributeValue)>)>,
) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let mut req = client
            .query()
            .table_name(table)
            .index_name(index)
            .consistent_read(true)
            .expression_attribute_values(":p", s(pk))
            .set_exclusive_start_key(start.take());
        match &sort_cond {
            Some((cond, values)) => {
                req = req.key_condition_expression(format!("pk = :p AND {cond}"));
                for (k, v) in values {
                    req = req.expression_attribute_values(*k, v.clone());
                }
            }
            None => req = req.key_condition_expression("pk = :p"),
        }
        let page = req.send().await.unwrap_or_else(|e| panic!("query {index} {pk}: {e:?}"));
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return out,
        }
    }
}

async fn scan_index(client: &Client, table: &str, index: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .index_name(index)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {index}: {e:?}"));
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return out,
        }
    }
}

type Row = BTreeMap<String, String>;

fn canon(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(v) => format!("S:{v}"),
        AttributeValue::N(v) => format!("N:{v}"),
        AttributeValue::B(v) => format!("B:{:02x?}", v.as_ref()),
        other => format!("{other:?}"),
    }
}

fn row(item: &Item) -> Row {
    item.iter().map(|(k, v)| (k.clone(), canon(v))).collect()
}

fn project(item: &Item, attrs: &[&str]) -> Row {
    item.iter().filter(|(k, _)| attrs.contains(&k.as_str())).map(|(k, v)| (k.clone(), canon(v))).collect()
}

fn names(item: &Item) -> BTreeSet<String> {
    item.keys().cloned().collect()
}

fn name_set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i.get("sk") {
            Some(AttributeValue::S(v)) => v.clone(),
            other => panic!("sk missing: {other:?} in {i:?}"),
        })
        .collect()
}

async fn put(client: &Client, table: &str, it: Item) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(it))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}"));
}

fn put_request(item: Item) -> WriteRequest {
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
}

fn delete_request(key: Item) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().unwrap())
        .build()
}

/// Partition `p` (sk a..f) and partition `q` (one item), over the indexes of [`lsi_table`].
fn sample_items() -> Vec<Item> {
    let entry = |sk: &str, rank: Option<&str>, date: &str, bl: Vec<u8>, title: Option<&str>| {
        let mut it = item([
            ("pk", s("p")),
            ("sk", s(sk)),
            ("dt", s(date)),
            ("bl", b(bl)),
            ("body", s(format!("body {sk}"))),
        ]);
        if let Some(rank) = rank {
            it.insert("rk".into(), n(rank));
        }
        if let Some(title) = title {
            it.insert("title".into(), s(title));
        }
        it
    };
    vec![
        entry("a", Some("3"), "2024-03-01", vec![0x10], Some("A")),
        entry("b", Some("-1"), "2023-12-31", vec![0xf0], None),
        entry("c", Some("10"), "2024-01-15", vec![0x00, 0x01], Some("C")),
        entry("d", Some("2.5"), "2024-02-29", vec![0x80], Some("D")),
        entry("e", None, "2022-06-01", vec![0x00], Some("E")),
        entry("f", Some("7"), "2025-01-01", vec![0xf0, 0x00], None),
        item([("pk", s("q")), ("sk", s("a")), ("rk", n(0)), ("dt", s("2024-01-01")), ("bl", b(vec![1]))]),
    ]
}

async fn loaded_table(client: &Client) -> (String, Vec<Item>) {
    let table = lsi_table(client).await;
    let items = sample_items();
    for it in &items {
        put(client, &table, it.clone()).await;
    }
    (table, items)
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn create_table_describes_local_indexes() {
    let server = TestServer::start();
    let client = server.client();
    let table = lsi_table(&client).await;
    let t = describe(&client, &table).await;
    let table_arn = t.table_arn().expect("TableArn").to_string();
    assert_eq!(local_names(&t), vec!["by_blob", "by_date", "by_rank"]);
    assert!(t.global_secondary_indexes().is_empty());

    let expected = [
        ("by_rank", "rk", ProjectionType::KeysOnly, vec![]),
        ("by_date", "dt", ProjectionType::Include, vec!["title"]),
        ("by_blob", "bl", ProjectionType::All, vec![]),
    ];
    for (name, range, kind, non_key) in expected {
        let l = t.local_secondary_indexes().iter().find(|l| l.index_name() == Some(name)).unwrap();
        let keys: Vec<(&str, KeyType)> =
            l.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().clone())).collect();
        assert_eq!(keys, vec![("pk", KeyType::Hash), (range, KeyType::Range)], "{name} KeySchema");
        let p = l.projection().expect("Projection");
        assert_eq!(p.projection_type(), Some(&kind), "{name} ProjectionType");
        let got: Vec<&str> = p.non_key_attributes().iter().map(String::as_str).collect();
        assert_eq!(got, non_key, "{name} NonKeyAttributes");
        assert_eq!(l.index_arn(), Some(format!("{table_arn}/index/{name}").as_str()), "{name} IndexArn");
        assert_eq!(l.item_count(), Some(0), "{name} ItemCount of an empty index");
    }
}

#[tokio::test]
async fn query_on_local_index_follows_its_sort_key() {
    let server = TestServer::start();
    let client = server.client();
    let (table, _) = loaded_table(&client).await;

    // Numbers in numeric order; "e" has no rank and is not in the index; "q" is another partition.
    let got = query_index(&client, &table, "by_rank", "p", None).await;
    assert_eq!(sks(&got), vec!["b", "d", "a", "f", "c"]);
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_rank")
        .consistent_read(true)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(sks(out.items()), vec!["c", "f", "a", "d", "b"], "descending");
    let got = query_index(&client, &table, "by_rank", "p", Some(("rk >= :r", vec![(":r", n(3))]))).await;
    assert_eq!(sks(&got), vec!["a", "f", "c"]);

    // Strings in byte order, with a sort key condition.
    let got = query_index(&client, &table, "by_date", "p", None).await;
    assert_eq!(sks(&got), vec!["e", "b", "c", "d", "a", "f"]);
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_date")
        .consistent_read(true)
        .key_condition_expression("pk = :p AND begins_with(#d, :y)")
        .expression_attribute_names("#d", "dt")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":y", s("2024-"))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(out.items()), vec!["c", "d", "a"]);

    // Binary in unsigned byte order.
    let got = query_index(&client, &table, "by_blob", "p", None).await;
    assert_eq!(sks(&got), vec!["e", "c", "a", "d", "b", "f"]);

    // Pages of one item carry LastEvaluatedKey with the table keys and the index sort key.
    let mut start: Option<Item> = None;
    let mut order = Vec::new();
    loop {
        let page = client
            .query()
            .table_name(&table)
            .index_name("by_rank")
            .consistent_read(true)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .limit(2)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        order.extend(sks(page.items()));
        let Some(lek) = page.last_evaluated_key() else { break };
        assert_eq!(names(lek), name_set(&["pk", "sk", "rk"]), "LastEvaluatedKey {lek:?}");
        assert_eq!(row(lek), project(page.items().last().unwrap(), &["pk", "sk", "rk"]));
        start = Some(lek.clone());
        assert!(order.len() <= 5, "pagination does not end: {order:?}");
    }
    assert_eq!(order, vec!["b", "d", "a", "f", "c"]);
}

#[tokio::test]
async fn query_on_local_index_with_bad_sort_key_condition_is_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let (table, _) = loaded_table(&client).await;
    // The table's sort key is not the index's sort key.
    let msg = expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("by_rank")
            .consistent_read(true)
            .key_condition_expression("pk = :p AND sk = :s")
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":s", s("a"))
            .send()
            .await,
    );
    assert!(!msg.is_empty());
    // An unknown index name.
    let msg = expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("by_nothing")
            .consistent_read(true)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .send()
            .await,
    );
    assert!(msg.contains("The table does not have the specified index: by_nothing"), "{msg}");
}

#[tokio::test]
async fn consistent_read_is_allowed_on_local_index() {
    let server = TestServer::start();
    let client = server.client();
    let (table, _) = loaded_table(&client).await;
    put(&client, &table, item([("pk", s("p")), ("sk", s("z")), ("rk", n(-100))])).await;
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_rank")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(sks(out.items()), vec!["z", "b", "d", "a", "f", "c"]);
    let out =
        client.scan().table_name(&table).index_name("by_rank").consistent_read(true).send().await.unwrap();
    assert_eq!(out.items().len(), 7);
}

#[tokio::test]
async fn local_index_returns_its_projection_and_fetches_the_rest_from_the_table() {
    let server = TestServer::start();
    let client = server.client();
    let (table, items) = loaded_table(&client).await;
    let by_key: BTreeMap<(String, String), &Item> =
        items.iter().map(|i| ((canon(&i["pk"]), canon(&i["sk"])), i)).collect();
    let original = |it: &Item| by_key[&(canon(&it["pk"]), canon(&it["sk"]))];

    // KEYS_ONLY: table keys and the index sort key.
    for it in query_index(&client, &table, "by_rank", "p", None).await {
        assert_eq!(names(&it), name_set(&["pk", "sk", "rk"]), "{it:?}");
        assert_eq!(row(&it), project(original(&it), &["pk", "sk", "rk"]));
    }
    // INCLUDE: plus the listed attribute when the item has it.
    let got = query_index(&client, &table, "by_date", "p", None).await;
    assert_eq!(got.len(), 6);
    for it in &got {
        assert_eq!(row(it), project(original(it), &["pk", "sk", "dt", "title"]), "{it:?}");
    }
    // ALL: the whole item.
    for it in query_index(&client, &table, "by_blob", "p", None).await {
        assert_eq!(row(&it), row(original(&it)));
    }
    // Scan over a local index projects the same way, across partitions.
    let scanned = scan_index(&client, &table, "by_rank").await;
    assert_eq!(scanned.len(), 6);
    for it in &scanned {
        assert_eq!(names(it), name_set(&["pk", "sk", "rk"]), "{it:?}");
    }

    // ALL_ATTRIBUTES on a local index fetches whole items from the table.
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_rank")
        .consistent_read(true)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .select(Select::AllAttributes)
        .send()
        .await
        .unwrap();
    assert_eq!(sks(out.items()), vec!["b", "d", "a", "f", "c"]);
    for it in out.items() {
        assert_eq!(row(it), row(original(it)), "fetched item");
    }
    // So does asking for an attribute the index does not project.
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_rank")
        .consistent_read(true)
        .key_condition_expression("pk = :p AND #r > :r")
        .expression_attribute_names("#r", "rk")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":r", n(5))
        .projection_expression("sk, body")
        .send()
        .await
        .unwrap();
    let got: Vec<Row> = out.items().iter().map(row).collect();
    let want: Vec<Row> =
        ["f", "c"].iter().map(|sk| row(&item([("sk", s(*sk)), ("body", s(format!("body {sk}")))]))).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn local_index_follows_updates_deletes_and_batch_writes() {
    let server = TestServer::start();
    let client = server.client();
    let (table, _) = loaded_table(&client).await;
    let ranks = |items: Vec<Item>| sks(&items);

    // UpdateItem moving an item along the index sort key.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("p"))
        .key("sk", s("c"))
        .update_expression("SET #r = :r")
        .expression_attribute_names("#r", "rk")
        .expression_attribute_values(":r", n(-7))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ranks(query_index(&client, &table, "by_rank", "p", None).await),
        vec!["c", "b", "d", "a", "f"]
    );

    // UpdateItem adding the index sort key to an item that lacked it.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("p"))
        .key("sk", s("e"))
        .update_expression("SET #r = :r")
        .expression_attribute_names("#r", "rk")
        .expression_attribute_values(":r", n(5))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ranks(query_index(&client, &table, "by_rank", "p", None).await),
        vec!["c", "b", "d", "a", "e", "f"]
    );

    // UpdateItem removing it takes the item out of that index only.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("p"))
        .key("sk", s("a"))
        .update_expression("REMOVE #r, title")
        .expression_attribute_names("#r", "rk")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ranks(query_index(&client, &table, "by_rank", "p", None).await),
        vec!["c", "b", "d", "e", "f"]
    );
    let dates = query_index(&client, &table, "by_date", "p", None).await;
    let a = dates.iter().find(|i| i.get("sk") == Some(&s("a"))).expect("a stays in by_date");
    assert_eq!(names(a), name_set(&["pk", "sk", "dt"]), "the removed projected attribute is gone");

    // UpdateItem of a projected attribute shows in an INCLUDE index.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("p"))
        .key("sk", s("b"))
        .update_expression("SET title = :t")
        .expression_attribute_values(":t", s("B"))
        .send()
        .await
        .unwrap();
    let dates = query_index(&client, &table, "by_date", "p", None).await;
    let b_entry = dates.iter().find(|i| i.get("sk") == Some(&s("b"))).unwrap();
    assert_eq!(b_entry.get("title"), Some(&s("B")));

    // DeleteItem, PutItem replacing without the key, and BatchWriteItem.
    client.delete_item().table_name(&table).key("pk", s("p")).key("sk", s("d")).send().await.unwrap();
    put(&client, &table, item([("pk", s("p")), ("sk", s("f")), ("dt", s("2020-01-01"))])).await;
    client
        .batch_write_item()
        .request_items(
            &table,
            vec![
                put_request(item([("pk", s("p")), ("sk", s("g")), ("rk", n(0))])),
                put_request(item([("pk", s("q")), ("sk", s("b")), ("rk", n(1))])),
                delete_request(item([("pk", s("p")), ("sk", s("b"))])),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ranks(query_index(&client, &table, "by_rank", "p", None).await), vec!["c", "g", "e"]);
    assert_eq!(ranks(query_index(&client, &table, "by_rank", "q", None).await), vec!["a", "b"]);
    assert_eq!(ranks(query_index(&client, &table, "by_date", "p", None).await), vec!["f", "e", "c", "a"]);
    assert_eq!(ranks(query_index(&client, &table, "by_blob", "p", None).await), vec!["e", "c", "a"]);
}

#[tokio::test]
async fn write_with_wrong_local_index_key_type_is_rejected_and_changes_nothing() {
    let server = TestServer::start();
    let client = server.client();
    let (table, _) = loaded_table(&client).await;
    let before = scan_index(&client, &table, "by_blob").await;

    let msg = expect_validation(
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s("p")), ("sk", s("a")), ("rk", s("high"))])))
            .send()
            .await,
    );
    assert!(msg.contains("Type mismatch for Index Key"), "{msg}");
    let msg = expect_validation(
        client
            .update_item()
            .table_name(&table)
            .key("pk", s("p"))
            .key("sk", s("b"))
            .update_expression("SET bl = :v, title = :t")
            .expression_attribute_values(":v", n(1))
            .expression_attribute_values(":t", s("must not be written"))
            .send()
            .await,
    );
    assert!(msg.contains("Type mismatch for Index Key"), "{msg}");

    let mut after = scan_index(&client, &table, "by_blob").await;
    let mut before = before;
    let key = |i: &Item| (canon(&i["pk"]), canon(&i["sk"]));
    before.sort_by_key(key);
    after.sort_by_key(key);
    assert_eq!(after.iter().map(row).collect::<Vec<_>>(), before.iter().map(row).collect::<Vec<_>>());
}

#[tokio::test]
async fn local_index_cannot_be_added_or_dropped_after_create_table() {
    let server = TestServer::start();
    let client = server.client();
    let (table, _) = loaded_table(&client).await;

    // UpdateTable has no member for local indexes (the SDK offers none); one sent anyway in the
    // raw protocol creates nothing, whether it is rejected or ignored.
    let body = serde_json::json!({
        "TableName": table,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "late", "AttributeType": "N"},
        ],
        "LocalSecondaryIndexes": [{
            "IndexName": "by_late",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "late", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }],
    });
    let (status, response) = server.raw_post(Some("DynamoDB_20120810.UpdateTable"), &body.to_string());
    assert!(status == 200 || !error_type(&response).is_empty(), "{status} {response}");
    let t = wait_until_active(&client, &table).await;
    assert_eq!(local_names(&t), vec!["by_blob", "by_date", "by_rank"], "UpdateTable added no local index");
    expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("by_late")
            .consistent_read(true)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .send()
            .await,
    );

    // Nor can UpdateTable drop one: it deletes only global secondary indexes.
    let dropped = client
        .update_table()
        .table_name(&table)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(DeleteGlobalSecondaryIndexAction::builder().index_name("by_rank").build().unwrap())
                .build(),
        )
        .send()
        .await;
    assert!(
        matches!(
            dropped.as_ref().err().and_then(error_code),
            Some("ValidationException") | Some("ResourceNotFoundException")
        ),
        "{dropped:?}"
    );
    let t = wait_until_active(&client, &table).await;
    assert_eq!(local_names(&t), vec!["by_blob", "by_date", "by_rank"]);
    assert_eq!(sks(&query_index(&client, &table, "by_rank", "p", None).await), vec!["b", "d", "a", "f", "c"]);
}

#[tokio::test]
async fn local_index_definitions_are_validated() {
    let server = TestServer::start();
    let client = server.client();

    // A hash-only table cannot have a local index.
    let name = unique_table_name("lsihash");
    expect_validation(
        client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("pk", TS))
            .attribute_definitions(attr_def("rk", TN))
            .key_schema(key_elem("pk", KeyType::Hash))
            .local_secondary_indexes(lsi("by_rank", "rk", projection(ProjectionType::All, &[])))
            .send()
            .await,
    );
    let gone = client.describe_table().table_name(&name).send().await;
    assert_eq!(gone.as_ref().err().and_then(error_code), Some("ResourceNotFoundException"));

    // A local index must use the table's partition key.
    let other_hash = LocalSecondaryIndex::builder()
        .index_name("by_other")
        .key_schema(key_elem("other", KeyType::Hash))
        .key_schema(key_elem("rk", KeyType::Range))
        .projection(projection(ProjectionType::All, &[]))
        .build()
        .unwrap();
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("lsiother"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("pk", TS))
            .attribute_definitions(attr_def("sk", TS))
            .attribute_definitions(attr_def("other", TS))
            .attribute_definitions(attr_def("rk", TN))
            .key_schema(key_elem("pk", KeyType::Hash))
            .key_schema(key_elem("sk", KeyType::Range))
            .local_secondary_indexes(other_hash)
            .send()
            .await,
    );

    // A local and a global index cannot share a name.
    let same_name = aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
        .index_name("by_rank")
        .key_schema(key_elem("rk", KeyType::Hash))
        .projection(projection(ProjectionType::KeysOnly, &[]))
        .build()
        .unwrap();
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("lsidup"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("pk", TS))
            .attribute_definitions(attr_def("sk", TS))
            .attribute_definitions(attr_def("rk", TN))
            .key_schema(key_elem("pk", KeyType::Hash))
            .key_schema(key_elem("sk", KeyType::Range))
            .local_secondary_indexes(lsi("by_rank", "rk", projection(ProjectionType::All, &[])))
            .global_secondary_indexes(same_name)
            .send()
            .await,
    );

    // Its sort key needs an attribute definition.
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("lsiundef"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("pk", TS))
            .attribute_definitions(attr_def("sk", TS))
            .key_schema(key_elem("pk", KeyType::Hash))
            .key_schema(key_elem("sk", KeyType::Range))
            .local_secondary_indexes(lsi("by_rank", "rk", projection(ProjectionType::All, &[])))
            .send()
            .await,
    );
}

#[tokio::test]
async fn local_index_sort_key_over_1024_bytes_is_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = lsi_table(&client).await;
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s("p")), ("sk", s("a")), ("dt", s("d".repeat(1025)))])))
            .send()
            .await,
    );
    put(&client, &table, item([("pk", s("p")), ("sk", s("a")), ("dt", s("d".repeat(1024)))])).await;
    assert_eq!(sks(&query_index(&client, &table, "by_date", "p", None).await), vec!["a"]);
}
