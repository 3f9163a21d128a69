//! An incremental Server-Sent Events parser: it takes the body of a `text/event-stream` response
//! in whatever pieces the connection delivers (a piece may end anywhere, even between the `\r`
//! and `\n` of a line end) and hands out each event once its closing blank line is in.
//!
//! It follows the WHATWG event-stream rules the bench needs: lines end with `\n`, `\r\n` or `\r`;
//! a leading byte-order mark is skipped; `:` starts a comment (Eddy's heartbeats); `field: value`
//! loses one space after the colon; `data` lines are joined with `\n`; a blank line dispatches
//! the event if it has data; `id` is remembered across events as the last event id.

/// Longest line accepted, so a peer that never ends a line cannot grow the buffer without bound.
pub const LINE_BYTES_MAX: usize = 16 * 1024 * 1024;

const BOM: &[u8] = "\u{feff}".as_bytes();

/// One dispatched event, borrowed from the parser until the callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The last event id seen so far in the stream (`id:` of this event or an earlier one).
    pub id: &'a str,
    /// The event type: the `event:` field, `message` when there was none.
    pub event: &'a str,
    /// The `data:` lines joined with `\n`.
    pub data: &'a [u8],
}

/// The parser's state between pieces.
#[derive(Debug, Default)]
pub struct Parser {
    /// The unfinished line of the previous piece.
    line: Vec<u8>,
    /// The previous piece ended with `\r`: a `\n` starting the next one belongs to that line end.
    after_cr: bool,
    /// At least one line was processed (the byte-order mark can only start the first).
    past_first_line: bool,
    last_id: String,
    event: String,
    data: Vec<u8>,
    has_data: bool,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Feeds the next piece of the body and calls `on_event` for each event it completes.
    pub fn push(&mut self, mut piece: &[u8], mut on_event: impl FnMut(Event<'_>)) -> anyhow::Result<()> {
        if self.after_cr && !piece.is_empty() {
            self.after_cr = false;
            if piece[0] == b'\n' {
                piece = &piece[1..];
            }
        }
        while let Some(at) = piece.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.line.is_empty() {
                self.line_done(&piece[..at], &mut on_event);
            } else {
                self.line.extend_from_slice(&piece[..at]);
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, &mut on_event);
                self.line = line;
                self.line.clear();
            }
            let cr = piece[at] == b'\r';
            piece = &piece[at + 1..];
            if cr {
                match piece.first() {
                    Some(b'\n') => piece = &piece[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.line.extend_from_slice(piece);
        if self.line.len() > LINE_BYTES_MAX {
            anyhow::bail!("event stream line longer than {LINE_BYTES_MAX} bytes");
        }
        Ok(())
    }

    fn line_done(&mut self, mut line: &[u8], on_event: &mut impl FnMut(Event<'_>)) {
        if !self.past_first_line {
            self.past_first_line = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            if self.has_data {
                let event = if self.event.is_empty() { "message" } else { self.event.as_str() };
                on_event(Event { id: &self.last_id, event, data: &self.data });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            // An id with NUL is ignored, as the standard says.
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                self.last_id.push_str(&String::from_utf8_lossy(value));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Parser;

    /// (id, event, data) of each event.
    type Seen = Vec<(String, String, String)>;

    fn feed(pieces: &[&[u8]]) -> Seen {
        let mut parser = Parser::new();
        let mut seen = Vec::new();
        for piece in pieces {
            parser
                .push(piece, |e| {
                    seen.push((
                        e.id.to_string(),
                        e.event.to_string(),
                        String::from_utf8(e.data.to_vec()).unwrap(),
                    ))
                })
                .unwrap();
        }
        seen
    }

    const STREAM: &str = concat!(
        ": heartbeat\n\n",
        "id: 000000000000000000007\nevent: record\ndata: {\"dynamodb\":{\"Keys\":{\"pk\":{\"S\":\"a\"}}}}\n\n",
        "id: 000000000000000000008\nevent: record\ndata: {\"n\":2}\n\n",
        ": heartbeat\n\n",
        "event: end\ndata: {\"Reason\":\"TableDeleted\"}\n\n",
    );

    fn expected() -> Seen {
        let row = |id: &str, event: &str, data: &str| (id.to_string(), event.to_string(), data.to_string());
        vec![
            row("000000000000000000007", "record", r#"{"dynamodb":{"Keys":{"pk":{"S":"a"}}}}"#),
            row("000000000000000000008", "record", r#"{"n":2}"#),
            row("000000000000000000008", "end", r#"{"Reason":"TableDeleted"}"#),
        ]
    }

    #[test]
    fn whole_stream_in_one_piece() {
        assert_eq!(feed(&[STREAM.as_bytes()]), expected());
    }

    #[test]
    fn every_split_into_two_and_three_pieces() {
        let bytes = STREAM.as_bytes();
        for a in 0..=bytes.len() {
            assert_eq!(feed(&[&bytes[..a], &bytes[a..]]), expected(), "split at {a}");
        }
        for a in (0..bytes.len()).step_by(7) {
            for b in a..=bytes.len() {
                assert_eq!(feed(&[&bytes[..a], &bytes[a..b], &bytes[b..]]), expected(), "split at {a}, {b}");
            }
        }
    }

    #[test]
    fn byte_by_byte_with_crlf_and_cr_line_ends() {
        for ending in ["\r\n", "\r"] {
            let text = STREAM.replace('\n', ending);
            let pieces: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
            assert_eq!(feed(&pieces), expected(), "line end {ending:?}");
        }
    }

    #[test]
    fn an_event_is_dispatched_only_at_its_blank_line() {
        let mut parser = Parser::new();
        let mut count = 0;
        parser.push(b"id: 1\nevent: record\ndata: {}\n", |_| count += 1).unwrap();
        assert_eq!(count, 0);
        parser.push(b"\n", |_| count += 1).unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn field_rules() {
        let seen = feed(&[
            "\u{feff}data:no space\ndata:  two spaces\ndata\n\n".as_bytes(),
            b"event: x\nid: 5\n\n",
            b"retry: 10\nunknown: y\nid: 6\ndata: z\n\n",
        ]);
        let row = |id: &str, event: &str, data: &str| (id.to_string(), event.to_string(), data.to_string());
        assert_eq!(
            seen,
            vec![
                // Data lines joined with \n, one leading space removed, a bare `data` is empty.
                row("", "message", "no space\n two spaces\n"),
                // The block with `event: x` had no data: nothing dispatched, but its id stays.
                row("6", "message", "z"),
            ]
        );
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut parser = Parser::new();
        let big = vec![b'a'; super::LINE_BYTES_MAX + 1];
        assert!(parser.push(&big, |_| {}).is_err());
    }
}
