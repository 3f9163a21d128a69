//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.

use std::collections::BTreeMap;

use eddy_core::capacity::{Consistency, ConsumedCapacity, Detail, IndexWrite, index_writes};
use eddy_core::expr::{ExpressionKind, Projection};
use eddy_core::store::{ItemWrite, WriteAction, WriteOutcome};
use eddy_core::value::item_size_bytes;
use eddy_core::{Item, PrimaryKey};
use serde::{Deserialize, Serialize};

use super::expressions::Expressions;
pub(super) use super::legacy::LegacyParameters;
use super::legacy::check_mixing;
use super::{capacity, point_read, required, respond};
use crate::app::AppState;
use crate::error::ApiError;
use crate::wire::value::{RawItem, RawValue, WireItem, item_from_raw};

/// ReturnValues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReturnValues {
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

fn return_values(value: Option<&str>, allowed: &[ReturnValues]) -> Result<ReturnValues, ApiError> {
    let parsed = match value {
        None | Some("NONE") => ReturnValues::None,
        Some("ALL_OLD") => ReturnValues::AllOld,
        Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
        Some("ALL_NEW") => ReturnValues::AllNew,
        Some("UPDATED_NEW") => ReturnValues::UpdatedNew,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
            )));
        }
    };
    if !allowed.contains(&parsed) {
        return Err(ApiError::validation("ReturnValues can only be ALL_OLD or NONE"));
    }
    Ok(parsed)
}

fn return_on_failure(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
        ))),
    }
}

/// The table name, checked.
pub(super) fn table_name(name: Option<String>) -> Result<String, ApiError> {
    let name = required(name, "tableName")?;
    eddy_core::schema::validate_table_name(&name, "tableName")?;
    Ok(name)
}

/// A request's `Key`, checked against the table's key schema.
pub(super) fn request_key(
    state: &AppState,
    table: &str,
    key: Option<RawItem>,
) -> Result<PrimaryKey, ApiError> {
    let key = item_from_raw(required(key, "key")?)?;
    let meta = state.store().table(table)?;
    Ok(meta.spec.key_schema.key_from_request(&key, state.store().limits())?)
}

/// Checks a whole item for PutItem (and BatchWriteItem): key, size and nesting.
pub(super) fn put_item_key(state: &AppState, table: &str, item: &Item) -> Result<PrimaryKey, ApiError> {
    let meta = state.store().table(table)?;
    let limits = state.store().limits();
    let key = meta.spec.key_schema.key_of_item(item, limits)?;
    eddy_core::store::check_item_limits(item, limits, "Item size has exceeded the maximum allowed size")?;
    if let Some((name, _)) = item.iter().find(|(name, _)| name.is_empty()) {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: An AttributeValue may not contain an empty attribute name{name}"
        )));
    }
    Ok(key)
}

/// `{"Attributes": ...}`, or `{}` when there is nothing to return.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AttributesBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<WireItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_collection_metrics: Option<serde_json::Value>,
}

fn attributes(
    item: Option<&Item>,
    consumed_capacity: Option<serde_json::Value>,
    item_collection_metrics: Option<serde_json::Value>,
) -> AttributesBody<'_> {
    AttributesBody {
        attributes: item.filter(|i| !i.is_empty()).map(WireItem),
        consumed_capacity,
        item_collection_metrics,
    }
}

/// ItemCollectionMetrics after a write, when asked for and the table has local secondary
/// indexes (only such tables have bounded item collections, as in DynamoDB).
pub(super) fn collection_metrics(
    state: &AppState,
    table: &str,
    key: &PrimaryKey,
    wanted: bool,
) -> Result<Option<serde_json::Value>, ApiError> {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    if !wanted {
        return Ok(None);
    }
    let Some(bytes) = state.store().item_collection_bytes(table, key)? else {
        return Ok(None);
    };
    let meta = state.store().table(table)?;
    let mut collection_key = Item::new();
    collection_key.insert(meta.spec.key_schema.partition.name.clone(), key.partition.clone());
    let lower = (bytes as f64 / GIB).floor();
    Ok(Some(serde_json::json!({
        "ItemCollectionKey": serde_json::to_value(WireItem(&collection_key)).unwrap_or_default(),
        "SizeEstimateRangeGB": [lower, lower + 1.0],
    })))
}

