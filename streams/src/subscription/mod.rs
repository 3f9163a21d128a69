//! HTTP streaming subscriptions: a table's change records, caught up from the changelog and then
//! followed live, encoded as Server-Sent Events or NDJSON.
//!
//! The changelog is the only source. A [`Subscription`] reads it by seq ranges from its own
//! position, page after page, and when it has reached the high watermark it waits for the
//! watermark to move ([`eddy_core::changelog::ChangeFeed::watch`]) and reads again. So catching
//! up and following live are the same loop: there is no switch between them, and no gap or
//! duplicate at one. A slow subscriber only reads the log later; writers never wait for it, and
//! it holds at most one page of records in memory.

mod error;
mod follow;
mod frame;
pub mod time;

use std::time::Duration;

pub use error::SubscriptionError;
pub use follow::{Subscription, SubscriptionRequest};
pub use frame::Format;

/// The bounds of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most records read from the changelog in one page (DynamoDB Streams' GetRecords: 1000).
    pub page_records_max: usize,
    /// Page size in record bytes (SizeBytes) the reader aims for; pages shrink toward it when
    /// records are large (DynamoDB Streams' GetRecords: 1 MB).
    pub page_bytes_max: usize,
    /// Encoded bytes gathered into one chunk of the response before it is handed to the
    /// connection (one record always fits, however large).
    pub chunk_bytes_max: usize,
    /// How long an idle subscription waits before a heartbeat.
    pub heartbeat: Duration,
}

/// Default heartbeat interval of an idle subscription.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);
/// Shortest heartbeat interval a request may ask for (`heartbeat_ms`), milliseconds.
pub const HEARTBEAT_MS_MIN: u64 = 10;
/// Longest heartbeat interval a request may ask for (`heartbeat_ms`), milliseconds.
pub const HEARTBEAT_MS_MAX: u64 = 300_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            page_records_max: 1000,
            page_bytes_max: 1024 * 1024,
            chunk_bytes_max: 64 * 1024,
            heartbeat: HEARTBEAT_INTERVAL,
        }
    }
}

/// Where a subscription starts (`from=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// The oldest retained record.
    TrimHorizon,
    /// The next record committed (the default).
    Latest,
    /// The record with this seq, inclusive (the trim horizon if it is gone).
    Sequence(u64),
    /// The first record committed at or after this time, milliseconds since the epoch.
    Time(u64),
}

impl StartFrom {
    /// Parses `trim_horizon`, `latest`, a sequence number or an RFC 3339 time, ignoring case.
    pub fn parse(text: &str) -> Result<StartFrom, SubscriptionError> {
        let invalid = || SubscriptionError::InvalidFrom { value: text.to_string() };
        match text.to_ascii_lowercase().as_str() {
            "trim_horizon" => Ok(StartFrom::TrimHorizon),
            "latest" => Ok(StartFrom::Latest),
            _ if text.bytes().all(|b| b.is_ascii_digit()) => {
                eddy_core::changelog::parse_sequence_number(text).map(StartFrom::Sequence).ok_or_else(invalid)
            }
            _ => time::parse_rfc3339_millis(text).map(StartFrom::Time).ok_or_else(invalid),
        }
    }
}

/// Parses a `Last-Event-ID` header: the sequence number of the last record received.
pub fn parse_last_event_id(text: &str) -> Result<u64, SubscriptionError> {
    eddy_core::changelog::parse_sequence_number(text.trim())
        .ok_or_else(|| SubscriptionError::InvalidLastEventId { value: text.to_string() })
}

/// Parses `heartbeat_ms`, bounded by [`HEARTBEAT_MS_MIN`] and [`HEARTBEAT_MS_MAX`].
pub fn parse_heartbeat_ms(text: &str) -> Result<Duration, SubscriptionError> {
    match text.parse::<u64>() {
        Ok(ms) if (HEARTBEAT_MS_MIN..=HEARTBEAT_MS_MAX).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(SubscriptionError::InvalidHeartbeat {
            value: text.to_string(),
            min: HEARTBEAT_MS_MIN,
            max: HEARTBEAT_MS_MAX,
        }),
    }
}

#[cfg(test)]
mod tests;
