//! The wire framing of a subscription: Server-Sent Events or NDJSON.
//!
//! SSE: each record is `id: <sequence number>`, `event: record`, `data: <record JSON>`; an idle
//! stream sends `: heartbeat` comments; the stream ends with an `end` or `error` event. NDJSON:
//! one record JSON per line; an idle stream sends empty lines; the stream ends with a line
//! `{"End": {...}}` or `{"Error": {...}}` (records are never such objects).

use serde_json::Value;

/// The encoding of a subscription's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `text/event-stream` (the default).
    #[default]
    Sse,
    /// `application/x-ndjson`.
    Ndjson,
}

impl Format {
    /// Parses `sse` or `ndjson`, ignoring case.
    pub fn parse(text: &str) -> Result<Format, super::SubscriptionError> {
        match text.to_ascii_lowercase().as_str() {
            "sse" => Ok(Format::Sse),
            "ndjson" => Ok(Format::Ndjson),
            _ => Err(super::SubscriptionError::InvalidFormat { value: text.to_string() }),
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Sse => "text/event-stream; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    /// Appends one record (its JSON already serialized) with its sequence number.
    pub(crate) fn record(self, out: &mut Vec<u8>, sequence_number: &str, json: &[u8]) {
        match self {
            Format::Sse => {
                out.extend_from_slice(b"id: ");
                out.extend_from_slice(sequence_number.as_bytes());
                out.extend_from_slice(b"\nevent: record\ndata: ");
                out.extend_from_slice(json);
                out.extend_from_slice(b"\n\n");
            }
            Format::Ndjson => {
                out.extend_from_slice(json);
                out.push(b'\n');
            }
        }
    }

    /// A heartbeat of an idle stream.
    pub(crate) fn heartbeat(self) -> Vec<u8> {
        match self {
            Format::Sse => b": heartbeat\n\n".to_vec(),
            Format::Ndjson => b"\n".to_vec(),
        }
    }

    /// The final event: `end` (the stream is over) or `error` (it cannot go on).
    pub(crate) fn last(self, kind: FinalKind, body: &Value) -> Vec<u8> {
        let json = body.to_string();
        match self {
            Format::Sse => format!("event: {}\ndata: {json}\n\n", kind.sse_event()).into_bytes(),
            Format::Ndjson => format!("{{\"{}\":{json}}}\n", kind.ndjson_key()).into_bytes(),
        }
    }
}

/// The kinds of final event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinalKind {
    /// The stream ended normally (table deleted, server stopping).
    End,
    /// The stream cannot continue (records trimmed, read failure).
    Error,
}

impl FinalKind {
    fn sse_event(self) -> &'static str {
        match self {
            FinalKind::End => "end",
            FinalKind::Error => "error",
        }
    }

    fn ndjson_key(self) -> &'static str {
        match self {
            FinalKind::End => "End",
            FinalKind::Error => "Error",
        }
    }
}
