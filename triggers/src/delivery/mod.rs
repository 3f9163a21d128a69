//! The delivery loop: one task per trigger follows its table's high watermark, reads the batch
//! after the checkpoint, filters it, invokes the module, and commits the write-backs together
//! with the checkpoint (`Store::commit_consumer`), so each write-back is applied exactly once
//! even across crashes and retries.
//!
//! A failed batch is retried with exponential backoff, bisected if the trigger asks for it, cut
//! before the lowest failed record of a partial batch response, and after
//! `MaximumRetryAttempts` or `MaximumRecordAgeInSeconds` sent to the dead-letter table in the
//! same commit that moves the checkpoint past it. `docs/triggers.md` states the semantics.

mod batch;
pub(crate) mod dead_letter;
mod group;
mod invoke;
mod outcome;
mod overlay;
mod replay;
mod stamper;
mod window;
mod windowed;
mod writes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use eddy_core::Store;
use eddy_core::changelog::{ChangeFeed, format_sequence_number};
use eddy_streams::filter::FilterCriteria;
use tokio::sync::{Notify, mpsc};

use crate::delay::CommitStamps;
use crate::error::BatchFailure;
use crate::registry::TriggerConfig;
use crate::sandbox::CompiledModule;
use crate::status::{LogLine, LogRing, State, Status};

pub use replay::{ReplayOutcome, ReplayRequest};

use batch::ReadSpec;
use invoke::{invoke_blocking, invoke_inputs};
use outcome::{Committed, Deliver, backoff, commit, dead_letter, deliverable, failed};
use stamper::{AbortOnDrop, stamp_commits};

/// Longest chain of trigger write-backs: a change record carries how many write-backs led to
/// it, and write-backs that would carry more than this many hops fail their batch (which then
/// goes to the dead letters), so a loop A -> B -> A stops.
pub const HOPS_MAX: u32 = 8;
/// First wait before retrying a failed batch; doubles per attempt up to [`BACKOFF_MAX`].
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Longest wait between retries of a failed batch.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Wait before reading again after a storage failure.
pub const STORE_RETRY: Duration = Duration::from_millis(500);
/// While a tumbling window is open and no records come, the server clock is read this often to
/// see the window end (a `--dev-clock` can jump).
pub const WINDOW_POLL: Duration = Duration::from_millis(250);

/// A trigger's registration as it runs: the configuration and the compiled module. Replaced
/// whole when the trigger is re-registered; the task picks up the new one at its next batch.
pub(crate) struct Active {
    pub config: TriggerConfig,
    pub module: CompiledModule,
    pub filter: Option<FilterCriteria>,
    pub module_sha256: String,
    pub version: u64,
    pub created_at_millis: u64,
    pub last_modified_millis: u64,
}

/// What a trigger's task and the manager share.
pub(crate) struct Shared {
    pub name: String,
    pub consumer: String,
    pub store: Store,
    pub region: String,
    /// The account in `eventSourceARN`.
    pub account_id: String,
    pub active: RwLock<Arc<Active>>,
    pub status: Mutex<Status>,
    pub logs: Mutex<LogRing>,
    /// When the source table's high watermark moved, for the commit -> invocation delay.
    pub stamps: Mutex<CommitStamps>,
    /// Wakes the task: a new registration, enable/disable, a replay request, stopping.
    pub wake: Notify,
    pub stopping: AtomicBool,
}

