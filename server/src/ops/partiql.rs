//! ExecuteStatement, BatchExecuteStatement and ExecuteTransaction: core parses each PartiQL
//! statement and lowers it onto a read or an item write, which runs through the same store
//! calls as GetItem, Query, Scan, PutItem, UpdateItem, DeleteItem and the transactions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN_BASE64;
use eddy_core::index::IndexKind;
use eddy_core::partiql::{
    self, Access, BATCH_STATEMENTS_MAX, Plan, ReadPlan, Returning, STATEMENT_BYTES_MAX, Statement,
    TRANSACTION_STATEMENTS_MAX, WriteKind, WritePlan,
};
use eddy_core::store::{Page, TransactAction, TransactWrite};
use eddy_core::{AttributeValue, Item, PrimaryKey};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{blocking, point_read, required, respond};
use crate::app::AppState;
use crate::error::{ApiError, ErrorKind};
use crate::wire::value::{RawItem, RawValue, WireItem, item_from_raw};

/// Longest ClientRequestToken (DynamoDB: 36 characters).
const CLIENT_REQUEST_TOKEN_CHARS_MAX: usize = 36;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ExecuteStatementInput {
    statement: Option<String>,
    parameters: Option<Vec<RawValue>>,
    /// Every read is strongly consistent; the flag only matters where DynamoDB forbids it.
    consistent_read: Option<bool>,
    next_token: Option<String>,
    return_consumed_capacity: Option<String>,
    limit: Option<i64>,
    return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchStatementRequest {
    statement: Option<String>,
    parameters: Option<Vec<RawValue>>,
    #[allow(dead_code, reason = "every read is strongly consistent, so the flag changes nothing")]
    consistent_read: Option<bool>,
    return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchExecuteStatementInput {
    statements: Option<Vec<BatchStatementRequest>>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParameterizedStatement {
    statement: Option<String>,
    parameters: Option<Vec<RawValue>>,
    return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ExecuteTransactionInput {
    transact_statements: Option<Vec<ParameterizedStatement>>,
    client_request_token: Option<String>,
    return_consumed_capacity: Option<String>,
}

/// A statement parsed and lowered against its table.
struct Prepared {
    plan: Plan,
}

/// The statement's text and parameters, checked as DynamoDB checks them, then parsed and
/// lowered against the table it names.
fn prepare(
    state: &AppState,
    text: Option<String>,
    parameters: Option<Vec<RawValue>>,
    at: &str,
) -> Result<Prepared, ApiError> {
    let (statement, parameters) = parse_statement(text, parameters, at)?;
    lower(state, &statement, &parameters)
}

/// The statement's text and parameters, checked as DynamoDB checks them, and parsed.
fn parse_statement(
    text: Option<String>,
    parameters: Option<Vec<RawValue>>,
    at: &str,
) -> Result<(Statement, Vec<AttributeValue>), ApiError> {
    let text = required(text, &format!("{at}statement"))?;
    let chars = text.chars().count();
    if chars == 0 || chars > STATEMENT_BYTES_MAX {
        let bound = if chars == 0 {
            "greater than or equal to 1".to_string()
        } else {
            format!("less than or equal to {STATEMENT_BYTES_MAX}")
        };
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{at}statement' failed to satisfy constraint: Member must have length {bound}"
        )));
    }
    let parameters = match parameters {
        None => Vec::new(),
        Some(list) if list.is_empty() => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '[]' at '{at}parameters' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )));
        }
        Some(list) => {
            list.into_iter().map(RawValue::into_value).collect::<Result<Vec<AttributeValue>, _>>()?
        }
    };
    let statement = partiql::parse(&text).map_err(|e| ApiError::validation(e.message()))?;
    Ok((statement, parameters))
}

/// A parsed statement lowered against the table it names.
fn lower(
    state: &AppState,
    statement: &Statement,
    parameters: &[AttributeValue],
) -> Result<Prepared, ApiError> {
    let meta = state.store().table(statement.table())?;
    let schema = statement.key_schema(&meta)?;
    let plan = partiql::plan(statement, parameters, schema, state.store().limits())?;
    Ok(Prepared { plan })
}

fn return_on_failure(value: Option<&str>, at: &str) -> Result<bool, ApiError> {
    match value {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at '{at}returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
        ))),
    }
}

