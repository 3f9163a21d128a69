//! `Start: snapshot`: the table's items exported in parts before the connector follows the
//! changelog. Each part is one scan page after the stored cursor, written as INSERT records
//! that carry the snapshot's seq; the cursor, the part number and the totals then move in one
//! commit, so after a crash the part in flight is scanned again from the same position and
//! written under the same number.

use std::sync::Arc;

use eddy_core::changelog::{ChangeEvent, ChangeRecord};
use eddy_core::schema::StreamViewType;
use eddy_core::store::ReadOptions;
use eddy_streams::record::{RecordContext, to_json_extended};

use crate::error::ConnectorError;
use crate::progress::{Committed, SnapshotState};
use crate::pull::{Next, STORE_RETRY, Shared, commit, deliver, store_failed};
use crate::sink::{Batch, Sink, SnapshotPart};

/// One part of a snapshot: a scan page after the cursor, as INSERT records carrying the
/// snapshot's seq, written as part `part`; then the cursor moves past it and the totals count
/// the part, in one commit.
pub(crate) async fn snapshot_step(shared: &Arc<Shared>, sink: &dyn Sink, committed: &mut Committed) -> Next {
    let Some(snapshot) = committed.progress.snapshot.clone() else { return Next::Continue };
    let page = {
        let shared = Arc::clone(shared);
        let snapshot = snapshot.clone();
        tokio::task::spawn_blocking(move || scan_part(&shared, &snapshot)).await
    };
    let (batch, bytes, last_key, done) = match page {
        Ok(Ok(p)) => p,
        Ok(Err(ScanError::Gone(reason))) => return Next::Fail(reason),
        Ok(Err(ScanError::Store(e))) => {
            return store_failed(shared, "scanning the table", ConnectorError::Store(e));
        }
        Err(e) => {
            shared.error(format!("scanning the table failed: {e}"));
            return Next::Sleep(STORE_RETRY);
        }
    };
    if !batch.records.is_empty() {
        let part = SnapshotPart { seq: snapshot.seq, part: snapshot.part };
        if let Err(next) = deliver(shared, sink, &batch, Some(part), committed).await {
            return next;
        }
    }
    let mut next = committed.progress.clone();
    match (done, last_key) {
        (false, Some(key)) => {
            let mut advanced = snapshot;
            advanced.part += 1;
            advanced.set_cursor(&key);
            next.snapshot = Some(advanced);
        }
        _ => next.snapshot = None,
    }
    if !batch.records.is_empty() {
        next.totals.add_batch(batch.records.len(), bytes, shared.store.now_millis());
    }
    // The checkpoint stays at the snapshot's seq until the scan is done.
    let checkpoint = committed.checkpoint;
    if let Err(e) = commit(shared, committed, checkpoint, next).await {
        return store_failed(shared, "recording the snapshot's progress", e);
    }
    Next::Continue
}

enum ScanError {
    Gone(String),
    Store(eddy_core::Error),
}

/// Scans the page after the snapshot's cursor: the batch, its bytes, the last item's key, and
/// whether the table has no more items.
fn scan_part(
    shared: &Shared,
    snapshot: &SnapshotState,
) -> Result<(Batch, usize, Option<eddy_core::Item>, bool), ScanError> {
    let config = &shared.active.config;
    let table = &config.table_name;
    let meta = match shared.store.table(table) {
        Ok(m) => m,
        Err(eddy_core::Error::ResourceNotFound { .. }) => {
            return Err(ScanError::Gone(format!("table {table} was deleted during the snapshot")));
        }
        Err(e) => return Err(ScanError::Store(e)),
    };
    let cursor = snapshot
        .cursor_item()
        .map_err(|e| ScanError::Gone(format!("the snapshot's stored scan position is corrupt: {e}")))?;
    let options = ReadOptions {
        limit: Some(config.batch.records_max),
        exclusive_start: cursor,
        ..ReadOptions::default()
    };
    let page = shared.store.scan(table, None, &options, None).map_err(ScanError::Store)?;
    let key_names: Vec<String> = meta.spec.key_schema.attribute_names().map(str::to_string).collect();
    let context = RecordContext {
        table_id: meta.id,
        view_type: StreamViewType::NewAndOldImages,
        region: &shared.region,
    };
    let evaluated = page.items.len();
    let mut records = Vec::new();
    let mut records_json = Vec::new();
    let mut bytes = 0usize;
    for item in page.items {
        let keys: eddy_core::Item =
            key_names.iter().filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone()))).collect();
        let record = ChangeRecord {
            seq: snapshot.seq,
            event: ChangeEvent::Insert,
            keys,
            old: None,
            new: Some(item),
            created_at_millis: snapshot.taken_at_millis,
            transaction_id: None,
            hops: 0,
        };
        let mut json = to_json_extended(&record, context, None);
        json["eddy"] = serde_json::json!({ "Snapshot": true });
        let size = serde_json::to_vec(&json).map_or(0, |v| v.len()) + 1;
        if !records.is_empty() && bytes + size > config.batch.bytes_max {
            break;
        }
        bytes += size;
        records.push(record);
        records_json.push(json);
    }
    let cut = records.len() < evaluated;
    let last_key = records.last().map(|r| r.keys.clone());
    let done = !cut && page.last_evaluated_key.is_none();
    let batch = Batch { table: table.clone(), key_attributes: key_names, records, records_json };
    Ok((batch, bytes, last_key, done))
}
