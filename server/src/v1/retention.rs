//! `GET`/`PUT /v1/tables/{table}/retention`: how long a table's change records are kept. Eddy
//! goes beyond DynamoDB here: DynamoDB Streams keeps records for 24 hours, Eddy for 1 hour to
//! 90 days per table.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use eddy_core::store::TableChange;
use serde::Deserialize;

use crate::app::AppState;
use crate::config::RETENTION_HOURS_MAX;
use crate::error::ApiError;
use crate::v1::response;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RetentionInput {
    retention_period_hours: Option<u64>,
}

fn body(state: &AppState, table: &str) -> Result<serde_json::Value, ApiError> {
    let meta = state.store().table(table)?;
    let millis = meta.retention_millis.unwrap_or(state.store().limits().retention.as_millis() as u64);
    Ok(serde_json::json!({
        "TableName": table,
        "RetentionPeriodHours": millis / 3_600_000,
        "Default": meta.retention_millis.is_none(),
    }))
}

/// `GET /v1/tables/{table}/retention`.
pub async fn get(State(state): State<AppState>, Path(table): Path<String>) -> Response {
    match body(&state, &table) {
        Ok(b) => response::json(StatusCode::OK, &b),
        Err(e) => response::error(&e),
    }
}

/// `PUT /v1/tables/{table}/retention` with `{"RetentionPeriodHours": N}` (1 to 2160).
pub async fn put(State(state): State<AppState>, Path(table): Path<String>, payload: Bytes) -> Response {
    let result = async {
        let input: RetentionInput =
            serde_json::from_slice(&payload).map_err(|e| ApiError::serialization(e.to_string()))?;
        let hours = input
            .retention_period_hours
            .ok_or_else(|| ApiError::validation("RetentionPeriodHours is required"))?;
        if !(1..=RETENTION_HOURS_MAX).contains(&hours) {
            return Err(ApiError::validation(format!(
                "RetentionPeriodHours must be between 1 and {RETENTION_HOURS_MAX}; got {hours}"
            )));
        }
        let retention = std::time::Duration::from_secs(hours * 3600);
        state.store().alter_table(&table, vec![TableChange::Retention(retention)]).await?;
        body(&state, &table)
    }
    .await;
    match result {
        Ok(b) => response::json(StatusCode::OK, &b),
        Err(e) => response::error(&e),
    }
}
