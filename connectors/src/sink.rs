//! The `Sink` trait: what a connector's destination must do so that exports are effectively
//! exactly once. The pull loop hands a sink batches of change records in sequence order and
//! moves the connector's checkpoint past a batch only after `write` returned `Ok`, so a sink
//! sees every record at least once; sinks make replays harmless with idempotent writes keyed by
//! sequence numbers (S3: object keys derived from the batch's sequence range; OpenSearch: the
//! record's seq as the document's external version).

use std::future::Future;
use std::pin::Pin;

use eddy_core::changelog::ChangeRecord;

/// One batch handed to a sink: consecutive records of one table, in sequence order.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The table the records belong to.
    pub table: String,
    /// The table's key attribute names (partition first), for document ids.
    pub key_attributes: Vec<String>,
    /// The records, in strictly increasing seq order.
    pub records: Vec<ChangeRecord>,
    /// Each record as DynamoDB Streams record JSON (NEW_AND_OLD_IMAGES), same order.
    pub records_json: Vec<serde_json::Value>,
}

impl Batch {
    /// The first and last seq of the batch.
    pub fn range(&self) -> Option<(u64, u64)> {
        Some((self.records.first()?.seq, self.records.last()?.seq))
    }
}

/// Why a sink could not take a batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Worth retrying (network, 5xx, throttling): the loop backs off and tries again.
    #[error("temporary sink failure: {0}")]
    Transient(String),
    /// Retrying will not help (bad credentials, missing bucket, mapping conflict): the
    /// connector goes FAILED with this reason and keeps its checkpoint.
    #[error("permanent sink failure: {0}")]
    Permanent(String),
}

/// A boxed future, so sinks stay object-safe.
pub type SinkFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A destination for change records.
pub trait Sink: Send + Sync {
    /// Checks the configuration against the destination (bucket exists, credentials work,
    /// index mapping fits) before the connector starts.
    fn check(&self) -> SinkFuture<'_, Result<(), SinkError>>;

    /// Writes a batch durably and idempotently: writing the same batch again (after a crash
    /// or a retry) must leave the destination as writing it once did.
    fn write<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a, Result<(), SinkError>>;

    /// Writes one part of a table snapshot (`Start: snapshot`). Every record of a snapshot is
    /// an INSERT carrying the seq at which the snapshot was taken, so sinks that key their
    /// writes by seq ranges (S3) need the part number to tell the parts apart. The default
    /// writes the batch like any other, which suits sinks keyed by item (OpenSearch).
    fn write_snapshot<'a>(
        &'a self,
        part: SnapshotPart,
        batch: &'a Batch,
    ) -> SinkFuture<'a, Result<(), SinkError>> {
        let _ = part;
        self.write(batch)
    }
}

/// Where a batch of a table snapshot belongs. A snapshot is cut into parts numbered from 0;
/// after a crash the part in flight is written again under the same number, from the same
/// scan position, so it replaces what a lost attempt may have left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPart {
    /// The changelog's high watermark when the snapshot was taken: every snapshot record
    /// carries it as its seq, and streaming starts after it.
    pub seq: u64,
    /// The part's number, from 0.
    pub part: u64,
}
