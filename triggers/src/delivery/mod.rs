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
mod overlay;
mod replay;
mod window;
mod writes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use eddy_core::Store;
use eddy_core::changelog::{ChangeFeed, format_sequence_number, parse_sequence_number};
use eddy_core::store::{ConsumerCommit, ItemWrite};
use eddy_streams::filter::FilterCriteria;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use crate::delay::CommitStamps;
use crate::error::BatchFailure;
use crate::registry::TriggerConfig;
use crate::sandbox::{CompiledModule, HostReader, Invocation, InvocationError};
use crate::status::{LogLine, LogRing, State, Status};

pub use replay::{ReplayOutcome, ReplayRequest};

use batch::{Loaded, ReadSpec, Rec};
use window::OpenWindow;

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

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often the stamping task looks whether the trigger moved to another table or stops.
const STAMPER_RECHECK: Duration = Duration::from_secs(1);

/// Stamps each move of the source table's high watermark as it happens, on a task of its own
/// so that a busy delivery task does not delay the stamps.
async fn stamp_commits(shared: Arc<Shared>) {
    while !shared.stopping() {
        let table = shared.active().config.table_name.clone();
        let Ok(mut rx) = shared.store.watch(&table) else {
            tokio::time::sleep(STAMPER_RECHECK).await;
            continue;
        };
        *shared.stamps() = CommitStamps::starting_at(*rx.borrow_and_update());
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let high_watermark = *rx.borrow_and_update();
                    shared.stamps().stamp(high_watermark, Instant::now());
                }
                () = tokio::time::sleep(STAMPER_RECHECK) => {
                    if shared.stopping() || shared.active().config.table_name != table {
                        break;
                    }
                }
            }
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
            return windowed(shared, active, loaded, retry, limit, read_at).await;
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
        return windowed(shared, active, loaded, retry, limit, read_at).await;
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

/// A step of a trigger with tumbling windows: closes the open window when the next record
/// belongs to a later one or, with no records, once its end has passed by the server clock;
/// otherwise delivers the records of the first record's window (never two windows at once).
async fn windowed(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    loaded: &Loaded,
    retry: &mut Retry,
    limit: usize,
    read_at: u64,
) -> Next {
    let length = u64::from(active.config.tumbling_window_in_seconds);
    let open = OpenWindow::decode(loaded.state.as_deref());
    let first_start = loaded.records.first().map(|r| window::start_of(r.created_at_millis, length));
    let part = |records: &[Rec]| Loaded {
        checkpoint: loaded.checkpoint,
        records: records.to_vec(),
        trimmed: None,
        state: None,
        event_source_arn: loaded.event_source_arn.clone(),
        table_id: loaded.table_id,
    };
    if let Some(open) = &open {
        let end_millis = open.end.saturating_mul(1000);
        match first_start {
            // The window's final invocation, with no records left.
            Some(start) if start != open.start => {
                return deliver_window(shared, active, &part(&[]), retry, open.clone(), true).await;
            }
            None if read_at >= end_millis => {
                return deliver_window(shared, active, &part(&[]), retry, open.clone(), true).await;
            }
            None => return Next::Sleep(Duration::from_millis(end_millis - read_at).min(WINDOW_POLL)),
            Some(_) => {}
        }
    }
    let Some(start) = first_start else { return Next::Idle };
    let end = start + length;
    let count =
        loaded.records.iter().take_while(|r| window::start_of(r.created_at_millis, length) == start).count();
    // Final when a record of a later window follows, or when every record was read and the
    // window has ended (later records belong to later windows).
    let is_final =
        count < loaded.records.len() || (loaded.records.len() < limit && read_at >= end.saturating_mul(1000));
    let state =
        open.filter(|o| o.start == start).map_or_else(|| Value::Object(Default::default()), |o| o.state);
    let window = OpenWindow { start, end, state };
    deliver_window(shared, active, &part(&loaded.records[..count]), retry, window, is_final).await
}

