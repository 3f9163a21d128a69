//! The shards of a stream: the table's changelog shards (written by the store's writer, each
//! ending where the next begins) cut to the stream's range of seqs, with deterministic ids and
//! their lineage.
//!
//! A stream that begins inside a changelog shard begins its first shard there, so every stream
//! has its own shard ids. Per-item order holds across the lineage because seqs increase across
//! the whole table, and a shard boundary never splits a transaction (shards begin at a batch).

use eddy_core::changelog::FeedPosition;
use eddy_core::schema::StreamSettings;
use eddy_core::store::ShardStart;
use serde_json::{Value, json};

use crate::error::StreamsError;

/// Digits of the first seq in a shard id (DynamoDB: 20).
const SHARD_ID_SEQ_DIGITS: usize = 20;

/// One shard of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// `shardId-<first seq, 20 digits>-<8 hex digits>`.
    pub id: String,
    /// The shard before it in the stream.
    pub parent_id: Option<String>,
    /// The first seq of the shard.
    pub start: u64,
    /// The last seq, once the shard is closed (a later shard began or the stream was disabled).
    pub end: Option<u64>,
}

impl Shard {
    /// The shard as DescribeStream shows it.
    pub fn to_json(&self) -> Value {
        let mut range =
            json!({"StartingSequenceNumber": eddy_core::changelog::format_sequence_number(self.start)});
        if let Some(end) = self.end {
            range["EndingSequenceNumber"] = eddy_core::changelog::format_sequence_number(end).into();
        }
        let mut shard = json!({"ShardId": self.id, "SequenceNumberRange": range});
        if let Some(parent) = &self.parent_id {
            shard["ParentShardId"] = parent.clone().into();
        }
        shard
    }

    /// True when every record of the shard is older than the trim horizon.
    pub fn is_trimmed(&self, position: FeedPosition) -> bool {
        self.end.is_some_and(|end| end < position.trim_horizon)
    }
}

/// The shard id of a stream's shard beginning at `start`: the same for every call, distinct
/// between streams of a table.
pub fn shard_id(table_id: u64, label: &str, start: u64) -> String {
    // FNV-1a over the table, the stream and the start.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in table_id.to_be_bytes().iter().chain(label.as_bytes()).chain(&start.to_be_bytes()) {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("shardId-{start:0width$}-{hash:08x}", width = SHARD_ID_SEQ_DIGITS)
}

/// The first seq a shard id names, checking its form.
pub fn parse_shard_id(id: &str) -> Result<u64, StreamsError> {
    let invalid = || StreamsError::validation(format!("Invalid ShardId: {id}"));
    let rest = id.strip_prefix("shardId-").ok_or_else(invalid)?;
    let (digits, hash) = rest.split_once('-').ok_or_else(invalid)?;
    if digits.len() != SHARD_ID_SEQ_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || hash.len() != 8
        || !hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(invalid());
    }
    digits.parse().map_err(|_| invalid())
}

/// Every shard of a stream, oldest first, trimmed ones included (they are the parents of the
/// first live shard). `starts` are the table's changelog shards; a table that never committed a
/// record has none, and then the stream's one open shard begins at the next seq, where the
/// writer will begin the table's first shard.
pub fn stream_shards(
    table_id: u64,
    stream: &StreamSettings,
    starts: &[ShardStart],
    position: FeedPosition,
) -> Vec<Shard> {
    let mut bounds: Vec<(u64, Option<u64>)> = starts
        .iter()
        .enumerate()
        .map(|(i, s)| (s.first_seq, starts.get(i + 1).map(|next| next.first_seq.saturating_sub(1))))
        .collect();
    if bounds.is_empty() {
        bounds.push((position.high_watermark + 1, None));
    }
    let first = stream.first_seq;
    let mut shards: Vec<Shard> = Vec::new();
    for (begin, natural_end) in bounds {
        let start = begin.max(first);
        let end = match (natural_end, stream.last_seq) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if end.is_some_and(|end| end < start) {
            continue;
        }
        let parent_id = shards.last().map(|s| s.id.clone());
        shards.push(Shard { id: shard_id(table_id, &stream.label, start), parent_id, start, end });
    }
    shards
}

/// The shards of a stream a client sees: those with a record not yet trimmed, or still open.
pub fn live_shards(shards: Vec<Shard>, position: FeedPosition) -> Vec<Shard> {
    shards.into_iter().filter(|s| !s.is_trimmed(position)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(first_seq: u64, last_seq: Option<u64>) -> StreamSettings {
        StreamSettings {
            view_type: eddy_core::schema::StreamViewType::KeysOnly,
            label: "2026-01-01T00:00:00.000".into(),
            first_seq,
            last_seq,
        }
    }

    fn starts(seqs: &[u64]) -> Vec<ShardStart> {
        seqs.iter().map(|&first_seq| ShardStart { first_seq, created_at_millis: first_seq }).collect()
    }

    fn position(trim_horizon: u64, high_watermark: u64) -> FeedPosition {
        FeedPosition { table_id: 9, trim_horizon, high_watermark }
    }

    #[test]
    fn shards_follow_the_changelog_cut_to_the_stream() {
        let shards = stream_shards(9, &settings(15, None), &starts(&[1, 10, 20, 30]), position(1, 35));
        let ranges: Vec<_> = shards.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(ranges, vec![(15, Some(19)), (20, Some(29)), (30, None)]);
        assert_eq!(shards[0].parent_id, None);
        assert_eq!(shards[1].parent_id.as_deref(), Some(shards[0].id.as_str()));
        assert_eq!(shards[2].parent_id.as_deref(), Some(shards[1].id.as_str()));
        assert!(shards[0].id.starts_with("shardId-00000000000000000015-"));
        assert_eq!(parse_shard_id(&shards[0].id).ok(), Some(15));
    }

    #[test]
    fn a_disabled_stream_closes_its_last_shard() {
        let shards = stream_shards(9, &settings(15, Some(24)), &starts(&[1, 10, 20, 30]), position(1, 35));
        let ranges: Vec<_> = shards.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(ranges, vec![(15, Some(19)), (20, Some(24))]);
        let empty = stream_shards(9, &settings(15, Some(14)), &starts(&[1, 10]), position(1, 14));
        assert!(empty.is_empty());
    }

    #[test]
    fn a_table_without_records_has_one_open_shard_at_the_next_seq() {
        let shards = stream_shards(9, &settings(58, None), &[], position(58, 57));
        assert_eq!(shards.len(), 1);
        assert_eq!((shards[0].start, shards[0].end), (58, None));
        // The shard the writer begins later has the same id.
        let later = stream_shards(9, &settings(58, None), &starts(&[58]), position(58, 60));
        assert_eq!(later[0].id, shards[0].id);
    }

    #[test]
    fn trimmed_shards_disappear_but_stay_parents() {
        let all = stream_shards(9, &settings(1, None), &starts(&[1, 10, 20]), position(12, 25));
        let live = live_shards(all.clone(), position(12, 25));
        assert_eq!(live.len(), 2);
        assert_eq!(live[0].parent_id.as_deref(), Some(all[0].id.as_str()));
    }

    #[test]
    fn shard_ids_are_checked() {
        assert!(parse_shard_id("shardId-0000000000000000001-0000000a").is_err());
        assert!(parse_shard_id("shard-00000000000000000001-0000000a").is_err());
        assert!(parse_shard_id("shardId-00000000000000000001-0000000g").is_err());
        assert_eq!(parse_shard_id("shardId-00000000000000000001-0000000a").ok(), Some(1));
        assert_ne!(shard_id(1, "a", 5), shard_id(1, "b", 5));
    }
}
