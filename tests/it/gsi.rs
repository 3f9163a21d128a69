//! Proves global secondary indexes behave as DynamoDB documents them: declared at CreateTable or
//! added and dropped by UpdateTable (with a backfill under concurrent writes), described, read by
//! Query and Scan with exactly their projection, kept in step by every write path, paginated by
//! keys that hold both index and table keys, and guarded by DynamoDB's validation errors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
    DeleteRequest, GlobalSecondaryIndex, GlobalSecondaryIndexDescription, GlobalSecondaryIndexUpdate,
    IndexStatus, KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType, Select,
    TableDescription, TableStatus, WriteRequest,
};
use eddy_tests::{
    Item, TestServer, attr_def, b, error_code, expect_validation, item, key_elem, n, s, unique_table_name,
};

use ScalarAttributeType::{B as TB, N as TN, S as TS};

/// How long an index may take to become ACTIVE (or to disappear) after UpdateTable.
const INDEX_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a write may take to show in a global secondary index: DynamoDB propagates to them
/// asynchronously, so index reads are eventually consistent.
const INDEX_LAG: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Definitions

fn projection(kind: ProjectionType, non_key: &[&str]) -> Projection {
    let mut p = Projection::builder().projection_type(kind);
    for attr in non_key {
        p = p.non_key_attributes(*attr);
    }
    p.build()
}

fn keys_only() -> Projection {
    projection(ProjectionType::KeysOnly, &[])
}

fn include(non_key: &[&str]) -> Projection {
    projection(ProjectionType::Include, non_key)
}

fn all() -> Projection {
    projection(ProjectionType::All, &[])
}

/// A global secondary index keyed by `hash` (and `range`), for an on-demand table.
fn gsi(name: &str, hash: &str, range: Option<&str>, projection: Projection) -> GlobalSecondaryIndex {
    let mut g = GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_elem(hash, KeyType::Hash))
        .projection(projection);
    if let Some(range) = range {
        g = g.key_schema(key_elem(range, KeyType::Range));
    }
    g.build().expect("global secondary index")
}

/// The UpdateTable action creating a global secondary index.
fn create_action(
    name: &str,
    hash: &str,
    range: Option<&str>,
    projection: Projection,
) -> GlobalSecondaryIndexUpdate {
    let mut c = CreateGlobalSecondaryIndexAction::builder()
        .index_name(name)
        .key_schema(key_elem(hash, KeyType::Hash))
        .projection(projection);
    if let Some(range) = range {
        c = c.key_schema(key_elem(range, KeyType::Range));
    }
    GlobalSecondaryIndexUpdate::builder().create(c.build().expect("create index action")).build()
}

fn delete_action(name: &str) -> GlobalSecondaryIndexUpdate {
    GlobalSecondaryIndexUpdate::builder()
        .delete(DeleteGlobalSecondaryIndexAction::builder().index_name(name).build().expect("delete action"))
        .build()
}

/// Creates an on-demand table keyed by `pk` (S) and, when given, `sk` of `range`, with the
/// attribute definitions `index_attrs` and the global secondary indexes `gsis`; waits until the
/// table and its indexes are ACTIVE and returns the table name.
async fn indexed_table(
    client: &Client,
    prefix: &str,
    range: Option<ScalarAttributeType>,
    index_attrs: &[(&str, ScalarAttributeType)],
    gsis: Vec<GlobalSecondaryIndex>,
) -> String {
    let name = unique_table_name(prefix);
    let mut req = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", TS))
        .key_schema(key_elem("pk", KeyType::Hash))
        .set_global_secondary_indexes(Some(gsis));
    if let Some(range) = range {
        req = req.attribute_definitions(attr_def("sk", range)).key_schema(key_elem("sk", KeyType::Range));
    }
    for (attr, kind) in index_attrs {
        req = req.attribute_definitions(attr_def(attr, kind.clone()));
    }
    req.send().await.unwrap_or_else(|e| panic!("create table {name} with indexes: {e:?}"));
    wait_until_active(client, &name).await;
    name
}

async fn describe(client: &Client, table: &str) -> TableDescription {
    let out = client.describe_table().table_name(table).send().await.unwrap_or_else(|e| panic!("{e:?}"));
    out.table().expect("Table").clone()
}

fn index<'a>(t: &'a TableDescription, name: &str) -> Option<&'a GlobalSecondaryIndexDescription> {
    t.global_secondary_indexes().iter().find(|g| g.index_name() == Some(name))
}

/// Polls DescribeTable until the table and every global secondary index on it are ACTIVE.
async fn wait_until_active(client: &Client, table: &str) -> TableDescription {
    let deadline = Instant::now() + INDEX_TIMEOUT;
    loop {
        let t = describe(client, table).await;
        let ready = t.table_status() == Some(&TableStatus::Active)
            && t.global_secondary_indexes().iter().all(|g| g.index_status() == Some(&IndexStatus::Active));
        if ready {
            return t;
        }
        assert!(Instant::now() < deadline, "table {table} not ACTIVE within {INDEX_TIMEOUT:?}: {t:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Every item a Query on `index` returns, following LastEvaluatedKey to the end.
async fn query_index(
    client: &Client,
    table: &str,
    index: &str,
    cond: &str,
    values: &[(&str, AttributeValue)],
) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let mut req = client
            .query()
            .table_name(table)
            .index_name(index)
            .key_condition_expression(cond)
            .set_exclusive_start_key(start.take());
        for (k, v) in values {
            req = req.expression_attribute_values(*k, v.clone());
        }
        let page = req.send().await.unwrap_or_else(|e| panic!("query {index} {cond}: {e:?}"));
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return out,
        }
    }
}

/// Every item a Scan of `index` (or of the table, when `None`) returns, page by page.
async fn scan_all(client: &Client, table: &str, index: Option<&str>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_index_name(index.map(str::to_string))
            .consistent_read(index.is_none())
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table} {index:?}: {e:?}"));
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return out,
        }
    }
}