impl Shared {
    pub fn active(&self) -> Arc<Active> {
        match self.active.read() {
            Ok(a) => Arc::clone(&a),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn logs(&self) -> std::sync::MutexGuard<'_, LogRing> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stamps(&self) -> std::sync::MutexGuard<'_, CommitStamps> {
        self.stamps.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Whether `active` is still the enabled registration of a task that is not stopping:
    /// otherwise the task ends what it does at the next batch.
    fn runs(&self, active: &Arc<Active>) -> bool {
        !self.stopping() && active.config.enabled && Arc::ptr_eq(&self.active(), active)
    }

    fn error(&self, message: String) {
        let now = self.store.now_millis();
        self.status().last_error = Some((message, now));
    }

    fn log_host(&self, first_seq: u64, line: String) {
        let at_millis = self.store.now_millis();
        self.logs().push(LogLine { at_millis, sequence_number: format_sequence_number(first_seq), line });
    }
}

/// Where a trigger's batch stands across attempts: reset whenever the checkpoint moves.
#[derive(Debug, Default, Clone)]
struct Retry {
    /// The first seq of the batch these attempts are about.
    first_seq: u64,
    /// The read range is cut to this many records (a partial response, a bisection, a retry
    /// of the same records).
    limit: Option<usize>,
    /// Failed attempts of this batch so far.
    attempts: u32,
    /// At most this many batches commit together (a write of a later batch was rejected).
    batches: Option<usize>,
    /// The first seq of the batch whose write-back a group's commit refused: once the batches
    /// before it have committed, it runs alone.
    refused_at: Option<u64>,
}

/// What the task does after a step.
pub(crate) enum Next {
    /// Step again at once.
    Continue,
    /// Nothing to read: wait for the high watermark to move.
    Idle,
    /// Wait this long (backoff, batching window), unless woken.
    Sleep(Duration),
    /// The trigger cannot go on; wait for a new registration.
    Fail(String),
    /// The store is shutting down.
    Stop,
}

/// Runs a trigger until the manager stops it.
pub(crate) async fn run(shared: Arc<Shared>, mut replays: mpsc::Receiver<ReplayRequest>) {
    let _stamper = AbortOnDrop(tokio::spawn(stamp_commits(Arc::clone(&shared))));
    let mut retry = Retry::default();
    let mut window_started: Option<Instant> = None;
    let mut watch: Option<(String, tokio::sync::watch::Receiver<u64>)> = None;
    loop {
        if shared.stopping() {
            return;
        }
        while let Ok(request) = replays.try_recv() {
            replay::serve(&shared, request).await;
        }
        let active = shared.active();
        let table = active.config.table_name.clone();
        if watch.as_ref().is_none_or(|(t, _)| *t != table) {
            watch = shared.store.watch(&table).ok().map(|rx| (table.clone(), rx));
        }
        if let Some((_, rx)) = watch.as_mut() {
            rx.borrow_and_update();
        }
        let next = if !active.config.enabled {
            shared.status().state = State::Disabled;
            Next::Fail(String::new())
        } else {
            {
                let mut status = shared.status();
                if status.state != State::Enabled {
                    status.state = State::Enabled;
                }
            }
            step(&shared, &active, &mut retry, &mut window_started).await
        };
        let sleep = match next {
            Next::Continue => continue,
            Next::Stop => return,
            Next::Idle => None,
            Next::Sleep(d) => Some(d),
            Next::Fail(reason) => {
                if !reason.is_empty() {
                    tracing::warn!(trigger = %shared.name, "trigger stopped: {reason}");
                    shared.error(reason);
                    shared.status().state = State::Failed;
                }
                // Only a new registration, enable/disable, a replay or stopping wakes it.
                tokio::select! {
                    () = shared.wake.notified() => {}
                    Some(request) = replays.recv() => replay::serve(&shared, request).await,
                }
                continue;
            }
        };
        let changed = async {
            match watch.as_mut() {
                Some((_, rx)) => {
                    if rx.changed().await.is_err() {
                        // The table was deleted: the next read says so.
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        let timer = async {
            match sleep {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        // A backoff is not cut short by new records, only by the timer or a wake-up.
        let retrying = sleep.is_some() && retry.attempts > 0;
        tokio::select! {
            () = changed, if !retrying => {}
            () = timer => {}
            () = shared.wake.notified() => {}
            Some(request) = replays.recv() => replay::serve(&shared, request).await,
        }
    }
}

/// Reads up to `batches_max` batches of `limit` records after `after` (`None`: the checkpoint),
/// off the async threads.
async fn load(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    after: Option<u64>,
    limit: usize,
    batches_max: usize,
) -> Result<Result<Vec<batch::Loaded>, batch::LoadError>, tokio::task::JoinError> {
    let (shared, active) = (Arc::clone(shared), Arc::clone(active));
    tokio::task::spawn_blocking(move || {
        let spec = ReadSpec {
            consumer: &shared.consumer,
            table: &active.config.table_name,
            limit,
            batches_max,
            after,
            input_bytes_max: active.module.limits().input_bytes_max,
            filter: active.filter.as_ref(),
            region: &shared.region,
            account_id: &shared.account_id,
        };
        batch::load(&shared.store, &spec)
    })
    .await
}

/// One step: read the batch after the checkpoint and deliver it (or part of it).
async fn step(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    retry: &mut Retry,
    window_started: &mut Option<Instant>,
) -> Next {
    let config = &active.config;
    let limit = retry.limit.unwrap_or(config.batch_size as usize);
    let tumbling = config.tumbling_window_in_seconds > 0;
    // Batches commit together only on the plain path: not while one is retried or cut, and not
    // with tumbling windows (one window at a time).
    let batches_max = if tumbling || retry.limit.is_some() || retry.attempts > 0 {
        1
    } else {
        let most = group::batches_max(limit);
        retry.batches.map_or(most, |b| b.min(most))
    };
    // Taken before the read: a record read as absent was not committed by this time.
    let read_at = shared.store.now_millis();
    let loaded = load(shared, active, None, limit, batches_max).await;
    let mut group = match loaded {
        Ok(Ok(group)) => group,
        Ok(Err(batch::LoadError::Gone(reason))) => return Next::Fail(reason),
        Ok(Err(batch::LoadError::Store(e))) => {
            shared.error(format!("reading the changelog failed: {e}"));
            return Next::Sleep(STORE_RETRY);
        }
        Err(e) => {
            shared.error(format!("reading the changelog failed: {e}"));
            return Next::Sleep(STORE_RETRY);
        }
    };
    let loaded = &group[0];
    if loaded.checkpoint + 1 != retry.first_seq {
        let refused_at = retry.refused_at.filter(|seq| *seq > loaded.checkpoint);
        *retry = Retry { first_seq: loaded.checkpoint + 1, refused_at, ..Retry::default() };
    }
    if retry.refused_at == Some(retry.first_seq) {
        group.truncate(1);
    }
    let loaded = &group[0];
    if let Some((from, to)) = loaded.trimmed {
        let message = format!(
            "records {} to {} expired from the changelog (retention) before the trigger processed them",
            format_sequence_number(from),
            format_sequence_number(to)
        );
        tracing::error!(trigger = %shared.name, "{message}");
        shared.log_host(from, format!("eddy: {message}"));
        shared.error(message);
    }
    if loaded.records.is_empty() {
        *window_started = None;
        if tumbling {
            return windowed::windowed(shared, active, loaded, retry, limit, read_at).await;
        }
        return Next::Idle;
    }

    let window = Duration::from_secs(u64::from(config.maximum_batching_window_in_seconds));
    if !window.is_zero() && loaded.records.len() < limit && retry.limit.is_none() {
        let started = *window_started.get_or_insert_with(Instant::now);
        if let Some(left) = window.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) {
            return Next::Sleep(left);
        }
    }
    *window_started = None;
    // A batching window lets a partial batch wait; only the first goes before it has passed.
    if !window.is_zero() && group.len() > 1 && group.last().is_some_and(|b| b.records.len() < limit) {
        group.pop();
    }
    let loaded = &group[0];

    if config.maximum_record_age_in_seconds >= 0 {
        let max_millis = config.maximum_record_age_in_seconds as u64 * 1000;
        let now = shared.store.now_millis();
        let expired = loaded
            .records
            .iter()
            .take_while(|r| now.saturating_sub(r.created_at_millis) > max_millis)
            .count();
        if expired > 0 {
            let oldest = &loaded.records[0];
            let failure = BatchFailure::RecordTooOld {
                age_seconds: now.saturating_sub(oldest.created_at_millis) / 1000,
                max_seconds: max_millis / 1000,
            };
            let range = &loaded.records[..expired];
            return dead_letter(shared, active, range, &failure, retry.attempts).await;
        }
    }

    if tumbling {
        return windowed::windowed(shared, active, loaded, retry, limit, read_at).await;
    }
    let pipeline = group::Pipeline {
        enabled: window.is_zero()
            && retry.limit.is_none()
            && retry.attempts == 0
            && retry.batches.is_none()
            && retry.refused_at.is_none(),
        limit,
        batches_max,
    };
    group::deliver(shared, active, group, retry, pipeline).await
}
