//! The changelog: every table's ordered record of committed changes, written in the same redb
//! transaction as the data, and [`ChangeFeed`], the one way other crates read it.
//!
//! Each table has one strictly increasing sequence of change records (`seq`, a u64 starting at
//! 1), never reused, assigned by the writer. A write that changes nothing records nothing.

use crate::error::Error;
use crate::value::Item;

/// What a change did to its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeEvent {
    /// The item did not exist before.
    Insert,
    /// The item existed and changed.
    Modify,
    /// The item was removed.
    Remove,
}

impl ChangeEvent {
    /// DynamoDB Streams' eventName.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeEvent::Insert => "INSERT",
            ChangeEvent::Modify => "MODIFY",
            ChangeEvent::Remove => "REMOVE",
        }
    }
}

/// One committed change to one item.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// Position in the table's changelog.
    pub seq: u64,
    /// INSERT, MODIFY or REMOVE.
    pub event: ChangeEvent,
    /// The item's key attributes.
    pub keys: Item,
    /// The item before the change (absent for INSERT).
    pub old: Option<Item>,
    /// The item after the change (absent for REMOVE).
    pub new: Option<Item>,
    /// Commit time, milliseconds since the epoch.
    pub created_at_millis: u64,
    /// Shared by all records of one transaction (TransactWriteItems, ExecuteTransaction).
    pub transaction_id: Option<u64>,
    /// How many trigger write-backs led to this change (0 for a client's write).
    pub hops: u32,
}

impl ChangeRecord {
    /// The record's size as DynamoDB Streams reports it (SizeBytes): keys and images.
    pub fn size_bytes(&self) -> usize {
        let size = |i: &Item| crate::value::item_size_bytes(i);
        size(&self.keys) + self.old.as_ref().map_or(0, size) + self.new.as_ref().map_or(0, size)
    }

    /// DynamoDB's SequenceNumber: the seq as a zero-padded numeric string of 21 digits.
    pub fn sequence_number(&self) -> String {
        format_sequence_number(self.seq)
    }
}

/// Digits of a DynamoDB-style sequence number.
pub const SEQUENCE_NUMBER_DIGITS: usize = 21;

/// Formats a seq as DynamoDB shows sequence numbers (21+ digits, zero-padded).
pub fn format_sequence_number(seq: u64) -> String {
    format!("{seq:0width$}", width = SEQUENCE_NUMBER_DIGITS)
}

/// Parses a sequence number string back into a seq.
pub fn parse_sequence_number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 40 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.trim_start_matches('0').parse().ok().or_else(|| text.bytes().all(|b| b == b'0').then_some(0))
}

/// The read side of the changelog, for streams, subscriptions, triggers and connectors. They
/// read changes only through this trait, never the storage underneath, so the log can move to
/// a replicated backend without touching them.
pub trait ChangeFeed: Send + Sync {
    /// Records of `table` with `seq >= from`, in order, at most `limit` of them and never past
    /// the high watermark. Records below the trim horizon are gone: reading from there starts
    /// at the horizon.
    fn read(&self, table: &str, from: u64, limit: usize) -> Result<Vec<ChangeRecord>, Error>;

    /// Where `table`'s changelog stands now.
    fn position(&self, table: &str) -> Result<FeedPosition, Error>;

    /// The first seq whose commit time is at or after `millis` (the high watermark + 1 when
    /// none is).
    fn seq_at_time(&self, table: &str, millis: u64) -> Result<u64, Error>;

    /// A receiver that sees `table`'s high watermark after every commit that moves it. The
    /// sender is dropped when the table is deleted, so a follower learns of it.
    fn watch(&self, table: &str) -> Result<tokio::sync::watch::Receiver<u64>, Error>;
}

/// The bounds of a table's changelog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedPosition {
    /// The internal id of the table (a re-created table has another id and a new changelog).
    pub table_id: u64,
    /// The oldest retained seq (the trim horizon); `high_watermark + 1` when nothing is retained.
    pub trim_horizon: u64,
    /// The seq of the last durably committed record (0 before the first).
    pub high_watermark: u64,
}

// Binary encoding of a record in the changelog: version, seq, time, event, flags, transaction
// id, hops, then keys, old and new images in the item codec.
const RECORD_FORMAT: u8 = 1;
const FLAG_OLD: u8 = 1;
const FLAG_NEW: u8 = 2;
const FLAG_TRANSACTION: u8 = 4;