/// The index entry changes of a committed write (none when the table is gone since).
pub(super) fn index_writes_of(state: &AppState, table: &str, outcome: &WriteOutcome) -> Vec<IndexWrite> {
    match state.store().table(table) {
        Ok(meta) => index_writes(&meta, outcome.old.as_ref(), outcome.new.as_ref()),
        Err(_) => Vec::new(),
    }
}

/// The write capacity of one item write, when asked for: the table's share and each changed
/// index entry's.
fn write_capacity(
    state: &AppState,
    detail: Option<Detail>,
    table: &str,
    outcome: &WriteOutcome,
) -> Option<serde_json::Value> {
    capacity::single(detail, || {
        let size = |item: &Option<Item>| item.as_ref().map(item_size_bytes);
        ConsumedCapacity::item_write(
            table,
            size(&outcome.old),
            size(&outcome.new),
            &index_writes_of(state, table, outcome),
        )
    })
}

/// `{"Item": ...}`, or `{}` when there is no item.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ItemBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<WireItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutItemInput {
    table_name: Option<String>,
    item: Option<RawItem>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

pub(super) async fn put_item(state: &AppState, mut input: PutItemInput) -> Result<Vec<u8>, ApiError> {
    let table = table_name(input.table_name)?;
    check_mixing(
        &[
            ("Expected", input.legacy.has_expected()),
            ("ConditionalOperator", input.legacy.has_conditional_operator()),
        ],
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    let detail = input.legacy.returns()?;
    let returns = return_values(input.return_values.as_deref(), &[ReturnValues::None, ReturnValues::AllOld])?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref())?;
    let item = item_from_raw(required(input.item, "item")?)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    let condition = condition.or(input.legacy.expected()?);
    expressions.finish()?;
    let key = put_item_key(state, &table, &item)?;
    let wants_metrics = input.legacy.wants_item_collection_metrics();
    let write = ItemWrite {
        table: table.clone(),
        key: key.clone(),
        action: WriteAction::Put(item),
        condition,
        return_item_on_condition_failure: on_failure,
        hops: 0,
    };
    let outcome = state.store().write(write).await?;
    let consumed = write_capacity(state, detail, &table, &outcome);
    let metrics = collection_metrics(state, &table, &key, wants_metrics)?;
    let old = (returns == ReturnValues::AllOld).then_some(outcome.old).flatten();
    respond(&attributes(old.as_ref(), consumed, metrics))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetItemInput {
    table_name: Option<String>,
    key: Option<RawItem>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    attributes_to_get: Option<Vec<String>>,
    /// Every read is strongly consistent; the flag only prices the read.
    consistent_read: Option<bool>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

/// ProjectionExpression or AttributesToGet (not both, as in DynamoDB).
pub(super) fn projection(
    expressions: &mut Expressions,
    projection_expression: Option<&str>,
    attributes_to_get: Option<Vec<String>>,
) -> Result<Option<Projection>, ApiError> {
    match (projection_expression, attributes_to_get) {
        (Some(_), Some(_)) => Err(ApiError::validation(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
        )),
        (None, Some(names)) => {
            if names.is_empty() {
                return Err(ApiError::validation(
                    "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
                ));
            }
            let unique: std::collections::BTreeSet<&String> = names.iter().collect();
            if unique.len() != names.len() {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Duplicate value in attribute name: {}",
                    names.join(", ")
                )));
            }
            Ok(Some(Projection::from_attribute_names(names)))
        }
        (text, None) => expressions.projection(text),
    }
}

