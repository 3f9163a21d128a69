//! The pull loop: one task per connector. It checks the sink, exports the table's items first
//! when the connector starts with a snapshot, then follows the changelog: read the batch after
//! the checkpoint (bounded by `MaxRecords`, `MaxBytes` and `FlushIntervalMillis`), record its
//! seq range as the plan, hand it to the sink, and only after the sink said it is durable move
//! the checkpoint (`Store::commit_consumer` with no writes), together with the connector's
//! [`Progress`], whose totals count the batch in the same commit. So every record reaches the
//! sink at least once, a sink with idempotent writes keyed by seq sees the same batches again
//! after a crash, never different ones, and the totals count each record once.
//!
//! A transient sink failure is retried with exponential backoff and jitter, bounded by the
//! retry policy; the batch stays in memory and the loop sleeps, so it neither spins nor skips.
//! Each failed attempt commits the failure count and the error, checkpoint unchanged.
//! A permanent failure (or exhausted attempts) stops the task with the connector FAILED; the
//! checkpoint stays where it was and a restart resumes from it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_core::Store;
use eddy_core::changelog::{ChangeFeed, format_sequence_number};
use tokio::sync::watch;

use crate::batch::{LoadError, load};
use crate::config::ConnectorConfig;
use crate::error::ConnectorError;
use crate::progress::{Committed, LastError, Plan, Progress};
use crate::sink::{Batch, Sink, SinkError, SnapshotPart};
use crate::snapshot::snapshot_step;
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

    pub(crate) fn error(&self, message: String) {
        let now = self.store.now_millis();
        self.status().last_error = Some(LastError::new(message, now));
    }

    fn fail(&self, reason: String) {
        tracing::warn!(connector = %self.name, "connector failed: {reason}");
        let now = self.store.now_millis();
        let mut status = self.status();
        status.state = State::Failed;
        status.last_error = Some(LastError::new(reason, now));
    }

    /// Resolves when the manager asks the task to stop.
    pub(crate) async fn stopped(&self) {
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
pub(crate) enum Next {
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
    let mut committed = {
        let (store, name) = (shared.store.clone(), shared.name.clone());
        match tokio::task::spawn_blocking(move || Progress::load(&store, &name)).await {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => return shared.fail(checkpoint_gone(&shared.consumer)),
            Ok(Err(e)) => return shared.fail(e.to_string()),
            Err(e) => return shared.fail(format!("reading the connector's progress failed: {e}")),
        }
    };
    let sink = match &active.sink {
        Ok(sink) => Arc::clone(sink),
        Err(reason) => return fail(&shared, &mut committed, reason.clone()).await,
    };
    match check(&shared, sink.as_ref()).await {
        Next::Continue => {}
        Next::Fail(reason) => return fail(&shared, &mut committed, reason).await,
        _ => return,
    }
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
        let next = if committed.progress.snapshot.is_some() {
            shared.status().phase = Phase::Snapshot;
            snapshot_step(&shared, sink.as_ref(), &mut committed).await
        } else {
            shared.status().phase = Phase::Stream;
            stream_step(&shared, sink.as_ref(), &mut committed, &mut window).await
        };
        match next {
            Next::Continue => {}
            Next::Stop => return,
            Next::Fail(reason) => return fail(&shared, &mut committed, reason).await,
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

pub(crate) fn checkpoint_gone(consumer: &str) -> String {
    format!("the connector's checkpoint (consumer {consumer}) was deleted")
}

/// Makes the connector FAILED with `reason` and commits the reason with its progress.
async fn fail(shared: &Shared, committed: &mut Committed, reason: String) {
    shared.fail(reason);
    record_failure(shared, committed).await;
}

/// Commits `next` as the connector's progress with the checkpoint at `checkpoint`, taking the
/// failure count and the last error from the status; once committed, `committed` holds it and
/// the status shows its totals.
pub(crate) async fn commit(
    shared: &Shared,
    committed: &mut Committed,
    checkpoint: u64,
    mut next: Progress,
) -> Result<(), ConnectorError> {
    {
        let status = shared.status();
        next.totals.failures = status.totals.failures;
        next.last_error = status.last_error.clone();
    }
    next.commit(&shared.store, &shared.name, checkpoint).await?;
    shared.status().totals = next.totals;
    *committed = Committed { checkpoint, progress: next };
    Ok(())
}

/// Commits the status's failure count and last error, checkpoint unchanged. A failure that
/// cannot be recorded (the checkpoint or the table is gone, the store is stopping) is only
/// logged: the figures stay right in memory, and the connector is failing anyway.
async fn record_failure(shared: &Shared, committed: &mut Committed) {
    let (checkpoint, progress) = (committed.checkpoint, committed.progress.clone());
    if let Err(e) = commit(shared, committed, checkpoint, progress).await {
        tracing::debug!(connector = %shared.name, "recording the connector's failure failed: {e}");
    }
}

/// Checks the sink (bucket, credentials) before the first batch, retrying transient failures:
/// `Continue` once it passed, else `Fail` or `Stop`.
async fn check(shared: &Shared, sink: &dyn Sink) -> Next {
    let retry = shared.active.config.retry;
    let mut attempts = 0;
    loop {
        let result = tokio::select! {
            r = sink.check() => r,
            () = shared.stopped() => return Next::Stop,
        };
        match result {
            Ok(()) => {
                shared.status().attempts = 0;
                return Next::Continue;
            }
            Err(SinkError::Permanent(m)) => {
                return Next::Fail(format!("the sink refused the configuration: {m}"));
            }
            Err(e) => {
                attempts += 1;
                let message = format!("checking the sink failed (attempt {attempts}): {e}");
                if retry.attempts_max > 0 && attempts >= retry.attempts_max {
                    return Next::Fail(format!("{message}; gave up after {attempts} attempts"));
                }
                shared.status().attempts = attempts;
                shared.error(message);
                if !shared.sleep(retry.backoff(attempts, jitter())).await {
                    return Next::Stop;
                }
            }
        }
    }
}

/// Hands `batch` to the sink until it takes it, backing off between transient failures (each
/// one counted and committed with the progress, checkpoint unchanged).
pub(crate) async fn deliver(
    shared: &Shared,
    sink: &dyn Sink,
    batch: &Batch,
    part: Option<SnapshotPart>,
    committed: &mut Committed,
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
            status.totals.failures += 1;
            status.attempts = attempts;
        }
        if retry.attempts_max > 0 && attempts >= retry.attempts_max {
            return Err(Next::Fail(format!("{message}; gave up after {attempts} attempts")));
        }
        tracing::info!(connector = %shared.name, "{message}; retrying");
        shared.error(message);
        record_failure(shared, committed).await;
        if !shared.sleep(retry.backoff(attempts, jitter())).await {
            return Err(Next::Stop);
        }
    }
}

async fn stream_step(
    shared: &Arc<Shared>,
    sink: &dyn Sink,
    committed: &mut Committed,
    window: &mut Option<Instant>,
) -> Next {
    let config = &shared.active.config;
    let loaded = {
        let shared = Arc::clone(shared);
        let plan = committed.progress.plan;
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
    if committed.progress.plan != Some(plan) {
        // Durable before the sink sees the batch: after a crash the same range is read again.
        let mut next = committed.progress.clone();
        next.plan = Some(plan);
        if let Err(e) = commit(shared, committed, loaded.checkpoint, next).await {
            return store_failed(shared, "recording the batch's range", e);
        }
    }
    if let Err(next) = deliver(shared, sink, &loaded.batch, None, committed).await {
        return next;
    }
    // The checkpoint and the totals move in one commit: after a crash before it, the batch is
    // written again and counted once.
    let mut next = committed.progress.clone();
    next.plan = None;
    next.totals.add_batch(loaded.batch.records.len(), loaded.bytes, shared.store.now_millis());
    if let Err(e) = commit(shared, committed, last, next).await {
        return store_failed(shared, "moving the checkpoint", e);
    }
    Next::Continue
}

pub(crate) fn store_failed(shared: &Shared, what: &str, e: ConnectorError) -> Next {
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

/// A number in `[0, 1)` for backoff jitter, from the standard library's per-process random
/// hash keys (no clock reads in the result's distribution beyond the seed).
pub(crate) fn jitter() -> f64 {
    use std::hash::BuildHasher as _;
    let h = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[path = "pull_tests.rs"]
mod tests;