/// Reads with `read` until it returns `want` or [`INDEX_LAG`] has passed; returns the last read.
/// For reads of a global secondary index right after a write.
async fn settle<T: PartialEq, Fut: Future<Output = T>>(want: &T, mut read: impl FnMut() -> Fut) -> T {
    let deadline = Instant::now() + INDEX_LAG;
    loop {
        let got = read().await;
        if &got == want || Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until each `(index, count)` holds `count` entries.
async fn wait_for_entries(client: &Client, table: &str, counts: &[(&str, usize)]) {
    for (index, count) in counts {
        let got = settle(count, || async { scan_all(client, table, Some(index)).await.len() }).await;
        assert_eq!(got, *count, "entries in {index}");
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing items

/// An item in a comparable form: attribute name -> typed value text.
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

fn rows(items: &[Item]) -> Vec<Row> {
    let mut rows: Vec<Row> = items.iter().map(row).collect();
    rows.sort();
    rows
}

/// The item restricted to `attrs` (those it has).
fn project(item: &Item, attrs: &[&str]) -> Row {
    item.iter().filter(|(k, _)| attrs.contains(&k.as_str())).map(|(k, v)| (k.clone(), canon(v))).collect()
}

fn names(item: &Item) -> BTreeSet<String> {
    item.keys().cloned().collect()
}

fn name_set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn text(item: &Item, attr: &str) -> String {
    match item.get(attr) {
        Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{attr} is not S or N in {item:?}: {other:?}"),
    }
}

fn pks(items: &[Item]) -> BTreeSet<String> {
    items.iter().map(|i| text(i, "pk")).collect()
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| text(i, "sk")).collect()
}

fn put_request(item: Item) -> WriteRequest {
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
}

fn delete_request(key: Item) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().unwrap())
        .build()
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

async fn get(client: &Client, table: &str, key: Item) -> Option<Item> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get: {e:?}"));
    out.item().cloned()
}

// ---------------------------------------------------------------------------------------------
// A table with four indexes over S, N and B keys and each projection type

/// Table `pk` (S) + `sk` (N) with:
/// - `by_s`: `gs` (S), KEYS_ONLY;
/// - `by_s_n`: `gs` (S) + `gn` (N), INCLUDE `color`, `size`;
/// - `by_n_b`: `nk` (N) + `gr` (B), ALL;
/// - `by_b`: `gb` (B), INCLUDE `color`.
async fn four_index_table(client: &Client) -> String {
    indexed_table(
        client,
        "gsi4",
        Some(TN),
        &[("gs", TS), ("gn", TN), ("nk", TN), ("gr", TB), ("gb", TB)],
        vec![
            gsi("by_s", "gs", None, keys_only()),
            gsi("by_s_n", "gs", Some("gn"), include(&["color", "size"])),
            gsi("by_n_b", "nk", Some("gr"), all()),
            gsi("by_b", "gb", None, include(&["color"])),
        ],
    )
    .await
}

/// Five items in partition `p` (sk 1..=5) spread over the four indexes of [`four_index_table`].
fn four_index_items() -> Vec<Item> {
    vec![
        item([
            ("pk", s("p")),
            ("sk", n(1)),
            ("gs", s("g")),
            ("gn", n(-5)),
            ("nk", n(7)),
            ("gr", b(vec![0x80])),
            ("gb", b(vec![1, 2])),
            ("color", s("red")),
            ("size", n(1)),
            ("extra", s("x1")),
        ]),
        item([
            ("pk", s("p")),
            ("sk", n(2)),
            ("gs", s("g")),
            ("gn", n("0.5")),
            ("nk", n(7)),
            ("gr", b(vec![0x00])),
            ("gb", b(vec![1, 2])),
            ("color", s("blue")),
            ("extra", s("x2")),
        ]),
        item([
            ("pk", s("p")),
            ("sk", n(3)),
            ("gs", s("g")),
            ("gn", n(10)),
            ("nk", n(7)),
            ("gr", b(vec![0xff])),
            ("gb", b(vec![9])),
            ("size", n(3)),
            ("extra", s("x3")),
        ]),
        item([
            ("pk", s("p")),
            ("sk", n(4)),
            ("gs", s("g")),
            ("gn", n(2)),
            ("nk", n(7)),
            ("gr", b(vec![0xff, 0x00])),
            ("gb", b(vec![1, 2])),
            ("color", s("green")),
            ("size", n(4)),
            ("extra", s("x4")),
        ]),
        item([
            ("pk", s("p")),
            ("sk", n(5)),
            ("gs", s("h")),
            ("gn", n(1)),
            ("nk", n(8)),
            ("gr", b(vec![0x01])),
            ("gb", b(vec![9])),
            ("color", s("red")),
            ("size", n(5)),
            ("extra", s("x5")),
        ]),
    ]
}

#[tokio::test]
async fn create_table_describes_global_indexes_with_keys_projection_status_and_arn() {
    let server = TestServer::start();
    let client = server.client();
    let name = unique_table_name("gsidesc");
    let out = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", TS))
        .attribute_definitions(attr_def("sk", TN))
        .attribute_definitions(attr_def("gs", TS))
        .attribute_definitions(attr_def("gn", TN))
        .attribute_definitions(attr_def("gb", TB))
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem("sk", KeyType::Range))
        .global_secondary_indexes(gsi("by_s", "gs", None, keys_only()))
        .global_secondary_indexes(gsi("by_n_b", "gn", Some("gb"), include(&["color", "size"])))
        .global_secondary_indexes(gsi("by_b_s", "gb", Some("gs"), all()))
        .send()
        .await
        .unwrap();
    let created = out.table_description().expect("TableDescription");
    let created_names: BTreeSet<&str> =
        created.global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
    assert_eq!(created_names, BTreeSet::from(["by_s", "by_n_b", "by_b_s"]), "CreateTable response");

    let t = wait_until_active(&client, &name).await;
    let table_arn = t.table_arn().expect("TableArn").to_string();
    let mut attrs: Vec<(&str, &ScalarAttributeType)> =
        t.attribute_definitions().iter().map(|a| (a.attribute_name(), a.attribute_type())).collect();
    attrs.sort();
    assert_eq!(attrs, vec![("gb", &TB), ("gn", &TN), ("gs", &TS), ("pk", &TS), ("sk", &TN)]);
    assert_eq!(t.global_secondary_indexes().len(), 3, "{t:?}");

    let expected = [
        ("by_s", vec![("gs", KeyType::Hash)], ProjectionType::KeysOnly, Vec::<&str>::new()),
        (
            "by_n_b",
            vec![("gn", KeyType::Hash), ("gb", KeyType::Range)],
            ProjectionType::Include,
            vec!["color", "size"],
        ),
        ("by_b_s", vec![("gb", KeyType::Hash), ("gs", KeyType::Range)], ProjectionType::All, vec![]),
    ];
    for (index_name, keys, kind, non_key) in expected {
        let g = index(&t, index_name).unwrap_or_else(|| panic!("{index_name} not described: {t:?}"));
        let got_keys: Vec<(&str, KeyType)> =
            g.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().clone())).collect();
        assert_eq!(got_keys, keys, "{index_name} KeySchema");
        let p = g.projection().expect("Projection");
        assert_eq!(p.projection_type(), Some(&kind), "{index_name} ProjectionType");
        let mut got_non_key: Vec<&str> = p.non_key_attributes().iter().map(String::as_str).collect();
        got_non_key.sort();
        assert_eq!(got_non_key, non_key, "{index_name} NonKeyAttributes");
        assert_eq!(g.index_status(), Some(&IndexStatus::Active), "{index_name} IndexStatus");
        assert_eq!(
            g.index_arn(),
            Some(format!("{table_arn}/index/{index_name}").as_str()),
            "{index_name} IndexArn"
        );
        assert_eq!(g.item_count(), Some(0), "{index_name} ItemCount of an empty index");
        assert_ne!(g.backfilling(), Some(true), "an index made by CreateTable does not backfill");
    }
}

