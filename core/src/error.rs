//! The table store's errors. Expected outcomes (a failed condition, a missing table) are
//! variants with data; the server maps each variant to a DynamoDB error type in one place.

use crate::value::Item;

/// Why a table-store operation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request breaks a DynamoDB rule; the message is DynamoDB's.
    #[error("{message}")]
    Validation {
        /// DynamoDB's message for the broken rule.
        message: String,
    },
    /// The table does not exist (or is being deleted).
    #[error("{message}")]
    ResourceNotFound {
        /// DynamoDB's message.
        message: String,
    },
    /// The table already exists, or is busy with another change.
    #[error("{message}")]
    ResourceInUse {
        /// DynamoDB's message.
        message: String,
    },
    /// A quota (such as the number of tables) would be exceeded.
    #[error("{message}")]
    LimitExceeded {
        /// DynamoDB's message.
        message: String,
    },
    /// The condition expression evaluated to false; nothing was written.
    #[error("The conditional request failed")]
    ConditionalCheckFailed {
        /// The item as it is, when the request asked for it (ReturnValuesOnConditionCheckFailure).
        item: Option<Item>,
    },
    /// A transaction was cancelled: at least one action was rejected, so none was applied.
    #[error("{}", cancellation_message(reasons))]
    TransactionCanceled {
        /// One reason per action, in request order ([`CancellationReason::None`] for actions
        /// that were fine).
        reasons: Vec<CancellationReason>,
    },
    /// A transaction reused a client request token of a different request still within the
    /// idempotency window; nothing was written.
    #[error("Request token reused with different request parameters")]
    IdempotentParameterMismatch,
    /// A write would grow an item collection (a partition of a table with local secondary
    /// indexes) past its size limit; nothing was written.
    #[error("Item collection size limit exceeded")]
    ItemCollectionSizeLimitExceeded,
    /// One write of a sequence committed together (a consumer's batch) was rejected, so none
    /// of them, nor the checkpoint, was written.
    #[error("write {index} was rejected: {reason}")]
    WriteRejected {
        /// Position of the rejected write in the sequence.
        index: usize,
        /// Why it was rejected.
        reason: Box<Error>,
    },
    /// The writer did not accept the request in time or has stopped; nothing was written.
    #[error("{message}")]
    Unavailable {
        /// What is unavailable.
        message: String,
    },
    /// The storage engine failed; the write was not acknowledged.
    #[error("storage error: {0}")]
    Storage(#[from] redb::Error),
    /// The stored data is not what this version wrote: a broken invariant.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

/// Why one action of a cancelled transaction was (or was not) at fault.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CancellationReason {
    /// The action was fine; it was cancelled because another one was not.
    None,
    /// The action's condition expression evaluated to false.
    ConditionalCheckFailed {
        /// The item as it is, when the action asked for it (ReturnValuesOnConditionCheckFailure).
        item: Option<Item>,
    },
    /// A PartiQL INSERT ([`TransactAction::Insert`](crate::store::TransactAction::Insert)) found
    /// an item with its key already there.
    DuplicateItem,
    /// The action breaks a rule only the current item reveals (an update on a wrong type, an
    /// item grown past the size limit, ...); the message is DynamoDB's.
    ValidationError {
        /// DynamoDB's message for the broken rule.
        message: String,
    },
}

impl CancellationReason {
    /// DynamoDB's code for the reason (`None`, `ConditionalCheckFailed`, `DuplicateItem`,
    /// `ValidationError`).
    pub fn code(&self) -> &'static str {
        match self {
            CancellationReason::None => "None",
            CancellationReason::ConditionalCheckFailed { .. } => "ConditionalCheckFailed",
            CancellationReason::DuplicateItem => "DuplicateItem",
            CancellationReason::ValidationError { .. } => "ValidationError",
        }
    }

    /// DynamoDB's message for the reason, if it has one.
    pub fn message(&self) -> Option<&str> {
        match self {
            CancellationReason::None => None,
            CancellationReason::ConditionalCheckFailed { .. } => Some("The conditional request failed"),
            CancellationReason::DuplicateItem => Some("Duplicate primary key exists in table"),
            CancellationReason::ValidationError { message } => Some(message),
        }
    }
}

/// DynamoDB's message for a cancelled transaction: the reasons' codes in request order.
pub fn cancellation_message(reasons: &[CancellationReason]) -> String {
    let codes: Vec<&str> = reasons.iter().map(CancellationReason::code).collect();
    format!(
        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
        codes.join(", ")
    )
}

impl Error {
    /// A ValidationException with DynamoDB's message.
    pub fn validation(message: impl Into<String>) -> Self {
        Error::Validation { message: message.into() }
    }

    /// The error for a data-plane request on a table that does not exist.
    pub fn table_not_found() -> Self {
        Error::ResourceNotFound { message: "Requested resource not found".into() }
    }
}

macro_rules! storage_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Storage(e.into())
            }
        }
    )*};
}
storage_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<crate::expr::ExprError> for Error {
    fn from(e: crate::expr::ExprError) -> Self {
        Error::Validation { message: e.to_string() }
    }
}

impl From<crate::number::NumberError> for Error {
    fn from(e: crate::number::NumberError) -> Self {
        Error::Validation { message: e.to_string() }
    }
}
