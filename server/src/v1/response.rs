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
