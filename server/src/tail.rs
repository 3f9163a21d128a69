//! `eddy tail TABLE`: follows a table's change records live over `GET /v1/tables/{table}/stream`
//! (SSE) and prints one line per change, or the record JSON with `--json`. A dropped connection
//! is reopened with `Last-Event-ID`, so nothing is missed or printed twice.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::http::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Default server, also read from `EDDY_ENDPOINT`.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8000";
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A stream silent for this long (no record, no heartbeat; the server sends one every 15 s) is
/// taken as dropped and reopened.
pub const SILENCE_TIMEOUT: Duration = Duration::from_secs(45);
/// First wait before reconnecting; doubles up to [`RECONNECT_DELAY_MAX`].
pub const RECONNECT_DELAY: Duration = Duration::from_millis(250);
/// Longest wait between reconnection attempts.
pub const RECONNECT_DELAY_MAX: Duration = Duration::from_secs(10);
/// Longest summary of an image in a readable line, characters.
pub const SUMMARY_CHARS_MAX: usize = 160;
/// Largest SSE event accepted (a record holds two images of at most 400 KB each, as JSON).
pub const EVENT_BYTES_MAX: usize = 8 * 1024 * 1024;

/// `eddy tail` arguments.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The table whose changes to print.
    table: String,
    /// Where to start: trim_horizon, latest, a sequence number or an RFC 3339 time.
    #[arg(long, default_value = "latest")]
    from: String,
    /// Only records matching this event pattern (JSON; see docs/filters.md).
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    /// Print each record as one line of DynamoDB Streams JSON (NDJSON).
    #[arg(long)]
    json: bool,
    /// The server.
    #[arg(long, env = "EDDY_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL")]
    endpoint: String,
}

/// Runs `eddy tail` until the stream ends (table deleted, server stopping for good) or the
/// output is closed.
pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(tail(args))
}

/// How one connection ended.
enum Outcome {
    /// The server ended the stream with a reason; do not reconnect.
    Ended(String),
    /// Records after the last one seen were trimmed; start again from the trim horizon.
    Trimmed(String),
    /// The connection failed or went silent; reconnect after the last record seen.
    Dropped(anyhow::Error),
    /// stdout was closed (`eddy tail t | head`).
    OutputClosed,
}

struct Server {
    host: String,
    port: u16,
    authority: String,
    path: String,
}

async fn tail(args: TailArgs) -> anyhow::Result<()> {
    let server = parse_endpoint(&args.endpoint)?;
    let mut printer = Printer { json: args.json, colour: !args.json && std::io::stdout().is_terminal() };
    let mut last_event_id: Option<String> = None;
    let mut from = args.from.clone();
    let mut connected_once = false;
    let mut delay = RECONNECT_DELAY;
    loop {
        let query = query_string(&from, args.filter.as_deref());
        let target = format!("{}/v1/tables/{}/stream?{query}", server.path, encode(&args.table));
        let outcome = match open(&server, &target, last_event_id.as_deref()).await {
            Ok(response) => {
                connected_once = true;
                delay = RECONNECT_DELAY;
                follow(response, &mut printer, &mut last_event_id).await
            }
            Err(e) if !connected_once => return Err(e),
            Err(e) => Outcome::Dropped(e),
        };
        match outcome {
            Outcome::Ended(message) => {
                eprintln!("eddy tail: {message}");
                return Ok(());
            }
            Outcome::OutputClosed => return Ok(()),
            Outcome::Trimmed(message) => {
                eprintln!("eddy tail: {message}; continuing from the trim horizon");
                last_event_id = None;
                from = "trim_horizon".into();
            }
            Outcome::Dropped(e) => {
                eprintln!("eddy tail: connection lost ({e:#}); reconnecting in {} ms", delay.as_millis());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RECONNECT_DELAY_MAX);
            }
        }
    }
}