/// Invokes the module on the records of one window (possibly none, for a final invocation) with
/// the window's state, and commits the write-backs, the checkpoint and the new state together
/// (the final invocation clears the state).
async fn deliver_window(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    loaded: &Loaded,
    retry: &mut Retry,
    window: OpenWindow,
    is_final: bool,
) -> Next {
    let invoked: Vec<&Rec> = loaded.records.iter().filter(|r| r.matches).collect();
    let checkpoint = loaded.records.last().map_or(loaded.checkpoint, |r| r.seq);
    let records = loaded.records.len();
    if invoked.is_empty() && !is_final {
        return match commit(shared, checkpoint, Vec::new(), records, 0, None).await {
            Committed::Done => Next::Continue,
            Committed::Rejected(_) => Next::Sleep(STORE_RETRY),
            Committed::Then(next) => next,
        };
    }
    let shard_id = eddy_streams::shard::shard_id(loaded.table_id, "changelog", 1);
    let input = window::Event {
        records: &invoked,
        window: &window,
        shard_id: &shard_id,
        event_source_arn: &loaded.event_source_arn,
        is_final,
    }
    .to_json();
    let first = invoked.first().map_or(checkpoint, |r| r.seq);
    let reader: Arc<dyn HostReader> = Arc::new(writes::StoreReader::committed(shared.store.clone()));
    let failure = match invoke_inputs(shared, active, vec![(first, input)], reader).await {
        Err(failure) => failure,
        Ok(done) => {
            let saved = if is_final {
                Ok(Vec::new())
            } else {
                let response = done.responses.first().cloned().unwrap_or(Value::Null);
                window::returned_state(&response).map(|state| OpenWindow { state, ..window.clone() }.encode())
            };
            match saved {
                Err(failure) => failure,
                Ok(saved) => match deliverable(shared, active, loaded, &invoked, done, retry) {
                    Deliver::Commit(writes) => {
                        let count = writes.len();
                        match commit(shared, checkpoint, writes, records, count, Some(saved)).await {
                            Committed::Done => {
                                if records == 0 {
                                    // The checkpoint stayed: forget this window's attempts.
                                    *retry = Retry { first_seq: checkpoint + 1, ..Retry::default() };
                                }
                                return Next::Continue;
                            }
                            Committed::Rejected(failure) => failure,
                            Committed::Then(next) => return next,
                        }
                    }
                    Deliver::Prefix => return Next::Continue,
                    Deliver::Fail(failure) => failure,
                },
            }
        }
    };
    if records > 0 {
        return failed(shared, active, loaded, &invoked, failure, retry).await;
    }
    // A final invocation without records failed: retry it, and after the retries give the
    // window up (its state is dropped; its records were checkpointed with earlier invocations).
    let config = &active.config;
    shared.status().failures += 1;
    let start = window::rfc3339(window.start);
    shared.error(format!("final invocation of the window starting {start}: {failure}"));
    shared
        .log_host(first, format!("eddy: final invocation of the window starting {start} failed: {failure}"));
    retry.attempts += 1;
    let exhausted = failure.is_permanent()
        || (config.maximum_retry_attempts >= 0 && i64::from(retry.attempts) > config.maximum_retry_attempts);
    if !exhausted {
        return Next::Sleep(backoff(retry.attempts));
    }
    shared.log_host(
        first,
        format!("eddy: the window starting {start} was dropped after {} attempts", retry.attempts),
    );
    match commit(shared, checkpoint, Vec::new(), 0, 0, Some(Vec::new())).await {
        Committed::Done => {
            *retry = Retry { first_seq: checkpoint + 1, ..Retry::default() };
            Next::Continue
        }
        Committed::Rejected(_) => Next::Sleep(STORE_RETRY),
        Committed::Then(next) => next,
    }
}

/// What to do with a successful invocation.
enum Deliver {
    Commit(Vec<ItemWrite>),
    /// The guest failed records after the first: deliver the prefix before them first.
    Prefix,
    Fail(BatchFailure),
}

fn deliverable(
    shared: &Shared,
    active: &Active,
    loaded: &Loaded,
    invoked: &[&Rec],
    done: Done,
    retry: &mut Retry,
) -> Deliver {
    let config = &active.config;
    if config.report_batch_item_failures && !done.failures.is_empty() {
        let mut lowest = u64::MAX;
        for identifier in &done.failures {
            match parse_sequence_number(identifier).filter(|seq| invoked.iter().any(|r| r.seq == *seq)) {
                Some(seq) => lowest = lowest.min(seq),
                None => return Deliver::Fail(BatchFailure::UnknownItem { identifier: identifier.clone() }),
            }
        }
        if lowest == invoked[0].seq {
            return Deliver::Fail(BatchFailure::ItemFailed {
                sequence_number: format_sequence_number(lowest),
            });
        }
        // The write-backs cannot be split by record, so the records before the failed one run
        // again as a batch of their own and commit with their write-backs; the failed record
        // then heads the next batch.
        retry.limit = Some(loaded.records.iter().take_while(|r| r.seq < lowest).count());
        return Deliver::Prefix;
    }
    let hops = invoked.iter().map(|r| r.hops).max().unwrap_or(0).saturating_add(1);
    if !done.writes.is_empty() && hops > HOPS_MAX {
        return Deliver::Fail(BatchFailure::HopLimit { hops, max: HOPS_MAX });
    }
    match writes::item_writes(&shared.store, &config.table_name, &done.writes, hops) {
        Ok(writes) => Deliver::Commit(writes),
        Err(failure) => Deliver::Fail(failure),
    }
}

