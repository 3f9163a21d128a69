//! ConsumedCapacity on the wire: `{"TableName", "CapacityUnits"}` for TOTAL, plus `Table`,
//! `GlobalSecondaryIndexes` and `LocalSecondaryIndexes` shares for INDEXES.

use std::collections::BTreeMap;

use eddy_core::capacity::{ConsumedCapacity, Detail};
use serde_json::{Map, Value, json};

fn units(u: f64) -> Value {
    json!({ "CapacityUnits": u })
}

fn index_map(indexes: &BTreeMap<String, f64>) -> Value {
    Value::Object(indexes.iter().map(|(name, u)| (name.clone(), units(*u))).collect())
}

/// One table's ConsumedCapacity.
pub(super) fn render(c: &ConsumedCapacity, detail: Detail) -> Value {
    let mut out = Map::new();
    out.insert("TableName".into(), json!(c.table_name));
    out.insert("CapacityUnits".into(), json!(c.total()));
    if detail == Detail::Indexes {
        out.insert("Table".into(), units(c.table));
        if !c.global_indexes.is_empty() {
            out.insert("GlobalSecondaryIndexes".into(), index_map(&c.global_indexes));
        }
        if !c.local_indexes.is_empty() {
            out.insert("LocalSecondaryIndexes".into(), index_map(&c.local_indexes));
        }
    }
    Value::Object(out)
}

/// A single-table operation's ConsumedCapacity, when asked for.
pub(super) fn single(detail: Option<Detail>, consumed: impl FnOnce() -> ConsumedCapacity) -> Option<Value> {
    detail.map(|d| render(&consumed(), d))
}

/// A batch's ConsumedCapacity: one entry per table, when asked for.
pub(super) fn per_table(
    detail: Option<Detail>,
    consumed: &BTreeMap<String, ConsumedCapacity>,
) -> Option<Value> {
    detail.map(|d| Value::Array(consumed.values().map(|c| render(c, d)).collect()))
}
