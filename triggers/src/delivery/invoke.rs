//! Running the module on a batch: split by item key into `ParallelizationFactor` invocations,
//! run on this thread or on scoped threads, their logs captured and their results joined.

use std::sync::Arc;

use eddy_core::changelog::format_sequence_number;
use serde_json::Value;

use super::batch::{self, Rec};
use super::{Active, Shared};
use crate::error::BatchFailure;
use crate::sandbox::{HostReader, Invocation, InvocationError};
use crate::status::LogLine;

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
pub(super) fn invoke_blocking(
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
pub(super) async fn invoke_inputs(
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
        status.totals.invocations += results.len() as u64;
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
