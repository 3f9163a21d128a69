//! Why an export could not be started or described. Failures of a running export are not
//! errors of a request: they end in the export's record (status FAILED with a failure code).

/// An export request that cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A request parameter breaks a rule.
    #[error("{message}")]
    Validation {
        /// DynamoDB-style message.
        message: String,
    },
    /// No export has this ARN (or id).
    #[error("Export not found: {arn}")]
    NotFound {
        /// The ARN asked for.
        arn: String,
    },
    /// Too many exports are running.
    #[error("Too many exports in progress: at most {max} at once")]
    TooManyInProgress {
        /// `ExportLimits::exports_in_progress_max`.
        max: usize,
    },
    /// The same ClientToken was sent with different parameters.
    #[error("The ClientToken was already used for an export with different parameters")]
    ClientTokenMismatch,
    /// The store refused or failed (a missing table is its `ResourceNotFound`).
    #[error(transparent)]
    Store(#[from] eddy_core::Error),
    /// A stored export record does not decode.
    #[error("export record {name} does not decode: {source}")]
    Corrupt {
        /// The document's name.
        name: String,
        /// Why.
        source: serde_json::Error,
    },
}

impl ExportError {
    /// A validation error with `message`.
    pub fn validation(message: impl Into<String>) -> Self {
        ExportError::Validation { message: message.into() }
    }
}