pub(super) async fn get_item(state: &AppState, input: GetItemInput) -> Result<Vec<u8>, ApiError> {
    let table = table_name(input.table_name)?;
    let detail = input.legacy.returns()?;
    let mut expressions = Expressions::new(input.expression_attribute_names, None)?;
    let projection =
        projection(&mut expressions, input.projection_expression.as_deref(), input.attributes_to_get)?;
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    let store = state.store();
    let item = point_read(|| Ok(store.get_item(&table, &key)?))?;
    let consumed = capacity::single(detail, || {
        let size = item.as_ref().map_or(0, item_size_bytes);
        ConsumedCapacity::table_read(&table, size, Consistency::from_flag(input.consistent_read))
    });
    let item = match (item, projection) {
        (Some(item), Some(p)) => Some(p.apply(&item)),
        (item, _) => item,
    };
    respond(&ItemBody { item: item.as_ref().map(WireItem), consumed_capacity: consumed })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateItemInput {
    table_name: Option<String>,
    key: Option<RawItem>,
    update_expression: Option<String>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

pub(super) async fn update_item(state: &AppState, mut input: UpdateItemInput) -> Result<Vec<u8>, ApiError> {
    let table = table_name(input.table_name)?;
    check_mixing(
        &[
            ("AttributeUpdates", input.legacy.has_attribute_updates()),
            ("Expected", input.legacy.has_expected()),
            ("ConditionalOperator", input.legacy.has_conditional_operator()),
        ],
        &[
            ("UpdateExpression", input.update_expression.is_some()),
            ("ConditionExpression", input.condition_expression.is_some()),
        ],
    )?;
    let detail = input.legacy.returns()?;
    let returns = return_values(
        input.return_values.as_deref(),
        &[
            ReturnValues::None,
            ReturnValues::AllOld,
            ReturnValues::UpdatedOld,
            ReturnValues::AllNew,
            ReturnValues::UpdatedNew,
        ],
    )?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref())?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let update = expressions.update(input.update_expression.as_deref())?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    let condition = condition.or(input.legacy.expected()?);
    let update = update.or(input.legacy.attribute_updates()?);
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    let metrics_key = key.clone();
    let wants_metrics = input.legacy.wants_item_collection_metrics();
    let updated_paths = update.as_ref().map(|u| u.updated_paths());
    let write = ItemWrite {
        table: table.clone(),
        key,
        action: WriteAction::Update(update),
        condition,
        return_item_on_condition_failure: on_failure,
        hops: 0,
    };
    let outcome = state.store().write(write).await?;
    let consumed = write_capacity(state, detail, &table, &outcome);
    let returned = match returns {
        ReturnValues::None => None,
        ReturnValues::AllOld => outcome.old,
        ReturnValues::AllNew => outcome.new,
        ReturnValues::UpdatedOld => project(outcome.old, updated_paths.as_ref()),
        ReturnValues::UpdatedNew => project(outcome.new, updated_paths.as_ref()),
    };
    let metrics = collection_metrics(state, &table, &metrics_key, wants_metrics)?;
    respond(&attributes(returned.as_ref(), consumed, metrics))
}

/// The updated attributes of an item (nothing without an update expression).
fn project(item: Option<Item>, paths: Option<&Projection>) -> Option<Item> {
    Some(paths?.apply(&item?))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteItemInput {
    table_name: Option<String>,
    key: Option<RawItem>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

pub(super) async fn delete_item(state: &AppState, mut input: DeleteItemInput) -> Result<Vec<u8>, ApiError> {
    let table = table_name(input.table_name)?;
    check_mixing(
        &[
            ("Expected", input.legacy.has_expected()),
            ("ConditionalOperator", input.legacy.has_conditional_operator()),
        ],
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    let detail = input.legacy.returns()?;
    let returns = return_values(input.return_values.as_deref(), &[ReturnValues::None, ReturnValues::AllOld])?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref())?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    let condition = condition.or(input.legacy.expected()?);
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    let wants_metrics = input.legacy.wants_item_collection_metrics();
    let write = ItemWrite {
        table: table.clone(),
        key: key.clone(),
        action: WriteAction::Delete,
        condition,
        return_item_on_condition_failure: on_failure,
        hops: 0,
    };
    let outcome = state.store().write(write).await?;
    let consumed = write_capacity(state, detail, &table, &outcome);
    let metrics = collection_metrics(state, &table, &key, wants_metrics)?;
    let old = (returns == ReturnValues::AllOld).then_some(outcome.old).flatten();
    respond(&attributes(old.as_ref(), consumed, metrics))
}
