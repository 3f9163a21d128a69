//! Proves the changelog invariants (DESIGN.md, invariants 1 to 3) through the clients users have:
//! replaying the stream after random operations rebuilds the table, every reader sees the same
//! records in the same order, `kill -9` during a write load leaves exactly one record per
//! acknowledged write, sequence numbers are never reused across restarts and table re-creation,
//! and retention trims old records while subscriptions start at the trim horizon.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, ConditionCheck, Delete, DeleteRequest, KeyType, Put, PutRequest,
    ScalarAttributeType, StreamSpecification, StreamViewType, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use eddy_tests::rest::{EventStream, call_json};
use eddy_tests::{TestServer, attr_def, error_code, key_elem, n, s, unique_table_name};
use serde_json::{Value, json};

/// How long a reader waits for a record that should come.
const WAIT: Duration = Duration::from_secs(20);
/// How long a reader listens to be sure no further record comes.
const QUIET: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------
// Values every client converts to

/// An attribute value in one form for both SDKs and the JSON readers, totally ordered so items
/// can be map keys. Numbers are normalised (every number in these tests is an integer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    S(String),
    N(String),
    B(Vec<u8>),
    Bool(bool),
    Null,
    Ss(BTreeSet<String>),
    Ns(BTreeSet<String>),
    Bs(BTreeSet<Vec<u8>>),
    L(Vec<V>),
    M(Doc),
}

/// An item or a key.
type Doc = BTreeMap<String, V>;

fn norm(number: &str) -> String {
    number.parse::<i64>().map_or_else(|_| number.to_string(), |v| v.to_string())
}

fn from_sdk(value: &AttributeValue) -> V {
    match value {
        AttributeValue::S(v) => V::S(v.clone()),
        AttributeValue::N(v) => V::N(norm(v)),
        AttributeValue::B(v) => V::B(v.as_ref().to_vec()),
        AttributeValue::Bool(v) => V::Bool(*v),
        AttributeValue::Null(_) => V::Null,
        AttributeValue::Ss(v) => V::Ss(v.iter().cloned().collect()),
        AttributeValue::Ns(v) => V::Ns(v.iter().map(|x| norm(x)).collect()),
        AttributeValue::Bs(v) => V::Bs(v.iter().map(|x| x.as_ref().to_vec()).collect()),
        AttributeValue::L(v) => V::L(v.iter().map(from_sdk).collect()),
        AttributeValue::M(v) => V::M(v.iter().map(|(k, x)| (k.clone(), from_sdk(x))).collect()),
        other => panic!("unexpected attribute value {other:?}"),
    }
}

fn from_stream(value: &aws_sdk_dynamodbstreams::types::AttributeValue) -> V {
    use aws_sdk_dynamodbstreams::types::AttributeValue as A;
    match value {
        A::S(v) => V::S(v.clone()),
        A::N(v) => V::N(norm(v)),
        A::B(v) => V::B(v.as_ref().to_vec()),
        A::Bool(v) => V::Bool(*v),
        A::Null(_) => V::Null,
        A::Ss(v) => V::Ss(v.iter().cloned().collect()),
        A::Ns(v) => V::Ns(v.iter().map(|x| norm(x)).collect()),
        A::Bs(v) => V::Bs(v.iter().map(|x| x.as_ref().to_vec()).collect()),
        A::L(v) => V::L(v.iter().map(from_stream).collect()),
        A::M(v) => V::M(v.iter().map(|(k, x)| (k.clone(), from_stream(x))).collect()),
        other => panic!("unexpected attribute value {other:?}"),
    }
}

/// A value in DynamoDB JSON (binary values are not used by these tests).
fn from_json(value: &Value) -> V {
    let object = value.as_object().filter(|o| o.len() == 1).unwrap_or_else(|| panic!("not a value: {value}"));
    let (tag, v) = object.iter().next().unwrap();
    let strings = || v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string());
    match tag.as_str() {
        "S" => V::S(v.as_str().unwrap().to_string()),
        "N" => V::N(norm(v.as_str().unwrap())),
        "BOOL" => V::Bool(v.as_bool().unwrap()),
        "NULL" => V::Null,
        "SS" => V::Ss(strings().collect()),
        "NS" => V::Ns(strings().map(|x| norm(&x)).collect()),
        "L" => V::L(v.as_array().unwrap().iter().map(from_json).collect()),
        "M" => V::M(json_doc(v)),
        other => panic!("unexpected attribute type {other} in {value}"),
    }
}

fn json_doc(value: &Value) -> Doc {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an item: {value}"))
        .iter()
        .map(|(k, v)| (k.clone(), from_json(v)))
        .collect()
}

fn to_sdk(value: &V) -> AttributeValue {
    match value {
        V::S(v) => AttributeValue::S(v.clone()),
        V::N(v) => AttributeValue::N(v.clone()),
        V::B(v) => AttributeValue::B(v.clone().into()),
        V::Bool(v) => AttributeValue::Bool(*v),
        V::Null => AttributeValue::Null(true),
        V::Ss(v) => AttributeValue::Ss(v.iter().cloned().collect()),
        V::Ns(v) => AttributeValue::Ns(v.iter().cloned().collect()),
        V::Bs(v) => AttributeValue::Bs(v.iter().map(|x| x.clone().into()).collect()),
        V::L(v) => AttributeValue::L(v.iter().map(to_sdk).collect()),
        V::M(v) => AttributeValue::M(sdk_item(v)),
    }
}

fn sdk_item(doc: &Doc) -> HashMap<String, AttributeValue> {
    doc.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()
}

fn sdk_doc(item: &HashMap<String, AttributeValue>) -> Doc {
    item.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect()
}

fn stream_doc(item: &HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>) -> Doc {
    item.iter().map(|(k, v)| (k.clone(), from_stream(v))).collect()
}

