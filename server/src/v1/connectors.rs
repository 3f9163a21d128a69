//! `/v1/connectors`: connectors that export a table's change records to S3-compatible storage
//! or OpenSearch (in the spirit of Kafka Connect's REST API): create or replace, describe,
//! list, pause, resume, restart, delete. The rules live in `eddy-connectors`; these handlers
//! parse, call the [`ConnectorManager`](eddy_connectors::ConnectorManager) and render.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use eddy_connectors::ConnectorManager;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ErrorKind};
use crate::v1::response;

/// Default `Limit` of the listing.
pub const LIMIT_DEFAULT: usize = 100;
/// Largest `Limit` of the listing.
pub const LIMIT_MAX: usize = eddy_connectors::manager::LIST_LIMIT_MAX;

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn manager(state: &AppState) -> Result<Arc<ConnectorManager>, ApiError> {
    state.connectors().cloned().ok_or_else(|| {
        ApiError::new(ErrorKind::ServiceUnavailable, "Connectors are not running on this server")
    })
}

/// `PUT /v1/connectors/{name}`: creates a connector or replaces its configuration (201 when
/// created).
pub async fn put(State(state): State<AppState>, Path(name): Path<String>, payload: Bytes) -> Response {
    let result = async {
        let manager = manager(&state)?;
        let body: Value =
            serde_json::from_slice(&payload).map_err(|e| ApiError::serialization(e.to_string()))?;
        let (connector, created) = manager.put(&name, &body).await?;
        Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, json!({ "Connector": connector })))
    }
    .await;
    match result {
        Ok((status, body)) => response::json(status, &body),
        Err(e) => response::error(&e),
    }
}

/// `GET /v1/connectors/{name}`: configuration (secrets as `****`) and status.
pub async fn describe(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = async {
        let manager = manager(&state)?;
        response::blocking(move || Ok(json!({ "Connector": manager.describe(&name)? }))).await
    }
    .await;
    response::reply(result)
}

/// `GET /v1/connectors?Limit=N&NextToken=...`: connectors in name order.
pub async fn list(State(state): State<AppState>, query: Params) -> Response {
    let result = async {
        let manager = manager(&state)?;
        let Query(pairs) = query.map_err(|e| ApiError::validation(format!("Invalid query string: {e}")))?;
        let mut limit = LIMIT_DEFAULT;
        let mut after = None;
        for (key, value) in pairs {
            match key.as_str() {
                "Limit" => {
                    limit = value.parse::<usize>().ok().filter(|n| (1..=LIMIT_MAX).contains(n)).ok_or_else(
                        || {
                            ApiError::validation(format!(
                                "Limit must be a whole number from 1 to {LIMIT_MAX}; got {value:?}"
                            ))
                        },
                    )?;
                }
                "NextToken" => {
                    let name = TOKEN
                        .decode(&value)
                        .ok()
                        .and_then(|bytes| String::from_utf8(bytes).ok())
                        .ok_or_else(|| ApiError::validation("Invalid NextToken"))?;
                    after = Some(name);
                }
                other => {
                    return Err(ApiError::validation(format!(
                        "Unknown query parameter {other:?}; expected Limit or NextToken"
                    )));
                }
            }
        }
        response::blocking(move || {
            let (connectors, next) = manager.list(after.as_deref(), limit);
            let mut body = json!({ "Connectors": connectors });
            if let Some(next) = next {
                body["NextToken"] = TOKEN.encode(next).into();
            }
            Ok(body)
        })
        .await
    }
    .await;
    response::reply(result)
}

/// `DELETE /v1/connectors/{name}`: stops the connector and removes its configuration and
/// checkpoint; what it exported stays.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = async {
        let manager = manager(&state)?;
        Ok(json!({ "Connector": manager.delete(&name).await? }))
    }
    .await;
    response::reply(result)
}

/// `POST /v1/connectors/{name}/pause`: stops exporting after the step in flight; the
/// checkpoint stays, and the pause survives restarts.
pub async fn pause(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = async {
        let manager = manager(&state)?;
        Ok(json!({ "Connector": manager.pause(&name).await? }))
    }
    .await;
    response::reply(result)
}

/// `POST /v1/connectors/{name}/resume`: exports again from the checkpoint.
pub async fn resume(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = async {
        let manager = manager(&state)?;
        Ok(json!({ "Connector": manager.resume(&name).await? }))
    }
    .await;
    response::reply(result)
}

/// `POST /v1/connectors/{name}/restart`: a fresh task from the checkpoint (a FAILED connector
/// tries again).
pub async fn restart(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = async {
        let manager = manager(&state)?;
        Ok(json!({ "Connector": manager.restart(&name).await? }))
    }
    .await;
    response::reply(result)
}
