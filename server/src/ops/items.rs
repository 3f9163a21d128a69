//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.

use std::collections::BTreeMap;

use eddy_core::expr::{ExpressionKind, Projection};
use eddy_core::store::{ItemWrite, WriteAction};
use eddy_core::{Item, PrimaryKey};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::expressions::Expressions;
use super::{point_read, required, respond};
use crate::app::AppState;
use crate::error::ApiError;
use crate::wire::value::{RawItem, RawValue, WireItem, item_from_raw};

/// The legacy (pre-expression) parameters a later version supports; until then each is a
/// ValidationException naming it, never silently ignored.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LegacyParameters {
    expected: Option<IgnoredAny>,
    conditional_operator: Option<IgnoredAny>,
    attribute_updates: Option<IgnoredAny>,
    key_conditions: Option<IgnoredAny>,
    query_filter: Option<IgnoredAny>,
    scan_filter: Option<IgnoredAny>,
    return_item_collection_metrics: Option<String>,
    return_consumed_capacity: Option<String>,
}

impl LegacyParameters {
    /// Rejects any parameter that is present.
    pub(super) fn reject(&self) -> Result<(), ApiError> {
        for (present, name) in [
            (self.expected.is_some(), "The legacy parameter Expected (use ConditionExpression)"),
            (self.conditional_operator.is_some(), "The legacy parameter ConditionalOperator"),
            (
                self.attribute_updates.is_some(),
                "The legacy parameter AttributeUpdates (use UpdateExpression)",
            ),
            (
                self.key_conditions.is_some(),
                "The legacy parameter KeyConditions (use KeyConditionExpression)",
            ),
            (self.query_filter.is_some(), "The legacy parameter QueryFilter (use FilterExpression)"),
            (self.scan_filter.is_some(), "The legacy parameter ScanFilter (use FilterExpression)"),
        ] {
            if present {
                return Err(ApiError::unsupported(name));
            }
        }
        match self.return_item_collection_metrics.as_deref() {
            None | Some("NONE") => {}
            Some("SIZE") => return Err(ApiError::unsupported("ReturnItemCollectionMetrics=SIZE")),
            Some(other) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"
                )));
            }
        }
        match self.return_consumed_capacity.as_deref() {
            None | Some("NONE") => Ok(()),
            Some(v @ ("TOTAL" | "INDEXES")) => {
                Err(ApiError::unsupported(&format!("ReturnConsumedCapacity={v}")))
            }
            Some(other) => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
            ))),
        }
    }
}

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
}

fn attributes(item: Option<&Item>) -> AttributesBody<'_> {
    AttributesBody { attributes: item.filter(|i| !i.is_empty()).map(WireItem) }
}

/// `{"Item": ...}`, or `{}` when there is no item.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ItemBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<WireItem<'a>>,
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

pub(super) async fn put_item(state: &AppState, input: PutItemInput) -> Result<Vec<u8>, ApiError> {
    input.legacy.reject()?;
    let table = table_name(input.table_name)?;
    let returns = return_values(input.return_values.as_deref(), &[ReturnValues::None, ReturnValues::AllOld])?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref())?;
    let item = item_from_raw(required(input.item, "item")?)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    expressions.finish()?;
    let key = put_item_key(state, &table, &item)?;
    let write = ItemWrite {
        table,
        key,
        action: WriteAction::Put(item),
        condition,
        return_item_on_condition_failure: on_failure,
    };
    let outcome = state.store().write(write).await?;
    let old = (returns == ReturnValues::AllOld).then_some(outcome.old).flatten();
    respond(&attributes(old.as_ref()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetItemInput {
    table_name: Option<String>,
    key: Option<RawItem>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    attributes_to_get: Option<Vec<String>>,
    #[allow(dead_code, reason = "every read is strongly consistent, so the flag changes nothing")]
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
    input.legacy.reject()?;
    let table = table_name(input.table_name)?;
    let mut expressions = Expressions::new(input.expression_attribute_names, None)?;
    let projection =
        projection(&mut expressions, input.projection_expression.as_deref(), input.attributes_to_get)?;
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    let store = state.store();
    let item = point_read(|| Ok(store.get_item(&table, &key)?))?;
    let item = match (item, projection) {
        (Some(item), Some(p)) => Some(p.apply(&item)),
        (item, _) => item,
    };
    respond(&ItemBody { item: item.as_ref().map(WireItem) })
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

pub(super) async fn update_item(state: &AppState, input: UpdateItemInput) -> Result<Vec<u8>, ApiError> {
    input.legacy.reject()?;
    let table = table_name(input.table_name)?;
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
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    let updated_paths = update.as_ref().map(|u| u.updated_paths());
    let write = ItemWrite {
        table,
        key,
        action: WriteAction::Update(update),
        condition,
        return_item_on_condition_failure: on_failure,
    };
    let outcome = state.store().write(write).await?;
    let returned = match returns {
        ReturnValues::None => None,
        ReturnValues::AllOld => outcome.old,
        ReturnValues::AllNew => outcome.new,
        ReturnValues::UpdatedOld => project(outcome.old, updated_paths.as_ref()),
        ReturnValues::UpdatedNew => project(outcome.new, updated_paths.as_ref()),
    };
    respond(&attributes(returned.as_ref()))
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

pub(super) async fn delete_item(state: &AppState, input: DeleteItemInput) -> Result<Vec<u8>, ApiError> {
    input.legacy.reject()?;
    let table = table_name(input.table_name)?;
    let returns = return_values(input.return_values.as_deref(), &[ReturnValues::None, ReturnValues::AllOld])?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref())?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    let write = ItemWrite {
        table,
        key,
        action: WriteAction::Delete,
        condition,
        return_item_on_condition_failure: on_failure,
    };
    let outcome = state.store().write(write).await?;
    let old = (returns == ReturnValues::AllOld).then_some(outcome.old).flatten();
    respond(&attributes(old.as_ref()))
}
