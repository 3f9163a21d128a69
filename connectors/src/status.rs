//! A connector's live status: its state, the last error and counters. Counters live in memory
//! and start at zero when the server starts; the checkpoint is what is durable.

use serde_json::{Value, json};

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

/// Counters and the last error of one connector.
#[derive(Debug, Clone)]
pub struct Status {
    /// Running, paused or failed.
    pub state: State,
    /// Snapshot or stream.
    pub phase: Phase,
    /// The last failure and its time (milliseconds since the epoch).
    pub last_error: Option<(String, u64)>,
    /// Failed attempts of the batch in flight (0 when the last attempt worked).
    pub attempts: u32,
    /// Records the sink took (snapshot items count too).
    pub records_exported: u64,
    /// Bytes of record JSON lines the sink took (before compression).
    pub bytes_exported: u64,
    /// Batches the sink took.
    pub batches_exported: u64,
    /// Failed attempts, all batches.
    pub failures: u64,
    /// When a batch last went out, milliseconds since the epoch.
    pub last_exported_millis: Option<u64>,
}

impl Status {
    /// A fresh status.
    pub fn new(state: State) -> Self {
        Status {
            state,
            phase: Phase::Stream,
            last_error: None,
            attempts: 0,
            records_exported: 0,
            bytes_exported: 0,
            batches_exported: 0,
            failures: 0,
            last_exported_millis: None,
        }
    }

    /// The status fields of `GET /v1/connectors/{name}`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "State": self.state.as_str(),
            "Phase": self.phase.as_str(),
            "RecordsExported": self.records_exported,
            "BytesExported": self.bytes_exported,
            "BatchesExported": self.batches_exported,
            "Failures": self.failures,
            "RetryAttempts": self.attempts,
        });
        if let Some((message, at)) = &self.last_error {
            out["LastError"] = message.clone().into();
            out["LastErrorTime"] = json!(*at as f64 / 1000.0);
        }
        if let Some(at) = self.last_exported_millis {
            out["LastExportedTime"] = json!(at as f64 / 1000.0);
        }
        out
    }
}