fn parse_endpoint(text: &str) -> anyhow::Result<Server> {
    let uri: Uri = text.parse().with_context(|| format!("endpoint {text:?} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        anyhow::bail!("endpoint {text:?}: only http:// endpoints are supported");
    }
    let authority = uri.authority().with_context(|| format!("endpoint {text:?} lacks a host"))?;
    Ok(Server {
        host: authority.host().trim_start_matches('[').trim_end_matches(']').to_string(),
        port: authority.port_u16().unwrap_or(80),
        authority: authority.as_str().to_string(),
        path: uri.path().trim_end_matches('/').to_string(),
    })
}

fn query_string(from: &str, filter: Option<&str>) -> String {
    let mut query = format!("format=sse&from={}", encode(from));
    if let Some(filter) = filter {
        query.push_str("&filter=");
        query.push_str(&encode(filter));
    }
    query
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Opens the stream; a non-200 answer is an error that carries the server's message.
async fn open(
    server: &Server,
    target: &str,
    last_event_id: Option<&str>,
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
    let stream =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((server.host.as_str(), server.port)))
            .await
            .with_context(|| format!("connecting to {}: timed out", server.authority))?
            .with_context(|| format!("connecting to {}", server.authority))?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // A broken connection ends the body with an error, which `follow` reports.
        let _ = connection.await;
    });
    let mut request = Request::get(target)
        .header(hyper::header::HOST, server.authority.as_str())
        .header(hyper::header::ACCEPT, "text/event-stream")
        .header(hyper::header::USER_AGENT, concat!("eddy-tail/", env!("CARGO_PKG_VERSION")));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = tokio::time::timeout(CONNECT_TIMEOUT, sender.send_request(request.body(Empty::new())?))
        .await
        .context("no response from the server")??;
    if response.status() != hyper::StatusCode::OK {
        let status = response.status();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        anyhow::bail!("the server answered {status}: {message}");
    }
    Ok(response)
}

/// Reads SSE events until the stream ends, printing records.
async fn follow(
    response: hyper::Response<hyper::body::Incoming>,
    printer: &mut Printer,
    last_event_id: &mut Option<String>,
) -> Outcome {
    let mut body = response.into_body();
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            let event = parse_event(&String::from_utf8_lossy(&event));
            match event.kind.as_str() {
                "record" => {
                    if !printer.print(&event.data) {
                        return Outcome::OutputClosed;
                    }
                    if let Some(id) = event.id {
                        *last_event_id = Some(id);
                    }
                }
                "end" => return Outcome::Ended(final_message(&event.data, "the stream ended")),
                "error" => {
                    let reason = serde_json::from_str::<Value>(&event.data)
                        .ok()
                        .and_then(|v| v.get("Reason").and_then(Value::as_str).map(str::to_string));
                    let message = final_message(&event.data, "the stream failed");
                    return match reason.as_deref() {
                        Some("RecordsTrimmed") => Outcome::Trimmed(message),
                        _ => Outcome::Dropped(anyhow::anyhow!(message)),
                    };
                }
                _ => {}
            }
        }
        if buffer.len() > EVENT_BYTES_MAX {
            return Outcome::Dropped(anyhow::anyhow!("an event exceeded {EVENT_BYTES_MAX} bytes"));
        }
        match tokio::time::timeout(SILENCE_TIMEOUT, body.frame()).await {
            Err(_) => {
                return Outcome::Dropped(anyhow::anyhow!("no data for {} s", SILENCE_TIMEOUT.as_secs()));
            }
            Ok(None) => return Outcome::Dropped(anyhow::anyhow!("the server closed the stream")),
            Ok(Some(Err(e))) => return Outcome::Dropped(e.into()),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    buffer.extend(data.iter().filter(|&&b| b != b'\r'));
                }
            }
        }
    }
}

#[derive(Default)]
struct Event {
    id: Option<String>,
    kind: String,
    data: String,
}

