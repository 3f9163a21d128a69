//! What becomes of a delivered batch: its write-backs checked and committed with the
//! checkpoint, or its failure retried, bisected or sent to the dead letters.

use std::sync::Arc;
use std::time::Duration;

use eddy_core::changelog::{format_sequence_number, parse_sequence_number};
use eddy_core::store::{ConsumerCommit, ItemWrite};

use super::batch::{Loaded, Rec};
use super::dead_letter as letters;
use super::invoke::Done;
use super::{Active, BACKOFF_INITIAL, BACKOFF_MAX, HOPS_MAX, Next, Retry, STORE_RETRY, Shared, writes};
use crate::error::BatchFailure;

/// What to do with a successful invocation.
pub(super) enum Deliver {
    Commit(Vec<ItemWrite>),
    /// The guest failed records after the first: deliver the prefix before them first.
    Prefix,
    Fail(BatchFailure),
}

pub(super) fn deliverable(
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
pub(super) async fn failed(
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
        status.totals.failures += 1;
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
pub(super) async fn dead_letter(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    range: &[Rec],
    failure: &BatchFailure,
    attempts: u32,
) -> Next {
    let Some(last) = range.last() else { return Next::Continue };
    let config = &active.config;
    if let Err(e) = letters::ensure_table(&shared.store, &config.dead_letter_table).await {
        shared.error(format!("cannot use dead-letter table {}: {e}", config.dead_letter_table));
        return Next::Sleep(BACKOFF_MAX);
    }
    let now = shared.store.now_millis();
    let writes: Vec<ItemWrite> = range
        .iter()
        .filter(|r| r.matches)
        .map(|r| {
            letters::DeadLetter {
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
    match commit(shared, last.seq, writes, range.len(), 0, count, None).await {
        Committed::Done => Next::Continue,
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

/// Commits `writes` with the checkpoint at `checkpoint`, atomically, together with the
/// trigger's counters grown by `records` processed, `write_backs` and `dead_lettered`; `state`
/// replaces the consumer's saved window (empty: none) when given.
pub(super) async fn commit(
    shared: &Arc<Shared>,
    checkpoint: u64,
    writes: Vec<ItemWrite>,
    records: usize,
    write_backs: usize,
    dead_lettered: usize,
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
    // The counters as they stand once this commit lands, committed with it.
    let counters = {
        let mut totals = shared.status().totals;
        totals.records_processed += records as u64;
        totals.write_backs += write_backs as u64;
        totals.records_dead_lettered += dead_lettered as u64;
        totals.encode()
    };
    let commit =
        ConsumerCommit { name: shared.consumer.clone(), checkpoint, writes, state, counters: Some(counters) };
    match shared.store.commit_consumer(commit).await {
        Ok(_) => {
            let now = shared.store.now_millis();
            let mut status = shared.status();
            status.totals.records_processed += records as u64;
            status.totals.write_backs += write_backs as u64;
            status.totals.records_dead_lettered += dead_lettered as u64;
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
