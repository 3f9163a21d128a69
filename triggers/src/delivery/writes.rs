//! From the sandbox's buffered write-backs (DynamoDB-API-shaped JSON) to the store's
//! [`ItemWrite`]s that commit with the checkpoint, and the reader that serves the guest's
//! `get_item` from committed state and the buffered write-backs of earlier batches.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_core::expr::{ExpressionKind, Placeholders, parse_condition, parse_update};
use eddy_core::store::{ItemWrite, WriteAction};
use eddy_core::{AttributeValue, Item, Store};
use eddy_streams::json::{RawItem, RawValue, item_from_raw};
use eddy_streams::record::item_json;
use serde_json::Value;

use crate::error::BatchFailure;
use crate::sandbox::{HostReader, WriteBack, WriteKind};

use super::overlay::Overlay;

/// Serves `get_item` from the store's last commit, under the write-backs of earlier batches
/// that commit together with the invocation's own (empty for a batch committed alone).
pub(crate) struct StoreReader {
    pub store: Store,
    pub overlay: Arc<Overlay>,
}

impl StoreReader {
    /// A reader of committed state only.
    pub fn committed(store: Store) -> Self {
        StoreReader { store, overlay: Arc::default() }
    }
}

impl HostReader for StoreReader {
    fn get_item(&self, table: &str, key: &Value) -> Result<Option<Value>, String> {
        let raw: RawItem =
            serde_json::from_value(key.clone()).map_err(|e| format!("Key is not DynamoDB JSON: {e}"))?;
        let key = item_from_raw(raw).map_err(|e| e.message().to_string())?;
        let meta = self.store.table(table).map_err(|_| format!("table {table} does not exist"))?;
        let key =
            meta.spec.key_schema.key_from_request(&key, self.store.limits()).map_err(|e| e.to_string())?;
        if let Some(item) = self.overlay.get(table, &key) {
            return Ok(item.as_ref().map(item_json));
        }
        let item = self.store.get_item(table, &key).map_err(|e| e.to_string())?;
        Ok(item.as_ref().map(item_json))
    }

    /// Applies a buffered `update_item` to the item as the invocation sees it, with the same
    /// expression code the commit will use, so `get_item` shows the invocation's own updates.
    fn apply_update(&self, item: Option<&Value>, request: &Value) -> Option<Result<Option<Value>, String>> {
        let write = WriteBack { kind: WriteKind::Update, request: request.clone() };
        let applied = (|| {
            let table = write.table_name().to_string();
            let item_write = item_write(&self.store, &write, 0)?;
            let WriteAction::Update(Some(update)) = item_write.action else {
                return Err("update_item needs an UpdateExpression".to_string());
            };
            let meta = self.store.table(&table).map_err(|e| e.to_string())?;
            let base = match item {
                Some(json) => {
                    let raw: RawItem = serde_json::from_value(json.clone())
                        .map_err(|e| format!("item is not DynamoDB JSON: {e}"))?;
                    item_from_raw(raw).map_err(|e| e.message().to_string())?
                }
                None => item_write.key.to_item(&meta.spec.key_schema),
            };
            let updated = update.apply(&base).map_err(|e| e.to_string())?;
            Ok(Some(item_json(&updated)))
        })();
        Some(applied)
    }
}

/// Converts a batch's write-backs, in order, into item writes carrying `hops`. Refuses writes
/// to `source_table` (the trigger's own table).
pub(crate) fn item_writes(
    store: &Store,
    source_table: &str,
    writes: &[WriteBack],
    hops: u32,
) -> Result<Vec<ItemWrite>, BatchFailure> {
    writes
        .iter()
        .enumerate()
        .map(|(index, write)| {
            let table = write.table_name();
            if table == source_table {
                return Err(BatchFailure::OwnTableWrite { index, table: table.to_string() });
            }
            item_write(store, write, hops).map_err(|message| BatchFailure::InvalidWriteBack {
                index,
                function: write.kind.host_function(),
                table: table.to_string(),
                message,
            })
        })
        .collect()
}

