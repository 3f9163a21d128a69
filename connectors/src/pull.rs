//! The pull loop: one task per connector. It checks the sink, exports the table's items first
//! when the connector starts with a snapshot, then follows the changelog: read the batch after
//! the checkpoint (bounded by `MaxRecords`, `MaxBytes` and `FlushIntervalMillis`), record its
//! seq range as the plan, hand it to the sink, and only after the sink said it is durable move
//! the checkpoint (`Store::commit_consumer` with no writes). So every record reaches the sink
//! at least once, and a sink with idempotent writes keyed by seq sees the same batches again
//! after a crash, never different ones.
//!
//! A transient sink failure is retried with exponential backoff and jitter, bounded by the
//! retry policy; the batch stays in memory and the loop sleeps, so it neither spins nor skips.
//! A permanent failure (or exhausted attempts) stops the task with the connector FAILED; the
//! checkpoint stays where it was and a restart resumes from it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_core::Store;
use eddy_core::changelog::{ChangeEvent, ChangeFeed, ChangeRecord, format_sequence_number};
use eddy_core::schema::StreamViewType;
use eddy_core::store::{ConsumerCommit, ConsumerStatus, ReadOptions};
use eddy_streams::record::{RecordContext, to_json_extended};
use tokio::sync::watch;

use crate::config::ConnectorConfig;
use crate::error::ConnectorError;
use crate::progress::{Plan, Progress};
use crate::sink::{Batch, Sink, SinkError, SnapshotPart};
use crate::status::{Phase, State, Status};

/// Records read from the changelog per call while filling a batch.
pub const READ_CHUNK_RECORDS: usize = 1000;
/// Wait before trying again after the table store failed a read or a checkpoint.
pub const STORE_RETRY: Duration = Duration::from_millis(500);

/// A connector's configuration as its task runs it. A change (new configuration, pause,
/// resume, restart) replaces the task.
pub(crate) struct Active {
    pub config: ConnectorConfig,
    /// The sink, or why it could not be built from the stored settings.
    pub sink: Result<Arc<dyn Sink>, String>,
    pub paused: bool,
    pub version: u64,
    pub created_at_millis: u64,
    pub last_modified_millis: u64,
}

/// What a connector's task and the manager share.
pub(crate) struct Shared {
    pub name: String,
    pub consumer: String,
    pub store: Store,
    pub region: String,
    pub active: Arc<Active>,
    pub status: Mutex<Status>,
    /// Turns true to stop the task (it stops at its next wait, or cancels a sink write in
    /// flight: every write is idempotent, so that is safe).
    pub stop: watch::Sender<bool>,
    pub stopping: AtomicBool,
}

impl Shared {
    pub fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    fn error(&self, message: String) {
        let now = self.store.now_millis();
        self.status().last_error = Some((message, now));
    }

    fn fail(&self, reason: String) {
        tracing::warn!(connector = %self.name, "connector failed: {reason}");
        let now = self.store.now_millis();
        let mut status = self.status();
        status.state = State::Failed;
        status.last_error = Some((reason, now));
    }

    /// Resolves when the manager asks the task to stop.
    async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Sleeps `d` unless stopped first; false when stopped.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => !self.stopping(),
            () = self.stopped() => false,
        }
    }
}

/// What the task does after a step.
enum Next {
    /// Step again at once.
    Continue,
    /// Nothing to read: wait for the high watermark to move.
    Idle,
    /// Wait this long (flush interval, store trouble).
    Sleep(Duration),
    /// The connector cannot go on: FAILED with this reason.
    Fail(String),
    /// Stopping.
    Stop,
}

/// Runs a connector until it is stopped, paused or failed.
pub(crate) async fn run(shared: Arc<Shared>) {
    let active = Arc::clone(&shared.active);
    if active.paused {
        shared.status().state = State::Paused;
        return;
    }
    shared.status().state = State::Running;
    let sink = match &active.sink {
        Ok(sink) => Arc::clone(sink),
        Err(reason) => return shared.fail(reason.clone()),
    };
    if !check(&shared, sink.as_ref()).await {
        return;
    }
    let mut progress = {
        let (store, name) = (shared.store.clone(), shared.name.clone());
        match tokio::task::spawn_blocking(move || Progress::load(&store, &name)).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return shared.fail(e.to_string()),
            Err(e) => return shared.fail(format!("reading the connector's progress failed: {e}")),
        }
    };
    let table = active.config.table_name.clone();
    let mut watch = shared.store.watch(&table).ok();
    let mut window: Option<Instant> = None;
    loop {
        if shared.stopping() {
            return;
        }
        if let Some(rx) = watch.as_mut() {
            rx.borrow_and_update();
        }
        let next = if progress.snapshot.is_some() {
            shared.status().phase = Phase::Snapshot;
            snapshot_step(&shared, sink.as_ref(), &mut progress).await
        } else {
            shared.status().phase = Phase::Stream;
            stream_step(&shared, sink.as_ref(), &mut progress, &mut window).await
        };
        match next {
            Next::Continue => {}
            Next::Stop => return,
            Next::Fail(reason) => return shared.fail(reason),
            Next::Sleep(d) => {
                if !shared.sleep(d).await {
                    return;
                }
            }
            Next::Idle => {
                let changed = async {
                    match watch.as_mut() {
                        Some(rx) => {
                            if rx.changed().await.is_err() {
                                // The table was deleted: the next read says so.
                                tokio::time::sleep(STORE_RETRY).await;
                            }
                        }
                        None => tokio::time::sleep(STORE_RETRY).await,
                    }
                };
                tokio::select! {
                    () = changed => {}
                    () = shared.stopped() => return,
                }
            }
        }
    }
}

