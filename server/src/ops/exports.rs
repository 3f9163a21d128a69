//! ExportTableToPointInTime (without ExportTime: an export of the table as it is now),
//! DescribeExport and ListExports. DynamoDB's request carries no S3 credentials, so these
//! exports write with the server's own (`EDDY_EXPORT_S3_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`; see `docs/exports.md`).

use std::sync::Arc;

use eddy_connectors::export::{ExportFormat, ExportRecord, ExportRequest, ExportStatus, Exports};
use eddy_core::changelog::format_sequence_number;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::{blocking, required, respond};
use crate::app::AppState;
use crate::error::{ApiError, ErrorKind};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ExportTableRequest {
    table_arn: Option<String>,
    export_time: Option<IgnoredAny>,
    client_token: Option<String>,
    s3_bucket: Option<String>,
    s3_bucket_owner: Option<String>,
    s3_prefix: Option<String>,
    s3_sse_algorithm: Option<String>,
    s3_sse_kms_key_id: Option<String>,
    export_format: Option<String>,
    export_type: Option<String>,
    incremental_export_specification: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeExportRequest {
    export_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListExportsRequest {
    table_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The export service, or ServiceUnavailable when this server runs none.
pub(crate) fn exports(state: &AppState) -> Result<Arc<Exports>, ApiError> {
    state.exports().cloned().ok_or_else(|| {
        ApiError::new(ErrorKind::ServiceUnavailable, "Table exports are not running on this server")
    })
}

/// ExportTableToPointInTime: starts a full export of the table as it is now.
pub(super) async fn export_table(state: &AppState, request: ExportTableRequest) -> Result<Vec<u8>, ApiError> {
    let table_arn = required(request.table_arn, "tableArn")?;
    let bucket = required(request.s3_bucket, "s3Bucket")?;
    if request.export_time.is_some() {
        return Err(ApiError::validation(
            "ExportTime is not supported by this version of Eddy: an export at a past time needs point-in-time recovery, which Eddy does not have yet; omit ExportTime to export the table as it is now",
        ));
    }
    match request.export_type.as_deref() {
        None | Some("FULL_EXPORT") => {}
        Some("INCREMENTAL_EXPORT") => {
            return Err(ApiError::validation(
                "ExportType INCREMENTAL_EXPORT is not supported by this version of Eddy: incremental exports need point-in-time recovery",
            ));
        }
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'exportType' failed to satisfy constraint: Member must satisfy enum value set: [FULL_EXPORT, INCREMENTAL_EXPORT]"
            )));
        }
    }
    if request.incremental_export_specification.is_some() {
        return Err(ApiError::unsupported("IncrementalExportSpecification"));
    }
    if request.s3_bucket_owner.is_some() {
        return Err(ApiError::unsupported("S3BucketOwner"));
    }
    match request.s3_sse_algorithm.as_deref() {
        None | Some("AES256") => {}
        Some("KMS") => return Err(ApiError::unsupported("S3SseAlgorithm KMS")),
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 's3SseAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [AES256, KMS]"
            )));
        }
    }
    if request.s3_sse_kms_key_id.is_some() {
        return Err(ApiError::unsupported("S3SseKmsKeyId"));
    }
    let table = table_name(state, &table_arn)?;
    let format = ExportFormat::parse(request.export_format.as_deref())?;
    let exports = exports(state)?;
    let destination = exports.default_destination().cloned().ok_or_else(|| {
        ApiError::validation(
            "This server has no S3 credentials for ExportTableToPointInTime: start it with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and EDDY_EXPORT_S3_ENDPOINT, AWS_REGION) set, or use POST /v1/tables/{table}/export",
        )
    })?;
    let record = exports
        .start(ExportRequest {
            table,
            bucket,
            prefix: request.s3_prefix,
            destination,
            format,
            client_token: request.client_token,
        })
        .await?;
    respond(&json!({ "ExportDescription": description(&record) }))
}

/// DescribeExport.
pub(super) async fn describe_export(
    state: &AppState,
    request: DescribeExportRequest,
) -> Result<Vec<u8>, ApiError> {
    let arn = required(request.export_arn, "exportArn")?;
    let exports = exports(state)?;
    let record = blocking(move || Ok(exports.describe(&arn)?)).await?;
    respond(&json!({ "ExportDescription": description(&record) }))
}

/// ListExports: the exports of one table (TableArn) or of all, in start order.
pub(super) async fn list_exports(state: &AppState, request: ListExportsRequest) -> Result<Vec<u8>, ApiError> {
    let exports = exports(state)?;
    let most = exports.limits().list_results_max;
    let limit = match request.max_results {
        None => None,
        Some(n) if n >= 1 && n <= most as i64 => Some(n as usize),
        Some(n) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {most}"
            )));
        }
    };
    let table = request.table_arn.map(|arn| table_name(state, &arn)).transpose()?;
    let after = request.next_token;
    let page = blocking(move || Ok(exports.list(table.as_deref(), limit, after.as_deref())?)).await?;
    let summaries: Vec<Value> = page
        .exports
        .iter()
        .map(|r| json!({ "ExportArn": r.export_arn, "ExportStatus": r.status.as_str(), "ExportType": "FULL_EXPORT" }))
        .collect();
    let mut body = json!({ "ExportSummaries": summaries });
    if let Some(next) = page.next {
        body["NextToken"] = json!(next);
    }
    respond(&body)
}

/// The table a TableArn of this server names.
fn table_name(state: &AppState, arn: &str) -> Result<String, ApiError> {
    let prefix = state.identity().table_arn("");
    match arn.strip_prefix(&prefix) {
        Some(name) if !name.is_empty() && !name.contains('/') => Ok(name.to_string()),
        _ if !arn.starts_with("arn:") => Err(ApiError::validation(format!("Invalid TableArn: {arn}"))),
        _ => Err(ApiError::new(ErrorKind::ResourceNotFound, format!("Table not found: {arn}"))),
    }
}

/// DynamoDB's ExportDescription of an export (times in epoch seconds, like every DynamoDB
/// timestamp), plus Eddy's `ExportSequenceNumber`: the table's high watermark in the snapshot.
pub(crate) fn description(record: &ExportRecord) -> Value {
    let seconds = |millis: u64| json!(millis as f64 / 1000.0);
    let mut d = json!({
        "ExportArn": record.export_arn,
        "ExportStatus": record.status.as_str(),
        "StartTime": seconds(record.start_time_millis),
        "TableArn": record.table_arn,
        "TableId": record.table_id,
        "ExportTime": seconds(record.export_time_millis),
        "S3Bucket": record.bucket,
        "S3SseAlgorithm": "AES256",
        "ExportFormat": record.format.as_str(),
        "ExportType": "FULL_EXPORT",
        "ItemCount": record.item_count,
        "BilledSizeBytes": record.billed_size_bytes,
        "ExportSequenceNumber": format_sequence_number(record.sequence_number),
    });
    if let Some(prefix) = &record.prefix {
        d["S3Prefix"] = json!(prefix);
    }
    if let Some(end) = record.end_time_millis
        && record.status != ExportStatus::InProgress
    {
        d["EndTime"] = seconds(end);
    }
    if let Some(token) = &record.client_token {
        d["ClientToken"] = json!(token);
    }
    if let Some(manifest) = &record.manifest_key {
        d["ExportManifest"] = json!(manifest);
    }
    if let Some(code) = &record.failure_code {
        d["FailureCode"] = json!(code);
    }
    if let Some(message) = &record.failure_message {
        d["FailureMessage"] = json!(message);
    }
    d
}