fn item_write(store: &Store, write: &WriteBack, hops: u32) -> Result<ItemWrite, String> {
    let request = &write.request;
    let table = write.table_name();
    let meta = store.table(table).map_err(|_| format!("table {table} does not exist"))?;
    let schema = &meta.spec.key_schema;
    let limits = store.limits();
    let names = match request.get("ExpressionAttributeNames") {
        None => None,
        Some(value) => Some(
            serde_json::from_value::<BTreeMap<String, String>>(value.clone())
                .map_err(|e| format!("ExpressionAttributeNames must map names to strings: {e}"))?,
        ),
    };
    let values = match request.get("ExpressionAttributeValues") {
        None => None,
        Some(value) => {
            let raw: BTreeMap<String, RawValue> = serde_json::from_value(value.clone())
                .map_err(|e| format!("ExpressionAttributeValues is not DynamoDB JSON: {e}"))?;
            let mut converted: BTreeMap<String, AttributeValue> = BTreeMap::new();
            for (name, raw) in raw {
                let value = raw.into_value().map_err(|e| {
                    format!(
                        "ExpressionAttributeValues contains invalid value: {} for key {name}",
                        e.message()
                    )
                })?;
                converted.insert(name, value);
            }
            Some(converted)
        }
    };
    let (names_given, values_given) = (names.is_some(), values.is_some());
    let mut placeholders = Placeholders::new(names.unwrap_or_default(), values.unwrap_or_default());
    let mut any_expression = false;
    let condition = match request.get("ConditionExpression").and_then(Value::as_str) {
        Some(text) => {
            any_expression = true;
            Some(
                parse_condition(text, ExpressionKind::Condition, &mut placeholders)
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let item_of = |field: &str| -> Result<Item, String> {
        let value = request.get(field).cloned().unwrap_or(Value::Null);
        let raw: RawItem =
            serde_json::from_value(value).map_err(|e| format!("{field} is not DynamoDB JSON: {e}"))?;
        item_from_raw(raw).map_err(|e| e.message().to_string())
    };
    let (key, action) = match write.kind {
        WriteKind::Put => {
            let item = item_of("Item")?;
            eddy_core::store::check_item_limits(
                &item,
                limits,
                "Item size has exceeded the maximum allowed size",
            )
            .map_err(|e| e.to_string())?;
            (schema.key_of_item(&item, limits).map_err(|e| e.to_string())?, WriteAction::Put(item))
        }
        WriteKind::Update => {
            let key = schema.key_from_request(&item_of("Key")?, limits).map_err(|e| e.to_string())?;
            let text = request.get("UpdateExpression").and_then(Value::as_str).unwrap_or_default();
            any_expression = true;
            let update = parse_update(text, &mut placeholders).map_err(|e| e.to_string())?;
            (key, WriteAction::Update(Some(update)))
        }
        WriteKind::Delete => (
            schema.key_from_request(&item_of("Key")?, limits).map_err(|e| e.to_string())?,
            WriteAction::Delete,
        ),
    };
    if any_expression {
        placeholders.check_all_used().map_err(|e| e.to_string())?;
    } else if values_given {
        return Err("ExpressionAttributeValues can only be specified when using expressions".into());
    } else if names_given {
        return Err("ExpressionAttributeNames can only be specified when using expressions".into());
    }
    Ok(ItemWrite {
        table: table.to_string(),
        key,
        action,
        condition,
        return_item_on_condition_failure: false,
        hops,
    })
}

#[cfg(test)]
mod tests {
    use eddy_core::schema::{BillingMode, TableSpec};
    use eddy_core::{KeyAttribute, KeySchema, Limits, ScalarType, SystemClock};
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn get_item_sees_the_invocations_own_updates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Limits::default(), Arc::new(SystemClock)).unwrap();
        let pk = KeyAttribute { name: "customer".into(), scalar_type: ScalarType::S };
        let spec = TableSpec {
            name: "totals".into(),
            key_schema: KeySchema { partition: pk.clone(), sort: None },
            attribute_definitions: vec![pk],
            billing: BillingMode::PayPerRequest,
            tags: Default::default(),
            stream: None,
            deletion_protection: false,
            table_class: "STANDARD".into(),
        };
        store.create_table(spec, Vec::new(), "id".into()).await.unwrap();
        let reader = StoreReader::committed(store);
        let request = json!({
            "TableName": "totals",
            "Key": {"customer": {"S": "alice"}},
            "UpdateExpression": "ADD amount :a",
            "ExpressionAttributeValues": {":a": {"N": "5"}},
        });
        let first = reader.apply_update(None, &request).unwrap().unwrap();
        assert_eq!(first, Some(json!({"customer": {"S": "alice"}, "amount": {"N": "5"}})));
        let second = reader.apply_update(first.as_ref(), &request).unwrap().unwrap();
        assert_eq!(second.as_ref().and_then(|i| i.get("amount")), Some(&json!({"N": "10"})));
        let bad = json!({"TableName": "totals", "Key": {"customer": {"S": "a"}}, "UpdateExpression": "ADD"});
        assert!(reader.apply_update(None, &bad).unwrap().is_err());
    }
}
