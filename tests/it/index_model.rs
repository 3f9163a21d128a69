//! Proves that after random sequences of PutItem, UpdateItem (SET and REMOVE of index keys and
//! other attributes), DeleteItem and BatchWriteItem, a table's global and local secondary indexes
//! hold exactly what an in-memory model of the table derives.
//!
//! `EDDY_MODEL_STEPS` sets the number of steps (default 2000).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, DeleteRequest, GlobalSecondaryIndex, KeyType, LocalSecondaryIndex,
    Projection, ProjectionType, PutRequest, ReturnValue, ScalarAttributeType, TableStatus, WriteRequest,
};
use eddy_tests::{Item, TestServer, attr_def, error_code, item, key_elem, n, s, unique_table_name};

/// Steps between two full comparisons of table and indexes with the model.
const CHECK_EVERY: u64 = 50;
const DEFAULT_STEPS: u64 = 2000;
const SEED: u64 = 0x1DE5_5EED;
/// Partition keys `p0..p3`, sort keys `0..6`.
const PARTITIONS: u64 = 4;
const SORT_KEYS: u64 = 6;
/// Values of the global index partition key `g`.
const G_VALUES: [&str; 3] = ["g0", "g1", "g2"];
/// How long a write may take to show in the global secondary index, which DynamoDB maintains
/// asynchronously.
const INDEX_LAG: Duration = Duration::from_secs(5);

/// A small deterministic generator (xorshift64*), so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

// ---------------------------------------------------------------------------------------------
// The model

/// A table item's non-key attributes. `g` (S) and `r` (N) key the global index `by_g`, `l` (S)
/// is the sort key of the local index `by_l`; `v` and `w` are plain attributes (`v` is projected
/// into `by_g`).
#[derive(Clone, Debug, Default, PartialEq)]
struct Attrs {
    g: Option<String>,
    r: Option<i64>,
    l: Option<String>,
    v: Option<i64>,
    w: Option<i64>,
}

type Key = (String, i64);
type Model = BTreeMap<Key, Attrs>;
/// An item in comparable form: attribute name -> typed value text.
type Row = BTreeMap<String, String>;

fn random_key(rng: &mut Rng) -> Key {
    (format!("p{}", rng.below(PARTITIONS)), rng.below(SORT_KEYS) as i64)
}

fn random_g(rng: &mut Rng) -> String {
    G_VALUES[rng.below(G_VALUES.len() as u64) as usize].to_string()
}

fn random_r(rng: &mut Rng) -> i64 {
    rng.below(7) as i64 - 3
}

fn random_l(rng: &mut Rng) -> String {
    ["a", "b", "c", "d"][rng.below(4) as usize].to_string()
}

fn random_attrs(rng: &mut Rng, step: u64) -> Attrs {
    Attrs {
        g: rng.chance(2, 3).then(|| random_g(rng)),
        r: rng.chance(2, 3).then(|| random_r(rng)),
        l: rng.chance(2, 3).then(|| random_l(rng)),
        v: rng.chance(2, 3).then(|| rng.below(10) as i64),
        w: rng.chance(1, 2).then_some(step as i64),
    }
}

fn key_item((pk, sk): &Key) -> Item {
    item([("pk", s(pk)), ("sk", n(sk))])
}

fn to_item(key: &Key, a: &Attrs) -> Item {
    let mut it = key_item(key);
    if let Some(g) = &a.g {
        it.insert("g".into(), s(g));
    }
    if let Some(r) = a.r {
        it.insert("r".into(), n(r));
    }
    if let Some(l) = &a.l {
        it.insert("l".into(), s(l));
    }
    if let Some(v) = a.v {
        it.insert("v".into(), n(v));
    }
    if let Some(w) = a.w {
        it.insert("w".into(), n(w));
    }
    it
}

fn canon(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(v) => format!("S:{v}"),
        AttributeValue::N(v) => format!("N:{v}"),
        other => format!("{other:?}"),
    }
}

fn row(item: &Item) -> Row {
    item.iter().map(|(k, v)| (k.clone(), canon(v))).collect()
}

