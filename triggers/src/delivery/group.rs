//! Batches that commit together, and groups that commit while the next one runs.
//!
//! When records wait behind a commit, the batches read after the checkpoint are invoked one
//! after another, each on its own records (the batch size holds), and their write-backs commit
//! together with the checkpoint past the last of them: one commit for many small batches, so a
//! trigger with `BatchSize: 1` keeps up with thousands of writes per second. Each batch's
//! `get_item` sees the write-backs of the batches before it (the [`Overlay`]), as if each had
//! committed alone.
//!
//! While a group commits, the next group is read and invoked (a pipeline one commit deep), so
//! a record waits for invocations, not for the disk. Its reads see the committing group's
//! write-backs through the overlay whether or not that commit has landed yet. If that commit
//! fails, the next group's results are dropped and it runs again.
//!
//! The first batch that fails ends the group: the batches before it commit, and it is handled
//! as a batch alone (retry, bisection, partial response, dead letters). A write rejected at
//! commit fails the whole group; the batches before the rejected write's batch run again as a
//! smaller group, and that batch then heads the next one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_core::store::ItemWrite;
use tokio::task::JoinHandle;

use super::batch::{Loaded, Rec};
use super::overlay::Overlay;
use super::writes::StoreReader;
use super::{
    Active, Committed, Deliver, Next, Retry, STORE_RETRY, Shared, commit, deliverable, failed,
    invoke_blocking, load,
};
use crate::error::BatchFailure;
use crate::sandbox::HostReader;

/// Most batches that commit together.
pub(crate) const GROUP_BATCHES_MAX: usize = 128;
/// Most records in a group of batches that commit together: a large batch size leaves fewer
/// batches per group (10 000-record batches commit alone).
pub(crate) const GROUP_RECORDS_MAX: usize = 1_000;
/// Most write-backs in one group: a group ends at the batch that reaches it, so one commit
/// never holds more (a single batch may, up to its own `WritesMax` times its invocations).
pub(crate) const GROUP_WRITES_MAX: usize = 10_000;
/// Longest the task keeps invoking batches and groups before it looks at replay requests
/// again; a stop request or a new registration ends a group at the next batch.
pub(crate) const PIPELINE_SPAN_MAX: Duration = Duration::from_millis(250);

/// How many batches of `batch_size` records may commit together.
pub(crate) fn batches_max(batch_size: usize) -> usize {
    (GROUP_RECORDS_MAX / batch_size.max(1)).clamp(1, GROUP_BATCHES_MAX)
}

/// The delivered batches of a group, waiting for their commit.
struct Pending {
    writes: Vec<ItemWrite>,
    /// For each batch, the number of writes up to and including its own.
    write_ends: Vec<usize>,
    records: usize,
    write_backs: usize,
    checkpoint: u64,
    /// What the writes leave behind, for the reads of the batches after them.
    overlay: Arc<Overlay>,
    /// Whether `overlay` shows every write (an update that does not apply cannot be shown).
    readable: bool,
}

impl Pending {
    fn new(checkpoint: u64, base: Overlay) -> Self {
        Pending {
            writes: Vec::new(),
            write_ends: Vec::new(),
            records: 0,
            write_backs: 0,
            checkpoint,
            overlay: Arc::new(base),
            readable: true,
        }
    }

    fn reader(&self, shared: &Shared) -> Arc<dyn HostReader> {
        Arc::new(StoreReader { store: shared.store.clone(), overlay: Arc::clone(&self.overlay) })
    }

    /// Adds a delivered batch and puts its writes into the overlay. `false`: the overlay
    /// cannot show them, so no batch may run after this one before it commits.
    fn push(&mut self, shared: &Shared, loaded: &Loaded, writes: Vec<ItemWrite>) -> bool {
        if self.readable && !writes.is_empty() {
            self.readable = Arc::make_mut(&mut self.overlay).apply(&shared.store, &writes).is_ok();
        }
        self.write_backs += writes.len();
        self.writes.extend(writes);
        self.write_ends.push(self.writes.len());
        self.records += loaded.records.len();
        self.checkpoint = loaded.records.last().map_or(loaded.checkpoint, |r| r.seq);
        self.readable
    }