#[tokio::test]
async fn query_and_scan_on_index_return_exactly_the_projected_attributes() {
    let server = TestServer::start();
    let client = server.client();
    let table = four_index_table(&client).await;
    let items = four_index_items();
    for it in &items {
        put(&client, &table, it.clone()).await;
    }
    wait_for_entries(&client, &table, &[("by_s", 5), ("by_s_n", 5), ("by_n_b", 5), ("by_b", 5)]).await;
    let by_sk: BTreeMap<String, &Item> = items.iter().map(|i| (text(i, "sk"), i)).collect();

    // KEYS_ONLY: the index key and the table keys, nothing else.
    let got = query_index(&client, &table, "by_s", "gs = :g", &[(":g", s("g"))]).await;
    assert_eq!(got.len(), 4);
    for it in &got {
        assert_eq!(names(it), name_set(&["pk", "sk", "gs"]), "KEYS_ONLY item {it:?}");
        assert_eq!(row(it), project(by_sk[&text(it, "sk")], &["pk", "sk", "gs"]));
    }

    // INCLUDE: keys plus the listed attributes the item has.
    let got = query_index(&client, &table, "by_s_n", "gs = :g", &[(":g", s("g"))]).await;
    let attrs = ["pk", "sk", "gs", "gn", "color", "size"];
    for it in &got {
        assert_eq!(row(it), project(by_sk[&text(it, "sk")], &attrs), "INCLUDE item");
    }
    assert_eq!(names(&got[0]), name_set(&attrs));
    let got = query_index(&client, &table, "by_b", "gb = :b", &[(":b", b(vec![9]))]).await;
    let got: BTreeSet<Row> = got.iter().map(row).collect();
    let expected: BTreeSet<Row> =
        ["3", "5"].iter().map(|sk| project(by_sk[*sk], &["pk", "sk", "gb", "color"])).collect();
    assert_eq!(got, expected, "INCLUDE over a binary hash key");

    // ALL: the whole item.
    let got = query_index(&client, &table, "by_n_b", "nk = :n", &[(":n", n(7))]).await;
    for it in &got {
        assert_eq!(row(it), row(by_sk[&text(it, "sk")]), "ALL item");
    }

    // Scan with IndexName projects the same way and sees every indexed item.
    let scanned = scan_all(&client, &table, Some("by_s")).await;
    assert_eq!(scanned.len(), 5);
    for it in &scanned {
        assert_eq!(names(it), name_set(&["pk", "sk", "gs"]), "KEYS_ONLY scan item {it:?}");
    }
    let scanned = scan_all(&client, &table, Some("by_s_n")).await;
    let expected: Vec<Row> = rows(&items.iter().map(|i| project_item(i, &attrs)).collect::<Vec<_>>());
    assert_eq!(rows(&scanned), expected, "INCLUDE scan");
    assert_eq!(rows(&scan_all(&client, &table, Some("by_n_b")).await), rows(&items), "ALL scan");

    // A ProjectionExpression narrows the projected attributes further.
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_s_n")
        .key_condition_expression("gs = :g")
        .expression_attribute_values(":g", s("g"))
        .projection_expression("color")
        .send()
        .await
        .unwrap();
    let colors: BTreeSet<String> = out.items().iter().filter_map(|i| i.get("color")).map(canon).collect();
    assert_eq!(colors, BTreeSet::from(["S:blue".to_string(), "S:green".to_string(), "S:red".to_string()]));
    for it in out.items() {
        assert!(names(it).is_subset(&name_set(&["color"])), "{it:?}");
    }

    // Select=COUNT counts index entries.
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_s")
        .key_condition_expression("gs = :g")
        .expression_attribute_values(":g", s("h"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 1);
    assert!(out.items().is_empty());
}

fn project_item(it: &Item, attrs: &[&str]) -> Item {
    it.iter().filter(|(k, _)| attrs.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[tokio::test]
async fn query_on_index_orders_by_the_index_sort_key() {
    let server = TestServer::start();
    let client = server.client();
    let table = four_index_table(&client).await;
    for it in four_index_items() {
        put(&client, &table, it).await;
    }
    wait_for_entries(&client, &table, &[("by_s", 5), ("by_s_n", 5), ("by_n_b", 5), ("by_b", 5)]).await;

    // Numbers in numeric order: -5, 0.5, 2, 10.
    let got = query_index(&client, &table, "by_s_n", "gs = :g", &[(":g", s("g"))]).await;
    assert_eq!(sks(&got), vec!["1", "2", "4", "3"]);
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_s_n")
        .key_condition_expression("gs = :g")
        .expression_attribute_values(":g", s("g"))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(sks(out.items()), vec!["3", "4", "2", "1"], "descending");
    let got =
        query_index(&client, &table, "by_s_n", "gs = :g AND gn > :z", &[(":g", s("g")), (":z", n(0))]).await;
    assert_eq!(sks(&got), vec!["2", "4", "3"], "sort key condition on the index sort key");
    let got = query_index(
        &client,
        &table,
        "by_s_n",
        "gs = :g AND gn BETWEEN :lo AND :hi",
        &[(":g", s("g")), (":lo", n(-5)), (":hi", n(2))],
    )
    .await;
    assert_eq!(sks(&got), vec!["1", "2", "4"]);

    // Binary in unsigned byte order, a prefix before its extensions: 00, 80, ff, ff00.
    let got = query_index(&client, &table, "by_n_b", "nk = :n", &[(":n", n(7))]).await;
    assert_eq!(sks(&got), vec!["2", "1", "3", "4"]);
    let got = query_index(
        &client,
        &table,
        "by_n_b",
        "nk = :n AND begins_with(gr, :pre)",
        &[(":n", n(7)), (":pre", b(vec![0xff]))],
    )
    .await;
    assert_eq!(sks(&got), vec!["3", "4"]);

    // Another index partition holds only its own items.
    let got = query_index(&client, &table, "by_n_b", "nk = :n", &[(":n", n(8))]).await;
    assert_eq!(sks(&got), vec!["5"]);
    let got = query_index(&client, &table, "by_s", "gs = :g", &[(":g", s("nothing"))]).await;
    assert!(got.is_empty());
}

#[tokio::test]
async fn sparse_index_holds_only_items_with_every_index_key_attribute() {
    let server = TestServer::start();
    let client = server.client();
    let table = four_index_table(&client).await;
    put(&client, &table, item([("pk", s("both")), ("sk", n(1)), ("gs", s("g")), ("gn", n(1))])).await;
    put(&client, &table, item([("pk", s("hash_only")), ("sk", n(1)), ("gs", s("g"))])).await;
    put(&client, &table, item([("pk", s("range_only")), ("sk", n(1)), ("gn", n(2))])).await;
    put(&client, &table, item([("pk", s("neither")), ("sk", n(1)), ("other", s("x"))])).await;

    wait_for_entries(&client, &table, &[("by_s", 2), ("by_s_n", 1)]).await;
    assert_eq!(pks(&scan_all(&client, &table, Some("by_s")).await), name_set(&["both", "hash_only"]));
    assert_eq!(pks(&scan_all(&client, &table, Some("by_s_n")).await), name_set(&["both"]));
    assert!(scan_all(&client, &table, Some("by_n_b")).await.is_empty());
    assert!(scan_all(&client, &table, Some("by_b")).await.is_empty());
    assert_eq!(
        pks(&query_index(&client, &table, "by_s_n", "gs = :g", &[(":g", s("g"))]).await),
        name_set(&["both"])
    );
    assert_eq!(scan_all(&client, &table, None).await.len(), 4, "the table holds every item");
}

// ---------------------------------------------------------------------------------------------
// Maintenance on every write path

/// Table `pk` (S) with `by_g`: `g` (S), INCLUDE `v`.
async fn g_table(client: &Client) -> String {
    indexed_table(client, "gsiw", None, &[("g", TS)], vec![gsi("by_g", "g", None, include(&["v"]))]).await
}

async fn in_partition(client: &Client, table: &str, g: &str) -> BTreeSet<String> {
    pks(&query_index(client, table, "by_g", "g = :g", &[(":g", s(g))]).await)
}

/// Asserts that partition `g` of `by_g` holds exactly the items `want` (by `pk`), once the writes
/// before have propagated.
async fn assert_partition(client: &Client, table: &str, g: &str, want: &[&str]) {
    let want = name_set(want);
    let got = settle(&want, || in_partition(client, table, g)).await;
    assert_eq!(got, want, "index partition g = {g}");
}

/// Asserts that a Scan of `index` returns exactly `want`, once the writes before have propagated.
async fn assert_index_rows(client: &Client, table: &str, index: &str, mut want: Vec<Row>) {
    want.sort();
    let got = settle(&want, || async { rows(&scan_all(client, table, Some(index)).await) }).await;
    assert_eq!(got, want, "entries of {index}");
}

#[tokio::test]
async fn index_follows_put_update_delete_and_batch_write() {
    let server = TestServer::start();
    let client = server.client();
    let table = g_table(&client).await;

    // PutItem adds; an item without the index key stays out.
    put(&client, &table, item([("pk", s("a")), ("g", s("x")), ("v", n(1)), ("w", s("hidden"))])).await;
    put(&client, &table, item([("pk", s("b")), ("g", s("x")), ("v", n(2))])).await;
    put(&client, &table, item([("pk", s("c")), ("v", n(3))])).await;
    assert_partition(&client, &table, "x", &["a", "b"]).await;

    // PutItem replacing the item moves it to its new index key.
    put(&client, &table, item([("pk", s("a")), ("g", s("y")), ("v", n(1))])).await;
    assert_partition(&client, &table, "x", &["b"]).await;
    assert_partition(&client, &table, "y", &["a"]).await;

    // UpdateItem changing the index key moves it.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("a"))
        .update_expression("SET g = :z")
        .expression_attribute_values(":z", s("z"))
        .send()
        .await
        .unwrap();
    assert_partition(&client, &table, "y", &[]).await;
    assert_partition(&client, &table, "z", &["a"]).await;

    // UpdateItem of a projected non-key attribute shows in the index.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("a"))
        .update_expression("SET v = :v, w = :w")
        .expression_attribute_values(":v", n(10))
        .expression_attribute_values(":w", s("not projected"))
        .send()
        .await
        .unwrap();
    assert_index_rows(
        &client,
        &table,
        "by_g",
        vec![
            row(&item([("pk", s("a")), ("g", s("z")), ("v", n(10))])),
            row(&item([("pk", s("b")), ("g", s("x")), ("v", n(2))])),
        ],
    )
    .await;

    // UpdateItem removing the index key takes the item out of the index.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("a"))
        .update_expression("REMOVE g")
        .send()
        .await
        .unwrap();
    assert_partition(&client, &table, "z", &[]).await;
    assert_index_rows(
        &client,
        &table,
        "by_g",
        vec![row(&item([("pk", s("b")), ("g", s("x")), ("v", n(2))]))],
    )
    .await;
    assert!(get(&client, &table, item([("pk", s("a"))])).await.is_some(), "the item stays in the table");

    // UpdateItem setting the index key on an existing item, and creating a new item, adds them.
    for key in ["c", "d"] {
        client
            .update_item()
            .table_name(&table)
            .key("pk", s(key))
            .update_expression("SET g = :x")
            .expression_attribute_values(":x", s("x"))
            .send()
            .await
            .unwrap();
    }
    assert_partition(&client, &table, "x", &["b", "c", "d"]).await;

    // PutItem replacing an indexed item with one lacking the key takes it out.
    put(&client, &table, item([("pk", s("b")), ("v", n(2))])).await;
    assert_partition(&client, &table, "x", &["c", "d"]).await;

    // DeleteItem takes it out.
    client.delete_item().table_name(&table).key("pk", s("c")).send().await.unwrap();
    assert_partition(&client, &table, "x", &["d"]).await;

    // BatchWriteItem puts and deletes.
    client
        .batch_write_item()
        .request_items(
            &table,
            vec![
                put_request(item([("pk", s("e")), ("g", s("y")), ("v", n(5))])),
                put_request(item([("pk", s("f")), ("g", s("x"))])),
                delete_request(item([("pk", s("d"))])),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_partition(&client, &table, "x", &["f"]).await;
    assert_partition(&client, &table, "y", &["e"]).await;

    // A write whose condition fails changes no index entry.
    let failed = client
        .put_item()
        .table_name(&table)
        .item("pk", s("f"))
        .item("g", s("y"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert_eq!(failed.as_ref().err().and_then(error_code), Some("ConditionalCheckFailedException"));
    let failed = client
        .update_item()
        .table_name(&table)
        .key("pk", s("e"))
        .update_expression("REMOVE g")
        .condition_expression("v = :nope")
        .expression_attribute_values(":nope", n(-1))
        .send()
        .await;
    assert_eq!(failed.as_ref().err().and_then(error_code), Some("ConditionalCheckFailedException"));

    let expected = vec![
        row(&item([("pk", s("e")), ("g", s("y")), ("v", n(5))])),
        row(&item([("pk", s("f")), ("g", s("x"))])),
    ];
    assert_index_rows(&client, &table, "by_g", expected).await;
}

#[tokio::test]
async fn paginating_an_index_visits_every_item_once_with_index_and_table_keys() {
    let server = TestServer::start();
    let client = server.client();
    let table = indexed_table(
        &client,
        "gsipage",
        Some(TN),
        &[("g", TS), ("r", TN)],
        vec![gsi("by_g_r", "g", Some("r"), all()), gsi("by_g", "g", None, keys_only())],
    )
    .await;
    // 90 items on one index partition key, with only four distinct index sort keys.
    let total = 90;
    for chunk in (0..total).collect::<Vec<i64>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|i| {
                put_request(item([
                    ("pk", s(format!("p{}", i % 3))),
                    ("sk", n(i)),
                    ("g", s("same")),
                    ("r", n(i % 4)),
                ]))
            })
            .collect();
        client.batch_write_item().request_items(&table, writes).send().await.unwrap();
    }
    // One item in another index partition that must never appear.
    put(&client, &table, item([("pk", s("p0")), ("sk", n(1000)), ("g", s("other")), ("r", n(0))])).await;
    wait_for_entries(&client, &table, &[("by_g_r", total as usize + 1), ("by_g", total as usize + 1)]).await;

    for (index, key_names, limit) in [
        ("by_g_r", vec!["pk", "sk", "g", "r"], 7),
        ("by_g", vec!["pk", "sk", "g"], 7),
        ("by_g_r", vec!["pk", "sk", "g", "r"], 1),
    ] {
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut order: Vec<i64> = Vec::new();
        let mut start: Option<Item> = None;
        let mut pages = 0;
        loop {
            let page = client
                .query()
                .table_name(&table)
                .index_name(index)
                .key_condition_expression("g = :g")
                .expression_attribute_values(":g", s("same"))
                .limit(limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{index} page {pages}: {e:?}"));
            pages += 1;
            assert!(pages <= total as usize + 2, "{index}: pagination does not end");
            assert!(page.items().len() <= limit as usize);
            for it in page.items() {
                seen.push((text(it, "pk"), text(it, "sk")));
                if index == "by_g_r" {
                    order.push(text(it, "r").parse().unwrap());
                }
            }
            let Some(lek) = page.last_evaluated_key() else { break };
            assert_eq!(
                names(lek),
                name_set(&key_names),
                "{index}: LastEvaluatedKey holds index and table keys"
            );
            let last = page.items().last().expect("a page with a LastEvaluatedKey has items");
            assert_eq!(
                row(lek),
                project(last, &key_names),
                "{index}: LastEvaluatedKey is the last item's key"
            );
            start = Some(lek.clone());
        }
        assert_eq!(seen.len(), total as usize, "{index} limit {limit}: every item exactly once");
        let distinct: BTreeSet<&(String, String)> = seen.iter().collect();
        assert_eq!(distinct.len(), total as usize, "{index} limit {limit}: no item twice");
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{index}: index sort key order {order:?}");
    }

    // Scan over the index paginates the same way.
    let mut seen = BTreeSet::new();
    let mut start: Option<Item> = None;
    let mut count = 0;
    loop {
        let page = client
            .scan()
            .table_name(&table)
            .index_name("by_g_r")
            .limit(11)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for it in page.items() {
            count += 1;
            seen.insert((text(it, "pk"), text(it, "sk")));
        }
        let Some(lek) = page.last_evaluated_key() else { break };
        assert_eq!(names(lek), name_set(&["pk", "sk", "g", "r"]), "scan LastEvaluatedKey");
        start = Some(lek.clone());
    }
    assert_eq!((count, seen.len()), (total as usize + 1, total as usize + 1));
}

// ---------------------------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn consistent_read_on_global_index_is_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = g_table(&client).await;
    let msg = expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("by_g")
            .key_condition_expression("g = :g")
            .expression_attribute_values(":g", s("x"))
            .consistent_read(true)
            .send()
            .await,
    );
    assert!(msg.contains("Consistent reads are not supported on global secondary indexes"), "{msg}");
    let msg = expect_validation(
        client.scan().table_name(&table).index_name("by_g").consistent_read(true).send().await,
    );
    assert!(msg.contains("Consistent reads are not supported on global secondary indexes"), "{msg}");
    // ConsistentRead=false is the default and is accepted.
    client
        .query()
        .table_name(&table)
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("x"))
        .consistent_read(false)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_index_is_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = g_table(&client).await;
    let msg = expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("x_idx")
            .key_condition_expression("g = :g")
            .expression_attribute_values(":g", s("x"))
            .send()
            .await,
    );
    assert!(msg.contains("The table does not have the specified index: x_idx"), "{msg}");
    let msg = expect_validation(client.scan().table_name(&table).index_name("x_idx").send().await);
    assert!(msg.contains("The table does not have the specified index: x_idx"), "{msg}");
}

#[tokio::test]
async fn index_query_needs_the_index_keys_and_its_projection() {
    let server = TestServer::start();
    let client = server.client();
    let table = four_index_table(&client).await;

    // The key condition names the index partition key, not the table's.
    let msg = expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("by_s")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .send()
            .await,
    );
    assert!(msg.contains("Query condition missed key schema element"), "{msg}");

    // ALL_ATTRIBUTES is only for an index projecting ALL.
    let msg = expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("by_s")
            .key_condition_expression("gs = :g")
            .expression_attribute_values(":g", s("g"))
            .select(Select::AllAttributes)
            .send()
            .await,
    );
    assert!(msg.contains("ALL_ATTRIBUTES"), "{msg}");
    client
        .query()
        .table_name(&table)
        .index_name("by_n_b")
        .key_condition_expression("nk = :n")
        .expression_attribute_values(":n", n(7))
        .select(Select::AllAttributes)
        .send()
        .await
        .unwrap();

    // ALL_PROJECTED_ATTRIBUTES is only for an index.
    expect_validation(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .select(Select::AllProjectedAttributes)
            .send()
            .await,
    );
}