/// Checks the sink (bucket, credentials) before the first batch, retrying transient failures.
async fn check(shared: &Shared, sink: &dyn Sink) -> bool {
    let retry = shared.active.config.retry;
    let mut attempts = 0;
    loop {
        let result = tokio::select! {
            r = sink.check() => r,
            () = shared.stopped() => return false,
        };
        match result {
            Ok(()) => {
                shared.status().attempts = 0;
                return true;
            }
            Err(SinkError::Permanent(m)) => {
                shared.fail(format!("the sink refused the configuration: {m}"));
                return false;
            }
            Err(e) => {
                attempts += 1;
                let message = format!("checking the sink failed (attempt {attempts}): {e}");
                if retry.attempts_max > 0 && attempts >= retry.attempts_max {
                    shared.fail(format!("{message}; gave up after {attempts} attempts"));
                    return false;
                }
                shared.status().attempts = attempts;
                shared.error(message);
                if !shared.sleep(retry.backoff(attempts, jitter())).await {
                    return false;
                }
            }
        }
    }
}

/// Hands `batch` to the sink until it takes it, backing off between transient failures.
async fn deliver(
    shared: &Shared,
    sink: &dyn Sink,
    batch: &Batch,
    part: Option<SnapshotPart>,
) -> Result<(), Next> {
    let retry = shared.active.config.retry;
    let mut attempts = 0;
    let (first, last) = batch.range().unwrap_or_default();
    loop {
        let write = async {
            match part {
                Some(part) => sink.write_snapshot(part, batch).await,
                None => sink.write(batch).await,
            }
        };
        let result = tokio::select! {
            r = write => r,
            () = shared.stopped() => return Err(Next::Stop),
        };
        let what = match part {
            Some(p) => format!("snapshot part {} ({} items)", p.part, batch.records.len()),
            None => format!(
                "batch {}..{} ({} records)",
                format_sequence_number(first),
                format_sequence_number(last),
                batch.records.len()
            ),
        };
        let error = match result {
            Ok(()) => {
                shared.status().attempts = 0;
                return Ok(());
            }
            Err(SinkError::Permanent(m)) => return Err(Next::Fail(format!("{what}: {m}"))),
            Err(e) => e,
        };
        attempts += 1;
        let message = format!("{what}, attempt {attempts}: {error}");
        {
            let mut status = shared.status();
            status.failures += 1;
            status.attempts = attempts;
        }
        if retry.attempts_max > 0 && attempts >= retry.attempts_max {
            return Err(Next::Fail(format!("{message}; gave up after {attempts} attempts")));
        }
        tracing::info!(connector = %shared.name, "{message}; retrying");
        shared.error(message);
        if !shared.sleep(retry.backoff(attempts, jitter())).await {
            return Err(Next::Stop);
        }
    }
}

/// A batch read from the changelog.
struct Loaded {
    batch: Batch,
    bytes: usize,
    /// A bound (records or bytes) cut the batch: flush now.
    full: bool,
    /// Records the checkpoint never passed that retention removed: (from, to).
    trimmed: Option<(u64, u64)>,
}

