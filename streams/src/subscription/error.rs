//! Why a subscription could not start.

use crate::filter::FilterError;

/// Why a subscription request was refused. Once a subscription has started, everything that
/// ends it is a final event on the stream instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// `from` is none of `trim_horizon`, `latest`, a sequence number or an RFC 3339 time.
    #[error("Invalid from {value:?}: expected trim_horizon, latest, a sequence number or an RFC 3339 time")]
    InvalidFrom {
        /// What was given.
        value: String,
    },
    /// `format` is neither `sse` nor `ndjson`.
    #[error("Invalid format {value:?}: expected sse or ndjson")]
    InvalidFormat {
        /// What was given.
        value: String,
    },
    /// `Last-Event-ID` is not a sequence number.
    #[error("Invalid Last-Event-ID {value:?}: expected a sequence number")]
    InvalidLastEventId {
        /// What was given.
        value: String,
    },
    /// The heartbeat interval is outside its bounds.
    #[error("Invalid heartbeat_ms {value:?}: expected a whole number from {min} to {max}")]
    InvalidHeartbeat {
        /// What was given.
        value: String,
        /// Smallest interval, milliseconds.
        min: u64,
        /// Largest interval, milliseconds.
        max: u64,
    },
    /// A sequence number lies past the table's last record.
    #[error("Sequence number {seq} is past the table's last record ({high_watermark})")]
    SequenceNumberPastEnd {
        /// The sequence number given.
        seq: u64,
        /// The table's high watermark.
        high_watermark: u64,
    },
    /// The filter pattern is invalid.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The table does not exist, or the changelog could not be read.
    #[error(transparent)]
    Feed(#[from] eddy_core::Error),
}
