//! A connector's durable progress besides its checkpoint: the batch it is about to hand the
//! sink (the *plan*), with `Start: snapshot` where the table scan stands, its totals (records,
//! bytes, batches exported, failed attempts) and its last error. All of it is the opaque state
//! of the connector's core consumer, so it commits in the same redb transaction as the
//! checkpoint (`Store::commit_consumer`): after a crash the totals count every exported record
//! exactly once, however often a batch was written.
//!
//! The plan makes batch boundaries deterministic across crashes: the pull loop commits the seq
//! range of a batch (checkpoint unchanged) before the sink sees it, and after a restart
//! re-reads exactly that range, so a sink keyed by seq ranges (S3) rewrites the same object
//! with the same content. A plan at or below the checkpoint is stale and ignored.

use eddy_core::store::ConsumerCommit;
use eddy_core::{Item, Store};
use eddy_streams::json::{RawItem, item_from_raw};
use eddy_streams::record::item_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::consumer_name;
use crate::error::ConnectorError;

/// Document kind of connector progress as builds before the progress moved into the consumer's
/// state stored it: read when a consumer has no state yet, deleted with the connector.
pub const PROGRESS_KIND: &str = "connector-progress";

/// Longest `LastError` message kept (bytes; a longer one is cut at a character boundary), so
/// the progress stays far below core's `CONSUMER_STATE_BYTES_MAX`.
pub const LAST_ERROR_BYTES_MAX: usize = 4096;

/// The seq range of the batch being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plan {
    /// The first seq of the batch.
    pub first: u64,
    /// The last seq of the batch.
    pub last: u64,
}

/// Where a snapshot (`Start: snapshot`) stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapshotState {
    /// The high watermark taken before the scan: every snapshot record carries it as its seq,
    /// and streaming continues after it.
    pub seq: u64,
    /// When the snapshot was taken (the commit time snapshot records show).
    pub taken_at_millis: u64,
    /// The next part to write.
    pub part: u64,
    /// The key of the last item written (DynamoDB JSON); the scan resumes after it.
    pub cursor: Option<Value>,
}

impl SnapshotState {
    /// The scan's exclusive start key.
    pub fn cursor_item(&self) -> Result<Option<Item>, String> {
        let Some(cursor) = &self.cursor else { return Ok(None) };
        let raw: RawItem = serde_json::from_value(cursor.clone()).map_err(|e| e.to_string())?;
        item_from_raw(raw).map(Some).map_err(|e| e.to_string())
    }

    /// Stores `key` as the cursor.
    pub fn set_cursor(&mut self, key: &Item) {
        self.cursor = Some(item_json(key));
    }
}

/// What a connector has done since it was created (or last started over by a new
/// configuration): the figures `GET /v1/connectors/{name}` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Totals {
    /// Records the sink took (snapshot items count too), each once.
    pub records: u64,
    /// Bytes of record JSON lines the sink took (before compression).
    pub bytes: u64,
    /// Batches (and snapshot parts) the sink took.
    pub batches: u64,
    /// Failed attempts, all batches.
    pub failures: u64,
    /// When a batch last went out, milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exported_millis: Option<u64>,
}

impl Totals {
    /// Counts one batch of `records` records and `bytes` bytes taken at `now_millis`.
    pub fn add_batch(&mut self, records: usize, bytes: usize, now_millis: u64) {
        self.records += records as u64;
        self.bytes += bytes as u64;
        self.batches += 1;
        self.last_exported_millis = Some(now_millis);
    }
}

/// The last failure of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LastError {
    /// What went wrong, at most [`LAST_ERROR_BYTES_MAX`] bytes.
    pub message: String,
    /// When, milliseconds since the epoch.
    pub at_millis: u64,
}