#[tokio::test]
async fn write_with_wrong_index_key_type_is_rejected_and_changes_nothing() {
    let server = TestServer::start();
    let client = server.client();
    let table = four_index_table(&client).await;
    let original = item([("pk", s("a")), ("sk", n(1)), ("gs", s("g")), ("gn", n(1)), ("gb", b(vec![1]))]);
    put(&client, &table, original.clone()).await;
    wait_for_entries(&client, &table, &[("by_s", 1), ("by_s_n", 1), ("by_b", 1)]).await;
    let key = item([("pk", s("a")), ("sk", n(1))]);

    // PutItem with a number where the index expects a string.
    let mut wrong = original.clone();
    wrong.insert("gs".into(), n(5));
    let msg = expect_validation(client.put_item().table_name(&table).set_item(Some(wrong)).send().await);
    assert!(msg.contains("Type mismatch for Index Key"), "{msg}");

    // PutItem with a string where the index expects binary, on a new key.
    let msg = expect_validation(
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s("new")), ("sk", n(1)), ("gb", s("not binary"))])))
            .send()
            .await,
    );
    assert!(msg.contains("Type mismatch for Index Key"), "{msg}");

    // UpdateItem setting an index sort key to a string.
    let msg = expect_validation(
        client
            .update_item()
            .table_name(&table)
            .set_key(Some(key.clone()))
            .update_expression("SET gn = :v, note = :o")
            .expression_attribute_values(":v", s("one"))
            .expression_attribute_values(":o", s("must not be written"))
            .send()
            .await,
    );
    assert!(msg.contains("Type mismatch for Index Key"), "{msg}");

    // An empty string or binary is no valid index key value.
    expect_validation(
        client
            .update_item()
            .table_name(&table)
            .set_key(Some(key.clone()))
            .update_expression("SET gs = :e")
            .expression_attribute_values(":e", s(""))
            .send()
            .await,
    );
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s("new")), ("sk", n(2)), ("gb", b(Vec::<u8>::new()))])))
            .send()
            .await,
    );

    // BatchWriteItem with one bad request writes none of them.
    expect_validation(
        client
            .batch_write_item()
            .request_items(
                &table,
                vec![
                    put_request(item([("pk", s("good")), ("sk", n(1)), ("gs", s("g"))])),
                    put_request(item([("pk", s("bad")), ("sk", n(1)), ("nk", s("not a number"))])),
                ],
            )
            .send()
            .await,
    );

    assert_eq!(get(&client, &table, key).await.map(|i| row(&i)), Some(row(&original)));
    let table_rows = rows(&scan_all(&client, &table, None).await);
    assert_eq!(table_rows, vec![row(&original)], "only the original item exists");
    assert_eq!(pks(&scan_all(&client, &table, Some("by_s")).await), name_set(&["a"]));
    assert_eq!(
        rows(&scan_all(&client, &table, Some("by_s_n")).await),
        vec![project(&original, &["pk", "sk", "gs", "gn"])]
    );
    assert!(scan_all(&client, &table, Some("by_n_b")).await.is_empty());
}

