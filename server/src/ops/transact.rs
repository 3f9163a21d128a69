//! TransactWriteItems and TransactGetItems: each action is checked like its single-item
//! operation, then the whole transaction goes to the store in one piece.

use crate::ops::items::index_writes_of;
use std::collections::BTreeMap;

use eddy_core::capacity::{Consistency, ConsumedCapacity, Detail};
use eddy_core::expr::{ExpressionKind, Projection};
use eddy_core::store::{ConditionCheck, ItemWrite, TransactAction, TransactWrite, WriteAction};
use eddy_core::value::item_size_bytes;
use serde::{Deserialize, Serialize};

use super::expressions::Expressions;
use super::items::{put_item_key, request_key};
use super::{capacity, point_read, required, respond};
use crate::app::AppState;
use crate::error::ApiError;
use crate::wire::value::{RawItem, RawValue, WireItem, item_from_raw};

/// Longest ClientRequestToken (DynamoDB: 36 characters).
const CLIENT_REQUEST_TOKEN_CHARS_MAX: usize = 36;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TransactWriteInput {
    transact_items: Option<Vec<TransactWriteItem>>,
    client_request_token: Option<String>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactWriteItem {
    condition_check: Option<ActionInput>,
    put: Option<ActionInput>,
    update: Option<ActionInput>,
    delete: Option<ActionInput>,
}

/// The fields of Put, Update, Delete and ConditionCheck; each action reads the ones DynamoDB
/// declares for it (unknown members are ignored, as everywhere in the JSON protocol).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ActionInput {
    table_name: Option<String>,
    key: Option<RawItem>,
    item: Option<RawItem>,
    update_expression: Option<String>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    return_values_on_condition_check_failure: Option<String>,
}

pub(super) async fn transact_write_items(
    state: &AppState,
    input: TransactWriteInput,
) -> Result<Vec<u8>, ApiError> {
    let detail = check_return_parameters(
        input.return_consumed_capacity.as_deref(),
        input.return_item_collection_metrics.as_deref(),
    )?;
    let items = required(input.transact_items, "transactItems")?;
    check_count(items.len(), state.store().limits().transact_actions_max)?;
    if let Some(token) = &input.client_request_token {
        check_token(token)?;
    }
    let mut actions = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("transactItems.{}.member", i + 1);
        let action = match (item.condition_check, item.put, item.update, item.delete) {
            (Some(check), None, None, None) => {
                condition_check(state, check, &format!("{at}.conditionCheck"))?
            }
            (None, Some(put), None, None) => put_action(state, put, &format!("{at}.put"))?,
            (None, None, Some(update), None) => update_action(state, update, &format!("{at}.update"))?,
            (None, None, None, Some(delete)) => delete_action(state, delete, &format!("{at}.delete"))?,
            _ => {
                return Err(ApiError::validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                ));
            }
        };
        actions.push(action);
    }
    let tables: Vec<String> = actions.iter().map(action_table).collect();
    let outcomes =
        state.store().transact_write(TransactWrite { actions, token: input.client_request_token }).await?;
    let mut consumed: BTreeMap<String, ConsumedCapacity> = BTreeMap::new();
    for (table, outcome) in tables.iter().zip(&outcomes) {
        // Every action, a ConditionCheck too, is a transactional write of the item it touches.
        let size = |item: &Option<eddy_core::Item>| item.as_ref().map(item_size_bytes);
        let write = ConsumedCapacity::item_write(
            table,
            size(&outcome.old),
            size(&outcome.new),
            &index_writes_of(state, table, outcome),
        );
        consumed
            .entry(table.clone())
            .or_insert_with(|| ConsumedCapacity::new(table))
            .merge(&write.transactional());
    }
    match capacity::per_table(detail, &consumed) {
        Some(c) => respond(&serde_json::json!({ "ConsumedCapacity": c })),
        None => respond(&serde_json::json!({})),
    }
}

fn action_table(action: &TransactAction) -> String {
    match action {
        TransactAction::Check(check) => check.table.clone(),
        TransactAction::Write(write) | TransactAction::Insert(write) => write.table.clone(),
    }
}

fn condition_check(state: &AppState, input: ActionInput, at: &str) -> Result<TransactAction, ApiError> {
    let table = table_name(input.table_name, at)?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref(), at)?;
    let text = required(input.condition_expression, &format!("{at}.conditionExpression"))?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let condition = expressions.condition(Some(&text), ExpressionKind::Condition)?;
    expressions.finish()?;
    let condition = required(condition, &format!("{at}.conditionExpression"))?;
    let key = request_key(state, &table, input.key)?;
    Ok(TransactAction::Check(ConditionCheck {
        table,
        key,
        condition,
        return_item_on_condition_failure: on_failure,
    }))
}

fn put_action(state: &AppState, input: ActionInput, at: &str) -> Result<TransactAction, ApiError> {
    let table = table_name(input.table_name, at)?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref(), at)?;
    let item = item_from_raw(required(input.item, &format!("{at}.item"))?)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    expressions.finish()?;
    let key = put_item_key(state, &table, &item)?;
    Ok(TransactAction::Write(ItemWrite {
        table,
        key,
        action: WriteAction::Put(item),
        condition,
        return_item_on_condition_failure: on_failure,
        hops: 0,
    }))
}

