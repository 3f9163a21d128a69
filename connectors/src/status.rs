//! A connector's live status: its state, the last error and its totals. The totals and the last
//! error are the ones last committed with the checkpoint ([`crate::progress::Progress`]), plus
//! failed attempts not committed yet; the state and the attempts of the batch in flight live in
//! memory only.

use serde_json::{Value, json};

use crate::progress::{LastError, Progress, Totals};

/// Whether a connector is exporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Exporting (or waiting for records, or backing off from a transient sink failure:
    /// `LastError` says which).
    Running,
    /// Paused by the user; the checkpoint stays where it is.
    Paused,
    /// Stopped by an error retrying cannot fix (bad credentials, missing bucket, retries
    /// exhausted); `LastError` says which. The checkpoint stays; restart resumes from it.
    Failed,
}

impl State {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Failed => "FAILED",
        }
    }
}

/// What a connector is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Exporting the table's items (`Start: snapshot`).
    Snapshot,
    /// Following the changelog.
    Stream,
}

impl Phase {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Snapshot => "SNAPSHOT",
            Phase::Stream => "STREAM",
        }
    }
}

/// Totals and the last error of one connector.
#[derive(Debug, Clone)]
pub struct Status {
    /// Running, paused or failed.
    pub state: State,
    /// Snapshot or stream.
    pub phase: Phase,
    /// The last failure and its time.
    pub last_error: Option<LastError>,
    /// Failed attempts of the batch in flight (0 when the last attempt worked).
    pub attempts: u32,
    /// Records, bytes and batches exported, failed attempts.
    pub totals: Totals,
}

impl Status {
    /// A fresh status.
    pub fn new(state: State) -> Self {
        Status { state, phase: Phase::Stream, last_error: None, attempts: 0, totals: Totals::default() }
    }

    /// The status of a connector whose committed progress is `progress` (after a restart).
    pub fn restored(state: State, progress: &Progress) -> Self {
        Status { last_error: progress.last_error.clone(), totals: progress.totals, ..Status::new(state) }
    }

    /// The status fields of `GET /v1/connectors/{name}`.
    pub fn to_json(&self) -> Value {
        let totals = &self.totals;
        let mut out = json!({
            "State": self.state.as_str(),
            "Phase": self.phase.as_str(),
            "RecordsExported": totals.records,
            "BytesExported": totals.bytes,
            "BatchesExported": totals.batches,
            "Failures": totals.failures,
            "RetryAttempts": self.attempts,
        });
        if let Some(error) = &self.last_error {
            out["LastError"] = error.message.clone().into();
            out["LastErrorTime"] = json!(error.at_millis as f64 / 1000.0);
        }
        if let Some(at) = totals.last_exported_millis {
            out["LastExportedTime"] = json!(at as f64 / 1000.0);
        }
        out
    }
}