#[tokio::test]
async fn create_table_rejects_invalid_global_index_definitions() {
    let server = TestServer::start();
    let client = server.client();

    async fn attempt(
        client: &Client,
        attrs: &[(&str, ScalarAttributeType)],
        gsis: Vec<GlobalSecondaryIndex>,
    ) -> String {
        let name = unique_table_name("gsibad");
        let mut req = client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_elem("pk", KeyType::Hash))
            .set_global_secondary_indexes(Some(gsis));
        for (attr, kind) in attrs {
            req = req.attribute_definitions(attr_def(attr, kind.clone()));
        }
        let msg = expect_validation(req.send().await);
        let gone = client.describe_table().table_name(&name).send().await;
        assert_eq!(gone.as_ref().err().and_then(error_code), Some("ResourceNotFoundException"), "{msg}");
        msg
    }

    // The index key attribute has no attribute definition.
    attempt(&client, &[("pk", TS)], vec![gsi("by_g", "g", None, all())]).await;
    // Two indexes with one name.
    attempt(
        &client,
        &[("pk", TS), ("g", TS)],
        vec![gsi("by_g", "g", None, all()), gsi("by_g", "g", None, keys_only())],
    )
    .await;
    // NonKeyAttributes with a projection other than INCLUDE.
    attempt(
        &client,
        &[("pk", TS), ("g", TS)],
        vec![gsi("by_g", "g", None, projection(ProjectionType::KeysOnly, &["v"]))],
    )
    .await;
    attempt(
        &client,
        &[("pk", TS), ("g", TS)],
        vec![gsi("by_g", "g", None, projection(ProjectionType::All, &["v"]))],
    )
    .await;
    // An index name shorter than three characters.
    attempt(&client, &[("pk", TS), ("g", TS)], vec![gsi("ix", "g", None, all())]).await;
}

// ---------------------------------------------------------------------------------------------
// UpdateTable

