//! Errors of the DynamoDB Streams API view: one variant per outcome a client can act on, each
//! mapped to its DynamoDB Streams error type by the server.

use thiserror::Error;

/// A DynamoDB Streams API request that could not be served.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StreamsError {
    /// A parameter breaks a rule (ValidationException).
    #[error("{message}")]
    Validation {
        /// DynamoDB's message.
        message: String,
    },
    /// The stream, its table or the shard does not exist (ResourceNotFoundException).
    #[error("{message}")]
    ResourceNotFound {
        /// DynamoDB's message.
        message: String,
    },
    /// The shard iterator is older than its lifetime (ExpiredIteratorException).
    #[error("{message}")]
    ExpiredIterator {
        /// DynamoDB's message.
        message: String,
    },
    /// The records at the iterator's position were trimmed (TrimmedDataAccessException).
    #[error("{message}")]
    TrimmedDataAccess {
        /// DynamoDB's message.
        message: String,
    },
    /// The store failed underneath.
    #[error(transparent)]
    Store(#[from] eddy_core::Error),
}

impl StreamsError {
    /// A ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        StreamsError::Validation { message: message.into() }
    }

    /// A ResourceNotFoundException.
    pub fn not_found(message: impl Into<String>) -> Self {
        StreamsError::ResourceNotFound { message: message.into() }
    }

    /// A TrimmedDataAccessException.
    pub fn trimmed(message: impl Into<String>) -> Self {
        StreamsError::TrimmedDataAccess { message: message.into() }
    }
}
