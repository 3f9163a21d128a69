//! The dead-letter table: an ordinary Eddy table (hash key `SequenceNumber`, S) holding each
//! record a trigger gave up on, in full, with the error. Dead letters are written in the same
//! commit that moves the checkpoint past their records, so a record is never skipped silently.

use std::collections::BTreeMap;

use eddy_core::changelog::format_sequence_number;
use eddy_core::schema::{BillingMode, TableSpec};
use eddy_core::store::{ItemWrite, WriteAction};
use eddy_core::{AttributeValue, Item, KeyAttribute, KeySchema, Number, PrimaryKey, ScalarType, Store};
use serde_json::{Value, json};

use crate::error::{BatchFailure, TriggerError};

/// The dead-letter table's hash key.
pub const KEY: &str = "SequenceNumber";

/// One record a trigger gave up on.
pub(crate) struct DeadLetter<'a> {
    pub trigger: &'a str,
    pub source_table: &'a str,
    pub seq: u64,
    pub hops: u32,
    pub record: &'a Value,
    pub record_text: &'a str,
    pub failure: &'a BatchFailure,
    pub attempts: u32,
    pub now_millis: u64,
}

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(Number::parse(&n.to_string()).unwrap_or_else(|_| Number::zero()))
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

impl DeadLetter<'_> {
    /// The put that stores it in `table`.
    pub fn write(&self, table: &str) -> ItemWrite {
        let sequence_number = format_sequence_number(self.seq);
        let mut item: Item = BTreeMap::new();
        item.insert(KEY.into(), s(sequence_number.clone()));
        item.insert("TriggerName".into(), s(self.trigger));
        item.insert("SourceTable".into(), s(self.source_table));
        item.insert("EventName".into(), s(self.record["eventName"].as_str().unwrap_or_default()));
        item.insert("Record".into(), s(self.record_text));
        item.insert("Error".into(), s(self.failure.to_string()));
        item.insert("ErrorType".into(), s(self.failure.kind()));
        item.insert("Attempts".into(), number(self.attempts));
        item.insert("Hops".into(), number(self.hops));
        item.insert(
            "FailedAt".into(),
            number(format!("{}.{:03}", self.now_millis / 1000, self.now_millis % 1000)),
        );
        ItemWrite {
            table: table.to_string(),
            key: PrimaryKey { partition: s(sequence_number), sort: None },
            action: WriteAction::Put(item),
            condition: None,
            return_item_on_condition_failure: false,
            hops: 0,
        }
    }
}

/// The delete that removes the dead letter of `seq` from `table` (after a successful replay).
pub(crate) fn delete(table: &str, seq: u64) -> ItemWrite {
    ItemWrite {
        table: table.to_string(),
        key: PrimaryKey { partition: s(format_sequence_number(seq)), sort: None },
        action: WriteAction::Delete,
        condition: None,
        return_item_on_condition_failure: false,
        hops: 0,
    }
}

/// Creates the dead-letter table if it does not exist; refuses an existing table whose key is
/// not `SequenceNumber` (S) alone.
pub(crate) async fn ensure_table(store: &Store, table: &str) -> Result<(), TriggerError> {
    match store.table(table) {
        Ok(meta) => {
            let schema = &meta.spec.key_schema;
            if schema.partition.name != KEY
                || schema.partition.scalar_type != ScalarType::S
                || schema.sort.is_some()
            {
                return Err(TriggerError::validation(format!(
                    "Dead-letter table {table} exists with another key; a dead-letter table has the hash key {KEY} (S) only"
                )));
            }
            Ok(())
        }
        Err(eddy_core::Error::ResourceNotFound { .. }) => {
            let key = KeyAttribute { name: KEY.into(), scalar_type: ScalarType::S };
            let spec = TableSpec {
                name: table.to_string(),
                key_schema: KeySchema { partition: key.clone(), sort: None },
                attribute_definitions: vec![key],
                billing: BillingMode::PayPerRequest,
                tags: BTreeMap::new(),
                stream: None,
                deletion_protection: false,
                table_class: "STANDARD".into(),
            };
            match store.create_table(spec, Vec::new(), uuid::Uuid::new_v4().to_string()).await {
                Ok(_) | Err(eddy_core::Error::ResourceInUse { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A dead letter as the API shows it; `Record` is the record JSON itself.
pub(crate) fn to_json(item: &Item) -> Value {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Value::String(s.clone()),
        _ => Value::Null,
    };
    let num = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.to_string().parse::<f64>().map(|v| json!(v)).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let record = match item.get("Record") {
        Some(AttributeValue::S(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        _ => Value::Null,
    };
    json!({
        "SequenceNumber": text(KEY),
        "TriggerName": text("TriggerName"),
        "SourceTable": text("SourceTable"),
        "EventName": text("EventName"),
        "Error": text("Error"),
        "ErrorType": text("ErrorType"),
        "Attempts": num("Attempts"),
        "FailedAt": num("FailedAt"),
        "Record": record,
    })
}

/// The parts of a stored dead letter that a replay needs.
pub(crate) struct Stored {
    pub seq: u64,
    pub hops: u32,
    pub attempts: u32,
    pub record_text: String,
    pub item: Item,
}

/// Reads a dead letter of `trigger` back, if `item` is one.
pub(crate) fn parse(item: &Item, trigger: &str) -> Option<Stored> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let int = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.to_string().parse::<u32>().ok(),
        _ => None,
    };
    if text("TriggerName")? != trigger {
        return None;
    }
    Some(Stored {
        seq: eddy_core::changelog::parse_sequence_number(&text(KEY)?)?,
        hops: int("Hops").unwrap_or(0),
        attempts: int("Attempts").unwrap_or(0),
        record_text: text("Record")?,
        item: item.clone(),
    })
}

/// Most dead-letter items one listing or replay looks at.
pub const SCAN_ITEMS_MAX: usize = 100_000;
/// Items per page read while scanning the dead-letter table.
const SCAN_PAGE_ITEMS: usize = 1000;

/// The dead letters of `trigger` in `table` with seq after `after`, in seq order, at most
/// `limit`, and whether more follow. Reads at most [`SCAN_ITEMS_MAX`] items of the table.
pub(crate) fn list(
    store: &Store,
    table: &str,
    trigger: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<(Vec<Stored>, bool), eddy_core::Error> {
    if store.table(table).is_err() {
        return Ok((Vec::new(), false));
    }
    let mut found = Vec::new();
    let mut start: Option<Item> = None;
    let mut scanned = 0;
    loop {
        let options = eddy_core::store::ReadOptions {
            limit: Some(SCAN_PAGE_ITEMS),
            exclusive_start: start.take(),
            ..Default::default()
        };
        let page = store.scan(table, None, &options, None)?;
        scanned += page.scanned_count;
        found.extend(
            page.items
                .iter()
                .filter_map(|item| parse(item, trigger))
                .filter(|d| after.is_none_or(|a| d.seq > a)),
        );
        match page.last_evaluated_key {
            Some(key) if scanned < SCAN_ITEMS_MAX => start = Some(key),
            _ => break,
        }
    }
    found.sort_by_key(|d| d.seq);
    let more = found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}
