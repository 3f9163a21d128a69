//! The durable record of one export: a core document of kind `export`, named by the export
//! id, rewritten as the export progresses. It holds no credentials.

use serde::{Deserialize, Serialize};

use crate::export::request::ExportFormat;

/// The document kind of export records.
pub const DOCUMENT_KIND: &str = "export";

/// ExportStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportStatus {
    /// Reading the snapshot and writing files.
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    /// Every file and both manifests are written.
    #[serde(rename = "COMPLETED")]
    Completed,
    /// Stopped; `failure_code` and `failure_message` say why.
    #[serde(rename = "FAILED")]
    Failed,
}

impl ExportStatus {
    /// The name DynamoDB uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::InProgress => "IN_PROGRESS",
            ExportStatus::Completed => "COMPLETED",
            ExportStatus::Failed => "FAILED",
        }
    }
}

/// One export, as DescribeExport shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// `<14-digit start millis>-<8 hex digits>`: unique, and sorts by start time.
    pub export_id: String,
    /// `<table arn>/export/<export id>`.
    pub export_arn: String,
    /// The table's name.
    pub table: String,
    /// TableArn.
    pub table_arn: String,
    /// TableId (the table's UUID).
    pub table_id: String,
    /// ExportStatus.
    pub status: ExportStatus,
    /// StartTime, milliseconds since the epoch.
    pub start_time_millis: u64,
    /// EndTime, once COMPLETED or FAILED.
    pub end_time_millis: Option<u64>,
    /// ExportTime: when the snapshot was taken.
    pub export_time_millis: u64,
    /// The sequence number of the table's last change record in the snapshot (its high
    /// watermark then): the export holds every change up to it and none after it.
    pub sequence_number: u64,
    /// S3Bucket.
    pub bucket: String,
    /// S3Prefix, normalised (no leading or trailing `/`).
    pub prefix: Option<String>,
    /// The S3 endpoint written to (`None`: AWS S3).
    pub endpoint: Option<String>,
    /// ExportFormat.
    pub format: ExportFormat,
    /// ClientToken.
    pub client_token: Option<String>,
    /// ItemCount: items written to data files so far.
    pub item_count: u64,
    /// BilledSizeBytes: DynamoDB item bytes exported so far.
    pub billed_size_bytes: u64,
    /// Data files written so far.
    pub data_file_count: u64,
    /// ExportManifest: the key of `manifest-summary.json`, once COMPLETED.
    pub manifest_key: Option<String>,
    /// FailureCode, when FAILED.
    pub failure_code: Option<String>,
    /// FailureMessage, when FAILED.
    pub failure_message: Option<String>,
}

impl ExportRecord {
    /// The key prefix of everything this export writes: `prefix/AWSDynamoDB/<export id>`.
    pub fn export_dir(&self) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}/AWSDynamoDB/{}", self.export_id),
            None => format!("AWSDynamoDB/{}", self.export_id),
        }
    }
}

/// The export id at the end of an export ARN (`.../export/<id>`).
pub fn id_from_arn(arn: &str) -> Option<&str> {
    let (_, id) = arn.rsplit_once("/export/")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(id)
}