/// ReturnConsumedCapacity: NONE works; the others are not built yet and are rejected naming them.
fn check_consumed_capacity(value: Option<&str>) -> Result<(), ApiError> {
    match value {
        None | Some("NONE") => Ok(()),
        Some(v @ ("TOTAL" | "INDEXES")) => Err(ApiError::unsupported(&format!("ReturnConsumedCapacity={v}"))),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
        ))),
    }
}

fn check_count(count: usize, max: usize, field: &str) -> Result<(), ApiError> {
    if count == 0 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '[]' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    if count > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    Ok(())
}

/// NextToken: the LastEvaluatedKey in DynamoDB JSON, base64url-encoded.
fn encode_next_token(key: &Item) -> String {
    TOKEN_BASE64.encode(serde_json::to_vec(&WireItem(key)).unwrap_or_default())
}

/// The key a NextToken names: the table key, plus the index key when reading an index.
fn decode_next_token(state: &AppState, read: &ReadPlan, token: &str) -> Result<Item, ApiError> {
    let invalid = || ApiError::validation("The provided NextToken is invalid");
    let bytes = TOKEN_BASE64.decode(token.trim_end_matches('=')).map_err(|_| invalid())?;
    let raw: RawItem = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let key = item_from_raw(raw).map_err(|_| invalid())?;
    let meta = state.store().table(&read.table)?;
    let table_key = &meta.spec.key_schema;
    match read.index.as_deref().and_then(|name| meta.index(name)) {
        Some(index) => {
            index.spec.entry_key_from_start(table_key, &key).ok_or_else(invalid)?;
        }
        None => {
            table_key.key_from_request(&key, state.store().limits()).map_err(|_| invalid())?;
        }
    }
    Ok(key)
}

/// ConsistentRead on a global secondary index is refused, as for Query and Scan.
fn check_consistent_read(
    state: &AppState,
    read: &ReadPlan,
    consistent: Option<bool>,
) -> Result<(), ApiError> {
    let Some(name) = read.index.as_deref().filter(|_| consistent == Some(true)) else {
        return Ok(());
    };
    let meta = state.store().table(&read.table)?;
    if meta.index(name).is_some_and(|index| index.spec.kind == IndexKind::Global) {
        return Err(ApiError::validation(
            "Strongly consistent read is not supported on Global Secondary Indexes",
        ));
    }
    Ok(())
}

/// A point read with the statement's filter and projection applied.
fn get_filtered(state: &AppState, read: &ReadPlan, key: &PrimaryKey) -> Result<Option<Item>, ApiError> {
    let store = state.store();
    let item = point_read(|| Ok(store.get_item(&read.table, key)?))?;
    Ok(filtered(read, item))
}

fn filtered(read: &ReadPlan, item: Option<Item>) -> Option<Item> {
    let item = item.filter(|i| read.options.filter.as_ref().is_none_or(|f| f.evaluate(i)))?;
    Some(match &read.options.projection {
        Some(p) => p.apply(&item),
        None => item,
    })
}

fn items_json(items: &[Item]) -> Value {
    Value::Array(items.iter().map(|i| serde_json::to_value(WireItem(i)).unwrap_or_default()).collect())
}

pub(super) async fn execute_statement(
    state: &AppState,
    input: ExecuteStatementInput,
) -> Result<Vec<u8>, ApiError> {
    check_consumed_capacity(input.return_consumed_capacity.as_deref())?;
    let on_failure = return_on_failure(input.return_values_on_condition_check_failure.as_deref(), "")?;
    let limit = match input.limit {
        None => None,
        Some(l) if l >= 1 => Some(l as usize),
        Some(l) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
    };
    let prepared = prepare(state, input.statement, input.parameters, "")?;
    match prepared.plan {
        Plan::Read(mut read) => {
            check_consistent_read(state, &read, input.consistent_read)?;
            let page = match &read.access {
                Access::Get(key) => {
                    let item = get_filtered(state, &read, key)?;
                    Page { items: item.into_iter().collect(), ..Page::default() }
                }
                Access::Query(_) | Access::Scan => {
                    read.options.limit = limit;
                    if let Some(token) = &input.next_token {
                        read.options.exclusive_start = Some(decode_next_token(state, &read, token)?);
                    }
                    let store = state.store().clone();
                    blocking(move || {
                        let index = read.index.as_deref();
                        Ok(match &read.access {
                            Access::Query(kc) => store.query(&read.table, index, kc, &read.options)?,
                            _ => store.scan(&read.table, index, &read.options, None)?,
                        })
                    })
                    .await?
                }
            };
            let mut body = Map::new();
            body.insert("Items".into(), items_json(&page.items));
            if let Some(key) = &page.last_evaluated_key {
                body.insert("NextToken".into(), encode_next_token(key).into());
                body.insert(
                    "LastEvaluatedKey".into(),
                    serde_json::to_value(WireItem(key)).unwrap_or_default(),
                );
            }
            respond(&Value::Object(body))
        }
        Plan::Write(mut write) => {
            write.write.return_item_on_condition_failure = on_failure;
            let returned = run_write(state, write).await?;
            respond(&json!({"Items": items_json(&returned.into_iter().collect::<Vec<_>>())}))
        }
    }
}

