//! `/v1/triggers`: registering wasm trigger modules on a table (the fields of Lambda's
//! CreateEventSourceMapping), their status and logs, enable/disable, and their dead letters
//! with replay. The rules live in `eddy-triggers`; these handlers parse, call the
//! [`TriggerManager`](eddy_triggers::TriggerManager) and render.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use eddy_core::changelog::parse_sequence_number;
use eddy_triggers::TriggerManager;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ErrorKind};
use crate::v1::response;

/// Default `Limit` of the listings (triggers, logs, dead letters) and of a replay.
pub const LIMIT_DEFAULT: usize = 100;
/// Largest `Limit` of the listings and of a replay.
pub const LIMIT_MAX: usize = 1000;

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn manager(state: &AppState) -> Result<Arc<TriggerManager>, ApiError> {
    state.triggers().cloned().ok_or_else(|| {
        ApiError::new(ErrorKind::ServiceUnavailable, "Triggers are not running on this server")
    })
}

/// `PUT /v1/triggers/{name}`: registers a trigger or replaces it (201 when created).
pub async fn put(State(state): State<AppState>, Path(name): Path<String>, payload: Bytes) -> Response {
    let result = async {
        let manager = manager(&state)?;
        let body: Value =
            serde_json::from_slice(&payload).map_err(|e| ApiError::serialization(e.to_string()))?;
        let registration = eddy_triggers::parse_registration(&name, &body)?;
        let (trigger, created) = manager.put(&name, registration).await?;
        Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, json!({ "Trigger": trigger })))
    }
    .await;
    match result {
        Ok((status, body)) => response::json(status, &body),
        Err(e) => response::error(&e),
    }
}

/// `GET /v1/triggers/{name}`: configuration (without the module) and status.
pub async fn describe(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = async {
        let manager = manager(&state)?;
        response::blocking(move || Ok(json!({ "Trigger": manager.describe(&name)? }))).await
    }
    .await;
    response::reply(result)
}

/// `GET /v1/triggers?Limit=N&NextToken=...`: triggers in name order.
pub async fn list(State(state): State<AppState>, query: Params) -> Response {
    let result = async {
        let manager = manager(&state)?;
        let params = parameters(query, &["Limit", "NextToken"])?;
        let limit = response::limit(&params, LIMIT_DEFAULT, LIMIT_MAX)?;
        let after = match params.get("NextToken") {
            Some(token) => Some(
                TOKEN
                    .decode(token)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| ApiError::validation("Invalid NextToken"))?,
            ),
            None => None,
        };
        response::blocking(move || {
            let (triggers, next) = manager.list(after.as_deref(), limit);
            let mut body = json!({ "Triggers": triggers });
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

/// `DELETE /v1/triggers/{name}`: stops and removes the trigger and its checkpoint; its
/// dead-letter table stays.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = async {
        let manager = manager(&state)?;
        Ok(json!({ "Trigger": manager.delete(&name).await? }))
    }
    .await;
    response::reply(result)
}

/// `POST /v1/triggers/{name}/enable`.
pub async fn enable(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    set_enabled(state, name, true).await
}

/// `POST /v1/triggers/{name}/disable`: pauses delivery; the checkpoint stays.
pub async fn disable(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    set_enabled(state, name, false).await
}

async fn set_enabled(state: AppState, name: String, enabled: bool) -> Response {
    let result = async {
        let manager = manager(&state)?;
        Ok(json!({ "Trigger": manager.set_enabled(&name, enabled).await? }))
    }
    .await;
    response::reply(result)
}

/// `GET /v1/triggers/{name}/logs?Limit=N`: the newest captured guest log lines.
pub async fn logs(State(state): State<AppState>, Path(name): Path<String>, query: Params) -> Response {
    let result = async {
        let manager = manager(&state)?;
        let params = parameters(query, &["Limit"])?;
        let limit = response::limit(&params, LIMIT_DEFAULT, LIMIT_MAX)?;
        Ok(manager.logs(&name, limit)?)
    }
    .await;
    response::reply(result)
}

/// `GET /v1/triggers/{name}/dead-letters?Limit=N&NextToken=...`: records the trigger gave up
/// on, oldest first, each with its full record and the error.
pub async fn dead_letters(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Params,
) -> Response {
    let result = async {
        let manager = manager(&state)?;
        let params = parameters(query, &["Limit", "NextToken"])?;
        let limit = response::limit(&params, LIMIT_DEFAULT, LIMIT_MAX)?;
        let after = match params.get("NextToken") {
            Some(token) => {
                Some(parse_sequence_number(token).ok_or_else(|| ApiError::validation("Invalid NextToken"))?)
            }
            None => None,
        };
        response::blocking(move || Ok(manager.dead_letters(&name, after, limit)?)).await
    }
    .await;
    response::reply(result)
}

/// `POST /v1/triggers/{name}/dead-letters/replay` with an optional `{"Limit": N}`: runs up to
/// N dead letters, oldest first, through the trigger's current module; those that succeed
/// commit their write-backs and leave the dead-letter table.
pub async fn replay(State(state): State<AppState>, Path(name): Path<String>, payload: Bytes) -> Response {
    let result = async {
        let manager = manager(&state)?;
        let limit = if payload.iter().all(u8::is_ascii_whitespace) {
            LIMIT_DEFAULT
        } else {
            let body: Value =
                serde_json::from_slice(&payload).map_err(|e| ApiError::serialization(e.to_string()))?;
            let Value::Object(fields) = &body else {
                return Err(ApiError::validation("The body must be a JSON object such as {\"Limit\": 10}"));
            };
            if let Some(unknown) = fields.keys().find(|k| k.as_str() != "Limit") {
                return Err(ApiError::validation(format!("Unknown field {unknown:?}; a replay takes Limit")));
            }
            match fields.get("Limit") {
                None => LIMIT_DEFAULT,
                Some(v) => match v.as_u64() {
                    Some(n) if (1..=LIMIT_MAX as u64).contains(&n) => n as usize,
                    _ => {
                        return Err(ApiError::validation(format!(
                            "Limit must be a whole number from 1 to {LIMIT_MAX}; got {v}"
                        )));
                    }
                },
            }
        };
        let outcome = manager.replay(&name, limit).await?;
        let mut body = outcome.to_json();
        body["TriggerName"] = name.into();
        Ok(body)
    }
    .await;
    response::reply(result)
}

fn parameters(query: Params, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::validation(format!("Invalid query string: {e}")))?;
    let mut params = HashMap::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            return Err(ApiError::validation(format!(
                "Unknown query parameter {name:?}; expected {}",
                allowed.join(" or ")
            )));
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(ApiError::validation(format!("Query parameter {name:?} is given more than once")));
        }
    }
    Ok(params)
}