fn sorted_rows(items: &[Item]) -> Vec<Row> {
    let mut rows: Vec<Row> = items.iter().map(row).collect();
    rows.sort();
    rows
}

/// The table's items as the model has them, sorted.
fn table_rows(model: &Model) -> Vec<Row> {
    let mut rows: Vec<Row> = model.iter().map(|(k, a)| row(&to_item(k, a))).collect();
    rows.sort();
    rows
}

/// The `by_g` entry of an item: present when it has both `g` and `r`; projects the keys and `v`.
fn gsi_row(key: &Key, a: &Attrs) -> Option<Row> {
    let (g, r) = (a.g.as_ref()?, a.r?);
    let entry = Attrs { g: Some(g.clone()), r: Some(r), l: None, v: a.v, w: None };
    Some(row(&to_item(key, &entry)))
}

/// The `by_l` entry of an item: present when it has `l`; projects everything.
fn lsi_row(key: &Key, a: &Attrs) -> Option<Row> {
    a.l.as_ref()?;
    Some(row(&to_item(key, a)))
}

fn gsi_rows(model: &Model, g: Option<&str>) -> Vec<Row> {
    let mut rows: Vec<Row> = model
        .iter()
        .filter(|(_, a)| g.is_none() || a.g.as_deref() == g)
        .filter_map(|(k, a)| gsi_row(k, a))
        .collect();
    rows.sort();
    rows
}

fn lsi_rows(model: &Model, pk: Option<&str>) -> Vec<Row> {
    let mut rows: Vec<Row> = model
        .iter()
        .filter(|((p, _), _)| pk.is_none() || Some(p.as_str()) == pk)
        .filter_map(|(k, a)| lsi_row(k, a))
        .collect();
    rows.sort();
    rows
}

fn attrs_of(it: &Item) -> Attrs {
    let text = |name: &str| match it.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        None => None,
        other => panic!("{name} is not S: {other:?}"),
    };
    let number = |name: &str| match it.get(name) {
        Some(AttributeValue::N(v)) => Some(v.parse::<i64>().unwrap_or_else(|e| panic!("{name}={v}: {e}"))),
        None => None,
        other => panic!("{name} is not N: {other:?}"),
    };
    Attrs { g: text("g"), r: number("r"), l: text("l"), v: number("v"), w: number("w") }
}

/// The old or new image a write returned, as model attributes.
fn image(attrs: Option<&Item>) -> Option<Attrs> {
    attrs.filter(|a| !a.is_empty()).map(attrs_of)
}

// ---------------------------------------------------------------------------------------------
// Table and reads

async fn create_model_table(client: &Client) -> String {
    let name = unique_table_name("idxmodel");
    let gsi = GlobalSecondaryIndex::builder()
        .index_name("by_g")
        .key_schema(key_elem("g", KeyType::Hash))
        .key_schema(key_elem("r", KeyType::Range))
        .projection(
            Projection::builder().projection_type(ProjectionType::Include).non_key_attributes("v").build(),
        )
        .build()
        .unwrap();
    let lsi = LocalSecondaryIndex::builder()
        .index_name("by_l")
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem("l", KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .unwrap();
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(attr_def("sk", ScalarAttributeType::N))
        .attribute_definitions(attr_def("g", ScalarAttributeType::S))
        .attribute_definitions(attr_def("r", ScalarAttributeType::N))
        .attribute_definitions(attr_def("l", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem("sk", KeyType::Range))
        .global_secondary_indexes(gsi)
        .local_secondary_indexes(lsi)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name} with indexes: {e:?}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = client.describe_table().table_name(&name).send().await.unwrap();
        let t = t.table().unwrap();
        let ready = t.table_status() == Some(&TableStatus::Active)
            && t.global_secondary_indexes()
                .iter()
                .all(|g| g.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active));
        if ready {
            return name;
        }
        assert!(Instant::now() < deadline, "table not ACTIVE: {t:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every item of a Scan (of `index`, or of the table) in pages of `limit`.
async fn scan(client: &Client, table: &str, index: Option<&str>, limit: Option<i32>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    let consistent = index != Some("by_g");
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_index_name(index.map(str::to_string))
            .consistent_read(consistent)
            .set_limit(limit)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {index:?} limit {limit:?}: {e:?}"));
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return out,
        }
    }
}

