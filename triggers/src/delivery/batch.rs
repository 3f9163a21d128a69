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
    pub limit: usize,
    pub input_bytes_max: usize,
    pub filter: Option<&'a FilterCriteria>,
    pub region: &'a str,
    pub account_id: &'a str,
}

/// Reads up to `limit` records after the consumer's checkpoint. The matching records stop
/// before the one that would take the batch JSON past `input_bytes_max` (the first always
/// goes, so an oversized record fails its invocation visibly instead of being skipped).
pub(crate) fn load(store: &Store, spec: &ReadSpec<'_>) -> Result<Loaded, LoadError> {
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
    let next = consumer.next_seq();
    let raw = store.read(spec.table, next, spec.limit.max(1))?;
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
    let mut records = Vec::with_capacity(raw.len());
    let mut bytes = BATCH_ENVELOPE_BYTES;
    let mut any_matching = false;
    for record in &raw {
        let json = to_json_extended(record, context, Some(&event_source_arn));
        let matches = spec.filter.is_none_or(|f| f.matches(&json));
        let text = serde_json::to_string(&json).unwrap_or_default();
        if matches {
            if any_matching && bytes + text.len() + 1 > spec.input_bytes_max {
                break;
            }
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
    Ok(Loaded {
        checkpoint: consumer.checkpoint,
        records,
        trimmed,
        state: consumer.state,
        event_source_arn,
        table_id: position.table_id,
    })
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
