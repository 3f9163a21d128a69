//! Plain HTTP/1.1 access to Eddy's REST API (`/v1`) over `std::net::TcpStream`: one-shot JSON
//! calls, and [`EventStream`], a reader of streaming responses (chunked SSE or NDJSON).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Upper bound on one call, so a hung server fails a test instead of hanging it.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends `method path` with an optional JSON body; returns the status and the body.
pub fn call(endpoint: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let authority = endpoint.trim_start_matches("http://");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(authority).expect("connect to server");
    stream.set_read_timeout(Some(CALL_TIMEOUT)).expect("set read timeout");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of HTTP headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut decoder = Dechunker { raw: std::mem::take(&mut body), finished: false };
        while let Some(data) = decoder.next_chunk() {
            body.extend(data);
        }
    }
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Sends `method path` and parses the JSON body; returns the status and the value.
pub fn call_json(endpoint: &str, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let (status, text) = call(endpoint, method, path, body);
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text:?}"));
    (status, value)
}

#[derive(Default)]
struct Dechunker {
    raw: Vec<u8>,
    finished: bool,
}

impl Dechunker {
    /// The next whole chunk's data, if it is all in `raw`.
    fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let end = self.raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&self.raw[..end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        if size == 0 {
            self.finished = true;
            return None;
        }
        if self.raw.len() < end + 2 + size + 2 {
            return None;
        }
        let data = self.raw[end + 2..end + 2 + size].to_vec();
        self.raw.drain(..end + 2 + size + 2);
        Some(data)
    }
}

/// One Server-Sent Event (a heartbeat comment has `comment` set and nothing else).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    /// `id:`.
    pub id: Option<String>,
    /// `event:`.
    pub event: Option<String>,
    /// `data:` lines joined.
    pub data: String,
    /// A comment line (`: heartbeat`), when the event is only that.
    pub comment: Option<String>,
}

impl SseEvent {
    /// The data as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {:?}", self.data))
    }
}

/// A streaming response being read: a status, then body bytes as they come.
pub struct EventStream {
    stream: TcpStream,
    /// The response status.
    pub status: u16,
    /// The response head, lower-cased.
    pub head: String,
    chunks: Dechunker,
    body: Vec<u8>,
}

impl EventStream {
    /// Sends `GET path` with extra `headers` and reads the response head.
    pub fn open(endpoint: &str, path: &str, headers: &[(&str, &str)]) -> EventStream {
        let authority = endpoint.trim_start_matches("http://");
        let mut request = format!("GET {path} HTTP/1.1\r\nhost: {authority}\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut stream = TcpStream::connect(authority).expect("connect to server");
        stream.write_all(request.as_bytes()).expect("send request");
        stream.set_read_timeout(Some(CALL_TIMEOUT)).expect("set read timeout");
        let mut raw = Vec::new();
        let split = loop {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break split;
            }
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).expect("read response head");
            assert!(n > 0, "connection closed before the response head");
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let chunks = Dechunker { raw: raw[split + 4..].to_vec(), finished: false };
        EventStream { stream, status, head, chunks, body: Vec::new() }
    }

    /// The whole body of a response that is not a stream (an error), read to its end.
    pub fn error_body(mut self) -> String {
        let length = self
            .head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = std::mem::take(&mut self.chunks.raw);
        while body.len() < length {
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).expect("read error body");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&body).into_owned()
    }

    /// Reads until `ready` finds something in the decoded body or `timeout` passes; `None` on
    /// timeout or at the end of the body.
    fn read_until<T>(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut(&mut Vec<u8>) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = ready(&mut self.body) {
                return Some(found);
            }
            while let Some(data) = self.chunks.next_chunk() {
                self.body.extend(data);
            }
            if let Some(found) = ready(&mut self.body) {
                return Some(found);
            }
            let now = Instant::now();
            if self.chunks.finished || now >= deadline {
                return None;
            }
            self.stream.set_read_timeout(Some(deadline - now)).expect("set read timeout");
            let mut buf = [0u8; 64 * 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.chunks.raw.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    return None;
                }
                Err(e) => panic!("read stream: {e}"),
            }
        }
    }

    /// The next SSE event (heartbeat comments included), or `None` after `timeout` or at the end.
    pub fn next_event(&mut self, timeout: Duration) -> Option<SseEvent> {
        self.read_until(timeout, |body| {
            let end = body.windows(2).position(|w| w == b"\n\n")?;
            let text = String::from_utf8_lossy(&body[..end]).into_owned();
            body.drain(..end + 2);
            let mut event = SseEvent::default();
            let mut data = Vec::new();
            for line in text.lines() {
                if let Some(comment) = line.strip_prefix(':') {
                    event.comment = Some(comment.trim().to_string());
                } else if let Some((field, value)) = line.split_once(": ") {
                    match field {
                        "id" => event.id = Some(value.to_string()),
                        "event" => event.event = Some(value.to_string()),
                        "data" => data.push(value.to_string()),
                        other => panic!("unexpected SSE field {other:?}"),
                    }
                }
            }
            event.data = data.join("\n");
            Some(event)
        })
    }

    /// The next event that is not a heartbeat.
    pub fn next_non_heartbeat(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let event = self.next_event(deadline.saturating_duration_since(Instant::now()))?;
            if event.comment.is_none() {
                return Some(event);
            }
        }
    }

    /// The next NDJSON line (an empty string is a heartbeat), or `None` after `timeout` or at the
    /// end.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        self.read_until(timeout, |body| {
            let end = body.iter().position(|&b| b == b'\n')?;
            let line = String::from_utf8_lossy(&body[..end]).into_owned();
            body.drain(..end + 1);
            Some(line)
        })
    }
}