/// Every item of a Query on `index` for `attr = value`, in the order returned.
async fn query(
    client: &Client,
    table: &str,
    index: &str,
    attr: &str,
    value: &str,
    limit: Option<i32>,
) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .index_name(index)
            .key_condition_expression(format!("{attr} = :v"))
            .expression_attribute_values(":v", s(value))
            .consistent_read(index == "by_l")
            .set_limit(limit)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("query {index} {attr}={value}: {e:?}"));
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return out,
        }
    }
}

fn number_of(it: &Item, attr: &str) -> i64 {
    match it.get(attr) {
        Some(AttributeValue::N(v)) => v.parse().unwrap(),
        other => panic!("{attr}: {other:?}"),
    }
}

fn text_of(it: &Item, attr: &str) -> String {
    match it.get(attr) {
        Some(AttributeValue::S(v)) => v.clone(),
        other => panic!("{attr}: {other:?}"),
    }
}

/// Reads the global index (which may lag writes) until it matches or [`INDEX_LAG`] passes.
async fn settled_gsi(
    client: &Client,
    table: &str,
    g: Option<&str>,
    want: &[Row],
    limit: Option<i32>,
) -> Vec<Item> {
    let deadline = Instant::now() + INDEX_LAG;
    loop {
        let items = match g {
            Some(g) => query(client, table, "by_g", "g", g, limit).await,
            None => scan(client, table, Some("by_g"), limit).await,
        };
        if sorted_rows(&items) == want || Instant::now() >= deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Compares the table and both indexes with the model.
async fn check(client: &Client, table: &str, model: &Model, rng: &mut Rng, ctx: &str) {
    let limit = |rng: &mut Rng| if rng.chance(1, 2) { Some(rng.below(9) as i32 + 1) } else { None };

    let got = scan(client, table, None, limit(rng)).await;
    assert_eq!(sorted_rows(&got), table_rows(model), "{ctx}: table");

    let want = gsi_rows(model, None);
    let got = settled_gsi(client, table, None, &want, limit(rng)).await;
    assert_eq!(sorted_rows(&got), want, "{ctx}: Scan of by_g");
    for g in G_VALUES {
        let want = gsi_rows(model, Some(g));
        let got = settled_gsi(client, table, Some(g), &want, limit(rng)).await;
        assert_eq!(sorted_rows(&got), want, "{ctx}: Query of by_g for g = {g}");
        let order: Vec<i64> = got.iter().map(|i| number_of(i, "r")).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{ctx}: by_g g = {g} out of r order: {order:?}");
    }

    let got = scan(client, table, Some("by_l"), limit(rng)).await;
    assert_eq!(sorted_rows(&got), lsi_rows(model, None), "{ctx}: Scan of by_l");
    for p in 0..PARTITIONS {
        let pk = format!("p{p}");
        let got = query(client, table, "by_l", "pk", &pk, limit(rng)).await;
        assert_eq!(sorted_rows(&got), lsi_rows(model, Some(&pk)), "{ctx}: Query of by_l for pk = {pk}");
        let order: Vec<String> = got.iter().map(|i| text_of(i, "l")).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{ctx}: by_l pk = {pk} out of l order: {order:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Steps

fn put_request(item: Item) -> WriteRequest {
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
}

fn delete_request(key: Item) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().unwrap())
        .build()
}

/// An UpdateItem that sets or removes each of `g`, `r`, `l`, `v` at random and always sets `w`
/// to the step number (so the item exists afterwards); returns the expression pieces and the
/// attributes it produces from `old`.
struct Update {
    expression: String,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
    result: Attrs,
}

fn random_update(rng: &mut Rng, step: u64, old: Option<&Attrs>) -> Update {
    let mut result = old.cloned().unwrap_or_default();
    let mut sets = vec!["#w = :w".to_string()];
    let mut removes = Vec::new();
    let mut names = vec![("#w".to_string(), "w".to_string())];
    let mut values = vec![(":w".to_string(), n(step))];
    result.w = Some(step as i64);
    for attr in ["g", "r", "l", "v"] {
        let action = rng.below(3);
        if action == 0 {
            continue;
        }
        names.push((format!("#{attr}"), attr.to_string()));
        if action == 2 {
            removes.push(format!("#{attr}"));
            match attr {
                "g" => result.g = None,
                "r" => result.r = None,
                "l" => result.l = None,
                _ => result.v = None,
            }
            continue;
        }
        sets.push(format!("#{attr} = :{attr}"));
        let value = match attr {
            "g" => {
                let g = random_g(rng);
                result.g = Some(g.clone());
                s(g)
            }
            "r" => {
                let r = random_r(rng);
                result.r = Some(r);
                n(r)
            }
            "l" => {
                let l = random_l(rng);
                result.l = Some(l.clone());
                s(l)
            }
            _ => {
                let v = rng.below(10) as i64;
                result.v = Some(v);
                n(v)
            }
        };
        values.push((format!(":{attr}"), value));
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    Update { expression, names, values, result }
}

/// A write whose index key attribute has the wrong type or is empty: DynamoDB rejects it with a
/// ValidationException and changes nothing.
async fn invalid_write(client: &Client, table: &str, rng: &mut Rng, key: &Key, ctx: &str) {
    let mut bad = key_item(key);
    let (attr, value) = match rng.below(5) {
        0 => ("g", n(1)),
        1 => ("r", s("one")),
        2 => ("l", n(2)),
        3 => ("g", s("")),
        _ => ("l", s("")),
    };
    let result = match rng.below(3) {
        0 => {
            bad.insert(attr.into(), value);
            bad.insert("v".into(), n(99));
            client
                .put_item()
                .table_name(table)
                .set_item(Some(bad))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| (error_code(&e).map(str::to_string), format!("{e:?}")))
        }
        1 => client
            .update_item()
            .table_name(table)
            .set_key(Some(bad))
            .update_expression("SET #a = :a, #v = :v")
            .expression_attribute_names("#a", attr)
            .expression_attribute_names("#v", "v")
            .expression_attribute_values(":a", value)
            .expression_attribute_values(":v", n(99))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| (error_code(&e).map(str::to_string), format!("{e:?}"))),
        _ => {
            // A batch whose other request alone would be valid.
            bad.insert(attr.into(), value);
            let other = (key.0.clone(), (key.1 + 1) % SORT_KEYS as i64);
            let good = to_item(&other, &Attrs { v: Some(99), ..Attrs::default() });
            client
                .batch_write_item()
                .request_items(table, vec![put_request(good), put_request(bad)])
                .send()
                .await
                .map(|_| ())
                .map_err(|e| (error_code(&e).map(str::to_string), format!("{e:?}")))
        }
    };
    match result {
        Err((Some(code), _)) if code == "ValidationException" => {}
        other => panic!("{ctx}: invalid {attr} write: expected ValidationException, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_writes_keep_global_and_local_indexes_equal_to_the_model() {
    let steps: u64 = std::env::var("EDDY_MODEL_STEPS")
        .ok()
        .map(|v| v.parse().expect("EDDY_MODEL_STEPS is a number"))
        .unwrap_or(DEFAULT_STEPS);
    let server = TestServer::start();
    let client = server.client();
    let table = create_model_table(&client).await;
    let mut rng = Rng(SEED);
    let mut check_rng = Rng(SEED ^ 0xC4EC);
    let mut model = Model::new();
    let started = Instant::now();

    for step in 0..steps {
        let key = random_key(&mut rng);
        let ctx = format!("seed {SEED:#x} step {step} key {key:?}");
        match rng.below(100) {
            0..30 => {
                let attrs = random_attrs(&mut rng, step);
                let out = client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(to_item(&key, &attrs)))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: put: {e:?}"));
                assert_eq!(image(out.attributes()), model.insert(key, attrs), "{ctx}: put old image");
            }
            30..58 => {
                let update = random_update(&mut rng, step, model.get(&key));
                let mut req = client
                    .update_item()
                    .table_name(&table)
                    .set_key(Some(key_item(&key)))
                    .update_expression(&update.expression)
                    .return_values(ReturnValue::AllNew);
                for (k, v) in &update.names {
                    req = req.expression_attribute_names(k, v);
                }
                for (k, v) in &update.values {
                    req = req.expression_attribute_values(k, v.clone());
                }
                let out = req.send().await.unwrap_or_else(|e| panic!("{ctx}: {}: {e:?}", update.expression));
                assert_eq!(
                    image(out.attributes()),
                    Some(update.result.clone()),
                    "{ctx}: {}",
                    update.expression
                );
                model.insert(key, update.result);
            }
            58..70 => {
                let out = client
                    .delete_item()
                    .table_name(&table)
                    .set_key(Some(key_item(&key)))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: delete: {e:?}"));
                assert_eq!(image(out.attributes()), model.remove(&key), "{ctx}: delete old image");
            }
            70..84 => {
                let mut keys = BTreeSet::from([key]);
                for _ in 0..rng.below(4) {
                    keys.insert(random_key(&mut rng));
                }
                let mut writes = Vec::new();
                let mut next = model.clone();
                for k in keys {
                    if rng.chance(2, 3) {
                        let attrs = random_attrs(&mut rng, step);
                        writes.push(put_request(to_item(&k, &attrs)));
                        next.insert(k, attrs);
                    } else {
                        writes.push(delete_request(key_item(&k)));
                        next.remove(&k);
                    }
                }
                let out = client
                    .batch_write_item()
                    .request_items(&table, writes)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: batch: {e:?}"));
                assert!(
                    out.unprocessed_items().is_none_or(|u| u.values().all(|w| w.is_empty())),
                    "{ctx}: unprocessed items {:?}",
                    out.unprocessed_items()
                );
                model = next;
            }
            84..90 => {
                // Conditional move to another index partition: only if the item is in `g`.
                let (from, to) = (random_g(&mut rng), random_g(&mut rng));
                let result = client
                    .update_item()
                    .table_name(&table)
                    .set_key(Some(key_item(&key)))
                    .update_expression("SET #g = :to")
                    .condition_expression("#g = :from")
                    .expression_attribute_names("#g", "g")
                    .expression_attribute_values(":from", s(&from))
                    .expression_attribute_values(":to", s(&to))
                    .send()
                    .await;
                match model.get_mut(&key) {
                    Some(a) if a.g.as_deref() == Some(from.as_str()) => {
                        result.unwrap_or_else(|e| panic!("{ctx}: conditional move: {e:?}"));
                        a.g = Some(to);
                    }
                    _ => assert_eq!(
                        result.as_ref().err().and_then(error_code),
                        Some("ConditionalCheckFailedException"),
                        "{ctx}: conditional move {result:?}"
                    ),
                }
            }
            90..96 => invalid_write(&client, &table, &mut rng, &key, &ctx).await,
            _ => {
                let out = client
                    .get_item()
                    .table_name(&table)
                    .set_key(Some(key_item(&key)))
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: get: {e:?}"));
                assert_eq!(out.item().map(attrs_of), model.get(&key).cloned(), "{ctx}: get");
            }
        }
        if (step + 1) % CHECK_EVERY == 0 {
            check(&client, &table, &model, &mut check_rng, &ctx).await;
        }
    }
    check(&client, &table, &model, &mut check_rng, &format!("seed {SEED:#x} after {steps} steps")).await;
    let gsi_entries = gsi_rows(&model, None).len();
    let lsi_entries = lsi_rows(&model, None).len();
    assert!(
        steps < 200 || (gsi_entries > 0 && lsi_entries > 0),
        "the final state exercises both indexes: {gsi_entries} global, {lsi_entries} local entries"
    );
    eprintln!(
        "index model: {steps} steps in {:?}; final {} items, {gsi_entries} by_g, {lsi_entries} by_l entries",
        started.elapsed(),
        model.len()
    );
}