/// One derived index entry: the projection (`pk`, `g`, `r`, `v`) of a table item whose `g` is a
/// non-empty string and whose `r` is a number.
fn derived_entry(it: &Item) -> Option<Row> {
    let g_ok = matches!(it.get("g"), Some(AttributeValue::S(g)) if !g.is_empty());
    let r_ok = matches!(it.get("r"), Some(AttributeValue::N(_)));
    (g_ok && r_ok).then(|| project(it, &["pk", "g", "r", "v"]))
}

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Writes to keys `k0000..k2199` (puts, index key changes and removals, deletes) until `stop`;
/// returns how many writes it made.
async fn keep_writing(client: Client, table: String, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = Rng(0xB4C_F111);
    let mut writes = 0;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("k{:04}", rng.below(2200));
        let result = match rng.below(8) {
            0..=3 => {
                let mut it = item([("pk", s(&key)), ("v", n(writes))]);
                if rng.below(4) != 0 {
                    it.insert("g".into(), s(format!("g{}", rng.below(13))));
                }
                if rng.below(4) != 0 {
                    it.insert("r".into(), n(rng.below(1000)));
                }
                client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(it))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            }
            4 | 5 => client
                .update_item()
                .table_name(&table)
                .key("pk", s(&key))
                .update_expression("SET g = :g, r = :r, v = :v")
                .expression_attribute_values(":g", s(format!("g{}", rng.below(13))))
                .expression_attribute_values(":r", n(rng.below(1000)))
                .expression_attribute_values(":v", n(writes))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            6 => client
                .update_item()
                .table_name(&table)
                .key("pk", s(&key))
                .update_expression("REMOVE g")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            _ => client
                .delete_item()
                .table_name(&table)
                .key("pk", s(&key))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        };
        result.unwrap_or_else(|e| panic!("concurrent write {writes} on {key}: {e}"));
        writes += 1;
    }
    writes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_table_creates_index_and_backfills_existing_items_under_concurrent_writes() {
    let server = TestServer::start();
    let client = server.client();
    let table = unique_table_name("gsiback");
    eddy_tests::create_table(&client, &table, ("pk", TS), None).await;

    // 2000 items: most indexable, some lacking `g` or `r`, a few whose `g` is a number or an empty
    // string (index key violations: they stay in the table and out of the index).
    let total: u64 = 2000;
    for chunk in (0..total).collect::<Vec<u64>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|&i| {
                let mut it = item([("pk", s(format!("k{i:04}"))), ("v", n(i))]);
                match i % 50 {
                    1 => it.insert("g".into(), n(i)),
                    2 => it.insert("g".into(), s("")),
                    _ if i % 7 == 0 => None,
                    _ => it.insert("g".into(), s(format!("g{}", i % 13))),
                };
                if i % 11 != 0 {
                    it.insert("r".into(), n(i));
                }
                put_request(it)
            })
            .collect();
        client.batch_write_item().request_items(&table, writes).send().await.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(keep_writing(client.clone(), table.clone(), Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let out = client
        .update_table()
        .table_name(&table)
        .attribute_definitions(attr_def("pk", TS))
        .attribute_definitions(attr_def("g", TS))
        .attribute_definitions(attr_def("r", TN))
        .global_secondary_index_updates(create_action("by_g_r", "g", Some("r"), include(&["v"])))
        .send()
        .await
        .unwrap();
    let desc = out.table_description().expect("TableDescription");
    let created = index(desc, "by_g_r").unwrap_or_else(|| panic!("new index not in the response: {desc:?}"));
    assert!(
        matches!(created.index_status(), Some(IndexStatus::Creating) | Some(IndexStatus::Active)),
        "{created:?}"
    );

    // Poll until ACTIVE; meanwhile the index is CREATING (possibly backfilling) and the table is
    // ACTIVE or UPDATING.
    let deadline = Instant::now() + INDEX_TIMEOUT;
    let mut saw_backfilling = false;
    let described = loop {
        let t = describe(&client, &table).await;
        let g = index(&t, "by_g_r").unwrap_or_else(|| panic!("index vanished while creating: {t:?}"));
        assert!(
            matches!(t.table_status(), Some(TableStatus::Active) | Some(TableStatus::Updating)),
            "table status {:?}",
            t.table_status()
        );
        match g.index_status() {
            Some(IndexStatus::Active) if t.table_status() == Some(&TableStatus::Active) => break t,
            Some(IndexStatus::Active) => {}
            Some(IndexStatus::Creating) => {
                // A CREATING index cannot be read yet.
                let read = client
                    .query()
                    .table_name(&table)
                    .index_name("by_g_r")
                    .key_condition_expression("g = :g")
                    .expression_attribute_values(":g", s("g1"))
                    .send()
                    .await;
                let still_creating = index(&describe(&client, &table).await, "by_g_r")
                    .is_some_and(|g| g.index_status() == Some(&IndexStatus::Creating));
                if still_creating {
                    assert_eq!(
                        read.as_ref().err().and_then(error_code),
                        Some("ValidationException"),
                        "Query on a CREATING index: {read:?}"
                    );
                }
            }
            other => panic!("unexpected IndexStatus {other:?} while creating"),
        }
        saw_backfilling |= g.backfilling() == Some(true);
        assert!(Instant::now() < deadline, "index not ACTIVE within {INDEX_TIMEOUT:?}: {t:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let g = index(&described, "by_g_r").unwrap();
    assert_ne!(g.backfilling(), Some(true), "an ACTIVE index is done backfilling");
    assert_eq!(
        g.index_arn(),
        Some(format!("{}/index/by_g_r", described.table_arn().unwrap()).as_str()),
        "IndexArn"
    );
    let mut attrs: Vec<&str> = described.attribute_definitions().iter().map(|a| a.attribute_name()).collect();
    attrs.sort();
    assert_eq!(attrs, vec!["g", "pk", "r"]);

    // Writes keep going for a while against the ACTIVE index, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.expect("writer task");
    assert!(writes > 0, "the writer made no write");

    // The index holds exactly what the table derives.
    let table_items = scan_all(&client, &table, None).await;
    let mut expected: Vec<Row> = table_items.iter().filter_map(derived_entry).collect();
    expected.sort();
    let got = settle(&expected, || async { rows(&scan_all(&client, &table, Some("by_g_r")).await) }).await;
    if got != expected {
        let got_set: BTreeSet<&Row> = got.iter().collect();
        let expected_set: BTreeSet<&Row> = expected.iter().collect();
        let missing: Vec<_> = expected_set.difference(&got_set).take(5).collect();
        let extra: Vec<_> = got_set.difference(&expected_set).take(5).collect();
        panic!(
            "index after backfill ({} entries, {writes} concurrent writes, saw backfilling: {saw_backfilling}) \
             differs from the table ({} entries); missing e.g. {missing:?}; unexpected e.g. {extra:?}",
            got.len(),
            expected.len()
        );
    }
    assert!(expected.len() > 1000, "most items are indexed: {}", expected.len());

    // Each index partition queried alone agrees too, in index sort key order.
    for p in 0..13 {
        let g_value = format!("g{p}");
        let got = query_index(&client, &table, "by_g_r", "g = :g", &[(":g", s(&g_value))]).await;
        let order: Vec<f64> = got.iter().map(|i| text(i, "r").parse().unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{g_value} order");
        let want: Vec<Row> =
            expected.iter().filter(|r| r.get("g") == Some(&format!("S:{g_value}"))).cloned().collect();
        assert_eq!(rows(&got), want, "partition {g_value}");
    }

    // Now that the index is ACTIVE, a write violating its key type is rejected.
    let msg = expect_validation(
        client.put_item().table_name(&table).item("pk", s("late")).item("g", n(1)).send().await,
    );
    assert!(msg.contains("Type mismatch for Index Key"), "{msg}");
}

#[tokio::test]
async fn update_table_deletes_index() {
    let server = TestServer::start();
    let client = server.client();
    let table = indexed_table(
        &client,
        "gsidel",
        None,
        &[("g", TS), ("h", TN)],
        vec![gsi("by_g", "g", None, all()), gsi("by_h", "h", None, keys_only())],
    )
    .await;
    put(&client, &table, item([("pk", s("a")), ("g", s("x")), ("h", n(1))])).await;

    let out = client
        .update_table()
        .table_name(&table)
        .global_secondary_index_updates(delete_action("by_g"))
        .send()
        .await
        .unwrap();
    if let Some(g) = out.table_description().and_then(|t| index(t, "by_g")) {
        assert_eq!(g.index_status(), Some(&IndexStatus::Deleting), "{g:?}");
    }

    let deadline = Instant::now() + INDEX_TIMEOUT;
    let t = loop {
        let t = describe(&client, &table).await;
        match index(&t, "by_g") {
            None if t.table_status() == Some(&TableStatus::Active) => break t,
            None => {}
            Some(g) => assert_eq!(g.index_status(), Some(&IndexStatus::Deleting), "{g:?}"),
        }
        assert!(Instant::now() < deadline, "index not deleted within {INDEX_TIMEOUT:?}: {t:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let remaining: Vec<&str> = t.global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
    assert_eq!(remaining, vec!["by_h"]);

    let msg = expect_validation(
        client
            .query()
            .table_name(&table)
            .index_name("by_g")
            .key_condition_expression("g = :g")
            .expression_attribute_values(":g", s("x"))
            .send()
            .await,
    );
    assert!(msg.contains("The table does not have the specified index: by_g"), "{msg}");
    expect_validation(client.scan().table_name(&table).index_name("by_g").send().await);

    // `g` is an ordinary attribute again: any type may be written; the other index still works.
    put(&client, &table, item([("pk", s("b")), ("g", n(5)), ("h", n(1))])).await;
    let want = name_set(&["a", "b"]);
    let got = settle(&want, || async {
        pks(&query_index(&client, &table, "by_h", "h = :h", &[(":h", n(1))]).await)
    })
    .await;
    assert_eq!(got, want);

    // Deleting an index that does not exist fails.
    let gone = client
        .update_table()
        .table_name(&table)
        .global_secondary_index_updates(delete_action("by_g"))
        .send()
        .await;
    assert!(
        matches!(
            gone.as_ref().err().and_then(error_code),
            Some("ResourceNotFoundException") | Some("ValidationException")
        ),
        "{gone:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// More key shapes, pagination edges and write paths

#[tokio::test]
async fn index_over_the_table_key_attributes_inverts_the_table() {
    let server = TestServer::start();
    let client = server.client();
    // Index partition key = the table sort key, index sort key = the table partition key.
    let table =
        indexed_table(&client, "gsiinv", Some(TN), &[], vec![gsi("by_sk", "sk", Some("pk"), keys_only())])
            .await;
    for p in ["c", "a", "b"] {
        for sk in 0..3 {
            put(&client, &table, item([("pk", s(p)), ("sk", n(sk)), ("extra", s("x"))])).await;
        }
    }
    wait_for_entries(&client, &table, &[("by_sk", 9)]).await;
    let got = query_index(&client, &table, "by_sk", "sk = :s", &[(":s", n(1))]).await;
    assert_eq!(pks_in_order(&got), vec!["a", "b", "c"], "ordered by the index sort key (pk)");
    for it in &got {
        assert_eq!(names(it), name_set(&["pk", "sk"]), "keys only: index and table keys coincide");
    }
    let page = client
        .query()
        .table_name(&table)
        .index_name("by_sk")
        .key_condition_expression("sk = :s AND pk > :p")
        .expression_attribute_values(":s", n(2))
        .expression_attribute_values(":p", s("a"))
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(pks_in_order(page.items()), vec!["b"]);
    let lek = page.last_evaluated_key().expect("LastEvaluatedKey");
    assert_eq!(row(lek), row(&item([("pk", s("b")), ("sk", n(2))])));
}

fn pks_in_order(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| text(i, "pk")).collect()
}

#[tokio::test]
async fn index_keys_compare_numbers_by_value() {
    let server = TestServer::start();
    let client = server.client();
    let table = indexed_table(
        &client,
        "gsinum",
        None,
        &[("g", TS), ("r", TN)],
        vec![gsi("by_g_r", "g", Some("r"), all())],
    )
    .await;
    for (pk, r) in [("a", "1.50"), ("b", "15e-1"), ("c", "10"), ("d", "1E1"), ("e", "9.99"), ("f", "-0.5")] {
        put(&client, &table, item([("pk", s(pk)), ("g", s("x")), ("r", n(r))])).await;
    }
    wait_for_entries(&client, &table, &[("by_g_r", 6)]).await;
    let got =
        query_index(&client, &table, "by_g_r", "g = :g AND r = :r", &[(":g", s("x")), (":r", n("1.5"))])
            .await;
    assert_eq!(pks(&got), name_set(&["a", "b"]), "1.50 and 15e-1 are the index key 1.5");
    let got =
        query_index(&client, &table, "by_g_r", "g = :g AND r = :r", &[(":g", s("x")), (":r", n(10))]).await;
    assert_eq!(pks(&got), name_set(&["c", "d"]), "10 and 1E1 are the index key 10");
    let got = query_index(&client, &table, "by_g_r", "g = :g", &[(":g", s("x"))]).await;
    let order: Vec<String> = got.iter().map(|i| text(i, "pk")).collect();
    assert_eq!(order[0], "f");
    assert_eq!(pks(&got[1..3]), name_set(&["a", "b"]));
    assert_eq!(order[3], "e");
    assert_eq!(pks(&got[4..6]), name_set(&["c", "d"]));
}

#[tokio::test]
async fn transactions_and_partiql_writes_maintain_the_index() {
    use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};

    let server = TestServer::start();
    let client = server.client();
    let table = g_table(&client).await;
    for (pk, g) in [("a", "x"), ("b", "x"), ("c", "y")] {
        put(&client, &table, item([("pk", s(pk)), ("g", s(g))])).await;
    }
    assert_partition(&client, &table, "x", &["a", "b"]).await;

    let put_d = Put::builder()
        .table_name(&table)
        .set_item(Some(item([("pk", s("d")), ("g", s("x")), ("v", n(1))])))
        .build()
        .unwrap();
    let move_a = Update::builder()
        .table_name(&table)
        .key("pk", s("a"))
        .update_expression("SET g = :y")
        .expression_attribute_values(":y", s("y"))
        .build()
        .unwrap();
    let delete_b = Delete::builder().table_name(&table).key("pk", s("b")).build().unwrap();
    let check_c = ConditionCheck::builder()
        .table_name(&table)
        .key("pk", s("c"))
        .condition_expression("attribute_exists(pk)")
        .build()
        .unwrap();
    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put_d).build())
        .transact_items(TransactWriteItem::builder().update(move_a).build())
        .transact_items(TransactWriteItem::builder().delete(delete_b).build())
        .transact_items(TransactWriteItem::builder().condition_check(check_c).build())
        .send()
        .await
        .unwrap();
    assert_partition(&client, &table, "x", &["d"]).await;
    assert_partition(&client, &table, "y", &["a", "c"]).await;

    // A cancelled transaction changes no index entry.
    let put_e = Put::builder()
        .table_name(&table)
        .set_item(Some(item([("pk", s("e")), ("g", s("x"))])))
        .build()
        .unwrap();
    let unindex_c =
        Update::builder().table_name(&table).key("pk", s("c")).update_expression("REMOVE g").build().unwrap();
    let failing = ConditionCheck::builder()
        .table_name(&table)
        .key("pk", s("d"))
        .condition_expression("v = :nope")
        .expression_attribute_values(":nope", n(999))
        .build()
        .unwrap();
    let cancelled = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put_e).build())
        .transact_items(TransactWriteItem::builder().update(unindex_c).build())
        .transact_items(TransactWriteItem::builder().condition_check(failing).build())
        .send()
        .await;
    assert_eq!(
        cancelled.as_ref().err().and_then(error_code),
        Some("TransactionCanceledException"),
        "{cancelled:?}"
    );
    assert_partition(&client, &table, "x", &["d"]).await;
    assert_partition(&client, &table, "y", &["a", "c"]).await;

    // A transaction writing a wrong index key type is rejected whole.
    let bad = Put::builder()
        .table_name(&table)
        .set_item(Some(item([("pk", s("h")), ("g", n(1))])))
        .build()
        .unwrap();
    let fine = Put::builder()
        .table_name(&table)
        .set_item(Some(item([("pk", s("i")), ("g", s("x"))])))
        .build()
        .unwrap();
    let rejected = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(fine).build())
        .transact_items(TransactWriteItem::builder().put(bad).build())
        .send()
        .await;
    assert!(rejected.is_err(), "{rejected:?}");
    assert!(get(&client, &table, item([("pk", s("i"))])).await.is_none());

    // PartiQL writes maintain it too.
    for statement in [
        format!("INSERT INTO \"{table}\" VALUE {{'pk': 'f', 'g': 'x', 'v': 6}}"),
        format!("UPDATE \"{table}\" SET g = 'z' WHERE pk = 'd'"),
        format!("DELETE FROM \"{table}\" WHERE pk = 'a'"),
    ] {
        client
            .execute_statement()
            .statement(&statement)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
    }
    assert_partition(&client, &table, "x", &["f"]).await;
    assert_partition(&client, &table, "y", &["c"]).await;
    assert_partition(&client, &table, "z", &["d"]).await;
    // Reading an index through PartiQL is honoured, or rejected as not supported yet.
    let read = client
        .execute_statement()
        .statement(format!("SELECT * FROM \"{table}\".\"by_g\" WHERE g = 'z'"))
        .send()
        .await;
    match read {
        Ok(out) => {
            assert_eq!(rows(out.items()), vec![row(&item([("pk", s("d")), ("g", s("z")), ("v", n(1))]))]);
        }
        Err(err) => {
            expect_validation::<(), _, _>(Err(err));
        }
    }
}

/// Table `pk` (S) + `sk` (N) with `by_g_r`: `g` (S) + `r` (N), ALL; 30 items on `g = same`
/// (`r = i % 3`, `v = i`).
async fn thirty_on_one_index_key(client: &Client) -> String {
    let table = indexed_table(
        client,
        "gsiedge",
        Some(TN),
        &[("g", TS), ("r", TN)],
        vec![gsi("by_g_r", "g", Some("r"), all())],
    )
    .await;
    let writes: Vec<WriteRequest> = (0..30)
        .map(|i| {
            put_request(item([
                ("pk", s(format!("p{}", i % 2))),
                ("sk", n(i)),
                ("g", s("same")),
                ("r", n(i % 3)),
                ("v", n(i)),
            ]))
        })
        .collect();
    for chunk in writes.chunks(25) {
        client.batch_write_item().request_items(&table, chunk.to_vec()).send().await.unwrap();
    }
    wait_for_entries(client, &table, &[("by_g_r", 30)]).await;
    table
}

#[tokio::test]
async fn filtered_index_query_pages_by_evaluated_entries() {
    let server = TestServer::start();
    let client = server.client();
    let table = thirty_on_one_index_key(&client).await;

    for (threshold, want) in [(1000, 0usize), (20, 10)] {
        let mut start: Option<Item> = None;
        let (mut matched, mut scanned, mut pages) = (Vec::new(), 0, 0);
        loop {
            let page = client
                .query()
                .table_name(&table)
                .index_name("by_g_r")
                .key_condition_expression("g = :g")
                .filter_expression("v >= :t")
                .expression_attribute_values(":g", s("same"))
                .expression_attribute_values(":t", n(threshold))
                .limit(7)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            pages += 1;
            assert!(pages <= 10, "pagination does not end");
            scanned += page.scanned_count();
            matched.extend(page.items().iter().map(|i| text(i, "sk")));
            let Some(lek) = page.last_evaluated_key() else { break };
            assert_eq!(page.scanned_count(), 7, "a page with a LastEvaluatedKey evaluated Limit entries");
            assert_eq!(names(lek), name_set(&["pk", "sk", "g", "r"]), "LastEvaluatedKey {lek:?}");
            start = Some(lek.clone());
        }
        assert_eq!(scanned, 30, "every entry evaluated once (v >= {threshold})");
        let distinct: BTreeSet<&String> = matched.iter().collect();
        assert_eq!((matched.len(), distinct.len()), (want, want), "v >= {threshold}");
    }
}

#[tokio::test]
async fn parallel_scan_of_index_covers_every_entry_once() {
    let server = TestServer::start();
    let client = server.client();
    let table = thirty_on_one_index_key(&client).await;
    let mut seen = Vec::new();
    for segment in 0..3 {
        let mut start: Option<Item> = None;
        loop {
            let page = client
                .scan()
                .table_name(&table)
                .index_name("by_g_r")
                .segment(segment)
                .total_segments(3)
                .limit(4)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            seen.extend(page.items().iter().map(|i| text(i, "sk")));
            match page.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (30, 30), "{seen:?}");
}

#[tokio::test]
async fn exclusive_start_key_on_index_needs_index_and_table_keys() {
    let server = TestServer::start();
    let client = server.client();
    let table = thirty_on_one_index_key(&client).await;
    let index_only = item([("g", s("same")), ("r", n(1))]);
    let table_only = item([("pk", s("p0")), ("sk", n(4))]);
    for start in [index_only, table_only] {
        expect_validation(
            client
                .query()
                .table_name(&table)
                .index_name("by_g_r")
                .key_condition_expression("g = :g")
                .expression_attribute_values(":g", s("same"))
                .set_exclusive_start_key(Some(start.clone()))
                .send()
                .await,
        );
        expect_validation(
            client
                .scan()
                .table_name(&table)
                .index_name("by_g_r")
                .set_exclusive_start_key(Some(start))
                .send()
                .await,
        );
    }
    // The full key of an entry resumes after it.
    let full = item([("pk", s("p0")), ("sk", n(4)), ("g", s("same")), ("r", n(1))]);
    let out = client
        .query()
        .table_name(&table)
        .index_name("by_g_r")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("same"))
        .set_exclusive_start_key(Some(full))
        .send()
        .await
        .unwrap();
    assert!(out.items().iter().all(|i| text(i, "r") != "0"), "resumes after r = 1 entries only");
    assert!(!out.items().iter().any(|i| text(i, "sk") == "4"), "the start entry itself is excluded");
}

#[tokio::test]
async fn index_key_values_over_the_key_size_limits_are_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = four_index_table(&client).await;
    // An index partition key holds at most 2048 bytes.
    let msg = expect_validation(
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s("a")), ("sk", n(1)), ("gs", s("x".repeat(2049)))])))
            .send()
            .await,
    );
    assert!(!msg.is_empty());
    put(&client, &table, item([("pk", s("a")), ("sk", n(1)), ("gs", s("x".repeat(2048)))])).await;
    wait_for_entries(&client, &table, &[("by_s", 1)]).await;
    let got = query_index(&client, &table, "by_s", "gs = :g", &[(":g", s("x".repeat(2048)))]).await;
    assert_eq!(got.len(), 1);
    // An index sort key holds at most 1024 bytes.
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item([("pk", s("b")), ("sk", n(1)), ("nk", n(1)), ("gr", b(vec![7u8; 1025]))])))
            .send()
            .await,
    );
    put(&client, &table, item([("pk", s("b")), ("sk", n(1)), ("nk", n(1)), ("gr", b(vec![7u8; 1024]))]))
        .await;
    wait_for_entries(&client, &table, &[("by_n_b", 1)]).await;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

