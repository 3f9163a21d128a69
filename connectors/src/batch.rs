//! Reading the batch after a connector's checkpoint from the changelog: exactly the planned
//! range when a plan starts there (so a batch cut before a crash is cut the same way after it),
//! otherwise up to the batch bounds (`MaxRecords`, `MaxBytes`), each record with its DynamoDB
//! Streams JSON.

use eddy_core::Store;
use eddy_core::changelog::ChangeFeed;
use eddy_core::schema::StreamViewType;
use eddy_core::store::ConsumerStatus;
use eddy_streams::record::{RecordContext, to_json_extended};

use crate::config::ConnectorConfig;
use crate::progress::Plan;
use crate::pull::READ_CHUNK_RECORDS;
use crate::sink::Batch;

/// A batch read from the changelog.
pub(crate) struct Loaded {
    pub batch: Batch,
    pub bytes: usize,
    /// A bound (records or bytes) cut the batch: flush now.
    pub full: bool,
    /// Records the checkpoint never passed that retention removed: (from, to).
    pub trimmed: Option<(u64, u64)>,
    /// The consumer's checkpoint when the batch was read.
    pub checkpoint: u64,
}

pub(crate) enum LoadError {
    /// The connector cannot read its table any more.
    Gone(String),
    Store(eddy_core::Error),
}

impl From<eddy_core::Error> for LoadError {
    fn from(e: eddy_core::Error) -> Self {
        LoadError::Store(e)
    }
}

/// Reads the batch after the checkpoint: exactly `plan` when it starts there, otherwise up to
/// the batch bounds.
pub(crate) fn load(
    store: &Store,
    consumer_name: &str,
    config: &ConnectorConfig,
    region: &str,
    plan: Option<Plan>,
) -> Result<Loaded, LoadError> {
    let consumer = match store.consumer(consumer_name) {
        Ok(c) => c,
        Err(eddy_core::Error::ResourceNotFound { .. }) => {
            return Err(LoadError::Gone(crate::pull::checkpoint_gone(consumer_name)));
        }
        Err(e) => return Err(e.into()),
    };
    if let ConsumerStatus::Stopped { reason } = &consumer.status {
        return Err(LoadError::Gone(format!("table {} can no longer be read: {reason}", consumer.table)));
    }
    let table = &config.table_name;
    let meta = store.table(table)?;
    let position = store.position(table)?;
    if meta.id != consumer.table_id || position.table_id != consumer.table_id {
        return Err(LoadError::Gone(format!(
            "table {table} was deleted and created again; the checkpoint belongs to the old table"
        )));
    }
    let from = consumer.next_seq();
    let trimmed = (position.trim_horizon > from).then(|| (from, position.trim_horizon - 1));
    let plan = plan.filter(|p| p.first == from && trimmed.is_none() && p.last >= p.first);
    let context = RecordContext { table_id: meta.id, view_type: StreamViewType::NewAndOldImages, region };
    let policy = config.batch;
    let mut records = Vec::new();
    let mut records_json = Vec::new();
    let mut bytes = 0usize;
    let mut full = false;
    let mut next = from;
    'read: loop {
        let want = match plan {
            Some(p) => (p.last + 1 - next).min(READ_CHUNK_RECORDS as u64) as usize,
            None => (policy.records_max - records.len()).min(READ_CHUNK_RECORDS),
        };
        if want == 0 {
            break;
        }
        let chunk = store.read(table, next, want)?;
        let got = chunk.len();
        for record in chunk {
            if plan.is_some_and(|p| record.seq > p.last) {
                break 'read;
            }
            let json = to_json_extended(&record, context, None);
            let size = serde_json::to_vec(&json).map_or(0, |v| v.len()) + 1;
            if plan.is_none() && !records.is_empty() && bytes + size > policy.bytes_max {
                full = true;
                break 'read;
            }
            next = record.seq + 1;
            bytes += size;
            records.push(record);
            records_json.push(json);
        }
        if got < want {
            break;
        }
        if plan.is_none() && records.len() >= policy.records_max {
            full = true;
            break;
        }
    }
    let batch = Batch {
        table: table.clone(),
        key_attributes: meta.spec.key_schema.attribute_names().map(str::to_string).collect(),
        records,
        records_json,
    };
    Ok(Loaded { batch, bytes, full: full || plan.is_some(), trimmed, checkpoint: consumer.checkpoint })
}
