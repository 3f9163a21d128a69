//! Reading the next batch after a trigger's checkpoint: change records as DynamoDB Streams JSON,
//! marked by the filter, cut to the batch size and the module's input limit, and split by item
//! key for parallel invocations.

use std::hash::{DefaultHasher, Hash, Hasher};

use eddy_core::Store;
use eddy_core::changelog::ChangeFeed;
use eddy_core::schema::StreamViewType;
use eddy_core::store::ConsumerStatus;
use eddy_streams::filter::FilterCriteria;
use eddy_streams::record::{RecordContext, to_json_extended};
use serde_json::Value;

/// Bytes of `{"Records":[` and `]}` around the records of a batch.
const BATCH_ENVELOPE_BYTES: usize = 14;
/// Most batch JSON bytes read for one group of batches that commit together (the first batch
/// always goes, whatever its size).
pub(crate) const GROUP_INPUT_BYTES_MAX: usize = 8 * 1024 * 1024;

/// One change record of a batch.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    /// Its seq.
    pub seq: u64,
    /// Trigger write-backs that led to it.
    pub hops: u32,
    /// Commit time, milliseconds since the epoch.
    pub created_at_millis: u64,
    /// The DynamoDB Streams record (NEW_AND_OLD_IMAGES).
    pub json: Value,
    /// `json` serialized.
    pub text: String,
    /// Whether the filter lets it through to the module.
    pub matches: bool,
    /// Hash of the item's key: records of one item land in the same parallel invocation.
    pub key_hash: u64,
}

/// The read range after the checkpoint.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The consumer's checkpoint the range follows.
    pub checkpoint: u64,
    /// The records, in seq order, without gaps except where retention trimmed them.
    pub records: Vec<Rec>,
    /// Seqs after the checkpoint that retention removed before the trigger processed them.
    pub trimmed: Option<(u64, u64)>,
    /// The consumer's opaque state (a tumbling window), as of the checkpoint.
    pub state: Option<Vec<u8>>,
    /// The records' `eventSourceARN`.
    pub event_source_arn: String,
    /// The source table's internal id.
    pub table_id: u64,
}

/// Why no batch could be read.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The trigger cannot go on: its consumer or table is gone or was replaced.
    Gone(String),
    /// The store failed; try again later.
    Store(eddy_core::Error),
}

impl From<eddy_core::Error> for LoadError {
    fn from(e: eddy_core::Error) -> Self {
        match e {
            eddy_core::Error::ResourceNotFound { message } => LoadError::Gone(message),
            other => LoadError::Store(other),
        }
    }
}

/// What a read needs to know.
pub(crate) struct ReadSpec<'a> {
    pub consumer: &'a str,
    pub table: &'a str,
    /// Records per batch.
    pub limit: usize,
    /// Batches to read at most (a group that commits together); at least one is returned.
    pub batches_max: usize,
    /// Read after this seq instead of the consumer's checkpoint: the last seq of a group whose
    /// commit is still in flight.
    pub after: Option<u64>,
    pub input_bytes_max: usize,
    pub filter: Option<&'a FilterCriteria>,
    pub region: &'a str,
    pub account_id: &'a str,
}

