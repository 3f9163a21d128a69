//! What can go wrong managing triggers (registration, enable, replay), and why a batch failed
//! in the delivery loop.

use crate::sandbox::{InvocationError, SandboxError};

/// A trigger operation was refused or failed. The server maps each variant to an HTTP error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriggerError {
    /// The registration (or another request) breaks a rule; the message names the field.
    #[error("{message}")]
    Validation {
        /// What is wrong, naming the field.
        message: String,
    },
    /// The module was refused by the sandbox (invalid wasm, wrong ABI, too large, ...).
    #[error("{0}")]
    Module(#[from] SandboxError),
    /// No trigger has this name.
    #[error("Trigger not found: {name}")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The store holds [`crate::registry::TRIGGERS_MAX`] triggers already.
    #[error("A store holds at most {max} triggers")]
    TooManyTriggers {
        /// The limit.
        max: usize,
    },
    /// The table store refused or failed.
    #[error(transparent)]
    Store(#[from] eddy_core::Error),
    /// A stored registration does not decode: a broken invariant.
    #[error("stored trigger {name} is corrupt: {reason}")]
    Corrupt {
        /// The trigger.
        name: String,
        /// What does not decode.
        reason: String,
    },
    /// The trigger manager is shutting down.
    #[error("the trigger manager is stopping")]
    Stopping,
}

impl TriggerError {
    /// A validation error with this message.
    pub fn validation(message: impl Into<String>) -> Self {
        TriggerError::Validation { message: message.into() }
    }
}

/// Why one batch (one attempt) failed. Shown in the trigger's status (`LastError`) and stored
/// with dead letters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchFailure {
    /// The invocation failed in the sandbox (trap, fuel, deadline, memory, output, ...).
    #[error("{0}")]
    Invocation(#[from] InvocationError),
    /// The guest reported these records failed (`batchItemFailures`) and the first of them is
    /// the first record of the batch.
    #[error("the trigger reported record {sequence_number} as failed (batchItemFailures)")]
    ItemFailed {
        /// The lowest failed record.
        sequence_number: String,
    },
    /// `batchItemFailures` named a record that is not in the batch.
    #[error("batchItemFailures names {identifier:?}, which is not a sequence number of the batch")]
    UnknownItem {
        /// The identifier as given.
        identifier: String,
    },
    /// A write-back is not a valid request (bad key, expression, value, missing table).
    #[error("write-back {index} ({function} on {table}) is invalid: {message}")]
    InvalidWriteBack {
        /// Position among the batch's write-backs.
        index: usize,
        /// `put_item`, `update_item` or `delete_item`.
        function: &'static str,
        /// Target table.
        table: String,
        /// Why.
        message: String,
    },
    /// A write-back was rejected when committing (a failed condition, a size limit, ...).
    #[error("write-back {index} ({function} on {table}) was rejected: {message}")]
    WriteRejected {
        /// Position among the batch's write-backs.
        index: usize,
        /// `put_item`, `update_item` or `delete_item`.
        function: &'static str,
        /// Target table.
        table: String,
        /// Why.
        message: String,
    },
    /// A write-back targets the trigger's own source table, which could loop forever.
    #[error(
        "write-back {index} targets the trigger's own source table {table}; a trigger may not write to it"
    )]
    OwnTableWrite {
        /// Position among the batch's write-backs.
        index: usize,
        /// The source table.
        table: String,
    },
    /// The write-backs would carry more hops than [`crate::delivery::HOPS_MAX`]: a chain of
    /// triggers loops.
    #[error(
        "write-backs would be hop {hops} of a chain of triggers; chains stop at {max} hops (a loop such as A -> B -> A?)"
    )]
    HopLimit {
        /// The hop count the write-backs would carry.
        hops: u32,
        /// The limit.
        max: u32,
    },
    /// The records are older than `MaximumRecordAgeInSeconds`.
    #[error("record is {age_seconds} s old; MaximumRecordAgeInSeconds is {max_seconds}")]
    RecordTooOld {
        /// Age of the oldest record.
        age_seconds: u64,
        /// The limit.
        max_seconds: u64,
    },
    /// A tumbling window's `state` returned by the module is too large to save with the
    /// checkpoint.
    #[error(
        "the window state returned by the trigger is {bytes} bytes of JSON; it may be at most {max} bytes"
    )]
    StateTooLarge {
        /// Its size as JSON.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

impl BatchFailure {
    /// A failure that a retry cannot fix: the batch goes to the dead letters without retries.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            BatchFailure::OwnTableWrite { .. }
                | BatchFailure::HopLimit { .. }
                | BatchFailure::RecordTooOld { .. }
        )
    }

    /// A short name of the cause, stored with dead letters (`ErrorType`).
    pub fn kind(&self) -> &'static str {
        match self {
            BatchFailure::Invocation(e) => match e {
                InvocationError::FuelExhausted { .. } => "FuelExhausted",
                InvocationError::DeadlineExceeded { .. } => "DeadlineExceeded",
                InvocationError::MemoryLimit { .. } => "MemoryLimit",
                InvocationError::Trap(_) => "Trap",
                InvocationError::InputTooLarge { .. } => "InputTooLarge",
                InvocationError::OutputTooLarge { .. } => "OutputTooLarge",
                InvocationError::LogTooLarge { .. } => "LogTooLarge",
                InvocationError::TooManyWrites { .. } => "TooManyWrites",
                InvocationError::GuestFailed { .. } => "GuestFailed",
                InvocationError::BadResponse(_) => "BadResponse",
                InvocationError::BadHostCall(_) => "BadHostCall",
                InvocationError::HostRead(_) => "HostRead",
                InvocationError::PoolExhausted { .. } => "PoolExhausted",
                _ => "Instantiate",
            },
            BatchFailure::ItemFailed { .. } => "ItemFailed",
            BatchFailure::UnknownItem { .. } => "BadResponse",
            BatchFailure::InvalidWriteBack { .. } => "InvalidWriteBack",
            BatchFailure::WriteRejected { .. } => "WriteRejected",
            BatchFailure::OwnTableWrite { .. } => "OwnTableWrite",
            BatchFailure::HopLimit { .. } => "HopLimit",
            BatchFailure::RecordTooOld { .. } => "RecordTooOld",
            BatchFailure::StateTooLarge { .. } => "StateTooLarge",
        }
    }
}