/// Runs one INSERT, UPDATE or DELETE; the item its RETURNING clause asks for.
async fn run_write(state: &AppState, plan: WritePlan) -> Result<Option<Item>, ApiError> {
    let WritePlan { kind, write, returning, modified } = plan;
    let outcome = state.store().write(write).await.map_err(|e| write_error(kind, e))?;
    Ok(match returning {
        None => None,
        Some(Returning::AllOld) => outcome.old,
        Some(Returning::AllNew) => outcome.new,
        Some(Returning::ModifiedOld) => outcome.old.zip(modified).map(|(i, p)| p.apply(&i)),
        Some(Returning::ModifiedNew) => outcome.new.zip(modified).map(|(i, p)| p.apply(&i)),
    })
}

/// An INSERT whose condition (no item with this key) failed is a DuplicateItemException.
fn write_error(kind: WriteKind, error: eddy_core::Error) -> ApiError {
    match (kind, error) {
        (WriteKind::Insert, eddy_core::Error::ConditionalCheckFailed { .. }) => {
            ApiError::new(ErrorKind::DuplicateItem, "Duplicate primary key exists in table")
        }
        (_, other) => other.into(),
    }
}

/// The `Error` member of a BatchStatementResponse.
fn batch_error(error: &ApiError) -> Value {
    let code = match error.kind() {
        ErrorKind::Validation | ErrorKind::Serialization => "ValidationError",
        ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailed",
        ErrorKind::DuplicateItem => "DuplicateItem",
        ErrorKind::ResourceNotFound => "ResourceNotFound",
        ErrorKind::ServiceUnavailable => "ThrottlingError",
        _ => "InternalServerError",
    };
    let mut entry = Map::new();
    entry.insert("Code".into(), code.into());
    entry.insert("Message".into(), error.message().into());
    if let Some(item) = error.item() {
        entry.insert("Item".into(), serde_json::to_value(WireItem(item)).unwrap_or_default());
    }
    Value::Object(entry)
}

fn mixed_error(what: &str) -> ApiError {
    ApiError::validation(format!(
        "The entire {what} must consist of either read statements or write statements; you cannot mix both in one {what}"
    ))
}

pub(super) async fn batch_execute_statement(
    state: &AppState,
    input: BatchExecuteStatementInput,
) -> Result<Vec<u8>, ApiError> {
    check_consumed_capacity(input.return_consumed_capacity.as_deref())?;
    let statements = required(input.statements, "statements")?;
    check_count(statements.len(), BATCH_STATEMENTS_MAX, "statements")?;
    // Request-level checks first: they fail the whole request.
    let mut requests = Vec::with_capacity(statements.len());
    for (i, request) in statements.into_iter().enumerate() {
        let at = format!("statements.{}.member.", i + 1);
        let on_failure = return_on_failure(request.return_values_on_condition_check_failure.as_deref(), &at)?;
        requests.push((request, on_failure));
    }
    let mut prepared: Vec<(Option<String>, Result<Prepared, ApiError>)> = Vec::with_capacity(requests.len());
    let (mut reads, mut writes) = (false, false);
    for (request, on_failure) in requests {
        let parsed = parse_statement(request.statement, request.parameters, "");
        let table = parsed.as_ref().ok().map(|(statement, _)| {
            reads |= statement.is_read();
            writes |= !statement.is_read();
            statement.table().to_string()
        });
        let result =
            parsed.and_then(|(statement, parameters)| lower(state, &statement, &parameters)).map(|mut p| {
                if let Plan::Write(w) = &mut p.plan {
                    w.write.return_item_on_condition_failure = on_failure;
                }
                p
            });
        prepared.push((table, result));
    }
    if reads && writes {
        return Err(mixed_error("batch"));
    }
    let mut responses = Vec::with_capacity(prepared.len());
    for (table, result) in prepared {
        let mut entry = Map::new();
        if let Some(table) = table {
            entry.insert("TableName".into(), table.into());
        }
        let outcome: Result<Option<Item>, ApiError> = match result {
            Err(e) => Err(e),
            Ok(Prepared { plan: Plan::Read(read), .. }) => match &read.access {
                Access::Get(key) => get_filtered(state, &read, key),
                _ => Err(ApiError::validation(
                    "Select statements within BatchExecuteStatement must specify an equality condition on all key attributes",
                )),
            },
            Ok(Prepared { plan: Plan::Write(write), .. }) => {
                if write.returning.is_some() {
                    Err(ApiError::validation("RETURNING is not supported in BatchExecuteStatement"))
                } else {
                    run_write(state, write).await
                }
            }
        };
        match outcome {
            Ok(Some(item)) => {
                entry.insert("Item".into(), serde_json::to_value(WireItem(&item)).unwrap_or_default());
            }
            Ok(None) => {}
            Err(e) => {
                entry.insert("Error".into(), batch_error(&e));
            }
        }
        responses.push(Value::Object(entry));
    }
    respond(&json!({ "Responses": responses }))
}