/// Reads the batches after the consumer's checkpoint: up to `batches_max` consecutive batches
/// of up to `limit` records each, the first of them possibly empty. A batch's matching records
/// stop before the one that would take its JSON past `input_bytes_max` (the first always goes,
/// so an oversized record fails its invocation visibly instead of being skipped); batches stop
/// once they hold [`GROUP_INPUT_BYTES_MAX`] bytes together.
pub(crate) fn load(store: &Store, spec: &ReadSpec<'_>) -> Result<Vec<Loaded>, LoadError> {
    let consumer = store.consumer(spec.consumer)?;
    if let ConsumerStatus::Stopped { reason } = &consumer.status {
        return Err(LoadError::Gone(format!("the trigger's consumer is stopped: {reason}")));
    }
    let position = store.position(spec.table)?;
    if position.table_id != consumer.table_id {
        return Err(LoadError::Gone(format!(
            "table {} was deleted and created again; re-register the trigger to follow the new table",
            spec.table
        )));
    }
    let checkpoint = spec.after.unwrap_or(consumer.checkpoint);
    let next = checkpoint + 1;
    let limit = spec.limit.max(1);
    let batches_max = spec.batches_max.max(1);
    let raw = store.read(spec.table, next, limit.saturating_mul(batches_max))?;
    let trimmed = match raw.first() {
        Some(first) if first.seq > next => Some((next, first.seq - 1)),
        None if position.trim_horizon > next && position.high_watermark >= next => {
            Some((next, position.trim_horizon - 1))
        }
        _ => None,
    };
    let context = RecordContext {
        table_id: position.table_id,
        view_type: StreamViewType::NewAndOldImages,
        region: spec.region,
    };
    // Lambda's eventSourceARN is the table's stream ARN; a table without a DynamoDB Streams API
    // stream still has its changelog, named `changelog` here.
    let label = store.table(spec.table).ok().and_then(|t| t.spec.stream.as_ref().map(|s| s.label.clone()));
    let event_source_arn = format!(
        "arn:aws:dynamodb:{}:{}:table/{}/stream/{}",
        spec.region,
        spec.account_id,
        spec.table,
        label.as_deref().unwrap_or("changelog")
    );
    let batch = |checkpoint: u64, records: Vec<Rec>| Loaded {
        checkpoint,
        records,
        trimmed: None,
        state: None,
        event_source_arn: event_source_arn.clone(),
        table_id: position.table_id,
    };
    let mut batches: Vec<Loaded> = Vec::new();
    let mut records = Vec::with_capacity(raw.len().min(limit));
    let mut bytes = BATCH_ENVELOPE_BYTES;
    let mut group_bytes = 0;
    let mut any_matching = false;
    for record in &raw {
        let json = to_json_extended(record, context, Some(&event_source_arn));
        let matches = spec.filter.is_none_or(|f| f.matches(&json));
        let text = serde_json::to_string(&json).unwrap_or_default();
        let too_big = matches && any_matching && bytes + text.len() + 1 > spec.input_bytes_max;
        if records.len() >= limit || too_big {
            batches.push(batch(checkpoint, std::mem::take(&mut records)));
            group_bytes += bytes;
            if batches.len() >= batches_max || group_bytes >= GROUP_INPUT_BYTES_MAX {
                break;
            }
            bytes = BATCH_ENVELOPE_BYTES;
            any_matching = false;
        }
        if matches {
            bytes += text.len() + 1;
            any_matching = true;
        }
        let mut hasher = DefaultHasher::new();
        json["dynamodb"]["Keys"].to_string().hash(&mut hasher);
        records.push(Rec {
            seq: record.seq,
            hops: record.hops,
            created_at_millis: record.created_at_millis,
            json,
            text,
            matches,
            key_hash: hasher.finish(),
        });
    }
    if !records.is_empty() || batches.is_empty() {
        batches.push(batch(checkpoint, records));
    }
    // Each batch follows the checkpoint before it: the consumer's, then the last seq of the
    // batch before.
    let mut before = checkpoint;
    for loaded in &mut batches {
        loaded.checkpoint = before;
        before = loaded.records.last().map_or(before, |r| r.seq);
    }
    batches[0].trimmed = trimmed;
    if spec.after.is_none() {
        batches[0].state = consumer.state;
    }
    Ok(batches)
}

/// The batch JSON handed to the module: `{"Records":[...]}`.
pub(crate) fn batch_json<'a>(records: impl IntoIterator<Item = &'a Rec>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"Records\":[");
    for (i, record) in records.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(record.text.as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}

/// Splits records into at most `parts` groups by item key, keeping each item's records in
/// order; empty groups are left out.
pub(crate) fn split_by_key<'a>(records: &[&'a Rec], parts: usize) -> Vec<Vec<&'a Rec>> {
    let parts = parts.max(1);
    let mut groups: Vec<Vec<&Rec>> = vec![Vec::new(); parts];
    for record in records {
        groups[(record.key_hash % parts as u64) as usize].push(record);
    }
    groups.retain(|g| !g.is_empty());
    groups
}
