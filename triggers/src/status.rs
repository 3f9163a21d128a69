//! A trigger's live status (state, last error, counters) and the bounded ring of its captured
//! guest logs. The counters are committed with every checkpoint (the consumer's counters), so
//! they survive restarts as of the last commit; the rest lives in memory.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::delay::DelayHistogram;

/// Most log lines kept per trigger; older lines are dropped first.
pub const LOG_LINES_MAX: usize = 1000;
/// Most bytes of log lines kept per trigger (each line counts its length).
pub const LOG_BYTES_MAX: usize = 1024 * 1024;

/// Whether a trigger is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Delivering records.
    Enabled,
    /// Paused by the user; the checkpoint stays where it is.
    Disabled,
    /// Stopped by a condition the trigger cannot get past on its own (its table was deleted,
    /// its module no longer compiles); `LastError` says which. Re-registering restarts it.
    Failed,
}

impl State {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Enabled => "Enabled",
            State::Disabled => "Disabled",
            State::Failed => "Failed",
        }
    }
}

/// Counters and the last error of one trigger.
#[derive(Debug, Clone)]
pub struct Status {
    /// Running, paused or stopped.
    pub state: State,
    /// The last failure, with its time (milliseconds since the epoch).
    pub last_error: Option<(String, u64)>,
    /// The counters, committed with every checkpoint.
    pub totals: Totals,
    /// Time of the last successful commit, milliseconds since the epoch.
    pub last_processed_millis: Option<u64>,
    /// Commit -> invocation delays of first deliveries (retries left out).
    pub invocation_delay: DelayHistogram,
}

impl Status {
    /// A fresh status in `state`.
    pub fn new(state: State) -> Self {
        Status::resumed(state, Totals::default())
    }

    /// A status in `state` whose counters continue from `totals`.
    pub fn resumed(state: State, totals: Totals) -> Self {
        Status {
            state,
            last_error: None,
            totals,
            last_processed_millis: None,
            invocation_delay: DelayHistogram::default(),
        }
    }

    /// The status fields of `GET /v1/triggers/{name}`.
    pub fn to_json(&self) -> Value {
        // The counters under the names they are committed with.
        let mut out = serde_json::to_value(self.totals).unwrap_or_else(|_| json!({}));
        out["State"] = self.state.as_str().into();
        out["InvocationDelay"] = self.invocation_delay.to_json();
        if let Some((message, at)) = &self.last_error {
            out["LastError"] = message.clone().into();
            out["LastErrorTime"] = json!(*at as f64 / 1000.0);
        }
        if let Some(at) = self.last_processed_millis {
            out["LastProcessedTime"] = json!(at as f64 / 1000.0);
        }
        out
    }
}

/// The counters a trigger commits with its checkpoint; their JSON names are those of
/// `GET /v1/triggers/{name}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Totals {
    /// Invocations of the module (each parallel part counts).
    pub invocations: u64,
    /// Failed invocations and rejected commits.
    pub failures: u64,
    /// Records checkpointed past: delivered, filtered out or dead-lettered.
    pub records_processed: u64,
    /// Records sent to the dead-letter table.
    pub records_dead_lettered: u64,
    /// Write-backs committed.
    pub write_backs: u64,
}

impl Totals {
    /// The bytes committed with a checkpoint.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Committed counters; unreadable or absent ones count from zero.
    pub fn decode(bytes: Option<&[u8]>) -> Totals {
        bytes.and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default()
    }
}

/// One captured log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the invocation that wrote it ended, milliseconds since the epoch.
    pub at_millis: u64,
    /// The first sequence number of the batch it ran on.
    pub sequence_number: String,
    /// The line (`eddy: ` lines are the host's notes).
    pub line: String,
}

/// The newest log lines of a trigger, bounded by [`LOG_LINES_MAX`] and [`LOG_BYTES_MAX`].
#[derive(Debug, Default)]
pub struct LogRing {
    lines: VecDeque<LogLine>,
    bytes: usize,
    dropped: u64,
}

impl LogRing {
    /// Appends a line, dropping the oldest past the bounds.
    pub fn push(&mut self, line: LogLine) {
        self.bytes += line.line.len();
        self.lines.push_back(line);
        while self.lines.len() > LOG_LINES_MAX || (self.bytes > LOG_BYTES_MAX && self.lines.len() > 1) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.line.len();
                self.dropped += 1;
            }
        }
    }

    /// The newest `limit` lines, oldest first.
    pub fn tail(&self, limit: usize) -> Vec<LogLine> {
        let skip = self.lines.len().saturating_sub(limit);
        self.lines.iter().skip(skip).cloned().collect()
    }

    /// Lines dropped to keep the bounds.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_ring_keeps_the_newest_lines_within_bounds() {
        let mut ring = LogRing::default();
        for i in 0..(LOG_LINES_MAX + 5) {
            ring.push(LogLine { at_millis: 0, sequence_number: String::new(), line: format!("line {i}") });
        }
        let tail = ring.tail(2);
        assert_eq!(tail.len(), 2);
        assert_eq!(tail[1].line, format!("line {}", LOG_LINES_MAX + 4));
        assert_eq!(ring.dropped(), 5);
        ring.push(LogLine { at_millis: 0, sequence_number: String::new(), line: "x".repeat(LOG_BYTES_MAX) });
        assert_eq!(ring.tail(usize::MAX).len(), 1);
    }
}
