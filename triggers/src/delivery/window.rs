//! Tumbling windows (`TumblingWindowInSeconds`), as Lambda runs them on DynamoDB streams:
//! windows aligned to multiples of their length on the records' ApproximateCreationDateTime, a
//! state object the module returns and gets back on the next invocation of the same window, and
//! a final invocation per window (`isFinalInvokeForWindow`) where the module writes its
//! aggregates back.
//!
//! The open window and its state are the trigger consumer's opaque state, committed together
//! with the checkpoint and the write-backs, so a crash between two invocations of a window
//! resumes with exactly the state of the last commit.

use eddy_core::store::CONSUMER_STATE_BYTES_MAX;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::BatchFailure;
use crate::sandbox::InvocationError;

use super::batch::Rec;

/// Bytes of the consumer state kept for the window's bounds around the module's state.
const WINDOW_FRAMING_BYTES: usize = 128;
/// Largest state a module may return, as JSON: 1 MiB (Lambda's limit) with the window's
/// bounds.
pub const WINDOW_STATE_BYTES_MAX: usize = CONSUMER_STATE_BYTES_MAX - WINDOW_FRAMING_BYTES;

/// The window a trigger is in the middle of, as saved with its checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OpenWindow {
    /// Start, epoch seconds (inclusive).
    pub start: u64,
    /// End, epoch seconds (exclusive).
    pub end: u64,
    /// What the module returned as `state` at its last invocation for this window.
    pub state: Value,
}

impl OpenWindow {
    /// The open window in a consumer's saved state, if any.
    pub fn decode(bytes: Option<&[u8]>) -> Option<OpenWindow> {
        bytes.and_then(|b| serde_json::from_slice(b).ok())
    }

    /// The bytes to save with the checkpoint.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The start (epoch seconds) of the window of `length` seconds holding a record created at
/// `created_at_millis`.
pub(crate) fn start_of(created_at_millis: u64, length: u64) -> u64 {
    let seconds = created_at_millis / 1000;
    seconds - seconds % length.max(1)
}

/// The invocation event: Lambda's DynamoDB event with the window fields.
pub(crate) struct Event<'a> {
    pub records: &'a [&'a Rec],
    pub window: &'a OpenWindow,
    pub shard_id: &'a str,
    pub event_source_arn: &'a str,
    pub is_final: bool,
}

impl Event<'_> {
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = super::batch::batch_json(self.records.iter().copied());
        // Replace the closing `}` of `{"Records":[...]}` with the window fields.
        out.pop();
        let mut fields = Map::new();
        fields.insert(
            "window".into(),
            serde_json::json!({"start": rfc3339(self.window.start), "end": rfc3339(self.window.end)}),
        );
        fields.insert("state".into(), self.window.state.clone());
        fields.insert("shardId".into(), self.shard_id.into());
        fields.insert("eventSourceARN".into(), self.event_source_arn.into());
        fields.insert("isFinalInvokeForWindow".into(), self.is_final.into());
        fields.insert("isWindowTerminatedEarly".into(), false.into());
        let rest = serde_json::to_vec(&Value::Object(fields)).unwrap_or_default();
        out.push(b',');
        out.extend_from_slice(&rest[1..]);
        out
    }
}

/// The `state` of a module's response: `{}` when absent or null; anything but an object, or an
/// object larger than [`WINDOW_STATE_BYTES_MAX`] as JSON, fails the batch.
pub(crate) fn returned_state(response: &Value) -> Result<Value, BatchFailure> {
    let state = match response.get("state") {
        None | Some(Value::Null) => return Ok(Value::Object(Map::new())),
        Some(state @ Value::Object(_)) => state,
        Some(other) => {
            return Err(BatchFailure::Invocation(InvocationError::BadResponse(format!(
                "state must be a JSON object; got {}",
                kind(other)
            ))));
        }
    };
    let bytes = serde_json::to_vec(state).map(|b| b.len()).unwrap_or(usize::MAX);
    if bytes > WINDOW_STATE_BYTES_MAX {
        return Err(BatchFailure::StateTooLarge { bytes, max: WINDOW_STATE_BYTES_MAX });
    }
    Ok(state.clone())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds.
pub(crate) fn rfc3339(epoch_seconds: u64) -> String {
    let full = eddy_streams::subscription::time::format_millis(epoch_seconds.saturating_mul(1000));
    // Drop the milliseconds: windows start and end on whole seconds.
    format!("{}Z", full.get(..19).unwrap_or(&full))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn windows_align_to_multiples_of_their_length() {
        assert_eq!(start_of(119_999, 60), 60);
        assert_eq!(start_of(120_000, 60), 120);
        assert_eq!(start_of(1_795_568_645_123, 900), 1_795_568_400);
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_568_645), "2026-11-25T01:04:05Z");
        let millis = eddy_streams::subscription::time::parse_rfc3339_millis(&rfc3339(1_700_000_123));
        assert_eq!(millis, Some(1_700_000_123_000));
    }

    #[test]
    fn the_event_carries_the_window_fields() {
        let window = OpenWindow { start: 60, end: 120, state: json!({"sum": 3}) };
        let event =
            Event { records: &[], window: &window, shard_id: "s", event_source_arn: "a", is_final: true };
        let parsed: Value = serde_json::from_slice(&event.to_json()).unwrap();
        assert_eq!(
            parsed,
            json!({"Records": [], "window": {"start": "1970-01-01T00:01:00Z", "end": "1970-01-01T00:02:00Z"},
                   "state": {"sum": 3}, "shardId": "s", "eventSourceARN": "a",
                   "isFinalInvokeForWindow": true, "isWindowTerminatedEarly": false})
        );
        assert_eq!(OpenWindow::decode(Some(&window.encode())), Some(window));
    }

    #[test]
    fn the_returned_state_is_an_object_of_at_most_1_mib() {
        assert_eq!(returned_state(&json!({})).unwrap(), json!({}));
        assert_eq!(returned_state(&json!({"state": {"n": 1}})).unwrap(), json!({"n": 1}));
        assert!(returned_state(&json!({"state": 5})).unwrap_err().to_string().contains("a number"));
        let big = "x".repeat(WINDOW_STATE_BYTES_MAX);
        let error = returned_state(&json!({"state": {"s": big}})).unwrap_err();
        assert_eq!(error.kind(), "StateTooLarge");
        assert!(error.to_string().contains(&format!("at most {WINDOW_STATE_BYTES_MAX} bytes")), "{error}");
    }
}