    /// Starts committing the delivered batches with the checkpoint past the last.
    fn commit(self, shared: &Arc<Shared>, group: Vec<Loaded>, retry: Retry) -> InFlight {
        let Pending { writes, write_ends, records, write_backs, checkpoint, overlay, .. } = self;
        let task = (!write_ends.is_empty()).then(|| {
            let shared = Arc::clone(shared);
            tokio::spawn(
                async move { commit(&shared, checkpoint, writes, records, write_backs, 0, None).await },
            )
        });
        InFlight { group, write_ends, retry, last_seq: checkpoint, overlay, task }
    }
}

/// A group whose commit runs.
struct InFlight {
    group: Vec<Loaded>,
    write_ends: Vec<usize>,
    /// Its first batch's retry state (for the step's first group: the step's).
    retry: Retry,
    /// The checkpoint it commits: the next group reads after it.
    last_seq: u64,
    /// Its write-backs, for the next group's reads.
    overlay: Arc<Overlay>,
    /// `None`: nothing to commit.
    task: Option<JoinHandle<Committed>>,
}

/// How committing the delivered batches went.
enum Flushed {
    Done,
    Then(Next),
}

/// Where the invocations of a group stopped early.
struct Stop {
    /// The batch that did not succeed.
    batch: usize,
    /// Why; `None`: a partial batch response cut it, and its records before the failed one
    /// run again as a batch of their own.
    failure: Option<BatchFailure>,
    /// That batch's retry state (for the first batch: the step's, updated).
    retry: Retry,
}

/// How groups after the first are read: with the step's batch size and group size.
pub(crate) struct Pipeline {
    /// Whether a group may be read and invoked while the one before it commits.
    pub enabled: bool,
    pub limit: usize,
    pub batches_max: usize,
}

/// Delivers `group` (consecutive batches, the first following the checkpoint, none empty) and
/// commits what succeeded; with `pipeline.enabled`, goes on with the groups after it while
/// each commits, for up to [`PIPELINE_SPAN_MAX`]. `retry` is the first batch's. The
/// invocations run on a blocking thread; the commits on the writer.
pub(crate) async fn deliver(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    group: Vec<Loaded>,
    retry: &mut Retry,
    pipeline: Pipeline,
) -> Next {
    let started = Instant::now();
    let mut group = group;
    let mut first_retry = retry.clone();
    let mut flight: Option<InFlight> = None;
    loop {
        let base = flight.as_ref().map(|f| Overlay::after(&f.overlay)).unwrap_or_default();
        let invoked = {
            let (shared, active, first_retry) = (Arc::clone(shared), Arc::clone(active), first_retry.clone());
            tokio::task::spawn_blocking(move || {
                let (pending, stop) = invoke_group(&shared, &active, &group, first_retry, base, started);
                (group, pending, stop)
            })
            .await
        };
        // The group before commits first; if it does not, this group's results are dropped
        // (they assumed its write-backs) and it runs again.
        if let Some(previous) = flight.take()
            && let Flushed::Then(next) = settle(shared, active, previous, retry).await
        {
            return next;
        }
        let (mut loaded, pending, stop) = match invoked {
            Ok(done) => done,
            Err(e) => {
                shared.error(format!("the invocation thread failed: {e}"));
                return Next::Sleep(STORE_RETRY);
            }
        };
        if let Some(Stop { batch, failure, retry: stopped }) = stop {
            let rest = loaded.split_off(batch);
            if batch > 0 {
                // The batches before this one succeeded: they commit first, and this one goes
                // on as a batch alone.
                let pending = pending.commit(shared, loaded, first_retry);
                if let Flushed::Then(next) = settle(shared, active, pending, retry).await {
                    return next;
                }
            }
            *retry = stopped;
            let loaded = &rest[0];
            return match failure {
                None => Next::Continue,
                Some(failure) => {
                    let invoked: Vec<&Rec> = loaded.records.iter().filter(|r| r.matches).collect();
                    failed(shared, active, loaded, &invoked, failure, retry).await
                }
            };
        }
        let readable = pending.readable;
        let committing = pending.commit(shared, loaded, first_retry);
        let current = shared.runs(active);
        let go_on = pipeline.enabled
            && readable
            && current
            && committing.task.is_some()
            && started.elapsed() < PIPELINE_SPAN_MAX;
        let next = if go_on {
            load(shared, active, Some(committing.last_seq), pipeline.limit, pipeline.batches_max).await
        } else {
            Ok(Ok(Vec::new()))
        };
        match next {
            // Trimmed records and failures to read are the step's to report.
            Ok(Ok(next)) if next.first().is_some_and(|b| !b.records.is_empty() && b.trimmed.is_none()) => {
                first_retry = Retry { first_seq: committing.last_seq + 1, ..Retry::default() };
                group = next;
                flight = Some(committing);
            }
            _ => {
                return match settle(shared, active, committing, retry).await {
                    Flushed::Done => Next::Continue,
                    Flushed::Then(next) => next,
                };
            }
        }
    }
}