/// The key attributes (`pk`, and `sk` when the table has one) of an item.
fn key_of(item: &Doc) -> Doc {
    item.iter().filter(|(k, _)| *k == "pk" || *k == "sk").map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn pk_of(keys: &Doc) -> &str {
    match keys.get("pk") {
        Some(V::S(pk)) => pk,
        other => panic!("no string pk in {keys:?}: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Records as every reader shows them

/// What the tests compare of a change record, from any reader.
#[derive(Debug, Clone, PartialEq)]
struct Rec {
    seq: u64,
    event_id: String,
    event: String,
    keys: Doc,
    old: Option<Doc>,
    new: Option<Doc>,
}

fn seq_number(text: &str) -> u64 {
    assert_eq!(text.len(), 21, "sequence numbers are 21 digits: {text:?}");
    text.parse().unwrap_or_else(|e| panic!("sequence number {text:?}: {e}"))
}

fn rec_from_sdk(record: &Record) -> Rec {
    let d = record.dynamodb().expect("a dynamodb member");
    Rec {
        seq: seq_number(d.sequence_number().expect("a SequenceNumber")),
        event_id: record.event_id().expect("an eventID").to_string(),
        event: record.event_name().expect("an eventName").as_str().to_string(),
        keys: stream_doc(d.keys().expect("Keys")),
        old: d.old_image().map(stream_doc),
        new: d.new_image().map(stream_doc),
    }
}

fn rec_from_json(record: &Value) -> Rec {
    let d = &record["dynamodb"];
    Rec {
        seq: seq_number(
            d["SequenceNumber"].as_str().unwrap_or_else(|| panic!("no SequenceNumber: {record}")),
        ),
        event_id: record["eventID"].as_str().unwrap_or_else(|| panic!("no eventID: {record}")).to_string(),
        event: record["eventName"].as_str().unwrap_or_else(|| panic!("no eventName: {record}")).to_string(),
        keys: json_doc(&d["Keys"]),
        old: d.get("OldImage").map(json_doc),
        new: d.get("NewImage").map(json_doc),
    }
}

#[track_caller]
fn assert_strictly_increasing(recs: &[Rec], what: &str) {
    if let Some(at) = recs.windows(2).position(|w| w[0].seq >= w[1].seq) {
        panic!(
            "{what}: sequence numbers must strictly increase, but {} is followed by {}",
            recs[at].seq,
            recs[at + 1].seq
        );
    }
}

/// Every record of a stream through the DynamoDB Streams API: DescribeStream (all pages), then
/// each shard from TRIM_HORIZON with GetRecords (`limit` per call) until it is drained.
async fn stream_records(streams: &StreamsClient, arn: &str, limit: Option<i32>) -> Vec<Rec> {
    let mut shards = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let out = streams
            .describe_stream()
            .stream_arn(arn)
            .set_exclusive_start_shard_id(start.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeStream {arn}: {e:?}"));
        let description = out.stream_description().expect("a StreamDescription");
        shards.extend(description.shards().iter().map(|s| s.shard_id().expect("a ShardId").to_string()));
        match description.last_evaluated_shard_id() {
            Some(last) => start = Some(last.to_string()),
            None => break,
        }
    }
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetShardIterator {shard}: {e:?}"))
            .shard_iterator()
            .expect("a ShardIterator")
            .to_string();
        loop {
            let out = streams
                .get_records()
                .shard_iterator(&iterator)
                .set_limit(limit)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GetRecords on {shard}: {e:?}"));
            records.extend(out.records().iter().map(rec_from_sdk));
            match out.next_shard_iterator() {
                // A closed shard is drained.
                None => break,
                // An open shard at its end.
                Some(_) if out.records().is_empty() => break,
                Some(next) => iterator = next.to_string(),
            }
        }
    }
    records
}

/// Opens `GET /v1/tables/{table}/stream?format=ndjson&{query}`.
fn ndjson(server: &TestServer, table: &str, query: &str) -> EventStream {
    let path = format!("/v1/tables/{table}/stream?format=ndjson&heartbeat_ms=50&{query}");
    let stream = EventStream::open(server.endpoint(), &path, &[]);
    assert_eq!(stream.status, 200, "GET {path}: {}", stream.head);
    stream
}

/// The next `count` records of an NDJSON subscription, skipping heartbeats.
fn ndjson_records(stream: &mut EventStream, count: usize) -> Vec<Value> {
    let mut records = Vec::with_capacity(count);
    while records.len() < count {
        let line = stream
            .next_line(WAIT)
            .unwrap_or_else(|| panic!("the subscription stopped after {} of {count} records", records.len()));
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value.get("eventName").is_some(),
            "a final line after {} of {count} records: {line}",
            records.len()
        );
        records.push(value);
    }
    records
}

/// Listens for [`QUIET`] and fails on any record.
fn assert_no_more_lines(stream: &mut EventStream, what: &str) {
    let deadline = Instant::now() + QUIET;
    while let Some(line) = stream.next_line(deadline.saturating_duration_since(Instant::now())) {
        assert!(line.is_empty(), "{what}: a record beyond the last one: {line}");
        if Instant::now() >= deadline {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tables and writes

/// Creates a table keyed by `pk` (S), and `sk` (N) when `sort_key`, with a NEW_AND_OLD_IMAGES
/// stream; returns its name and stream ARN.
async fn stream_table(client: &Client, prefix: &str, sort_key: bool) -> (String, String) {
    let name = unique_table_name(prefix);
    let arn = create_stream_table(client, &name, sort_key).await;
    (name, arn)
}

async fn create_stream_table(client: &Client, name: &str, sort_key: bool) -> String {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        );
    if sort_key {
        request = request
            .attribute_definitions(attr_def("sk", ScalarAttributeType::N))
            .key_schema(key_elem("sk", KeyType::Range));
    }
    let out = request.send().await.unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
    out.table_description().and_then(|t| t.latest_stream_arn()).expect("a LatestStreamArn").to_string()
}

async fn put(client: &Client, table: &str, pk: &str, v: i64) {
    client
        .put_item()
        .table_name(table)
        .item("pk", s(pk))
        .item("v", n(v))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutItem {pk}: {e:?}"));
}

/// Every item of a table, by key, through Scan pages.
async fn scan_all(client: &Client, table: &str) -> BTreeMap<Doc, Doc> {
    let mut items = BTreeMap::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Scan {table}: {e:?}"));
        for item in out.items() {
            let doc = sdk_doc(item);
            items.insert(key_of(&doc), doc);
        }
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// A small deterministic PRNG (xorshift64*), so a failing run replays from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// The model of the random-operations property test

/// Partition keys of the small key space; sort keys are 0 to `SORT_KEYS - 1`.
const PARTITIONS: [&str; 3] = ["a", "b", "c"];
const SORT_KEYS: i64 = 4;
/// Random operations per run.
const OPS: usize = 400;
/// The seed unless `EDDY_STREAM_SEED` gives another (hex, as failure messages print it).
const DEFAULT_SEED: u64 = 0x00ed_d15e_ed05_7a11;
const TAGS: [&str; 3] = ["red", "green", "blue"];

fn key_doc(pk: &str, sk: i64) -> Doc {
    Doc::from([("pk".to_string(), V::S(pk.to_string())), ("sk".to_string(), V::N(sk.to_string()))])
}

fn random_key(rng: &mut Rng) -> Doc {
    let pk: &&str = rng.pick(&PARTITIONS);
    key_doc(pk, rng.below(SORT_KEYS as u64) as i64)
}

/// `count` different keys of the key space.
fn distinct_keys(rng: &mut Rng, count: usize) -> Vec<Doc> {
    let mut keys: Vec<Doc> = Vec::with_capacity(count);
    while keys.len() < count {
        let key = random_key(rng);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

fn num(v: i64) -> V {
    V::N(v.to_string())
}

fn random_tags(rng: &mut Rng) -> V {
    let mut tags = BTreeSet::new();
    while tags.is_empty() {
        for tag in TAGS {
            if rng.chance(40) {
                tags.insert(tag.to_string());
            }
        }
    }
    V::Ss(tags)
}

fn random_map(rng: &mut Rng) -> V {
    V::M(Doc::from([("k".to_string(), V::S(rng.pick(&["p", "q"]).to_string()))]))
}

/// A random item at `key`, from a small set of values so that equal writes happen.
fn random_item(rng: &mut Rng, key: &Doc) -> Doc {
    let mut item = key.clone();
    if rng.chance(50) {
        item.insert("a".into(), V::S(rng.pick(&["x", "y"]).to_string()));
    }
    if rng.chance(50) {
        item.insert("b".into(), num(rng.below(3) as i64));
    }
    if rng.chance(50) {
        item.insert("c".into(), num(rng.below(5) as i64 - 2));
    }
    if rng.chance(40) {
        item.insert("tags".into(), random_tags(rng));
    }
    if rng.chance(30) {
        item.insert("m".into(), random_map(rng));
    }
    item
}

fn random_item_anywhere(rng: &mut Rng) -> Doc {
    let key = random_key(rng);
    random_item(rng, &key)
}

/// Placeholders of one request's expressions.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    fn value(&mut self, placeholder: &str, value: &V) -> String {
        self.values.insert(placeholder.to_string(), to_sdk(value));
        placeholder.to_string()
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A condition the model can evaluate.
#[derive(Debug, Clone)]
enum Cond {
    Exists,
    NotExists,
    BIs(i64),
}

impl Cond {
    fn random(rng: &mut Rng) -> Cond {
        match rng.below(3) {
            0 => Cond::Exists,
            1 => Cond::NotExists,
            _ => Cond::BIs(rng.below(3) as i64),
        }
    }

    fn holds(&self, item: Option<&Doc>) -> bool {
        match self {
            Cond::Exists => item.is_some(),
            Cond::NotExists => item.is_none(),
            Cond::BIs(b) => item.and_then(|i| i.get("b")) == Some(&num(*b)),
        }
    }

    fn render(&self, expr: &mut Expr) -> String {
        match self {
            Cond::Exists => format!("attribute_exists({})", expr.name("pk")),
            Cond::NotExists => format!("attribute_not_exists({})", expr.name("pk")),
            Cond::BIs(b) => format!("{} = {}", expr.name("b"), expr.value(":cond_b", &num(*b))),
        }
    }
}

/// One action of an update expression.
#[derive(Debug, Clone)]
enum Act {
    Set(&'static str, V),
    Remove(&'static str),
    Add(&'static str, V),
    Delete(&'static str, V),
}

/// Random update actions, at most one per attribute, never none.
fn random_acts(rng: &mut Rng) -> Vec<Act> {
    let mut acts = Vec::new();
    if rng.chance(40) {
        acts.push(if rng.chance(70) {
            Act::Set("a", V::S(rng.pick(&["x", "y"]).to_string()))
        } else {
            Act::Remove("a")
        });
    }
    if rng.chance(40) {
        acts.push(if rng.chance(70) { Act::Set("b", num(rng.below(3) as i64)) } else { Act::Remove("b") });
    }
    if rng.chance(40) {
        acts.push(if rng.chance(80) {
            Act::Add("c", num(rng.below(4) as i64 - 1))
        } else {
            Act::Remove("c")
        });
    }
    if rng.chance(40) {
        acts.push(match rng.below(4) {
            0 | 1 => Act::Add("tags", random_tags(rng)),
            2 => Act::Delete("tags", random_tags(rng)),
            _ => Act::Remove("tags"),
        });
    }
    if rng.chance(25) {
        acts.push(if rng.chance(70) { Act::Set("m", random_map(rng)) } else { Act::Remove("m") });
    }
    if acts.is_empty() {
        acts.push(Act::Add("c", num(1)));
    }
    acts
}

fn render_update(acts: &[Act], expr: &mut Expr) -> String {
    let mut clauses: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for act in acts {
        let (clause, text) = match act {
            Act::Set(attr, v) => {
                ("SET", format!("{} = {}", expr.name(attr), expr.value(&format!(":{attr}"), v)))
            }
            Act::Remove(attr) => ("REMOVE", expr.name(attr)),
            Act::Add(attr, v) => {
                ("ADD", format!("{} {}", expr.name(attr), expr.value(&format!(":{attr}"), v)))
            }
            Act::Delete(attr, v) => {
                ("DELETE", format!("{} {}", expr.name(attr), expr.value(&format!(":{attr}"), v)))
            }
        };
        clauses.entry(clause).or_default().push(text);
    }
    clauses
        .iter()
        .map(|(clause, parts)| format!("{clause} {}", parts.join(", ")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an update does to an item, as DynamoDB defines it; a missing item starts as its key.
fn apply_update(old: Option<&Doc>, key: &Doc, acts: &[Act]) -> Doc {
    let mut item = old.cloned().unwrap_or_else(|| key.clone());
    for act in acts {
        match act {
            Act::Set(attr, v) => {
                item.insert(attr.to_string(), v.clone());
            }
            Act::Remove(attr) => {
                item.remove(*attr);
            }
            Act::Add(attr, V::N(add)) => {
                let base = match item.get(*attr) {
                    Some(V::N(current)) => current.parse::<i64>().unwrap(),
                    None => 0,
                    other => panic!("model: ADD a number to {other:?}"),
                };
                item.insert(attr.to_string(), num(base + add.parse::<i64>().unwrap()));
            }
            Act::Add(attr, V::Ss(add)) => {
                let mut set = match item.get(*attr) {
                    Some(V::Ss(current)) => current.clone(),
                    None => BTreeSet::new(),
                    other => panic!("model: ADD a set to {other:?}"),
                };
                set.extend(add.iter().cloned());
                item.insert(attr.to_string(), V::Ss(set));
            }
            Act::Delete(attr, V::Ss(remove)) => {
                if let Some(V::Ss(current)) = item.get(*attr) {
                    let left: BTreeSet<String> = current.difference(remove).cloned().collect();
                    if left.is_empty() {
                        item.remove(*attr);
                    } else {
                        item.insert(attr.to_string(), V::Ss(left));
                    }
                }
            }
            other => panic!("model: unsupported action {other:?}"),
        }
    }
    item
}

/// One write of a transaction.
#[derive(Debug, Clone)]
enum TxAction {
    Put(Doc, Option<Cond>),
    Update(Doc, Vec<Act>, Option<Cond>),
    Delete(Doc, Option<Cond>),
    Check(Doc, Cond),
}

impl TxAction {
    fn key(&self) -> Doc {
        match self {
            TxAction::Put(item, _) => key_of(item),
            TxAction::Update(key, _, _) | TxAction::Delete(key, _) | TxAction::Check(key, _) => key.clone(),
        }
    }

    fn cond(&self) -> Option<&Cond> {
        match self {
            TxAction::Put(_, c) | TxAction::Update(_, _, c) | TxAction::Delete(_, c) => c.as_ref(),
            TxAction::Check(_, c) => Some(c),
        }
    }
}

/// How a group of expected records may be ordered.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// One single-item write.
    Single,
    /// BatchWriteItem: its records in any order.
    Batch,
    /// TransactWriteItems: its records contiguous, in request order.
    Transaction,
}

/// The records one acknowledged operation must have produced.
#[derive(Debug)]
struct Group {
    what: String,
    kind: Kind,
    changes: Vec<Rec>,
}

#[derive(Debug, Default)]
struct Coverage {
    effective_writes: usize,
    no_op_writes: usize,
    failed_conditions: usize,
    cancelled_transactions: usize,
    multi_record_transactions: usize,
}

/// The table as the model sees it, and the records it expects.
struct Model {
    client: Client,
    table: String,
    seed: u64,
    items: BTreeMap<Doc, Doc>,
    groups: Vec<Group>,
    coverage: Coverage,
}

impl Model {
    /// Applies writes (key, new item) in order and records the changes they make.
    fn commit(&mut self, what: String, kind: Kind, writes: Vec<(Doc, Option<Doc>)>) {
        let mut changes = Vec::new();
        for (key, new) in writes {
            let old = self.items.get(&key).cloned();
            if old == new {
                self.coverage.no_op_writes += 1;
                continue;
            }
            self.coverage.effective_writes += 1;
            let event = match (&old, &new) {
                (None, _) => "INSERT",
                (Some(_), Some(_)) => "MODIFY",
                (Some(_), None) => "REMOVE",
            };
            match &new {
                Some(item) => self.items.insert(key.clone(), item.clone()),
                None => self.items.remove(&key),
            };
            changes.push(Rec { seq: 0, event_id: String::new(), event: event.into(), keys: key, old, new });
        }
        if kind == Kind::Transaction && changes.len() > 1 {
            self.coverage.multi_record_transactions += 1;
        }
        if !changes.is_empty() {
            self.groups.push(Group { what, kind, changes });
        }
    }

    /// Checks that the server accepted a write iff the model says its conditions held.
    #[track_caller]
    fn check<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(
        &mut self,
        result: Result<T, SdkError<E, R>>,
        passes: bool,
        failure: &str,
        what: &str,
    ) {
        let seed = self.seed;
        match (result, passes) {
            (Ok(_), true) => {}
            (Err(e), false) if error_code(&e) == Some(failure) => {}
            (result, _) => panic!(
                "seed {seed:#x}, {what}: the model expects {}, the server answered {result:?}",
                if passes { "success".to_string() } else { failure.to_string() }
            ),
        }
    }

    fn old(&self, key: &Doc) -> Option<&Doc> {
        self.items.get(key)
    }

    async fn put(&mut self, op: usize, item: Doc, cond: Option<Cond>) {
        let key = key_of(&item);
        let passes = cond.as_ref().is_none_or(|c| c.holds(self.old(&key)));
        let mut expr = Expr::default();
        let condition = cond.as_ref().map(|c| c.render(&mut expr));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(sdk_item(&item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        let what = format!("op {op}: PutItem {item:?} if {cond:?}");
        self.check(result, passes, "ConditionalCheckFailedException", &what);
        if passes {
            self.commit(what, Kind::Single, vec![(key, Some(item))]);
        } else {
            self.coverage.failed_conditions += 1;
        }
    }

    async fn update(&mut self, op: usize, key: Doc, acts: Vec<Act>, cond: Option<Cond>) {
        let old = self.old(&key).cloned();
        let passes = cond.as_ref().is_none_or(|c| c.holds(old.as_ref()));
        let mut expr = Expr::default();
        let update = render_update(&acts, &mut expr);
        let condition = cond.as_ref().map(|c| c.render(&mut expr));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sdk_item(&key)))
            .update_expression(&update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        let what = format!("op {op}: UpdateItem {key:?} {update:?} {acts:?} if {cond:?}");
        self.check(result, passes, "ConditionalCheckFailedException", &what);
        if passes {
            let new = apply_update(old.as_ref(), &key, &acts);
            self.commit(what, Kind::Single, vec![(key, Some(new))]);
        } else {
            self.coverage.failed_conditions += 1;
        }
    }

    async fn delete(&mut self, op: usize, key: Doc, cond: Option<Cond>) {
        let passes = cond.as_ref().is_none_or(|c| c.holds(self.old(&key)));
        let mut expr = Expr::default();
        let condition = cond.as_ref().map(|c| c.render(&mut expr));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(sdk_item(&key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        let what = format!("op {op}: DeleteItem {key:?} if {cond:?}");
        self.check(result, passes, "ConditionalCheckFailedException", &what);
        if passes {
            self.commit(what, Kind::Single, vec![(key, None)]);
        } else {
            self.coverage.failed_conditions += 1;
        }
    }

    /// BatchWriteItem of puts (`Some`) and deletes (`None`) on distinct keys.
    async fn batch(&mut self, op: usize, writes: Vec<(Doc, Option<Doc>)>) {
        let requests = writes
            .iter()
            .map(|(key, item)| match item {
                Some(item) => WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(sdk_item(item))).build().unwrap())
                    .build(),
                None => WriteRequest::builder()
                    .delete_request(DeleteRequest::builder().set_key(Some(sdk_item(key))).build().unwrap())
                    .build(),
            })
            .collect();
        let what = format!("op {op}: BatchWriteItem {writes:?}");
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.table, requests)
            .send()
            .await
            .unwrap_or_else(|e| panic!("seed {:#x}, {what}: {e:?}", self.seed));
        assert!(
            out.unprocessed_items().is_none_or(|u| u.is_empty()),
            "seed {:#x}, {what}: unprocessed items {:?}",
            self.seed,
            out.unprocessed_items()
        );
        self.commit(what, Kind::Batch, writes);
    }

    async fn transact(&mut self, op: usize, actions: Vec<TxAction>) {
        let passes = actions.iter().all(|a| a.cond().is_none_or(|c| c.holds(self.old(&a.key()))));
        let mut items = Vec::new();
        for action in &actions {
            let mut expr = Expr::default();
            let condition = action.cond().map(|c| c.render(&mut expr));
            let item = match action {
                TxAction::Put(item, _) => {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(sdk_item(item)))
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .unwrap();
                    TransactWriteItem::builder().put(put).build()
                }
                TxAction::Update(key, acts, _) => {
                    let update_text = render_update(acts, &mut expr);
                    let update = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(sdk_item(key)))
                        .update_expression(update_text)
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .unwrap();
                    TransactWriteItem::builder().update(update).build()
                }
                TxAction::Delete(key, _) => {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(sdk_item(key)))
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .unwrap();
                    TransactWriteItem::builder().delete(delete).build()
                }
                TxAction::Check(key, _) => {
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(sdk_item(key)))
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .unwrap();
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(item);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let what = format!("op {op}: TransactWriteItems {actions:?}");
        self.check(result, passes, "TransactionCanceledException", &what);
        if !passes {
            self.coverage.cancelled_transactions += 1;
            return;
        }
        let writes = actions
            .into_iter()
            .filter_map(|action| match action {
                TxAction::Put(item, _) => Some((key_of(&item), Some(item))),
                TxAction::Update(key, acts, _) => {
                    let new = apply_update(self.old(&key), &key, &acts);
                    Some((key, Some(new)))
                }
                TxAction::Delete(key, _) => Some((key, None)),
                TxAction::Check(..) => None,
            })
            .collect();
        self.commit(what, Kind::Transaction, writes);
    }

    /// One random operation.
    async fn random_op(&mut self, op: usize, rng: &mut Rng, last_put: &mut Option<Doc>) {
        let maybe_cond = |rng: &mut Rng| rng.chance(30).then(|| Cond::random(rng));
        match rng.below(100) {
            0..18 => {
                let item = random_item_anywhere(rng);
                *last_put = Some(item.clone());
                self.put(op, item, None).await;
            }
            18..24 => {
                // The same put again, or an item put back as it is: writes that change nothing.
                let again = match (last_put.clone(), self.items.values().next().cloned()) {
                    (Some(last), _) if rng.chance(50) => last,
                    (_, Some(current)) => {
                        let at = rng.below(self.items.len() as u64) as usize;
                        self.items.values().nth(at).cloned().unwrap_or(current)
                    }
                    (last, None) => last.unwrap_or_else(|| random_item_anywhere(rng)),
                };
                self.put(op, again, None).await;
            }
            24..32 => {
                let item = random_item_anywhere(rng);
                self.put(op, item, Some(Cond::random(rng))).await;
            }
            32..52 => {
                let (key, acts) = (random_key(rng), random_acts(rng));
                self.update(op, key, acts, None).await;
            }
            52..60 => {
                let (key, acts, cond) = (random_key(rng), random_acts(rng), Cond::random(rng));
                self.update(op, key, acts, Some(cond)).await;
            }
            60..69 => self.delete(op, random_key(rng), None).await,
            69..74 => {
                let (key, cond) = (random_key(rng), Cond::random(rng));
                self.delete(op, key, Some(cond)).await;
            }
            74..84 => {
                let count = 1 + rng.below(5) as usize;
                let writes = distinct_keys(rng, count)
                    .into_iter()
                    .map(|key| {
                        let item = rng.chance(70).then(|| random_item(rng, &key));
                        (key, item)
                    })
                    .collect();
                self.batch(op, writes).await;
            }
            _ => {
                let count = 1 + rng.below(4) as usize;
                let actions = distinct_keys(rng, count)
                    .into_iter()
                    .map(|key| match rng.below(10) {
                        0..3 => TxAction::Put(random_item(rng, &key), maybe_cond(rng)),
                        3..7 => TxAction::Update(key, random_acts(rng), maybe_cond(rng)),
                        7..9 => TxAction::Delete(key, maybe_cond(rng)),
                        _ => TxAction::Check(key, Cond::random(rng)),
                    })
                    .collect();
                self.transact(op, actions).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Replay

/// Random writes of every kind over a small key space, checked against a model, while other
/// writers run alongside; then the stream, read from TRIM_HORIZON, must hold exactly the model's
/// records and replay into the table. Rerun a failure with `EDDY_STREAM_SEED=<seed>`.
#[tokio::test(flavor = "multi_thread")]
async fn replaying_the_stream_rebuilds_the_table() {
    let seed = std::env::var("EDDY_STREAM_SEED")
        .ok()
        .map(|s| {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).unwrap_or_else(|e| panic!("EDDY_STREAM_SEED {s:?} (hex): {e}"))
        })
        .unwrap_or(DEFAULT_SEED);
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, "replay", true).await;

    // Writers of other keys run alongside, so a transaction's commit holds other requests too.
    let stop = Arc::new(AtomicBool::new(false));
    let noise: Vec<_> = (0..3)
        .map(|writer| {
            let (client, table, stop) = (client.clone(), table.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut written = Vec::new();
                let pk = format!("noise-{writer}");
                for sk in 0i64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let item = Doc::from([
                        ("pk".to_string(), V::S(pk.clone())),
                        ("sk".to_string(), num(sk)),
                        ("v".to_string(), num(writer)),
                    ]);
                    client
                        .put_item()
                        .table_name(&table)
                        .set_item(Some(sdk_item(&item)))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("noise PutItem {pk}/{sk}: {e:?}"));
                    written.push(item);
                }
                written
            })
        })
        .collect();

    let mut model = Model {
        client: client.clone(),
        table: table.clone(),
        seed,
        items: BTreeMap::new(),
        groups: Vec::new(),
        coverage: Coverage::default(),
    };
    let mut rng = Rng::new(seed);
    let mut last_put = None;
    for op in 0..OPS {
        model.random_op(op, &mut rng, &mut last_put).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut noise_items = Vec::new();
    for writer in noise {
        noise_items.extend(writer.await.unwrap());
    }
    let coverage = &model.coverage;
    eprintln!("seed {seed:#x}: {coverage:?}, {} concurrent writes", noise_items.len());
    assert!(
        coverage.no_op_writes > 0
            && coverage.failed_conditions > 0
            && coverage.cancelled_transactions > 0
            && coverage.multi_record_transactions > 0,
        "seed {seed:#x}: the run must exercise every case: {coverage:?}"
    );

    let records = stream_records(&streams, &arn, None).await;
    assert_strictly_increasing(&records, &format!("seed {seed:#x}"));

    // The model's own records, in operation order among the others.
    let is_noise = |r: &Rec| pk_of(&r.keys).starts_with("noise-");
    let main: Vec<usize> = (0..records.len()).filter(|&i| !is_noise(&records[i])).collect();
    let expected: usize = model.groups.iter().map(|g| g.changes.len()).sum();
    assert_eq!(
        main.len(),
        expected,
        "seed {seed:#x}: one record per effective change, none for failed conditions, cancelled \
         transactions or writes that change nothing"
    );
    let mut at = 0;
    for group in &model.groups {
        let positions = &main[at..at + group.changes.len()];
        at += group.changes.len();
        let mut got: Vec<Rec> = positions.iter().map(|&i| records[i].clone()).collect();
        let mut want = group.changes.clone();
        if group.kind == Kind::Batch {
            got.sort_by(|x, y| x.keys.cmp(&y.keys));
            want.sort_by(|x, y| x.keys.cmp(&y.keys));
        }
        for (got, want) in got.iter().zip(&want) {
            let got_change = (&got.event, &got.keys, &got.old, &got.new);
            let want_change = (&want.event, &want.keys, &want.old, &want.new);
            assert_eq!(got_change, want_change, "seed {seed:#x}, {}: record {}", group.what, got.seq);
        }
        if group.kind == Kind::Transaction {
            assert!(
                positions.windows(2).all(|w| w[1] == w[0] + 1),
                "seed {seed:#x}, {}: a transaction's records are contiguous, but others come between \
                 them: {:?}",
                group.what,
                &records[positions[0]..=positions[positions.len() - 1]]
            );
        }
    }

    // The other writers' records: one INSERT per acknowledged put.
    let noise_records: Vec<&Rec> = records.iter().filter(|r| is_noise(r)).collect();
    let noise_keys: BTreeSet<Doc> = noise_items.iter().map(key_of).collect();
    assert_eq!(noise_records.len(), noise_items.len(), "seed {seed:#x}: one record per acknowledged put");
    assert!(noise_records.iter().all(|r| r.event == "INSERT" && noise_keys.contains(&r.keys)));

    // Replaying the whole stream rebuilds the table.
    let mut replayed: BTreeMap<Doc, Doc> = BTreeMap::new();
    for record in &records {
        match record.event.as_str() {
            "INSERT" | "MODIFY" => {
                let image = record.new.clone().unwrap_or_else(|| panic!("no NewImage: {record:?}"));
                assert_eq!(key_of(&image), record.keys, "Keys match the image: {record:?}");
                replayed.insert(record.keys.clone(), image);
            }
            "REMOVE" => {
                assert!(record.old.is_some(), "a REMOVE carries the OldImage: {record:?}");
                assert!(
                    replayed.remove(&record.keys).is_some(),
                    "a REMOVE of an item the replay does not hold: {record:?}"
                );
            }
            other => panic!("unknown eventName {other}"),
        }
    }
    let scanned = scan_all(&client, &table).await;
    let mut modelled = model.items.clone();
    modelled.extend(noise_items.into_iter().map(|item| (key_of(&item), item)));
    assert_eq!(scanned, modelled, "seed {seed:#x}: the table is what the model says");
    assert_eq!(replayed, scanned, "seed {seed:#x}: replaying the stream rebuilds the table");
}

// ---------------------------------------------------------------------------------------------
// 2. Readers agree

/// A mix of writes from one worker over keys the other workers share.
async fn mixed_load(client: Client, table: String, worker: u64, ops: usize) {
    let mut rng = Rng::new(0x5eed_0000 + worker);
    for i in 0..ops {
        let key = format!("k{}", rng.below(8));
        let result = match rng.below(10) {
            0..4 => client
                .put_item()
                .table_name(&table)
                .item("pk", s(&key))
                .item("v", n(rng.below(3)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            4..6 => client
                .update_item()
                .table_name(&table)
                .key("pk", s(&key))
                .update_expression("ADD v :one SET tags = :tags")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":tags", AttributeValue::Ss(vec![format!("w{worker}")]))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            6 => client
                .delete_item()
                .table_name(&table)
                .key("pk", s(&key))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            7 => {
                let requests = (0..3)
                    .map(|j| {
                        let put = PutRequest::builder()
                            .item("pk", s(format!("batch-{worker}-{i}-{j}")))
                            .build()
                            .unwrap();
                        WriteRequest::builder().put_request(put).build()
                    })
                    .collect();
                client
                    .batch_write_item()
                    .request_items(&table, requests)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            }
            _ => {
                let put = |j: u32| {
                    let put = Put::builder()
                        .table_name(&table)
                        .item("pk", s(format!("tx-{worker}-{i}-{j}")))
                        .build()
                        .unwrap();
                    TransactWriteItem::builder().put(put).build()
                };
                let update = Update::builder()
                    .table_name(&table)
                    .key("pk", s(&key))
                    .update_expression("ADD v :one")
                    .expression_attribute_values(":one", n(1))
                    .build()
                    .unwrap();
                client
                    .transact_write_items()
                    .transact_items(put(0))
                    .transact_items(TransactWriteItem::builder().update(update).build())
                    .transact_items(put(1))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            }
        };
        result.unwrap_or_else(|e| panic!("worker {worker}, op {i}: {e}"));
    }
}

fn consumer_records(server: &TestServer, table: &str, last: u64) -> Vec<Value> {
    let body = json!({"ConsumerName": "agree", "TableName": table, "StartingPosition": "TRIM_HORIZON"});
    let (status, created) = call_json(server.endpoint(), "POST", "/v1/consumers", Some(&body.to_string()));
    assert_eq!(status, 200, "POST /v1/consumers: {created}");
    let mut records = Vec::new();
    loop {
        let (status, page) =
            call_json(server.endpoint(), "GET", "/v1/consumers/agree/records?Limit=17", None);
        assert_eq!(status, 200, "GET /v1/consumers/agree/records: {page}");
        let batch = page["Records"].as_array().unwrap_or_else(|| panic!("no Records: {page}")).clone();
        let Some(tail) = batch.last() else {
            assert_eq!(page["NextSequenceNumber"], format!("{:021}", last + 1), "{page}");
            assert_eq!(page["HighWatermarkSequenceNumber"], format!("{last:021}"), "{page}");
            return records;
        };
        let seq = tail["dynamodb"]["SequenceNumber"].as_str().unwrap().to_string();
        assert_eq!(page["NextSequenceNumber"], format!("{:021}", seq_number(&seq) + 1), "{page}");
        records.extend(batch);
        let checkpoint = json!({"SequenceNumber": seq}).to_string();
        let (status, body) =
            call_json(server.endpoint(), "POST", "/v1/consumers/agree/checkpoint", Some(&checkpoint));
        assert_eq!(status, 200, "POST /v1/consumers/agree/checkpoint {checkpoint}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_reader_sees_the_same_records_in_the_same_order() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, "agree", false).await;
    // A subscriber that follows live while the writes happen.
    let mut live = ndjson(&server, &table, "from=trim_horizon");

    let workers: Vec<_> =
        (0..4).map(|w| tokio::spawn(mixed_load(client.clone(), table.clone(), w, 60))).collect();
    for worker in workers {
        worker.await.unwrap();
    }

    let reference = stream_records(&streams, &arn, None).await;
    assert!(reference.len() > 200, "the load wrote {} records", reference.len());
    assert_strictly_increasing(&reference, "GetRecords");
    let count = reference.len();
    let last = reference[count - 1].seq;
    let order =
        |recs: &[Rec]| recs.iter().map(|r| (r.seq, r.event.clone(), r.event_id.clone())).collect::<Vec<_>>();
    let want = order(&reference);

    let again = stream_records(&streams, &arn, Some(7)).await;
    assert_eq!(again, reference, "GetRecords again, 7 records a page");

    let live_json = ndjson_records(&mut live, count);
    assert_no_more_lines(&mut live, "live NDJSON");
    let mut catch_up = ndjson(&server, &table, "from=trim_horizon");
    let catch_up_json = ndjson_records(&mut catch_up, count);
    assert_no_more_lines(&mut catch_up, "NDJSON from trim_horizon");

    let mut sse =
        EventStream::open(server.endpoint(), &format!("/v1/tables/{table}/stream?from=trim_horizon"), &[]);
    assert_eq!(sse.status, 200, "{}", sse.head);
    let sse_json: Vec<Value> = (0..count)
        .map(|i| {
            let event =
                sse.next_non_heartbeat(WAIT).unwrap_or_else(|| panic!("SSE stopped after {i} of {count}"));
            assert_eq!(event.event.as_deref(), Some("record"), "{event:?}");
            let record = event.json();
            assert_eq!(
                event.id.as_deref(),
                record["dynamodb"]["SequenceNumber"].as_str(),
                "the SSE id is the seq"
            );
            record
        })
        .collect();

    let consumed = consumer_records(&server, &table, last);

    for (reader, json) in [
        ("live NDJSON", &live_json),
        ("NDJSON from trim_horizon", &catch_up_json),
        ("SSE", &sse_json),
        ("consumer", &consumed),
    ] {
        let recs: Vec<Rec> = json.iter().map(rec_from_json).collect();
        assert_eq!(order(&recs), want, "{reader} against GetRecords: sequence numbers, events, ids");
        assert_eq!(recs, reference, "{reader} against GetRecords: keys and images");
    }
    // Eddy's own readers share one encoding: the records are byte-for-byte the same JSON.
    assert_eq!(live_json, catch_up_json);
    assert_eq!(sse_json, catch_up_json);
    assert_eq!(consumed, catch_up_json);
}

// ---------------------------------------------------------------------------------------------
// 3. kill -9

/// Runs writers of unique keys until the server dies; acknowledged keys go to `acked`.
fn spawn_unique_writers(
    client: &Client,
    table: &str,
    round: u64,
    acked: &Arc<Mutex<HashSet<String>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..6)
        .map(|writer| {
            let (client, table, acked) = (client.clone(), table.to_string(), Arc::clone(acked));
            tokio::spawn(async move {
                for i in 0u64.. {
                    let key = format!("r{round}-w{writer}-{i}");
                    let result =
                        client.put_item().table_name(&table).item("pk", s(&key)).item("v", n(i)).send().await;
                    match result {
                        Ok(_) => {
                            acked.lock().unwrap().insert(key);
                        }
                        Err(_) => return,
                    }
                }
            })
        })
        .collect()
}

/// (seq, pk) of each record a subscriber saw.
type Seen = Arc<Mutex<Vec<(u64, String)>>>;

/// A subscriber that records (seq, pk) of everything it sees until its connection ends.
fn spawn_subscriber(server: &TestServer, table: &str) -> (Seen, std::thread::JoinHandle<()>) {
    let mut stream = ndjson(server, table, "from=trim_horizon");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let thread = std::thread::spawn(move || {
        while let Some(line) = stream.next_line(WAIT) {
            if line.is_empty() {
                continue;
            }
            let record: Value = serde_json::from_str(&line).unwrap();
            if record.get("eventName").is_none() {
                return;
            }
            let rec = rec_from_json(&record);
            log.lock().unwrap().push((rec.seq, pk_of(&rec.keys).to_string()));
        }
    });
    (seen, thread)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_keeps_exactly_one_record_per_acknowledged_write() {
    let mut server = TestServer::start();
    let (table, arn) = stream_table(&server.client(), "crash-stream", false).await;
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut before_kill: Vec<Rec> = Vec::new();

    for round in 0..2u64 {
        let client = server.client();
        let (seen, subscriber) = spawn_subscriber(&server, &table);
        let start = acked.lock().unwrap().len();
        let writers = spawn_unique_writers(&client, &table, round, &acked);
        let target = start + 150 + 150 * round as usize;
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().unwrap().len() < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill9();
        for writer in writers {
            tokio::time::timeout(Duration::from_secs(70), writer)
                .await
                .expect("writers stop after the kill")
                .unwrap();
        }
        // The connection ends with the process; a reset instead of a clean end is fine here.
        let _ = subscriber.join();
        let written = acked.lock().unwrap().len() - start;
        assert!(written >= 50, "round {round}: only {written} acknowledged writes before the kill");

        server.restart();
        let (client, streams) = (server.client(), server.streams_client());
        let records = stream_records(&streams, &arn, None).await;
        assert_strictly_increasing(&records, &format!("round {round}"));
        assert_eq!(
            records[..before_kill.len().min(records.len())],
            before_kill[..],
            "round {round}: the records committed before this round come back unchanged"
        );
        let acked_now = acked.lock().unwrap().clone();
        let table_keys: HashSet<String> =
            scan_all(&client, &table).await.keys().map(|k| pk_of(k).to_string()).collect();
        let mut per_key: HashMap<&str, Vec<&Rec>> = HashMap::new();
        for record in &records {
            assert_eq!(record.event, "INSERT", "round {round}: each key is written once: {record:?}");
            per_key.entry(pk_of(&record.keys)).or_default().push(record);
        }
        let doubled: Vec<_> = per_key.iter().filter(|(_, r)| r.len() > 1).collect();
        assert!(doubled.is_empty(), "round {round}: keys with more than one record: {doubled:?}");
        let missing: Vec<&String> = acked_now.iter().filter(|k| !per_key.contains_key(k.as_str())).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} of {} acknowledged writes have no record: {:?}",
            missing.len(),
            acked_now.len(),
            &missing[..missing.len().min(10)]
        );
        let uncommitted: Vec<&&str> =
            per_key.keys().filter(|k| !acked_now.contains(**k) && !table_keys.contains(**k)).collect();
        assert!(
            uncommitted.is_empty(),
            "round {round}: records of writes that did not commit: {uncommitted:?}"
        );
        let unrecorded: Vec<&String> =
            table_keys.iter().filter(|k| !per_key.contains_key(k.as_str())).collect();
        assert!(unrecorded.is_empty(), "round {round}: committed items without a record: {unrecorded:?}");
        // What a subscriber saw before the kill was committed: a reader never sees past the
        // durable high watermark.
        let by_seq: HashMap<u64, &str> = records.iter().map(|r| (r.seq, pk_of(&r.keys))).collect();
        let seen = seen.lock().unwrap().clone();
        let phantom: Vec<_> = seen.iter().filter(|(seq, pk)| by_seq.get(seq) != Some(&pk.as_str())).collect();
        assert!(
            phantom.is_empty(),
            "round {round}: records a subscriber saw that are not in the log: {phantom:?}"
        );
        eprintln!(
            "round {round}: {written} acknowledged, {} records, {} seen live",
            records.len() - before_kill.len(),
            seen.len()
        );
        before_kill = records;
    }

    // Numbering continues above every record from before the kills.
    let client = server.client();
    for i in 0..5 {
        put(&client, &table, &format!("after-{i}"), i).await;
    }
    let records = stream_records(&server.streams_client(), &arn, None).await;
    assert_eq!(records[..before_kill.len()], before_kill[..]);
    let highest = before_kill.last().map_or(0, |r| r.seq);
    let after = &records[before_kill.len()..];
    assert_eq!(after.len(), 5, "{after:?}");
    assert!(after.iter().all(|r| r.seq > highest), "new records above {highest}: {after:?}");
    assert_strictly_increasing(&records, "after the restarts");
}

// ---------------------------------------------------------------------------------------------
// 4. Never reused

/// Four puts, an update and a delete: six records.
async fn write_round(client: &Client, table: &str, round: &str) {
    for i in 0..4 {
        put(client, table, &format!("{round}-{i}"), i).await;
    }
    put(client, table, &format!("{round}-0"), 100).await;
    client.delete_item().table_name(table).key("pk", s(format!("{round}-1"))).send().await.unwrap();
}

/// Writes a round, reads the stream, and checks that what was retained before comes back
/// unchanged, followed by six new records numbered above everything seen so far. Returns the
/// stream's records.
async fn round_extends(
    server: &TestServer,
    table: &str,
    arn: &str,
    round: &str,
    retained: &[Rec],
    seen: &mut Vec<(String, u64)>,
) -> Vec<Rec> {
    write_round(&server.client(), table, round).await;
    let records = stream_records(&server.streams_client(), arn, None).await;
    assert_strictly_increasing(&records, round);
    assert_eq!(
        records[..retained.len().min(records.len())],
        retained[..],
        "{round}: earlier records unchanged"
    );
    let new = &records[retained.len()..];
    assert_eq!(
        new.iter().map(|r| (r.event.as_str(), pk_of(&r.keys).to_string())).collect::<Vec<_>>(),
        [
            ("INSERT", format!("{round}-0")),
            ("INSERT", format!("{round}-1")),
            ("INSERT", format!("{round}-2")),
            ("INSERT", format!("{round}-3")),
            ("MODIFY", format!("{round}-0")),
            ("REMOVE", format!("{round}-1")),
        ],
        "{round}"
    );
    if let Some((when, highest)) = seen.last() {
        assert!(
            new[0].seq > *highest,
            "{round}: sequence number {} reused or lower than {highest}, seen {when}",
            new[0].seq
        );
    }
    seen.extend(new.iter().map(|r| (round.to_string(), r.seq)));
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn sequence_numbers_are_never_reused_across_restarts_and_table_recreation() {
    let mut server = TestServer::start_with(&["--dev-clock", "--retention-hours", "1"]);
    let table = unique_table_name("seq-life");
    let first_arn = create_stream_table(&server.client(), &table, false).await;
    let mut seen = Vec::new();

    let records = round_extends(&server, &table, &first_arn, "first", &[], &mut seen).await;
    server.restart();
    let records = round_extends(&server, &table, &first_arn, "after-restart", &records, &mut seen).await;
    server.kill9();
    server.restart();
    let records = round_extends(&server, &table, &first_arn, "after-kill", &records, &mut seen).await;
    assert_eq!(records.len(), 18);

    // Retention trims every record; the numbering still continues after a restart.
    let trimmed = server.advance_clock(2 * 3600);
    assert_eq!(trimmed["TrimmedRecords"], 18, "{trimmed}");
    assert!(stream_records(&server.streams_client(), &first_arn, None).await.is_empty());
    server.restart();
    round_extends(&server, &table, &first_arn, "after-trim", &[], &mut seen).await;

    // A table re-created under the same name never numbers a record as the old one did.
    let client = server.client();
    client.delete_table().table_name(&table).send().await.unwrap();
    let second_arn = create_stream_table(&client, &table, false).await;
    let records = round_extends(&server, &table, &second_arn, "recreated", &[], &mut seen).await;
    server.kill9();
    server.restart();
    round_extends(&server, &table, &second_arn, "recreated-after-kill", &records, &mut seen).await;

    let seqs: Vec<u64> = seen.iter().map(|(_, seq)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "distinct and increasing across the lifetimes: {seen:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. Retention

fn retention(server: &TestServer, table: &str, method: &str, body: Option<&str>) -> (u16, Value) {
    call_json(server.endpoint(), method, &format!("/v1/tables/{table}/retention"), body)
}

/// The pks of every record an NDJSON subscription from trim_horizon delivers.
fn subscription_pks(server: &TestServer, table: &str, query: &str, count: usize) -> Vec<String> {
    let mut stream = ndjson(server, table, query);
    let records = ndjson_records(&mut stream, count);
    assert_no_more_lines(&mut stream, query);
    records.iter().map(|r| pk_of(&rec_from_json(r).keys).to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_trims_old_records_and_subscriptions_start_at_the_horizon() {
    let server = TestServer::start_with(&["--dev-clock", "--retention-hours", "1"]);
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, "retention", false).await;
    put(&client, &table, "old", 1).await;
    let old_seq = stream_records(&streams, &arn, None).await[0].seq;

    let trimmed = server.advance_clock(2 * 3600);
    assert_eq!(trimmed["TrimmedRecords"], 1, "{trimmed}");
    put(&client, &table, "new", 2).await;

    assert_eq!(subscription_pks(&server, &table, "from=trim_horizon", 1), ["new"]);
    // A start below the horizon starts at the horizon.
    assert_eq!(subscription_pks(&server, &table, &format!("from={old_seq:021}"), 1), ["new"]);
    let records = stream_records(&streams, &arn, None).await;
    assert_eq!(records.iter().map(|r| pk_of(&r.keys)).collect::<Vec<_>>(), ["new"]);
    assert!(records[0].seq > old_seq);
    let body = json!({"ConsumerName": "horizon", "TableName": table, "StartingPosition": "TRIM_HORIZON"});
    let (status, created) = call_json(server.endpoint(), "POST", "/v1/consumers", Some(&body.to_string()));
    assert_eq!(status, 200, "{created}");
    let (status, batch) = call_json(server.endpoint(), "GET", "/v1/consumers/horizon/records", None);
    assert_eq!(status, 200, "{batch}");
    let consumed: Vec<Rec> = batch["Records"].as_array().unwrap().iter().map(rec_from_json).collect();
    assert_eq!(consumed, records, "a consumer from TRIM_HORIZON starts at the horizon");

    // Retention per table, beyond DynamoDB's 24 hours.
    let (status, got) = retention(&server, &table, "GET", None);
    assert_eq!(status, 200, "{got}");
    assert_eq!(got, json!({"TableName": table, "RetentionPeriodHours": 1, "Default": true}));
    let (status, set) = retention(&server, &table, "PUT", Some(r#"{"RetentionPeriodHours": 168}"#));
    assert_eq!(status, 200, "{set}");
    assert_eq!(set, json!({"TableName": table, "RetentionPeriodHours": 168, "Default": false}));
    assert_eq!(retention(&server, &table, "GET", None).1, set);
    for bad in [r#"{"RetentionPeriodHours": 0}"#, r#"{"RetentionPeriodHours": 2161}"#, r#"{"Hours": 2}"#] {
        let (status, body) = retention(&server, &table, "PUT", Some(bad));
        assert_eq!(status, 400, "PUT {bad}: {body}");
    }
    let (status, body) = retention(&server, "no-such-table", "GET", None);
    assert_eq!(status, 404, "{body}");

    // The new retention governs trimming: 167 hours after they were written both records remain,
    // 169 hours after they are gone.
    put(&client, &table, "kept", 3).await;
    assert_eq!(server.advance_clock(2 * 3600)["TrimmedRecords"], 0);
    assert_eq!(subscription_pks(&server, &table, "from=trim_horizon", 2), ["new", "kept"]);
    assert_eq!(server.advance_clock(165 * 3600)["TrimmedRecords"], 0);
    assert_eq!(server.advance_clock(2 * 3600)["TrimmedRecords"], 2);
    put(&client, &table, "last", 4).await;
    assert_eq!(subscription_pks(&server, &table, "from=trim_horizon", 1), ["last"]);
}

#[tokio::test]
async fn a_transactions_records_share_one_transaction_id_in_eddys_apis() {
    let server = TestServer::start();
    let client = server.client();
    let (table, _arn) = stream_table(&client, "txid", false).await;
    put(&client, &table, "solo", 1).await;
    let items = ["t1", "t2", "t3"].iter().map(|pk| {
        let put = Put::builder().table_name(&table).item("pk", s(*pk)).item("v", n(2)).build().unwrap();
        TransactWriteItem::builder().put(put).build()
    });
    client.transact_write_items().set_transact_items(Some(items.collect())).send().await.unwrap();
    put(&client, &table, "after", 3).await;
    let mut stream = ndjson(&server, &table, "from=trim_horizon");
    let records = ndjson_records(&mut stream, 5);
    let ids: Vec<Option<&str>> =
        records.iter().map(|r| r.pointer("/eddy/TransactionId").and_then(Value::as_str)).collect();
    assert_eq!(ids[0], None, "a single write has no transaction id: {}", records[0]);
    assert_eq!(ids[4], None, "a single write has no transaction id: {}", records[4]);
    let id = ids[1].unwrap_or_else(|| panic!("a transaction's record carries its id: {}", records[1]));
    assert_eq!(&ids[1..4], &[Some(id); 3], "one id for the whole transaction, on contiguous records");
    let pks: Vec<&str> = records[1..4]
        .iter()
        .filter_map(|r| r.pointer("/dynamodb/Keys/pk/S").and_then(Value::as_str))
        .collect();
    assert_eq!(pks, ["t1", "t2", "t3"], "in request order");
}