impl LastError {
    /// `message` at `at_millis`, cut to [`LAST_ERROR_BYTES_MAX`] bytes.
    pub fn new(mut message: String, at_millis: u64) -> LastError {
        if message.len() > LAST_ERROR_BYTES_MAX {
            const MORE: &str = " ...";
            let mut cut = LAST_ERROR_BYTES_MAX - MORE.len();
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(MORE);
        }
        LastError { message, at_millis }
    }
}

/// Everything stored with a connector's checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Progress {
    /// The batch planned last (stale once the checkpoint is past it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// The snapshot still to finish, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotState>,
    /// Records, bytes, batches exported and failed attempts.
    #[serde(default)]
    pub totals: Totals,
    /// The last failure, if any since the connector was created or last restarted by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
}

/// A connector's checkpoint and the progress committed with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The last seq exported.
    pub checkpoint: u64,
    /// The progress.
    pub progress: Progress,
}

impl Progress {
    /// Decodes the state of connector `name`'s consumer.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Progress, ConnectorError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ConnectorError::Corrupt { name: name.into(), reason: format!("progress: {e}") })
    }

    /// The progress of connector `name` given its consumer's state: the state, or for a
    /// consumer that has none (created by an earlier build) the progress document, or nothing.
    pub fn from_state(store: &Store, name: &str, state: Option<&[u8]>) -> Result<Progress, ConnectorError> {
        if let Some(bytes) = state {
            return Progress::decode(name, bytes);
        }
        match store.document(PROGRESS_KIND, name)? {
            Some(bytes) => Progress::decode(name, &bytes),
            None => Ok(Progress::default()),
        }
    }

    /// Reads connector `name`'s checkpoint and progress; `None` when its consumer is gone.
    /// Reads redb: call it off the async workers.
    pub fn load(store: &Store, name: &str) -> Result<Option<Committed>, ConnectorError> {
        let consumer = match store.consumer(&consumer_name(name)) {
            Ok(c) => c,
            Err(eddy_core::Error::ResourceNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let progress = Progress::from_state(store, name, consumer.state.as_deref())?;
        Ok(Some(Committed { checkpoint: consumer.checkpoint, progress }))
    }

    /// Commits this progress as connector `name`'s state together with its checkpoint at
    /// `checkpoint` (at or past the current one), in one redb transaction.
    pub async fn commit(&self, store: &Store, name: &str, checkpoint: u64) -> Result<(), ConnectorError> {
        let state = serde_json::to_vec(self)
            .map_err(|e| ConnectorError::Corrupt { name: name.into(), reason: e.to_string() })?;
        let commit = ConsumerCommit {
            name: consumer_name(name),
            checkpoint,
            writes: Vec::new(),
            state: Some(state),
            counters: None,
        };
        store.commit_consumer(commit).await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{LAST_ERROR_BYTES_MAX, LastError, Plan, Progress, Totals};

    #[test]
    fn progress_round_trips_and_reads_older_documents() {
        let mut progress = Progress { plan: Some(Plan { first: 3, last: 9 }), ..Progress::default() };
        progress.totals.add_batch(7, 700, 1_000);
        progress.totals.failures = 2;
        progress.last_error = Some(LastError::new("connection reset".into(), 900));
        let bytes = serde_json::to_vec(&progress).unwrap();
        assert_eq!(Progress::decode("c", &bytes).unwrap(), progress);
        // What earlier builds stored: a plan and no totals.
        let old = Progress::decode("c", br#"{"Plan":{"First":1,"Last":10}}"#).unwrap();
        assert_eq!(old.plan, Some(Plan { first: 1, last: 10 }));
        assert_eq!(old.totals, Totals::default());
        assert!(Progress::decode("c", b"{").is_err());
    }

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        let error = LastError::new("é".repeat(LAST_ERROR_BYTES_MAX), 1);
        assert!(error.message.len() <= LAST_ERROR_BYTES_MAX);
        assert!(error.message.ends_with(" ..."));
        assert_eq!(LastError::new("short".into(), 1).message, "short");
    }
}