pub(super) async fn execute_transaction(
    state: &AppState,
    input: ExecuteTransactionInput,
) -> Result<Vec<u8>, ApiError> {
    check_consumed_capacity(input.return_consumed_capacity.as_deref())?;
    let statements = required(input.transact_statements, "transactStatements")?;
    check_count(statements.len(), TRANSACTION_STATEMENTS_MAX, "transactStatements")?;
    if let Some(token) = &input.client_request_token {
        let chars = token.chars().count();
        if chars == 0 || chars > CLIENT_REQUEST_TOKEN_CHARS_MAX {
            let bound = if chars == 0 {
                "greater than or equal to 1".to_string()
            } else {
                format!("less than or equal to {CLIENT_REQUEST_TOKEN_CHARS_MAX}")
            };
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{token}' at 'clientRequestToken' failed to satisfy constraint: Member must have length {bound}"
            )));
        }
    }
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for (i, statement) in statements.into_iter().enumerate() {
        let at = format!("transactStatements.{}.member.", i + 1);
        let on_failure =
            return_on_failure(statement.return_values_on_condition_check_failure.as_deref(), &at)?;
        let prepared = prepare(state, statement.statement, statement.parameters, "")?;
        match prepared.plan {
            Plan::Read(read) => match read.access {
                Access::Get(ref key) => {
                    let key = key.clone();
                    reads.push((read, key));
                }
                _ => {
                    return Err(ApiError::validation(
                        "Select statements within ExecuteTransaction must specify an equality condition on all key attributes",
                    ));
                }
            },
            Plan::Write(mut write) => {
                if write.returning.is_some() {
                    return Err(ApiError::validation("RETURNING is not supported in ExecuteTransaction"));
                }
                write.write.return_item_on_condition_failure = on_failure;
                writes.push(write);
            }
        }
    }
    if !reads.is_empty() && !writes.is_empty() {
        return Err(mixed_error("transaction"));
    }
    if !reads.is_empty() {
        let gets: Vec<(String, PrimaryKey)> =
            reads.iter().map(|(r, k)| (r.table.clone(), k.clone())).collect();
        let store = state.store();
        let found = point_read(|| Ok(store.transact_get(&gets)?))?;
        let responses: Vec<Value> = reads
            .iter()
            .zip(found)
            .map(|((read, _), item)| match filtered(read, item) {
                Some(item) => json!({ "Item": serde_json::to_value(WireItem(&item)).unwrap_or_default() }),
                None => json!({}),
            })
            .collect();
        return respond(&json!({ "Responses": responses }));
    }
    let actions = writes
        .into_iter()
        .map(|w| match w.kind {
            // A failed INSERT is reported as DuplicateItem, not ConditionalCheckFailed.
            WriteKind::Insert => TransactAction::Insert(w.write),
            WriteKind::Update | WriteKind::Delete => TransactAction::Write(w.write),
        })
        .collect();
    state.store().transact_write(TransactWrite { actions, token: input.client_request_token }).await?;
    respond(&json!({}))
}
