//! DynamoDB operations: each handler parses its request, calls the store, renders the response.

mod batch;
mod capacity;
mod control;
mod describe;
pub(crate) mod exports;
mod expressions;
mod items;
mod legacy;
mod partiql;
mod read;
pub mod streams;
mod transact;

use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::error::{ApiError, ErrorKind};

/// Runs one DynamoDB operation. `host` is the request's Host header (DescribeEndpoints
/// answers with it).
pub async fn dispatch(
    state: &AppState,
    operation: &str,
    body: &[u8],
    host: Option<&str>,
) -> Result<Vec<u8>, ApiError> {
    match operation {
        "CreateTable" => control::create_table(state, parse(body)?).await,
        "DescribeTable" => control::describe_table(state, parse(body)?),
        "ListTables" => control::list_tables(state, parse(body)?),
        "DeleteTable" => control::delete_table(state, parse(body)?).await,
        "UpdateTable" => control::update_table(state, parse(body)?).await,
        "TagResource" => control::tag_resource(state, parse(body)?).await,
        "UntagResource" => control::untag_resource(state, parse(body)?).await,
        "ListTagsOfResource" => control::list_tags(state, parse(body)?),
        "PutItem" => items::put_item(state, parse(body)?).await,
        "GetItem" => items::get_item(state, parse(body)?).await,
        "UpdateItem" => items::update_item(state, parse(body)?).await,
        "DeleteItem" => items::delete_item(state, parse(body)?).await,
        "Query" => read::query(state, parse(body)?).await,
        "Scan" => read::scan(state, parse(body)?).await,
        "BatchGetItem" => batch::batch_get_item(state, parse(body)?).await,
        "BatchWriteItem" => batch::batch_write_item(state, parse(body)?).await,
        "TransactWriteItems" => transact::transact_write_items(state, parse(body)?).await,
        "TransactGetItems" => transact::transact_get_items(state, parse(body)?).await,
        "ExecuteStatement" => partiql::execute_statement(state, parse(body)?).await,
        "BatchExecuteStatement" => partiql::batch_execute_statement(state, parse(body)?).await,
        "ExecuteTransaction" => partiql::execute_transaction(state, parse(body)?).await,
        "DescribeEndpoints" => describe::describe_endpoints(state, host),
        "DescribeLimits" => describe::describe_limits(state),
        "ExportTableToPointInTime" => exports::export_table(state, parse(body)?).await,
        "DescribeExport" => exports::describe_export(state, parse(body)?).await,
        "ListExports" => exports::list_exports(state, parse(body)?).await,
        "UpdateTimeToLive"
        | "DescribeTimeToLive"
        | "CreateBackup"
        | "DescribeContinuousBackups"
        | "ListBackups"
        | "RestoreTableFromBackup" => Err(ApiError::unsupported(operation)),
        _ => Err(ApiError::new(ErrorKind::UnknownOperation, "")),
    }
}

/// Parses a request body; JSON that does not fit the request's shape is a
/// SerializationException, as in DynamoDB.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| ApiError::serialization(e.to_string()))
}

/// A required request parameter, with DynamoDB's message when it is missing.
fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// Runs a point read (GetItem, BatchGetItem) on the calling worker: a bounded lookup of at
/// most 100 keys in redb's page cache takes microseconds, and handing it to the blocking pool
/// costs more than the read itself (GetItem measured 29k ops/s on the pool, 80k inline; see
/// docs/benchmarks.md).
fn point_read<T>(f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    f()
}

/// Runs a range read (Query, Scan: up to 1 MB per page) on the blocking pool so the async
/// workers never wait on a long read.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(ErrorKind::InternalServerError, format!("read task failed: {e}")))?
}

/// Serializes a response body.
fn respond(value: &impl serde::Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::new(ErrorKind::InternalServerError, e.to_string()))
}