/// A failed attempt: bisect, back off, or give up and dead-letter.
async fn failed(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    loaded: &Loaded,
    invoked: &[&Rec],
    failure: BatchFailure,
    retry: &mut Retry,
) -> Next {
    let config = &active.config;
    let first = invoked.first().map_or(retry.first_seq, |r| r.seq);
    {
        let mut status = shared.status();
        status.failures += 1;
    }
    shared.error(format!("batch starting at {}: {failure}", format_sequence_number(first)));
    shared.log_host(first, format!("eddy: batch of {} records failed: {failure}", invoked.len()));
    if config.bisect_batch_on_function_error && invoked.len() > 1 {
        // Bisection does not count as a retry (as in Lambda): the halves are tried at once.
        let last_of_half = invoked[invoked.len() / 2 - 1].seq;
        retry.limit = Some(loaded.records.iter().take_while(|r| r.seq <= last_of_half).count());
        return Next::Continue;
    }
    retry.attempts += 1;
    let exhausted = failure.is_permanent()
        || (config.maximum_retry_attempts >= 0 && i64::from(retry.attempts) > config.maximum_retry_attempts);
    if exhausted {
        // A record the guest reported failed goes alone: the records after it were not reported
        // and run again in the next batch.
        let range = match failure {
            BatchFailure::ItemFailed { .. } => {
                let end = loaded.records.iter().take_while(|r| r.seq <= first).count();
                &loaded.records[..end]
            }
            _ => &loaded.records[..],
        };
        return dead_letter(shared, active, range, &failure, retry.attempts).await;
    }
    retry.limit = Some(loaded.records.len());
    Next::Sleep(backoff(retry.attempts))
}

/// The wait before retry `attempt` (1-based).
pub(crate) fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    BACKOFF_INITIAL.saturating_mul(factor).min(BACKOFF_MAX)
}

/// Sends the matching records of `range` to the dead-letter table and moves the checkpoint
/// past the whole range, in one commit.
async fn dead_letter(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    range: &[Rec],
    failure: &BatchFailure,
    attempts: u32,
) -> Next {
    let Some(last) = range.last() else { return Next::Continue };
    let config = &active.config;
    if let Err(e) = dead_letter::ensure_table(&shared.store, &config.dead_letter_table).await {
        shared.error(format!("cannot use dead-letter table {}: {e}", config.dead_letter_table));
        return Next::Sleep(BACKOFF_MAX);
    }
    let now = shared.store.now_millis();
    let writes: Vec<ItemWrite> = range
        .iter()
        .filter(|r| r.matches)
        .map(|r| {
            dead_letter::DeadLetter {
                trigger: &shared.name,
                source_table: &config.table_name,
                seq: r.seq,
                hops: r.hops,
                record: &r.json,
                record_text: &r.text,
                failure,
                attempts,
                now_millis: now,
            }
            .write(&config.dead_letter_table)
        })
        .collect();
    let count = writes.len();
    let first = range[0].seq;
    shared.log_host(
        first,
        format!("eddy: {count} records sent to dead-letter table {}: {failure}", config.dead_letter_table),
    );
    match commit(shared, last.seq, writes, range.len(), 0, None).await {
        Committed::Done => {
            shared.status().records_dead_lettered += count as u64;
            Next::Continue
        }
        Committed::Rejected(f) => {
            shared.error(format!("writing dead letters to {} failed: {f}", config.dead_letter_table));
            Next::Sleep(BACKOFF_MAX)
        }
        Committed::Then(next) => next,
    }
}

/// How a commit went.
pub(crate) enum Committed {
    /// Write-backs and checkpoint are durable.
    Done,
    /// A write was rejected; nothing was written.
    Rejected(BatchFailure),
    /// Not committed for another reason; do this next.
    Then(Next),
}

