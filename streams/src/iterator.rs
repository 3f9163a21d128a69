//! Shard iterators: an opaque, versioned position in one shard of one stream, handed out by
//! GetShardIterator and GetRecords and valid for [`Limits::iterator_lifetime`] after that.
//!
//! The token is URL-safe base64 of: format version, table id, shard start, next seq, issue
//! time, the stream label and the table name, then a checksum, so a mangled token is a
//! ValidationException rather than a read somewhere else.
//!
//! [`Limits::iterator_lifetime`]: crate::limits::Limits::iterator_lifetime

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::StreamsError;

/// Version of the iterator's encoding.
const FORMAT: u8 = 1;
/// Longest iterator DynamoDB Streams accepts (characters).
pub const ITERATOR_CHARS_MAX: usize = 2048;

/// Where GetShardIterator starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IteratorType {
    /// The oldest record of the shard that is not trimmed.
    TrimHorizon,
    /// Just after the newest record of the shard.
    Latest,
    /// At the given sequence number.
    AtSequenceNumber,
    /// Just after the given sequence number.
    AfterSequenceNumber,
}

impl IteratorType {
    /// Parses DynamoDB's name, with DynamoDB's message for an unknown one.
    pub fn parse(text: &str) -> Result<Self, StreamsError> {
        Ok(match text {
            "TRIM_HORIZON" => IteratorType::TrimHorizon,
            "LATEST" => IteratorType::Latest,
            "AT_SEQUENCE_NUMBER" => IteratorType::AtSequenceNumber,
            "AFTER_SEQUENCE_NUMBER" => IteratorType::AfterSequenceNumber,
            other => {
                return Err(StreamsError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
                )));
            }
        })
    }
}

/// A decoded shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIterator {
    /// The table's name.
    pub table: String,
    /// The table's internal id: a re-created table of the same name is another table.
    pub table_id: u64,
    /// The stream's label.
    pub label: String,
    /// The first seq of the shard (names the shard within the stream).
    pub shard_start: u64,
    /// The seq the next GetRecords starts at.
    pub next_seq: u64,
    /// When it was handed out, by the server's clock (milliseconds since the epoch).
    pub issued_at_millis: u64,
}

fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

impl ShardIterator {
    /// The opaque token.
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(48 + self.label.len() + self.table.len());
        out.push(FORMAT);
        for n in [self.table_id, self.shard_start, self.next_seq, self.issued_at_millis] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        for text in [&self.label, &self.table] {
            out.extend_from_slice(&(text.len() as u16).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_be_bytes());
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Reads a token made by [`ShardIterator::encode`].
    pub fn decode(token: &str) -> Result<Self, StreamsError> {
        let invalid = || StreamsError::validation("Invalid ShardIterator");
        if token.is_empty() || token.len() > ITERATOR_CHARS_MAX {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let (body, sum) =
            bytes.split_at_checked(bytes.len().checked_sub(4).ok_or_else(invalid)?).ok_or_else(invalid)?;
        if sum != checksum(body).to_be_bytes() {
            return Err(invalid());
        }
        let mut pos = 0;
        let mut take = |n: usize| -> Result<&[u8], StreamsError> {
            let slice = body.get(pos..pos + n).ok_or_else(invalid)?;
            pos += n;
            Ok(slice)
        };
        if take(1)? != [FORMAT] {
            return Err(invalid());
        }
        let mut number = || -> Result<u64, StreamsError> {
            Ok(u64::from_be_bytes(take(8)?.try_into().map_err(|_| invalid())?))
        };
        let (table_id, shard_start, next_seq, issued_at_millis) =
            (number()?, number()?, number()?, number()?);
        let mut text = || -> Result<String, StreamsError> {
            let len = u16::from_be_bytes(take(2)?.try_into().map_err(|_| invalid())?) as usize;
            String::from_utf8(take(len)?.to_vec()).map_err(|_| invalid())
        };
        let (label, table) = (text()?, text()?);
        if pos != body.len() {
            return Err(invalid());
        }
        Ok(ShardIterator { table, table_id, label, shard_start, next_seq, issued_at_millis })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> ShardIterator {
        ShardIterator {
            table: "orders".into(),
            table_id: 3,
            label: "2026-01-01T00:00:00.000".into(),
            shard_start: 10,
            next_seq: 12,
            issued_at_millis: 1_700_000_000_000,
        }
    }

    #[test]
    fn iterators_round_trip() {
        let token = example().encode();
        assert!(token.len() < ITERATOR_CHARS_MAX);
        assert_eq!(ShardIterator::decode(&token).ok(), Some(example()));
    }

    #[test]
    fn mangled_iterators_are_invalid() {
        let token = example().encode();
        for bad in ["", "!!!", &token[..token.len() - 2], &format!("A{token}"), &token.replace('A', "B")] {
            if bad != token {
                assert!(matches!(ShardIterator::decode(bad), Err(StreamsError::Validation { .. })), "{bad}");
            }
        }
        assert!(IteratorType::parse("OLDEST").is_err());
        assert_eq!(IteratorType::parse("LATEST").ok(), Some(IteratorType::Latest));
    }
}