#[tokio::test]
async fn indexes_survive_restart_and_a_recreated_table_starts_empty() {
    let mut server = TestServer::start();
    let client = server.client();
    let table = g_table(&client).await;
    for i in 0..20 {
        put(
            &client,
            &table,
            item([("pk", s(format!("k{i}"))), ("g", s(format!("x{}", i % 2))), ("v", n(i))]),
        )
        .await;
    }
    wait_for_entries(&client, &table, &[("by_g", 20)]).await;
    let before = rows(&scan_all(&client, &table, Some("by_g")).await);

    server.restart();
    let client = server.client();
    let t = wait_until_active(&client, &table).await;
    assert_eq!(index(&t, "by_g").and_then(|g| g.index_status()), Some(&IndexStatus::Active));
    assert_eq!(rows(&scan_all(&client, &table, Some("by_g")).await), before, "index after restart");
    client.delete_item().table_name(&table).key("pk", s("k0")).send().await.unwrap();
    assert_index_rows(&client, &table, "by_g", before[1..].to_vec()).await;

    // Deleting the table drops its index entries; a new table of the same name starts empty.
    client.delete_table().table_name(&table).send().await.unwrap();
    let deadline = Instant::now() + INDEX_TIMEOUT;
    while client.describe_table().table_name(&table).send().await.is_ok() {
        assert!(Instant::now() < deadline, "table not deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", TS))
        .attribute_definitions(attr_def("g", TS))
        .key_schema(key_elem("pk", KeyType::Hash))
        .global_secondary_indexes(gsi("by_g", "g", None, include(&["v"])))
        .send()
        .await
        .unwrap();
    wait_until_active(&client, &table).await;
    assert!(scan_all(&client, &table, Some("by_g")).await.is_empty(), "no entry of the deleted table");
    assert!(in_partition(&client, &table, "x1").await.is_empty());
    put(&client, &table, item([("pk", s("new")), ("g", s("x1"))])).await;
    assert_partition(&client, &table, "x1", &["new"]).await;
}

