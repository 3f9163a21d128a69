//! A trigger step with tumbling windows: one window at a time, its state committed with the
//! checkpoint, and its final invocation once the window has ended.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::batch::{Loaded, Rec};
use super::window::{self, OpenWindow};
use super::writes;
use super::{
    Active, Committed, Deliver, Next, Retry, STORE_RETRY, Shared, WINDOW_POLL, backoff, commit, deliverable,
    failed, invoke_inputs,
};
use crate::sandbox::HostReader;

/// A step of a trigger with tumbling windows: closes the open window when the next record
/// belongs to a later one or, with no records, once its end has passed by the server clock;
/// otherwise delivers the records of the first record's window (never two windows at once).
pub(super) async fn windowed(
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
        return match commit(shared, checkpoint, Vec::new(), records, 0, 0, None).await {
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
                        match commit(shared, checkpoint, writes, records, count, 0, Some(saved)).await {
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
    shared.status().totals.failures += 1;
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
    match commit(shared, checkpoint, Vec::new(), 0, 0, 0, Some(Vec::new())).await {
        Committed::Done => {
            *retry = Retry { first_seq: checkpoint + 1, ..Retry::default() };
            Next::Continue
        }
        Committed::Rejected(_) => Next::Sleep(STORE_RETRY),
        Committed::Then(next) => next,
    }
}
