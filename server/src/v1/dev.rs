//! `POST /v1/dev/clock`: moves the server's clock forward (only with `eddy serve --dev-clock`),
//! then trims what expired, so tests of time-based behaviour never sleep.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::dev_clock::ADVANCE_SECS_MAX;
use crate::error::{ApiError, ErrorKind};
use crate::v1::response;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AdvanceInput {
    advance_seconds: Option<u64>,
    advance_millis: Option<u64>,
}

/// Handles `POST /v1/dev/clock` with `{"AdvanceSeconds": N}` or `{"AdvanceMillis": N}`.
pub async fn advance_clock(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(clock) = state.dev_clock() else {
        return response::error(&ApiError::new(
            ErrorKind::AccessDenied,
            "The dev clock is off: start the server with eddy serve --dev-clock to use it",
        ));
    };
    let input: AdvanceInput = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return response::error(&ApiError::serialization(e.to_string())),
    };
    let millis = match (input.advance_seconds, input.advance_millis) {
        (Some(s), None) if s <= ADVANCE_SECS_MAX => s * 1000,
        (None, Some(m)) if m <= ADVANCE_SECS_MAX * 1000 => m,
        _ => {
            return response::error(&ApiError::validation(format!(
                "Give exactly one of AdvanceSeconds or AdvanceMillis, at most {ADVANCE_SECS_MAX} seconds"
            )));
        }
    };
    clock.advance(millis);
    let trimmed = match state.store().trim_all().await {
        Ok(n) => n,
        Err(e) => return response::error(&ApiError::from(e)),
    };
    response::json(
        StatusCode::OK,
        &serde_json::json!({"NowMillis": state.store().now_millis(), "TrimmedRecords": trimmed}),
    )
}