enum LoadError {
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
fn load(
    store: &Store,
    consumer_name: &str,
    config: &ConnectorConfig,
    region: &str,
    plan: Option<Plan>,
) -> Result<Loaded, LoadError> {
    let consumer = match store.consumer(consumer_name) {
        Ok(c) => c,
        Err(eddy_core::Error::ResourceNotFound { .. }) => {
            return Err(LoadError::Gone(format!(
                "the connector's checkpoint (consumer {consumer_name}) was deleted"
            )));
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
    Ok(Loaded { batch, bytes, full: full || plan.is_some(), trimmed })
}

async fn stream_step(
    shared: &Arc<Shared>,
    sink: &dyn Sink,
    progress: &mut Progress,
    window: &mut Option<Instant>,
) -> Next {
    let config = &shared.active.config;
    let loaded = {
        let shared = Arc::clone(shared);
        let plan = progress.plan;
        tokio::task::spawn_blocking(move || {
            load(&shared.store, &shared.consumer, &shared.active.config, &shared.region, plan)
        })
        .await
    };
    let loaded = match loaded {
        Ok(Ok(l)) => l,
        Ok(Err(LoadError::Gone(reason))) => return Next::Fail(reason),
        Ok(Err(LoadError::Store(e))) => {
            shared.error(format!("reading the changelog failed: {e}"));
            return Next::Sleep(STORE_RETRY);
        }
        Err(e) => {
            shared.error(format!("reading the changelog failed: {e}"));
            return Next::Sleep(STORE_RETRY);
        }
    };
    if let Some((from, to)) = loaded.trimmed {
        let message = format!(
            "records {} to {} expired from the changelog (retention) before the connector exported them",
            format_sequence_number(from),
            format_sequence_number(to)
        );
        tracing::error!(connector = %shared.name, "{message}");
        shared.error(message);
    }
    let Some((first, last)) = loaded.batch.range() else {
        *window = None;
        return Next::Idle;
    };
    if !loaded.full && !config.batch.flush_interval.is_zero() {
        let started = *window.get_or_insert_with(Instant::now);
        if let Some(left) =
            config.batch.flush_interval.checked_sub(started.elapsed()).filter(|d| !d.is_zero())
        {
            return Next::Sleep(left);
        }
    }
    *window = None;
    let plan = Plan { first, last };
    if progress.plan != Some(plan) {
        // Durable before the sink sees the batch: after a crash the same range is read again.
        let mut next = progress.clone();
        next.plan = Some(plan);
        if let Err(e) = next.save(&shared.store, &shared.name).await {
            return store_failed(shared, "recording the batch's range", e);
        }
        *progress = next;
    }
    if let Err(next) = deliver(shared, sink, &loaded.batch, None).await {
        return next;
    }
    let commit =
        ConsumerCommit { name: shared.consumer.clone(), checkpoint: last, writes: Vec::new(), state: None };
    match shared.store.commit_consumer(commit).await {
        Ok(_) => {}
        Err(e) => return store_failed(shared, "moving the checkpoint", ConnectorError::Store(e)),
    }
    exported(shared, loaded.batch.records.len(), loaded.bytes);
    Next::Continue
}

fn exported(shared: &Shared, records: usize, bytes: usize) {
    let now = shared.store.now_millis();
    let mut status = shared.status();
    status.records_exported += records as u64;
    status.bytes_exported += bytes as u64;
    status.batches_exported += 1;
    status.last_exported_millis = Some(now);
}

fn store_failed(shared: &Shared, what: &str, e: ConnectorError) -> Next {
    match e {
        ConnectorError::Store(eddy_core::Error::Unavailable { .. }) | ConnectorError::Stopping => Next::Stop,
        ConnectorError::Store(eddy_core::Error::ResourceNotFound { message }) => {
            Next::Fail(format!("{what}: {message}"))
        }
        e => {
            shared.error(format!("{what} failed: {e}"));
            Next::Sleep(STORE_RETRY)
        }
    }
}

/// One part of a snapshot: a scan page after the cursor, as INSERT records carrying the
/// snapshot's seq, written as part `part`; then the cursor moves past it, durably.
async fn snapshot_step(shared: &Arc<Shared>, sink: &dyn Sink, progress: &mut Progress) -> Next {
    let Some(snapshot) = progress.snapshot.clone() else { return Next::Continue };
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
        if let Err(next) = deliver(shared, sink, &batch, Some(part)).await {
            return next;
        }
    }
    let mut next = progress.clone();
    match (done, last_key) {
        (false, Some(key)) => {
            let mut advanced = snapshot;
            advanced.part += 1;
            advanced.set_cursor(&key);
            next.snapshot = Some(advanced);
        }
        _ => next.snapshot = None,
    }
    if let Err(e) = next.save(&shared.store, &shared.name).await {
        return store_failed(shared, "recording the snapshot's progress", e);
    }
    *progress = next;
    if !batch.records.is_empty() {
        exported(shared, batch.records.len(), bytes);
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
    snapshot: &crate::progress::SnapshotState,
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

/// A number in `[0, 1)` for backoff jitter, from the standard library's per-process random
/// hash keys (no clock reads in the result's distribution beyond the seed).
fn jitter() -> f64 {
    use std::hash::BuildHasher as _;
    let h = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[path = "pull_tests.rs"]
mod tests;