/// Encodes a record for the changelog.
pub fn encode_record(record: &ChangeRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(RECORD_FORMAT);
    out.extend_from_slice(&record.seq.to_be_bytes());
    out.extend_from_slice(&record.created_at_millis.to_be_bytes());
    out.push(match record.event {
        ChangeEvent::Insert => 0,
        ChangeEvent::Modify => 1,
        ChangeEvent::Remove => 2,
    });
    let mut flags = 0;
    if record.old.is_some() {
        flags |= FLAG_OLD;
    }
    if record.new.is_some() {
        flags |= FLAG_NEW;
    }
    if record.transaction_id.is_some() {
        flags |= FLAG_TRANSACTION;
    }
    out.push(flags);
    out.extend_from_slice(&record.transaction_id.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&record.hops.to_be_bytes());
    for item in [Some(&record.keys), record.old.as_ref(), record.new.as_ref()].into_iter().flatten() {
        let encoded = crate::codec::encode_item(item);
        out.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        out.extend_from_slice(&encoded);
    }
    out
}

/// Decodes a record written by [`encode_record`].
pub fn decode_record(bytes: &[u8]) -> Option<ChangeRecord> {
    let mut pos = 0;
    let mut take = |n: usize| {
        let slice = bytes.get(pos..pos + n)?;
        pos += n;
        Some(slice)
    };
    if take(1)? != [RECORD_FORMAT] {
        return None;
    }
    let u64_at = |s: &[u8]| s.try_into().ok().map(u64::from_be_bytes);
    let seq = u64_at(take(8)?)?;
    let created_at_millis = u64_at(take(8)?)?;
    let event = match take(1)?[0] {
        0 => ChangeEvent::Insert,
        1 => ChangeEvent::Modify,
        2 => ChangeEvent::Remove,
        _ => return None,
    };
    let flags = take(1)?[0];
    let transaction = u64_at(take(8)?)?;
    let hops = u32::from_be_bytes(take(4)?.try_into().ok()?);
    let mut item = || {
        let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        crate::codec::decode_item(take(len)?)
    };
    let keys = item()?;
    let old = if flags & FLAG_OLD != 0 { Some(item()?) } else { None };
    let new = if flags & FLAG_NEW != 0 { Some(item()?) } else { None };
    Some(ChangeRecord {
        seq,
        event,
        keys,
        old,
        new,
        created_at_millis,
        transaction_id: (flags & FLAG_TRANSACTION != 0).then_some(transaction),
        hops,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::number::Number;
    use crate::value::AttributeValue;

    fn example_record(seq: u64) -> ChangeRecord {
        let mut keys = BTreeMap::new();
        keys.insert("pk".to_string(), AttributeValue::S(format!("k{seq}")));
        let mut new = keys.clone();
        new.insert("n".to_string(), AttributeValue::N(Number::zero()));
        ChangeRecord {
            seq,
            event: ChangeEvent::Insert,
            keys,
            old: None,
            new: Some(new),
            created_at_millis: 1_700_000_000_000 + seq,
            transaction_id: None,
            hops: 0,
        }
    }

    #[test]
    fn records_round_trip_through_the_encoding() {
        let mut record = example_record(42);
        assert_eq!(decode_record(&encode_record(&record)), Some(record.clone()));
        record.event = ChangeEvent::Modify;
        record.old = record.new.clone();
        record.transaction_id = Some(7);
        record.hops = 2;
        assert_eq!(decode_record(&encode_record(&record)), Some(record.clone()));
        let bytes = encode_record(&record);
        for cut in 0..bytes.len() {
            assert_eq!(decode_record(&bytes[..cut]), None);
        }
    }

    #[test]
    fn sequence_numbers_are_21_digit_strings_that_sort_like_seqs() {
        assert_eq!(format_sequence_number(42), "000000000000000000042");
        assert_eq!(parse_sequence_number("000000000000000000042"), Some(42));
        assert_eq!(parse_sequence_number("0"), Some(0));
        assert_eq!(parse_sequence_number("x1"), None);
        assert!(format_sequence_number(9) < format_sequence_number(10));
        assert_eq!(format_sequence_number(u64::MAX).len(), 21);
    }
}
