//! Batches that commit together. When records wait behind a commit, the batches read after the
//! checkpoint are invoked one after another, each on its own records (the batch size holds),
//! and their write-backs commit together with the checkpoint past the last of them: one commit
//! for many small batches, so a trigger with `BatchSize: 1` keeps up with thousands of writes
//! per second. Each batch's `get_item` sees the write-backs of the batches before it (the
//! [`Overlay`]), as if each had committed alone.
//!
//! The first batch that fails ends the group: the batches before it commit, and it is handled
//! as a batch alone (retry, bisection, partial response, dead letters). A write rejected at
//! commit fails the whole group; the batches before the rejected write's batch run again as a
//! smaller group, and that batch then heads the next one.

use std::sync::Arc;

use eddy_core::store::ItemWrite;

use super::batch::{Loaded, Rec};
use super::overlay::Overlay;
use super::writes::StoreReader;
use super::{Active, Committed, Deliver, Next, Retry, Shared, commit, deliverable, failed, invoke_blocking};
use crate::error::BatchFailure;
use crate::sandbox::HostReader;

/// Most batches that commit together.
pub(crate) const GROUP_BATCHES_MAX: usize = 128;
/// Most records in a group of batches that commit together: a large batch size leaves fewer
/// batches per group (10 000-record batches commit alone).
pub(crate) const GROUP_RECORDS_MAX: usize = 1_000;

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
    /// What the writes leave behind, for the next batch's reads.
    overlay: Arc<Overlay>,
}

impl Pending {
    fn reader(&self, shared: &Shared) -> Arc<dyn HostReader> {
        Arc::new(StoreReader { store: shared.store.clone(), overlay: Arc::clone(&self.overlay) })
    }

    /// Adds a delivered batch. With `more` (batches follow), its writes go into the overlay;
    /// `false` means the next batch could not see them right and must not run in this group.
    fn push(&mut self, shared: &Shared, loaded: &Loaded, writes: Vec<ItemWrite>, more: bool) -> bool {
        let readable = !more
            || writes.is_empty()
            || Arc::make_mut(&mut self.overlay).apply(&shared.store, &writes).is_ok();
        self.write_backs += writes.len();
        self.writes.extend(writes);
        self.write_ends.push(self.writes.len());
        self.records += loaded.records.len();
        self.checkpoint = loaded.records.last().map_or(loaded.checkpoint, |r| r.seq);
        readable
    }
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

/// Delivers `group` (consecutive batches, the first following the checkpoint, none empty) and
/// commits what succeeded. `retry` is the first batch's. The invocations run one after
/// another on one blocking thread; only the commit waits on the writer.
pub(crate) async fn deliver(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    group: Vec<Loaded>,
    retry: &mut Retry,
) -> Next {
    let invoked = {
        let (shared, active, first_retry) = (Arc::clone(shared), Arc::clone(active), retry.clone());
        tokio::task::spawn_blocking(move || {
            let (pending, stop) = invoke_group(&shared, &active, &group, first_retry);
            (group, pending, stop)
        })
        .await
    };
    let (group, pending, stop) = match invoked {
        Ok(done) => done,
        Err(e) => {
            shared.error(format!("the invocation thread failed: {e}"));
            return Next::Sleep(super::STORE_RETRY);
        }
    };
    let Some(Stop { batch, failure, retry: stopped }) = stop else {
        return match flush(shared, active, &group, pending, retry).await {
            Flushed::Done => Next::Continue,
            Flushed::Then(next) => next,
        };
    };
    if batch > 0 {
        // The batches before this one succeeded: they commit first, and this one goes on
        // as a batch alone.
        if let Flushed::Then(next) = flush(shared, active, &group, pending, retry).await {
            return next;
        }
    }
    *retry = stopped;
    let loaded = &group[batch];
    match failure {
        None => Next::Continue,
        Some(failure) => {
            let invoked: Vec<&Rec> = loaded.records.iter().filter(|r| r.matches).collect();
            failed(shared, active, loaded, &invoked, failure, retry).await
        }
    }
}

/// Invokes the batches of `group` in order until one does not succeed. Blocks.
fn invoke_group(
    shared: &Shared,
    active: &Active,
    group: &[Loaded],
    first_retry: Retry,
) -> (Pending, Option<Stop>) {
    let mut pending = Pending {
        writes: Vec::new(),
        write_ends: Vec::new(),
        records: 0,
        write_backs: 0,
        checkpoint: group[0].checkpoint,
        overlay: Arc::default(),
    };
    let mut first_retry = Some(first_retry);
    for (j, loaded) in group.iter().enumerate() {
        let more = j + 1 < group.len();
        if j > 0 && too_old(shared, active, loaded) {
            // Left to the next step, which sends it to the dead letters.
            break;
        }
        let mut retry = first_retry
            .take()
            .unwrap_or_else(|| Retry { first_seq: loaded.checkpoint + 1, ..Retry::default() });
        let invoked: Vec<&Rec> = loaded.records.iter().filter(|r| r.matches).collect();
        if invoked.is_empty() {
            pending.push(shared, loaded, Vec::new(), more);
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
                    if !pending.push(shared, loaded, writes, more) {
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

/// Commits the delivered batches with the checkpoint past the last.
async fn flush(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    group: &[Loaded],
    pending: Pending,
    retry: &mut Retry,
) -> Flushed {
    let Pending { writes, write_ends, records, write_backs, checkpoint, .. } = pending;
    if write_ends.is_empty() {
        return Flushed::Done;
    }
    let failure = match commit(shared, checkpoint, writes, records, write_backs, None).await {
        Committed::Done => return Flushed::Done,
        Committed::Then(next) => return Flushed::Then(next),
        Committed::Rejected(failure) => failure,
    };
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
    // The batches before the rejected write's batch run again, as a group of their own.
    retry.batches = Some(batch);
    Flushed::Then(Next::Continue)
}
