//! `/v1/consumers`: named durable consumers of a table's changelog. A consumer keeps a
//! checkpoint (the last sequence number it has processed) in the store; clients read the batch
//! after it, process it, and move the checkpoint forward. Reading never moves it.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use eddy_core::Store;
use eddy_core::changelog::{ChangeFeed, ChangeRecord, format_sequence_number, parse_sequence_number};
use eddy_core::schema::StreamViewType;
use eddy_core::store::{Consumer, ConsumerStatus, StartPosition};
use eddy_streams::record::{RecordContext, to_json_extended};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiError;
use crate::v1::response;

/// Default and largest `Limit` of `GET /v1/consumers`.
pub const LIST_LIMIT_MAX: usize = 100;
/// Default `Limit` of `GET /v1/consumers/{name}/records`.
pub const RECORDS_LIMIT_DEFAULT: usize = 100;
/// Largest `Limit` of `GET /v1/consumers/{name}/records` (DynamoDB Streams' GetRecords: 1000).
pub const RECORDS_LIMIT_MAX: usize = 1000;
/// A batch stops once its records reach this many bytes (SizeBytes; GetRecords: 1 MB); it
/// always holds at least one record.
pub const RECORDS_BATCH_BYTES_MAX: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateInput {
    consumer_name: Option<String>,
    table_name: Option<String>,
    starting_position: Option<String>,
    starting_sequence_number: Option<String>,
    starting_position_timestamp: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CheckpointInput {
    sequence_number: Option<String>,
}

/// `POST /v1/consumers`: creates a consumer.
pub async fn create(State(state): State<AppState>, payload: Bytes) -> Response {
    let result = async {
        let input: CreateInput =
            serde_json::from_slice(&payload).map_err(|e| ApiError::serialization(e.to_string()))?;
        let name = input.consumer_name.ok_or_else(|| ApiError::validation("ConsumerName is required"))?;
        let table = input.table_name.ok_or_else(|| ApiError::validation("TableName is required"))?;
        let position = input.starting_position.as_deref().unwrap_or("LATEST");
        let start = match position {
            "TRIM_HORIZON" => StartPosition::TrimHorizon,
            "LATEST" => StartPosition::Latest,
            "AT_SEQUENCE_NUMBER" => {
                let text = input.starting_sequence_number.as_deref().ok_or_else(|| {
                    ApiError::validation("StartingSequenceNumber is required with AT_SEQUENCE_NUMBER")
                })?;
                StartPosition::AtSequence(sequence_number(text, "StartingSequenceNumber")?)
            }
            "AT_TIMESTAMP" => {
                let value = input.starting_position_timestamp.as_ref().ok_or_else(|| {
                    ApiError::validation("StartingPositionTimestamp is required with AT_TIMESTAMP")
                })?;
                StartPosition::AtTime(timestamp_millis(value)?)
            }
            other => {
                return Err(ApiError::validation(format!(
                    "StartingPosition must be TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AT_TIMESTAMP; got {other:?}"
                )));
            }
        };
        if input.starting_sequence_number.is_some() && position != "AT_SEQUENCE_NUMBER" {
            return Err(ApiError::validation("StartingSequenceNumber is only allowed with AT_SEQUENCE_NUMBER"));
        }
        if input.starting_position_timestamp.is_some() && position != "AT_TIMESTAMP" {
            return Err(ApiError::validation("StartingPositionTimestamp is only allowed with AT_TIMESTAMP"));
        }
        let consumer = state.store().create_consumer(&name, &table, start).await?;
        Ok(json!({ "Consumer": consumer_json(&consumer) }))
    }
    .await;
    response::reply(result)
}

/// `GET /v1/consumers?Limit=N&NextToken=...`: consumers in name order.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let result = async {
        let params = parameters(query, &["Limit", "NextToken"])?;
        let limit = response::limit(&params, LIST_LIMIT_MAX, LIST_LIMIT_MAX)?;
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
        let store = state.store().clone();
        let mut consumers =
            response::blocking(move || Ok(store.consumers(after.as_deref(), limit + 1)?)).await?;
        let more = consumers.len() > limit;
        consumers.truncate(limit);
        let mut body = json!({ "Consumers": consumers.iter().map(consumer_json).collect::<Vec<_>>() });
        if more && let Some(last) = consumers.last() {
            body["NextToken"] = TOKEN.encode(&last.name).into();
        }
        Ok(body)
    }
    .await;
    response::reply(result)
}

/// `GET /v1/consumers/{name}`: the consumer with its lag.
pub async fn describe(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let store = state.store().clone();
    let result = response::blocking(move || {
        let consumer = store.consumer(&name)?;
        let mut body = consumer_json(&consumer);
        if let Some(lag) = lag(&store, &consumer)? {
            for (key, value) in lag {
                body[key] = value;
            }
        }
        Ok(json!({ "Consumer": body }))
    })
    .await;
    response::reply(result)
}

/// `GET /v1/consumers/{name}/records?Limit=N`: the batch after the checkpoint.
pub async fn records(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let result = async {
        let params = parameters(query, &["Limit"])?;
        let limit = response::limit(&params, RECORDS_LIMIT_DEFAULT, RECORDS_LIMIT_MAX)?;
        let store = state.store().clone();
        let region = state.identity().region.clone();
        response::blocking(move || {
            let consumer = store.consumer(&name)?;
            ensure_active(&store, &consumer)?;
            let mut records = store.read(&consumer.table, consumer.next_seq(), limit)?;
            let mut bytes = 0;
            let keep = records
                .iter()
                .take_while(|r| {
                    let fits = bytes == 0 || bytes + r.size_bytes() <= RECORDS_BATCH_BYTES_MAX;
                    bytes += r.size_bytes();
                    fits
                })
                .count();
            records.truncate(keep);
            let position = store.position(&consumer.table)?;
            let next = records.last().map_or(consumer.next_seq(), |r| r.seq + 1);
            let context = RecordContext {
                table_id: consumer.table_id,
                view_type: StreamViewType::NewAndOldImages,
                region: &region,
            };
            Ok(json!({
                "Records": records.iter().map(|r: &ChangeRecord| to_json_extended(r, context, None)).collect::<Vec<_>>(),
                "NextSequenceNumber": format_sequence_number(next),
                "HighWatermarkSequenceNumber": format_sequence_number(position.high_watermark),
            }))
        })
        .await
    }
    .await;
    response::reply(result)
}

