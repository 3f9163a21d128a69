//! BatchGetItem and BatchWriteItem.

use crate::ops::items::index_writes_of;
use std::collections::{BTreeMap, BTreeSet};

use eddy_core::store::{ItemWrite, WriteAction};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::expressions::Expressions;
use super::items::{LegacyParameters, projection, put_item_key, request_key, table_name};
use super::{capacity, point_read, required, respond};
use crate::app::AppState;
use crate::error::ApiError;
use crate::wire::value::{RawItem, WireItem, item_from_raw};
use eddy_core::capacity::{Consistency, ConsumedCapacity};
use eddy_core::value::item_size_bytes;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeysAndAttributes {
    keys: Option<Vec<RawItem>>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    attributes_to_get: Option<Vec<String>>,
    /// Every read is strongly consistent; the flag prices the reads and is echoed back with
    /// UnprocessedKeys.
    consistent_read: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchGetInput {
    request_items: Option<BTreeMap<String, KeysAndAttributes>>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

pub(super) async fn batch_get_item(state: &AppState, input: BatchGetInput) -> Result<Vec<u8>, ApiError> {
    let detail = input.legacy.returns()?;
    let request_items = required(input.request_items, "requestItems")?;
    if request_items.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let limit = state.store().limits().batch_get_keys_max;
    let total: usize = request_items.values().map(|r| r.keys.as_ref().map_or(0, Vec::len)).sum();
    if total > limit {
        return Err(ApiError::validation(format!(
            "Too many items requested for the BatchGetItem call; the maximum is {limit}"
        )));
    }
    let mut lookups = Vec::new();
    let mut projections = BTreeMap::new();
    let mut consumed: BTreeMap<String, (Consistency, ConsumedCapacity)> = BTreeMap::new();
    let mut requests_by_table: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (table, request) in request_items {
        let table = table_name(Some(table))?;
        let mut echo = Map::new();
        if let Some(p) = &request.projection_expression {
            echo.insert("ProjectionExpression".into(), json!(p));
        }
        if let Some(n) = &request.expression_attribute_names {
            echo.insert("ExpressionAttributeNames".into(), json!(n));
        }
        if let Some(a) = &request.attributes_to_get {
            echo.insert("AttributesToGet".into(), json!(a));
        }
        if let Some(c) = request.consistent_read {
            echo.insert("ConsistentRead".into(), json!(c));
        }
        requests_by_table.insert(table.clone(), echo);
        let consistency = Consistency::from_flag(request.consistent_read);
        consumed.insert(table.clone(), (consistency, ConsumedCapacity::new(&table)));
        let keys = required(request.keys, "requestItems.member.keys")?;
        if keys.is_empty() {
            return Err(ApiError::validation(
                "1 validation error detected: Value '[]' at 'requestItems.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut expressions = Expressions::new(request.expression_attribute_names, None)?;
        let p = projection(
            &mut expressions,
            request.projection_expression.as_deref(),
            request.attributes_to_get,
        )?;
        expressions.finish()?;
        projections.insert(table.clone(), p);
        let mut seen = BTreeSet::new();
        for raw in keys {
            let key = request_key(state, &table, Some(raw))?;
            if !seen.insert(key.encode()) {
                return Err(ApiError::validation("Provided list of item keys contains duplicates"));
            }
            lookups.push((table.clone(), key));
        }
    }
    let store = state.store();
    let found = point_read(|| Ok(store.get_items(&lookups)?))?;
    let mut responses: BTreeMap<String, Vec<Value>> =
        projections.keys().map(|t| (t.clone(), Vec::new())).collect();
    let mut unprocessed: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let budget = state.store().limits().batch_get_response_bytes_max;
    let mut returned_bytes = 0;
    for ((table, key), item) in lookups.iter().zip(found) {
        let full_size = item.as_ref().map_or(0, item_size_bytes);
        let Some(item) = item else {
            // A key with no item is still a read (one unit at least), as in GetItem.
            charge_read(&mut consumed, table, 0);
            continue;
        };
        let item = match projections.get(table).and_then(Option::as_ref) {
            Some(p) => p.apply(&item),
            None => item,
        };
        let size = item_size_bytes(&item);
        if returned_bytes + size > budget || !unprocessed.is_empty() {
            // Past the response limit: the caller asks again for the rest, as with DynamoDB.
            let schema = &state.store().table(table)?.spec.key_schema;
            unprocessed
                .entry(table.clone())
                .or_default()
                .push(serde_json::to_value(WireItem(&key.to_item(schema))).unwrap_or_default());
            continue;
        }
        returned_bytes += size;
        charge_read(&mut consumed, table, full_size);
        if let Some(list) = responses.get_mut(table) {
            list.push(serde_json::to_value(WireItem(&item)).unwrap_or_default());
        }
    }
    let unprocessed: Map<String, Value> = unprocessed
        .into_iter()
        .map(|(table, keys)| {
            // The rest of the table's request comes back unchanged, so it can be resent as is.
            let mut request = requests_by_table.remove(&table).unwrap_or_default();
            request.insert("Keys".into(), Value::Array(keys));
            (table, Value::Object(request))
        })
        .collect();
    let mut body = json!({"Responses": responses, "UnprocessedKeys": unprocessed});
    let consumed: BTreeMap<String, ConsumedCapacity> =
        consumed.into_iter().map(|(t, (_, c))| (t, c)).collect();
    if let (Some(capacity), Some(map)) = (capacity::per_table(detail, &consumed), body.as_object_mut()) {
        map.insert("ConsumedCapacity".into(), capacity);
    }
    respond(&body)
}

/// Each item of a batch is read separately, so each is rounded up to 4 KB on its own.
fn charge_read(consumed: &mut BTreeMap<String, (Consistency, ConsumedCapacity)>, table: &str, bytes: usize) {
    if let Some((consistency, c)) = consumed.get_mut(table) {
        c.merge(&ConsumedCapacity::table_read(table, bytes, *consistency));
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRequest {
    item: Option<RawItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteRequest {
    key: Option<RawItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WriteRequest {
    put_request: Option<PutRequest>,
    delete_request: Option<DeleteRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchWriteInput {
    request_items: Option<BTreeMap<String, Vec<WriteRequest>>>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

pub(super) async fn batch_write_item(state: &AppState, input: BatchWriteInput) -> Result<Vec<u8>, ApiError> {
    let detail = input.legacy.returns()?;
    let request_items = required(input.request_items, "requestItems")?;
    if request_items.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let limit = state.store().limits().batch_write_requests_max;
    let total: usize = request_items.values().map(Vec::len).sum();
    if total > limit {
        return Err(ApiError::validation("Too many items requested for the BatchWriteItem call"));
    }
    let mut writes = Vec::with_capacity(total);
    let mut seen = BTreeSet::new();
    for (table, requests) in request_items {
        let table = table_name(Some(table))?;
        if requests.is_empty() {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {limit}, Member must have length greater than or equal to 1]"
            )));
        }
        for request in requests {
            let (key, action) = match (request.put_request, request.delete_request) {
                (Some(put), None) => {
                    let item = item_from_raw(required(put.item, "requestItems.member.putRequest.item")?)?;
                    (put_item_key(state, &table, &item)?, WriteAction::Put(item))
                }
                (None, Some(delete)) => (request_key(state, &table, delete.key)?, WriteAction::Delete),
                _ => {
                    return Err(ApiError::validation(
                        "Each WriteRequest must contain exactly one of PutRequest or DeleteRequest",
                    ));
                }
            };
            if !seen.insert((table.clone(), key.encode())) {
                return Err(ApiError::validation("Provided list of item keys contains duplicates"));
            }
            writes.push(ItemWrite {
                table: table.clone(),
                key,
                action,
                condition: None,
                return_item_on_condition_failure: false,
                hops: 0,
            });
        }
    }
    let tables: Vec<String> = writes.iter().map(|w| w.table.clone()).collect();
    let outcomes = state.store().batch_write(writes).await?;
    let mut body = json!({"UnprocessedItems": Map::new()});
    if detail.is_some() {
        // Each item is written separately, so each is rounded up to 1 KB on its own.
        let mut consumed: BTreeMap<String, ConsumedCapacity> = BTreeMap::new();
        for (table, outcome) in tables.iter().zip(&outcomes) {
            let size = |item: &Option<eddy_core::Item>| item.as_ref().map(item_size_bytes);
            let write = ConsumedCapacity::item_write(
                table,
                size(&outcome.old),
                size(&outcome.new),
                &index_writes_of(state, table, outcome),
            );
            consumed.entry(table.clone()).or_insert_with(|| ConsumedCapacity::new(table)).merge(&write);
        }
        if let (Some(capacity), Some(map)) = (capacity::per_table(detail, &consumed), body.as_object_mut()) {
            map.insert("ConsumedCapacity".into(), capacity);
        }
    }
    respond(&body)
}