/// Puts `count` items `k0000..` with `g` = `g{i % 13}` (absent for every seventh) and `r` = i.
async fn load_for_backfill(client: &Client, table: &str, count: u64) {
    for chunk in (0..count).collect::<Vec<u64>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|&i| {
                let mut it = item([("pk", s(format!("k{i:04}"))), ("r", n(i)), ("v", n(i))]);
                if i % 7 != 0 {
                    it.insert("g".into(), s(format!("g{}", i % 13)));
                }
                put_request(it)
            })
            .collect();
        client.batch_write_item().request_items(table, writes).send().await.unwrap();
    }
}

/// Asserts that `by_g_r` holds exactly the entries the table's items derive.
async fn assert_index_matches_table(client: &Client, table: &str) -> usize {
    let mut want: Vec<Row> = scan_all(client, table, None).await.iter().filter_map(derived_entry).collect();
    want.sort();
    let got = settle(&want, || async { rows(&scan_all(client, table, Some("by_g_r")).await) }).await;
    assert_eq!(got.len(), want.len(), "entries in by_g_r");
    assert!(got == want, "by_g_r differs from what the table derives");
    want.len()
}

#[tokio::test]
async fn backfill_completes_after_the_server_is_killed() {
    let mut server = TestServer::start();
    let client = server.client();
    let table = unique_table_name("gsicrash");
    eddy_tests::create_table(&client, &table, ("pk", TS), None).await;
    load_for_backfill(&client, &table, 3000).await;
    client
        .update_table()
        .table_name(&table)
        .attribute_definitions(attr_def("g", TS))
        .attribute_definitions(attr_def("r", TN))
        .global_secondary_index_updates(create_action("by_g_r", "g", Some("r"), include(&["v"])))
        .send()
        .await
        .unwrap();
    server.kill9();
    server.restart();
    let client = server.client();
    let t = wait_until_active(&client, &table).await;
    assert!(index(&t, "by_g_r").is_some(), "the acknowledged index survives the crash: {t:?}");
    let entries = assert_index_matches_table(&client, &table).await;
    assert!(entries > 2000, "{entries}");
    put(&client, &table, item([("pk", s("after")), ("g", s("g0")), ("r", n(-1))])).await;
    assert_index_matches_table(&client, &table).await;
}

#[tokio::test]
async fn recreating_a_deleted_index_holds_only_current_entries() {
    let server = TestServer::start();
    let client = server.client();
    let table = indexed_table(
        &client,
        "gsire",
        None,
        &[("g", TS), ("r", TN)],
        vec![gsi("by_g_r", "g", Some("r"), include(&["v"]))],
    )
    .await;
    load_for_backfill(&client, &table, 300).await;
    assert_index_matches_table(&client, &table).await;

    client
        .update_table()
        .table_name(&table)
        .global_secondary_index_updates(delete_action("by_g_r"))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + INDEX_TIMEOUT;
    while index(&describe(&client, &table).await, "by_g_r").is_some() {
        assert!(Instant::now() < deadline, "index not deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // While the index is gone: move, drop and delete items.
    for i in 0..300u64 {
        let key = s(format!("k{i:04}"));
        match i % 4 {
            0 => {
                client.delete_item().table_name(&table).key("pk", key).send().await.unwrap();
            }
            1 => {
                client
                    .update_item()
                    .table_name(&table)
                    .key("pk", key)
                    .update_expression("REMOVE g")
                    .send()
                    .await
                    .unwrap();
            }
            2 => {
                client
                    .update_item()
                    .table_name(&table)
                    .key("pk", key)
                    .update_expression("SET g = :g")
                    .expression_attribute_values(":g", s("moved"))
                    .send()
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    client
        .update_table()
        .table_name(&table)
        .attribute_definitions(attr_def("g", TS))
        .attribute_definitions(attr_def("r", TN))
        .global_secondary_index_updates(create_action("by_g_r", "g", Some("r"), include(&["v"])))
        .send()
        .await
        .unwrap();
    wait_until_active(&client, &table).await;
    let entries = assert_index_matches_table(&client, &table).await;
    assert!(entries > 100, "{entries}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_items_not_yet_backfilled_succeed() {
    let server = TestServer::start();
    let client = server.client();
    for round in 0..3 {
        let table = unique_table_name("gsiburst");
        eddy_tests::create_table(&client, &table, ("pk", TS), None).await;
        load_for_backfill(&client, &table, 2000).await;

        // Four writers, each walking its own keys from the top down: deletes, index key
        // removals, moves and projected-attribute updates, from just before the index is added
        // until it is ACTIVE.
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for lane in 0..4u64 {
            let (client, table, stop) = (client.clone(), table.clone(), Arc::clone(&stop));
            tasks.spawn(async move {
                let mut failures = Vec::new();
                for i in (0..2000u64).rev().filter(|i| i % 4 == lane) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = s(format!("k{i:04}"));
                    let update = client.update_item().table_name(&table).key("pk", key.clone());
                    let result = match (i / 4) % 4 {
                        0 => client
                            .delete_item()
                            .table_name(&table)
                            .key("pk", key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                        1 => update
                            .update_expression("REMOVE g")
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                        2 => update
                            .update_expression("SET g = :g")
                            .expression_attribute_values(":g", s("moved"))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                        _ => update
                            .update_expression("SET v = :v")
                            .expression_attribute_values(":v", n(-1))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                    };
                    if let Err(e) = result {
                        failures.push(format!("k{i:04}: {e}"));
                    }
                }
                failures
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        client
            .update_table()
            .table_name(&table)
            .attribute_definitions(attr_def("g", TS))
            .attribute_definitions(attr_def("r", TN))
            .global_secondary_index_updates(create_action("by_g_r", "g", Some("r"), include(&["v"])))
            .send()
            .await
            .unwrap();
        wait_until_active(&client, &table).await;
        stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        while let Some(done) = tasks.join_next().await {
            failures.extend(done.expect("writer task"));
        }
        assert!(
            failures.is_empty(),
            "round {round}: {} writes failed around the backfill, e.g. {}",
            failures.len(),
            failures[0]
        );
        assert_index_matches_table(&client, &table).await;
    }
}