/// `POST /v1/consumers/{name}/checkpoint` with `{"SequenceNumber": "..."}`.
pub async fn checkpoint(State(state): State<AppState>, Path(name): Path<String>, payload: Bytes) -> Response {
    let result = async {
        let input: CheckpointInput =
            serde_json::from_slice(&payload).map_err(|e| ApiError::serialization(e.to_string()))?;
        let text = input.sequence_number.ok_or_else(|| ApiError::validation("SequenceNumber is required"))?;
        let seq = sequence_number(&text, "SequenceNumber")?;
        let consumer = state.store().checkpoint(&name, seq).await?;
        Ok(json!({ "Consumer": consumer_json(&consumer) }))
    }
    .await;
    response::reply(result)
}

/// `DELETE /v1/consumers/{name}`: deletes a consumer; answers what it was.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let result = state.store().delete_consumer(&name).await.map_err(ApiError::from);
    response::reply(result.map(|consumer| json!({ "Consumer": consumer_json(&consumer) })))
}

/// The consumer as the API shows it.
fn consumer_json(consumer: &Consumer) -> Value {
    let mut body = json!({
        "ConsumerName": consumer.name,
        "TableName": consumer.table,
        "Status": match consumer.status {
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Stopped { .. } => "STOPPED",
        },
        "StartingSequenceNumber": format_sequence_number(consumer.start_seq),
        "CheckpointSequenceNumber": format_sequence_number(consumer.checkpoint),
        "NextSequenceNumber": format_sequence_number(consumer.next_seq()),
        "CreationDateTime": seconds(consumer.created_at_millis),
    });
    if let ConsumerStatus::Stopped { reason } = &consumer.status {
        body["StatusReason"] = reason.clone().into();
    }
    if let Some(at) = consumer.checkpointed_at_millis {
        body["LastCheckpointDateTime"] = seconds(at);
    }
    body
}

/// Milliseconds since the epoch as AWS shows times: seconds, with a fraction.
fn seconds(millis: u64) -> Value {
    json!(millis as f64 / 1000.0)
}

/// The lag of an active consumer: records between its checkpoint and the high watermark, and
/// seconds since the oldest of them committed (by the server's clock). `None` when stopped.
fn lag(store: &Store, consumer: &Consumer) -> Result<Option<Vec<(&'static str, Value)>>, ApiError> {
    if consumer.status != ConsumerStatus::Active {
        return Ok(None);
    }
    let position = match store.position(&consumer.table) {
        Ok(p) if p.table_id == consumer.table_id => p,
        Ok(_) | Err(eddy_core::Error::ResourceNotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let lag_records = position.high_watermark.saturating_sub(consumer.checkpoint);
    let lag_millis = if lag_records == 0 {
        0
    } else {
        let oldest = store.read(&consumer.table, consumer.next_seq(), 1)?;
        oldest.first().map_or(0, |r| store.now_millis().saturating_sub(r.created_at_millis))
    };
    Ok(Some(vec![
        ("HighWatermarkSequenceNumber", format_sequence_number(position.high_watermark).into()),
        ("TrimHorizonSequenceNumber", format_sequence_number(position.trim_horizon).into()),
        ("LagRecords", lag_records.into()),
        ("LagSeconds", (lag_millis / 1000).into()),
    ]))
}

/// Refuses reads of a stopped consumer, or of one whose table name now stands for another table.
fn ensure_active(store: &Store, consumer: &Consumer) -> Result<(), ApiError> {
    if let ConsumerStatus::Stopped { reason } = &consumer.status {
        return Err(ApiError::validation(format!("Consumer {} is stopped: {reason}", consumer.name)));
    }
    match store.position(&consumer.table) {
        Ok(p) if p.table_id == consumer.table_id => Ok(()),
        Ok(_) | Err(eddy_core::Error::ResourceNotFound { .. }) => Err(ApiError::validation(format!(
            "Consumer {} is stopped: table {} was deleted",
            consumer.name, consumer.table
        ))),
        Err(e) => Err(e.into()),
    }
}

fn sequence_number(text: &str, field: &str) -> Result<u64, ApiError> {
    parse_sequence_number(text).ok_or_else(|| {
        ApiError::validation(format!("{field} must be a sequence number (digits); got {text:?}"))
    })
}

/// `StartingPositionTimestamp`: epoch seconds (a number, as the AWS APIs send it) or an RFC 3339
/// string.
fn timestamp_millis(value: &Value) -> Result<u64, ApiError> {
    let invalid = || {
        ApiError::validation(
            "StartingPositionTimestamp must be epoch seconds or an RFC 3339 time such as 2024-05-01T12:00:00Z",
        )
    };
    match value {
        Value::Number(n) => {
            let secs = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0).ok_or_else(invalid)?;
            Ok((secs * 1000.0) as u64)
        }
        Value::String(s) => eddy_streams::subscription::time::parse_rfc3339_millis(s).ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

fn parameters(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
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