/// Invokes the batches of `group` in order until one does not succeed, reading through
/// `base` (the write-backs of the group still committing). Blocks.
fn invoke_group(
    shared: &Shared,
    active: &Arc<Active>,
    group: &[Loaded],
    first_retry: Retry,
    base: Overlay,
    started: Instant,
) -> (Pending, Option<Stop>) {
    let mut pending = Pending::new(group[0].checkpoint, base);
    let mut first_retry = Some(first_retry);
    for (j, loaded) in group.iter().enumerate() {
        if too_old(shared, active, loaded) {
            // Left to the next step, which sends it to the dead letters.
            break;
        }
        // Stopping, a new registration, a full commit or the span's end: the batches so far
        // commit, the rest wait for the next step.
        let interrupted = !shared.runs(active);
        let full = pending.writes.len() >= GROUP_WRITES_MAX;
        if interrupted || (j > 0 && (full || started.elapsed() >= PIPELINE_SPAN_MAX)) {
            break;
        }
        let mut retry = first_retry
            .take()
            .unwrap_or_else(|| Retry { first_seq: loaded.checkpoint + 1, ..Retry::default() });
        let invoked: Vec<&Rec> = loaded.records.iter().filter(|r| r.matches).collect();
        if invoked.is_empty() {
            pending.push(shared, loaded, Vec::new());
            continue;
        }
        if retry.attempts == 0 && retry.limit.is_none() {
            let committed = shared.stamps().committed_at(invoked[0].seq);
            if let Some(at) = committed {
                shared.status().invocation_delay.record(at.elapsed());
            }
        }
        let failure = match invoke_blocking(shared, active, &invoked, pending.reader(shared)) {
            Err(failure) => Some(failure),
            Ok(done) => match deliverable(shared, active, loaded, &invoked, done, &mut retry) {
                Deliver::Commit(writes) => {
                    if !pending.push(shared, loaded, writes) {
                        break;
                    }
                    continue;
                }
                Deliver::Prefix => None,
                Deliver::Fail(failure) => Some(failure),
            },
        };
        return (pending, Some(Stop { batch: j, failure, retry }));
    }
    (pending, None)
}

/// Whether `loaded` starts with a record older than `MaximumRecordAgeInSeconds`.
fn too_old(shared: &Shared, active: &Active, loaded: &Loaded) -> bool {
    let max_seconds = active.config.maximum_record_age_in_seconds;
    let Some(first) = loaded.records.first() else { return false };
    max_seconds >= 0
        && shared.store.now_millis().saturating_sub(first.created_at_millis) > max_seconds as u64 * 1000
}

/// Waits for a group's commit and handles a refused write-back.
async fn settle(shared: &Arc<Shared>, active: &Arc<Active>, flight: InFlight, retry: &mut Retry) -> Flushed {
    let InFlight { group, write_ends, retry: first_retry, task, .. } = flight;
    let Some(task) = task else { return Flushed::Done };
    let committed = task.await.unwrap_or_else(|e| {
        shared.error(format!("the commit task failed: {e}"));
        Committed::Then(Next::Sleep(STORE_RETRY))
    });
    let failure = match committed {
        Committed::Done => return Flushed::Done,
        Committed::Then(next) => return Flushed::Then(next),
        Committed::Rejected(failure) => failure,
    };
    *retry = first_retry;
    let index = match &failure {
        BatchFailure::WriteRejected { index, .. } => *index,
        _ => 0,
    };
    let batch = write_ends.iter().position(|end| index < *end).unwrap_or(0);
    if batch == 0 {
        // The first batch's own write: it fails like an invocation of that batch alone.
        let loaded = &group[0];
        let invoked: Vec<&Rec> = loaded.records.iter().filter(|r| r.matches).collect();
        return Flushed::Then(failed(shared, active, loaded, &invoked, failure, retry).await);
    }
    // The batches before the rejected write's batch run again, as a group of their own; that
    // batch then runs alone.
    retry.batches = Some(batch);
    retry.refused_at = Some(group[batch].checkpoint + 1);
    Flushed::Then(Next::Continue)
}