fn update_action(state: &AppState, input: ActionInput, at: &str) -> Result<TransactAction, ApiError> {
    let table = table_name(input.table_name, at)?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref(), at)?;
    let text = required(input.update_expression, &format!("{at}.updateExpression"))?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let update = expressions.update(Some(&text))?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    Ok(TransactAction::Write(ItemWrite {
        table,
        key,
        action: WriteAction::Update(update),
        condition,
        return_item_on_condition_failure: on_failure,
        hops: 0,
    }))
}

fn delete_action(state: &AppState, input: ActionInput, at: &str) -> Result<TransactAction, ApiError> {
    let table = table_name(input.table_name, at)?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref(), at)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names, input.expression_attribute_values)?;
    let condition =
        expressions.condition(input.condition_expression.as_deref(), ExpressionKind::Condition)?;
    expressions.finish()?;
    let key = request_key(state, &table, input.key)?;
    Ok(TransactAction::Write(ItemWrite {
        table,
        key,
        action: WriteAction::Delete,
        condition,
        return_item_on_condition_failure: on_failure,
        hops: 0,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TransactGetInput {
    transact_items: Option<Vec<TransactGetItem>>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGetItem {
    get: Option<GetInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetInput {
    table_name: Option<String>,
    key: Option<RawItem>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
}

/// `{"Item": ...}`, or `{}` for an item that does not exist.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ItemResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<WireItem<'a>>,
}

pub(super) async fn transact_get_items(
    state: &AppState,
    input: TransactGetInput,
) -> Result<Vec<u8>, ApiError> {
    let detail = check_return_parameters(input.return_consumed_capacity.as_deref(), None)?;
    let items = required(input.transact_items, "transactItems")?;
    check_count(items.len(), state.store().limits().transact_actions_max)?;
    let mut lookups = Vec::with_capacity(items.len());
    let mut projections: Vec<Option<Projection>> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("transactItems.{}.member.get", i + 1);
        let get = required(item.get, &at)?;
        let table = table_name(get.table_name, &at)?;
        let mut expressions = Expressions::new(get.expression_attribute_names, None)?;
        projections.push(expressions.projection(get.projection_expression.as_deref())?);
        expressions.finish()?;
        let key = request_key(state, &table, get.key)?;
        lookups.push((table, key));
    }
    let store = state.store();
    let found = point_read(|| Ok(store.transact_get(&lookups)?))?;
    let mut consumed: BTreeMap<String, ConsumedCapacity> = BTreeMap::new();
    for ((table, _), item) in lookups.iter().zip(&found) {
        let size = item.as_ref().map_or(0, item_size_bytes);
        let read = ConsumedCapacity::table_read(table, size, Consistency::Strong).transactional();
        consumed.entry(table.clone()).or_insert_with(|| ConsumedCapacity::new(table)).merge(&read);
    }
    let items: Vec<_> = found
        .into_iter()
        .zip(&projections)
        .map(|(item, projection)| match (item, projection) {
            (Some(item), Some(p)) => Some(p.apply(&item)),
            (item, _) => item,
        })
        .collect();
    let responses: Vec<ItemResponse<'_>> =
        items.iter().map(|item| ItemResponse { item: item.as_ref().map(WireItem) }).collect();
    match capacity::per_table(detail, &consumed) {
        Some(c) => respond(&serde_json::json!({ "Responses": responses, "ConsumedCapacity": c })),
        None => respond(&serde_json::json!({ "Responses": responses })),
    }
}

/// The table name of one action, checked.
fn table_name(name: Option<String>, at: &str) -> Result<String, ApiError> {
    let field = format!("{at}.tableName");
    let name = required(name, &field)?;
    eddy_core::schema::validate_table_name(&name, &field)?;
    Ok(name)
}

fn return_on_failure(value: Option<&str>, at: &str) -> Result<bool, ApiError> {
    match value {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at '{at}.returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
        ))),
    }
}

fn check_count(count: usize, max: usize) -> Result<(), ApiError> {
    if count == 0 {
        return Err(ApiError::validation(
            "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if count > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    Ok(())
}

fn check_token(token: &str) -> Result<(), ApiError> {
    let chars = token.chars().count();
    if chars == 0 {
        return Err(ApiError::validation(
            "1 validation error detected: Value '' at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if chars > CLIENT_REQUEST_TOKEN_CHARS_MAX {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{token}' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to {CLIENT_REQUEST_TOKEN_CHARS_MAX}"
        )));
    }
    Ok(())
}

/// ReturnConsumedCapacity (transactional prices: twice the plain ones) and
/// ReturnItemCollectionMetrics (SIZE returns nothing until tables have local secondary indexes
/// reporting item collections).
fn check_return_parameters(
    capacity: Option<&str>,
    metrics: Option<&str>,
) -> Result<Option<Detail>, ApiError> {
    match metrics {
        None | Some("NONE" | "SIZE") => {}
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"
            )));
        }
    }
    match capacity {
        None | Some("NONE") => Ok(None),
        Some("TOTAL") => Ok(Some(Detail::Total)),
        Some("INDEXES") => Ok(Some(Detail::Indexes)),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
        ))),
    }
}
