//! Responses of the `/v1` API: JSON bodies and AWS-style error bodies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// A JSON response with `status`.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error response: `{"__type": ..., "message": ...}` with the error's REST status (404 for
/// a missing resource, 409 for one that exists, otherwise DynamoDB's).
pub fn error(e: &ApiError) -> Response {
    let mut response = (e.kind().rest_status(), e.body()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The JSON body on success, the error response otherwise.
pub fn reply(result: Result<serde_json::Value, ApiError>) -> Response {
    match result {
        Ok(body) => json(StatusCode::OK, &body),
        Err(e) => error(&e),
    }
}

/// The `Limit` query parameter of a listing: 1 to `max`, `default` when absent.
pub fn limit(
    params: &std::collections::HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match params.get("Limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::validation(format!(
                "Limit must be a whole number from 1 to {max}; got {text:?}"
            ))),
        },
    }
}

/// Runs store reads on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(ApiError::from(eddy_core::Error::Unavailable { message: format!("read failed: {e}") }))
    })
}