/// One SSE event's fields (comments such as heartbeats leave it empty).
fn parse_event(text: &str) -> Event {
    let mut event = Event { kind: "message".into(), ..Event::default() };
    let mut data_lines = Vec::new();
    for line in text.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) =
            line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "id" => event.id = Some(value.to_string()),
            "event" => event.kind = value.to_string(),
            "data" => data_lines.push(value),
            _ => {}
        }
    }
    if data_lines.is_empty() {
        event.kind.clear();
    }
    event.data = data_lines.join("\n");
    event
}

fn final_message(data: &str, fallback: &str) -> String {
    serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| v.get("Message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| fallback.to_string())
}

struct Printer {
    json: bool,
    colour: bool,
}

impl Printer {
    /// Prints one record; false once stdout is closed.
    fn print(&mut self, data: &str) -> bool {
        let line = if self.json { data.to_string() } else { self.readable(data) };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    }

    /// `000000000000000000042  INSERT  pk=a sk=1  {status: "open", n: 5}`.
    fn readable(&self, data: &str) -> String {
        let Ok(record) = serde_json::from_str::<Value>(data) else {
            return data.to_string();
        };
        let dynamodb = &record["dynamodb"];
        let seq = dynamodb["SequenceNumber"].as_str().unwrap_or("?");
        let event = record["eventName"].as_str().unwrap_or("?");
        let keys = dynamodb["Keys"].as_object();
        let key_text = keys
            .map(|k| {
                k.iter().map(|(name, v)| format!("{name}={}", value_text(v))).collect::<Vec<_>>().join(" ")
            })
            .unwrap_or_default();
        let image = if event == "REMOVE" { &dynamodb["OldImage"] } else { &dynamodb["NewImage"] };
        let summary = image.as_object().map(|image| {
            let fields: Vec<String> = image
                .iter()
                .filter(|(name, _)| keys.is_none_or(|k| !k.contains_key(*name)))
                .map(|(name, v)| format!("{name}: {}", value_text(v)))
                .collect();
            truncate(&format!("{{{}}}", fields.join(", ")), SUMMARY_CHARS_MAX)
        });
        let padded = format!("{event:<6}");
        let event_text = if self.colour {
            let code = match event {
                "INSERT" => "32",
                "MODIFY" => "33",
                "REMOVE" => "31",
                _ => "0",
            };
            format!("\x1b[{code}m{padded}\x1b[0m")
        } else {
            padded
        };
        match summary {
            Some(summary) => format!("{seq}  {event_text}  {key_text}  {summary}"),
            None => format!("{seq}  {event_text}  {key_text}"),
        }
    }
}

/// An attribute value, short: strings quoted in images but bare in keys is not worth the
/// difference, so scalars print bare and everything else as compact DynamoDB JSON.
fn value_text(value: &Value) -> String {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return value.to_string();
    };
    match (kind.as_str(), inner) {
        ("S" | "N" | "B", Value::String(s)) => s.clone(),
        ("BOOL", Value::Bool(b)) => b.to_string(),
        ("NULL", _) => "null".into(),
        _ => inner.to_string(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_parse_and_heartbeats_are_ignored() {
        let event = parse_event("id: 000000000000000000007\nevent: record\ndata: {\"a\":1}\n\n");
        assert_eq!(
            (event.id.as_deref(), event.kind.as_str(), event.data.as_str()),
            (Some("000000000000000000007"), "record", "{\"a\":1}")
        );
        assert_eq!(parse_event(": heartbeat\n\n").kind, "");
    }

    #[test]
    fn readable_lines_show_seq_event_keys_and_the_rest_of_the_image() {
        let printer = Printer { json: false, colour: false };
        let data = r#"{"eventName":"INSERT","dynamodb":{"SequenceNumber":"000000000000000000042",
            "Keys":{"pk":{"S":"a"},"sk":{"N":"1"}},
            "NewImage":{"pk":{"S":"a"},"sk":{"N":"1"},"status":{"S":"open"},"tags":{"SS":["x"]}}}}"#;
        assert_eq!(
            printer.readable(data),
            r#"000000000000000000042  INSERT  pk=a sk=1  {status: open, tags: ["x"]}"#
        );
        assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
    }
}