/// Commits `writes` with the checkpoint at `checkpoint`, atomically; `state` replaces the
/// consumer's saved window (empty: none) when given.
async fn commit(
    shared: &Arc<Shared>,
    checkpoint: u64,
    writes: Vec<ItemWrite>,
    records: usize,
    write_backs: usize,
    state: Option<Vec<u8>>,
) -> Committed {
    let described: Vec<(&'static str, String)> = writes
        .iter()
        .map(|w| {
            let function = match w.action {
                eddy_core::store::WriteAction::Put(_) => "put_item",
                eddy_core::store::WriteAction::Update(_) => "update_item",
                eddy_core::store::WriteAction::Delete => "delete_item",
            };
            (function, w.table.clone())
        })
        .collect();
    let commit = ConsumerCommit { name: shared.consumer.clone(), checkpoint, writes, state };
    match shared.store.commit_consumer(commit).await {
        Ok(_) => {
            let now = shared.store.now_millis();
            let mut status = shared.status();
            status.records_processed += records as u64;
            status.write_backs += write_backs as u64;
            status.last_processed_millis = Some(now);
            Committed::Done
        }
        Err(eddy_core::Error::WriteRejected { index, reason }) => {
            let (function, table) = described.get(index).cloned().unwrap_or(("put_item", String::new()));
            Committed::Rejected(BatchFailure::WriteRejected {
                index,
                function,
                table,
                message: reason.to_string(),
            })
        }
        // The checkpoint moved or the consumer changed under us: read again.
        Err(eddy_core::Error::Validation { message }) => {
            shared.error(format!("checkpoint not taken: {message}"));
            Committed::Then(Next::Sleep(STORE_RETRY))
        }
        Err(eddy_core::Error::ResourceNotFound { message }) => Committed::Then(Next::Fail(message)),
        Err(eddy_core::Error::Unavailable { .. }) => Committed::Then(Next::Stop),
        Err(e) => {
            shared.error(format!("committing the batch failed: {e}"));
            Committed::Then(Next::Sleep(STORE_RETRY))
        }
    }
}

/// What the invocations of one batch produced together.
pub(crate) struct Done {
    pub failures: Vec<String>,
    pub writes: Vec<crate::sandbox::WriteBack>,
    /// The responses, in invocation order.
    pub responses: Vec<Value>,
}

/// Invokes the module on the records, split into `ParallelizationFactor` concurrent
/// invocations by item key. Any failed invocation fails the batch. `get_item` reads through
/// `reader`. Blocks: call it off the async threads.
fn invoke_blocking(
    shared: &Shared,
    active: &Active,
    records: &[&Rec],
    reader: Arc<dyn HostReader>,
) -> Result<Done, BatchFailure> {
    let groups = batch::split_by_key(records, active.config.parallelization_factor as usize);
    let inputs =
        groups.iter().map(|group| (group[0].seq, batch::batch_json(group.iter().copied()))).collect();
    run_inputs(shared, active, inputs, reader)
}

/// Invokes the module once per input (the first seq it covers, for the logs), on the async
/// threads' behalf.
async fn invoke_inputs(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    inputs: Vec<(u64, Vec<u8>)>,
    reader: Arc<dyn HostReader>,
) -> Result<Done, BatchFailure> {
    let (shared, active) = (Arc::clone(shared), Arc::clone(active));
    tokio::task::spawn_blocking(move || run_inputs(&shared, &active, inputs, reader)).await.unwrap_or_else(
        |e| {
            Err(BatchFailure::Invocation(InvocationError::Instantiate(format!(
                "the invocation thread failed: {e}"
            ))))
        },
    )
}

/// Invokes the module once per input: one input on this thread, several at once on threads
/// of their own. Blocks.
fn run_inputs(
    shared: &Shared,
    active: &Active,
    inputs: Vec<(u64, Vec<u8>)>,
    reader: Arc<dyn HostReader>,
) -> Result<Done, BatchFailure> {
    let module = &active.module;
    let results: Vec<(u64, Result<Invocation, InvocationError>)> = if inputs.len() == 1 {
        inputs.into_iter().map(|(first, input)| (first, module.invoke(&input, reader.clone()))).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = inputs
                .into_iter()
                .map(|(first, input)| {
                    let reader = Arc::clone(&reader);
                    (first, scope.spawn(move || module.invoke(&input, reader)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(first, handle)| {
                    let result = handle.join().unwrap_or_else(|_| {
                        Err(InvocationError::Instantiate("the invocation thread failed".to_string()))
                    });
                    (first, result)
                })
                .collect()
        })
    };
    let now = shared.store.now_millis();
    {
        let mut status = shared.status();
        status.invocations += results.len() as u64;
    }
    let mut done = Done { failures: Vec::new(), writes: Vec::new(), responses: Vec::new() };
    let mut first_error = None;
    for (first, result) in results {
        match result {
            Ok(invocation) => {
                let mut logs = shared.logs();
                for line in invocation.logs {
                    logs.push(LogLine {
                        at_millis: now,
                        sequence_number: format_sequence_number(first),
                        line,
                    });
                }
                drop(logs);
                done.failures.extend(invocation.batch_item_failures);
                done.writes.extend(invocation.writes);
                done.responses.push(invocation.response);
            }
            Err(e) => {
                shared.log_host(first, format!("eddy: invocation failed: {e}"));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(BatchFailure::Invocation(e)),
        None => Ok(done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        assert_eq!(backoff(1), BACKOFF_INITIAL);
        assert_eq!(backoff(2), BACKOFF_INITIAL * 2);
        assert_eq!(backoff(4), BACKOFF_INITIAL * 8);
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
