//! `/v1/tables/{table}/export` and `/v1/tables/{table}/exports`: Eddy's REST form of table
//! exports, which names the S3 endpoint and credentials in the request (DynamoDB's
//! ExportTableToPointInTime cannot). The rules live in `eddy_connectors::export`.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use eddy_connectors::export::{Destination, ExportFormat, ExportRecord, ExportRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiError;
use crate::ops::exports::{description, exports};
use crate::v1::response;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StartRequest {
    s3_bucket: Option<String>,
    s3_prefix: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    export_format: Option<String>,
    client_token: Option<String>,
}

/// `POST /v1/tables/{table}/export`: starts an export of the table as it is now; 202 with
/// the export's description (IN_PROGRESS). Without AccessKeyId and SecretAccessKey, the
/// server's own S3 settings are used, as for ExportTableToPointInTime.
pub async fn start(State(state): State<AppState>, Path(table): Path<String>, payload: Bytes) -> Response {
    let result = async {
        let body = if payload.is_empty() { b"{}".as_slice() } else { &payload };
        let request: StartRequest =
            serde_json::from_slice(body).map_err(|e| ApiError::serialization(e.to_string()))?;
        let exports = exports(&state)?;
        let bucket = request.s3_bucket.ok_or_else(|| ApiError::validation("S3Bucket is required"))?;
        let destination = match (request.access_key_id, request.secret_access_key) {
            (Some(access_key_id), Some(secret_access_key)) => Destination {
                endpoint: request.s3_endpoint,
                region: request.s3_region.unwrap_or_else(|| "us-east-1".into()),
                access_key_id,
                secret_access_key,
            },
            (None, None) => {
                let mut destination = exports.default_destination().cloned().ok_or_else(|| {
                    ApiError::validation(
                        "AccessKeyId and SecretAccessKey are required: this server has no S3 credentials of its own",
                    )
                })?;
                if let Some(endpoint) = request.s3_endpoint {
                    destination.endpoint = Some(endpoint);
                }
                if let Some(region) = request.s3_region {
                    destination.region = region;
                }
                destination
            }
            _ => return Err(ApiError::validation("AccessKeyId and SecretAccessKey go together")),
        };
        let record = exports
            .start(ExportRequest {
                table,
                bucket,
                prefix: request.s3_prefix,
                destination,
                format: ExportFormat::parse(request.export_format.as_deref())?,
                client_token: request.client_token,
            })
            .await?;
        Ok(render(&record))
    }
    .await;
    match result {
        Ok(body) => response::json(StatusCode::ACCEPTED, &body),
        Err(e) => response::error(&e),
    }
}

/// `GET /v1/tables/{table}/exports/{id}`: one export, with ItemCount so far while it runs.
pub async fn describe(State(state): State<AppState>, Path((table, id)): Path<(String, String)>) -> Response {
    let result = async {
        let exports = exports(&state)?;
        let record = tokio::task::spawn_blocking(move || exports.describe_id(&table, &id))
            .await
            .map_err(|e| ApiError::new(crate::error::ErrorKind::InternalServerError, e.to_string()))??;
        Ok(render(&record))
    }
    .await;
    response::reply(result)
}

/// `GET /v1/tables/{table}/exports?Limit=N&NextToken=...`: the table's exports in start order.
pub async fn list(
    State(state): State<AppState>,
    Path(table): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let result = async {
        let Query(params) = query.map_err(|e| ApiError::validation(e.body_text()))?;
        let mut limit = None;
        let mut after = None;
        for (name, value) in params {
            match name.as_str() {
                "Limit" => {
                    limit = Some(
                        value
                            .parse::<usize>()
                            .map_err(|_| ApiError::validation(format!("Invalid Limit {value:?}")))?,
                    )
                }
                "NextToken" => after = Some(value),
                other => return Err(ApiError::validation(format!("Unknown parameter {other}"))),
            }
        }
        let exports = exports(&state)?;
        state.store().table(&table)?;
        let page = tokio::task::spawn_blocking(move || exports.list(Some(&table), limit, after.as_deref()))
            .await
            .map_err(|e| ApiError::new(crate::error::ErrorKind::InternalServerError, e.to_string()))??;
        let mut body = json!({ "Exports": page.exports.iter().map(render).collect::<Vec<_>>() });
        if let Some(next) = page.next {
            body["NextToken"] = json!(next);
        }
        Ok(body)
    }
    .await;
    response::reply(result)
}

fn render(record: &ExportRecord) -> Value {
    let mut body = description(record);
    body["ExportId"] = json!(record.export_id);
    body
}
