//! A connector's durable progress besides its checkpoint: the batch it is about to hand the
//! sink (the *plan*) and, with `Start: snapshot`, where the table scan stands. Stored as a
//! document of kind [`PROGRESS_KIND`] under the connector's name.
//!
//! The plan makes batch boundaries deterministic across crashes: the pull loop writes the seq
//! range of a batch here before the sink sees it, and after a restart re-reads exactly that
//! range, so a sink keyed by seq ranges (S3) rewrites the same object with the same content.
//! A plan at or below the checkpoint is stale and ignored.

use eddy_core::{Item, Store};
use eddy_streams::json::{RawItem, item_from_raw};
use eddy_streams::record::item_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ConnectorError;

/// Document kind of connector progress.
pub const PROGRESS_KIND: &str = "connector-progress";

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

/// Everything stored in a connector's progress document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Progress {
    /// The batch planned last (stale once the checkpoint is past it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// The snapshot still to finish, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotState>,
}

impl Progress {
    /// Reads a connector's progress (empty when none is stored).
    pub fn load(store: &Store, name: &str) -> Result<Progress, ConnectorError> {
        match store.document(PROGRESS_KIND, name)? {
            None => Ok(Progress::default()),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ConnectorError::Corrupt { name: name.into(), reason: e.to_string() }),
        }
    }

    /// Writes it durably.
    pub async fn save(&self, store: &Store, name: &str) -> Result<(), ConnectorError> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| ConnectorError::Corrupt { name: name.into(), reason: e.to_string() })?;
        store.put_document(PROGRESS_KIND, name, bytes).await?;
        Ok(())
    }
}
