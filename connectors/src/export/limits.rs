//! Every bound of table exports, with the DynamoDB figure it mirrors where there is one.

use std::time::Duration;

/// The bounds of table exports.
#[derive(Debug, Clone)]
pub struct ExportLimits {
    /// Exports running at once; one more is refused with LimitExceeded (DynamoDB allows 300
    /// concurrent export tasks per account; one process with one disk gains nothing from many).
    pub exports_in_progress_max: usize,
    /// A data file is closed and uploaded once this many bytes of DynamoDB JSON went into it
    /// (before gzip). Bounds the memory of an export: one file's compressed bytes. DynamoDB
    /// does not document its file size; its files are typically tens of MB.
    pub data_file_bytes_max: usize,
    /// Items read from the snapshot per page.
    pub page_items_max: usize,
    /// Bytes of items read from the snapshot per page (DynamoDB's 1 MB Scan page).
    pub page_bytes_max: usize,
    /// Finished data files waiting for upload (a bounded channel between the snapshot reader,
    /// which also gzips, and the uploader). Memory: about `(files_ahead_max + 2) *
    /// data_file_bytes_max` at most, usually far less after gzip.
    pub files_ahead_max: usize,
    /// The export record is rewritten with the progress at most this often (and after every
    /// data file).
    pub progress_interval: Duration,
    /// Retries of one S3 request before the export fails.
    pub s3_retries_max: usize,
    /// Time spent retrying one S3 request before the export fails.
    pub s3_retry_timeout: Duration,
    /// ListExports page size, default and most (DynamoDB: MaxResults up to 25).
    pub list_results_max: usize,
}

/// Overrides `data_file_bytes_max` (tuning, and tests that want many data files).
pub const DATA_FILE_BYTES_MAX_ENV: &str = "EDDY_EXPORT_DATA_FILE_BYTES_MAX";

impl ExportLimits {
    /// The defaults, with `data_file_bytes_max` from [`DATA_FILE_BYTES_MAX_ENV`] when it is
    /// set to a number.
    pub fn from_env() -> Self {
        let mut limits = ExportLimits::default();
        if let Some(bytes) = std::env::var(DATA_FILE_BYTES_MAX_ENV).ok().and_then(|v| v.parse().ok()) {
            limits.data_file_bytes_max = bytes;
        }
        limits
    }
}

impl Default for ExportLimits {
    fn default() -> Self {
        ExportLimits {
            exports_in_progress_max: 8,
            data_file_bytes_max: 32 * 1024 * 1024,
            page_items_max: 1000,
            page_bytes_max: 1024 * 1024,
            files_ahead_max: 1,
            progress_interval: Duration::from_secs(1),
            s3_retries_max: 5,
            s3_retry_timeout: Duration::from_secs(60),
            list_results_max: 25,
        }
    }
}
