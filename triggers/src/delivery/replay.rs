//! Replaying dead letters: each stored record is run through the trigger's current module on
//! its own; on success its write-backs commit together with the removal of the dead letter (and
//! the unchanged checkpoint), so a replay applies each write-back exactly once too. A record
//! that fails again stays, with the new error and one more attempt counted.

use std::sync::Arc;

use eddy_core::changelog::format_sequence_number;
use eddy_core::store::{ItemWrite, WriteAction};
use eddy_core::{AttributeValue, Number, PrimaryKey};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::dead_letter::{self, Stored};
use super::writes::{self, StoreReader};
use super::{Committed, HOPS_MAX, Shared, commit};
use crate::error::{BatchFailure, TriggerError};
use crate::sandbox::{HostReader, InvocationError};

/// A request to replay up to `limit` dead letters of a trigger, oldest first.
pub struct ReplayRequest {
    /// Most records to replay.
    pub limit: usize,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Result<ReplayOutcome, TriggerError>>,
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReplayOutcome {
    /// Sequence numbers replayed successfully (their dead letters are gone).
    pub replayed: Vec<String>,
    /// Sequence numbers that failed again, with the error.
    pub failed: Vec<(String, String)>,
    /// Whether more dead letters remain beyond `limit`.
    pub more: bool,
}

impl ReplayOutcome {
    /// The outcome as the API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "Replayed": self.replayed,
            "Failed": self.failed.iter().map(|(seq, error)| json!({"SequenceNumber": seq, "Error": error})).collect::<Vec<_>>(),
            "More": self.more,
        })
    }
}

/// Serves one replay request inside the trigger's task, so it never races the delivery loop's
/// own commits.
pub(crate) async fn serve(shared: &Arc<Shared>, request: ReplayRequest) {
    let result = replay(shared, request.limit).await;
    let _ = request.reply.send(result);
}

async fn replay(shared: &Arc<Shared>, limit: usize) -> Result<ReplayOutcome, TriggerError> {
    let active = shared.active();
    let table = active.config.dead_letter_table.clone();
    let (letters, more) = {
        let store = shared.store.clone();
        let (table, name) = (table.clone(), shared.name.clone());
        tokio::task::spawn_blocking(move || dead_letter::list(&store, &table, &name, None, limit))
            .await
            .map_err(|e| eddy_core::Error::Unavailable { message: format!("replay read failed: {e}") })??
    };
    let mut outcome = ReplayOutcome { more, ..ReplayOutcome::default() };
    for letter in letters {
        let sequence_number = format_sequence_number(letter.seq);
        let failure = match run_one(shared, &active, &letter).await {
            Ok(mut writes) => {
                writes.push(dead_letter::delete(&table, letter.seq));
                let count = writes.len() - 1;
                let checkpoint = shared.store.consumer(&shared.consumer)?.checkpoint;
                match commit(shared, checkpoint, writes, 0, count, 0, None).await {
                    Committed::Done => {
                        outcome.replayed.push(sequence_number);
                        continue;
                    }
                    Committed::Rejected(failure) => failure.to_string(),
                    Committed::Then(_) => "the commit did not go through; try again".to_string(),
                }
            }
            Err(failure) => failure.to_string(),
        };
        // Keep the dead letter with the new error and one more attempt.
        let mut item = letter.item.clone();
        item.insert("Error".into(), AttributeValue::S(failure.clone()));
        let attempts = Number::parse(&(letter.attempts + 1).to_string()).unwrap_or_else(|_| Number::zero());
        item.insert("Attempts".into(), AttributeValue::N(attempts));
        let update = ItemWrite {
            table: table.clone(),
            key: PrimaryKey { partition: AttributeValue::S(sequence_number.clone()), sort: None },
            action: WriteAction::Put(item),
            condition: None,
            return_item_on_condition_failure: false,
            hops: 0,
        };
        let checkpoint = shared.store.consumer(&shared.consumer)?.checkpoint;
        let _ = commit(shared, checkpoint, vec![update], 0, 0, 0, None).await;
        outcome.failed.push((sequence_number, failure));
    }
    Ok(outcome)
}

/// Invokes the module on one dead-lettered record; returns its write-backs.
async fn run_one(
    shared: &Arc<Shared>,
    active: &Arc<super::Active>,
    letter: &Stored,
) -> Result<Vec<ItemWrite>, BatchFailure> {
    let input = format!("{{\"Records\":[{}]}}", letter.record_text).into_bytes();
    let module = active.module.clone();
    let reader: Arc<dyn HostReader> = Arc::new(StoreReader::committed(shared.store.clone()));
    let result = tokio::task::spawn_blocking(move || module.invoke(&input, reader))
        .await
        .unwrap_or_else(|e| Err(InvocationError::Instantiate(format!("the invocation thread failed: {e}"))));
    shared.status().totals.invocations += 1;
    let invocation = result.map_err(|e| {
        shared.log_host(letter.seq, format!("eddy: replay failed: {e}"));
        BatchFailure::Invocation(e)
    })?;
    for line in invocation.logs {
        shared.log_host(letter.seq, line);
    }
    if active.config.report_batch_item_failures && !invocation.batch_item_failures.is_empty() {
        return Err(BatchFailure::ItemFailed { sequence_number: format_sequence_number(letter.seq) });
    }
    let hops = letter.hops.saturating_add(1);
    if !invocation.writes.is_empty() && hops > HOPS_MAX {
        return Err(BatchFailure::HopLimit { hops, max: HOPS_MAX });
    }
    writes::item_writes(&shared.store, &active.config.table_name, &invocation.writes, hops)
}
