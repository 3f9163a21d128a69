//! The writer's side of the changelog: assigning sequence numbers, appending change records in
//! the batch's transaction, rolling shards over, trimming expired records, and telling
//! followers about new high watermarks after a durable commit.

use std::collections::HashMap;
use std::sync::Mutex;

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use tokio::sync::watch;

use crate::changelog::{ChangeEvent, ChangeRecord, encode_record};
use crate::error::Error;
use crate::store::layout;

/// Where the next sequence numbers of the tables a batch touches come from.
pub(crate) struct BatchLog {
    /// Commit time of every record in the batch.
    now_millis: u64,
    /// Shards of the DynamoDB Streams API view roll over after this long.
    shard_period_millis: u64,
    /// Table id → the last seq assigned in this batch (or before it).
    last: HashMap<u64, u64>,
}

impl BatchLog {
    pub(crate) fn new(now_millis: u64, shard_period_millis: u64) -> Self {
        BatchLog { now_millis, shard_period_millis, last: HashMap::new() }
    }

    /// Appends a record for a change of `table_id`, assigning its seq.
    #[allow(clippy::too_many_arguments, reason = "the parts of one record")]
    pub(crate) fn append(
        &mut self,
        txn: &WriteTransaction,
        table_id: u64,
        event: ChangeEvent,
        keys: crate::value::Item,
        old: Option<crate::value::Item>,
        new: Option<crate::value::Item>,
        transaction_id: Option<u64>,
        hops: u32,
    ) -> Result<u64, Error> {
        let previous = match self.last.get(&table_id) {
            Some(seq) => *seq,
            None => {
                let seq = last_seq(txn, table_id)?;
                self.roll_shard(txn, table_id, seq + 1)?;
                seq
            }
        };
        let seq = previous + 1;
        // A broken sequence would break every reader's order: stop rather than write it.
        assert!(seq > previous, "sequence numbers must increase");
        self.last.insert(table_id, seq);
        let record = ChangeRecord {
            seq,
            event,
            keys,
            old,
            new,
            created_at_millis: self.now_millis,
            transaction_id,
            hops,
        };
        let name = layout::changelog_table_name(table_id);
        let mut log = txn.open_table(TableDefinition::<u64, &[u8]>::new(&name))?;
        log.insert(seq, encode_record(&record).as_slice())?;
        Ok(seq)
    }

    /// Starts a new shard at `first_seq` when the table has none or its newest is older than
    /// the shard period.
    fn roll_shard(&self, txn: &WriteTransaction, table_id: u64, first_seq: u64) -> Result<(), Error> {
        let mut shards = txn.open_table(layout::SHARDS)?;
        let newest_created = shards
            .range((table_id, 0)..=(table_id, u64::MAX))?
            .next_back()
            .transpose()?
            .map(|(_, created)| created.value());
        let expired = match newest_created {
            None => true,
            Some(created) => created.saturating_add(self.shard_period_millis) <= self.now_millis,
        };
        if expired {
            shards.insert((table_id, first_seq), self.now_millis)?;
        }
        Ok(())
    }

    /// Persists the last seq of every table the batch appended to.
    pub(crate) fn finish(&self, txn: &WriteTransaction) -> Result<(), Error> {
        let mut sequences = txn.open_table(layout::SEQUENCES)?;
        for (table_id, seq) in &self.last {
            sequences.insert(*table_id, *seq)?;
        }
        Ok(())
    }

    /// Table id → last seq, for the tables this batch appended to.
    pub(crate) fn appended(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.last.iter().map(|(t, s)| (*t, *s))
    }
}

/// The last seq assigned to a table (its high watermark once committed).
pub(crate) fn last_seq(txn: &WriteTransaction, table_id: u64) -> Result<u64, Error> {
    Ok(txn.open_table(layout::SEQUENCES)?.get(table_id)?.map(|g| g.value()).unwrap_or(0))
}

/// The oldest retained seq of a table's changelog, if it holds any record.
pub(crate) fn first_seq(txn: &WriteTransaction, table_id: u64) -> Result<Option<u64>, Error> {
    let name = layout::changelog_table_name(table_id);
    match txn.open_table(TableDefinition::<u64, &[u8]>::new(&name)) {
        Ok(log) => Ok(log.first()?.map(|(seq, _)| seq.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A new table's changelog starts after every seq any table ever had, so a sequence number
/// never names records of two tables (a re-created table included).
pub(crate) fn start_table(txn: &WriteTransaction, table_id: u64) -> Result<(), Error> {
    let floor = {
        let meta = txn.open_table(layout::META)?;
        let floor = meta.get("sequence_floor")?.map(|g| g.value().to_vec());
        floor.and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).unwrap_or(0)
    };
    txn.open_table(layout::SEQUENCES)?.insert(table_id, floor)?;
    txn.open_table(TableDefinition::<u64, &[u8]>::new(&layout::changelog_table_name(table_id)))?;
    Ok(())
}

/// Drops a deleted table's changelog, raising the floor past its last seq.
pub(crate) fn drop_table(txn: &WriteTransaction, table_id: u64) -> Result<(), Error> {
    let last = last_seq(txn, table_id)?;
    {
        let mut meta = txn.open_table(layout::META)?;
        let floor = meta
            .get("sequence_floor")?
            .map(|g| g.value().to_vec())
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        meta.insert("sequence_floor", floor.max(last).to_be_bytes().as_slice())?;
    }
    txn.open_table(layout::SEQUENCES)?.remove(table_id)?;
    txn.delete_table(TableDefinition::<u64, &[u8]>::new(&layout::changelog_table_name(table_id)))?;
    let mut shards = txn.open_table(layout::SHARDS)?;
    shards.retain_in((table_id, 0)..=(table_id, u64::MAX), |_, _| false)?;
    Ok(())
}

/// Removes up to `max_records` records of `table_id` committed before `before_millis`, oldest
/// first. Returns how many it removed.
pub(crate) fn trim(
    txn: &WriteTransaction,
    table_id: u64,
    before_millis: u64,
    max_records: usize,
) -> Result<usize, Error> {
    let name = layout::changelog_table_name(table_id);
    let mut log = match txn.open_table(TableDefinition::<u64, &[u8]>::new(&name)) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut expired = Vec::new();
    for entry in log.range::<u64>(..)?.take(max_records) {
        let (seq, bytes) = entry?;
        let created = record_time(bytes.value())
            .ok_or_else(|| Error::Corrupt(format!("record {} of {name} does not decode", seq.value())))?;
        if created >= before_millis {
            break;
        }
        expired.push(seq.value());
    }
    for seq in &expired {
        log.remove(*seq)?;
    }
    Ok(expired.len())
}

/// The first seq of `table_id` committed at or after `millis` (`high_watermark + 1` when none),
/// read inside the writer's transaction.
pub(crate) fn seq_at_time(
    txn: &WriteTransaction,
    table_id: u64,
    millis: u64,
    high_watermark: u64,
) -> Result<u64, Error> {
    let name = layout::changelog_table_name(table_id);
    let log = txn.open_table(TableDefinition::<u64, &[u8]>::new(&name))?;
    for entry in log.range::<u64>(..)? {
        let (seq, bytes) = entry?;
        if record_time(bytes.value()).is_some_and(|t| t >= millis) {
            return Ok(seq.value());
        }
    }
    Ok(high_watermark + 1)
}

/// The commit time in an encoded record, read without decoding the images.
pub(crate) fn record_time(bytes: &[u8]) -> Option<u64> {
    bytes.get(9..17).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
}

/// The high watermark of every table, as followers see it: moved after each durable commit.
#[derive(Default)]
pub(crate) struct Watermarks {
    senders: Mutex<HashMap<u64, watch::Sender<u64>>>,
}

impl Watermarks {
    /// A receiver of `table_id`'s high watermark, starting at `current`.
    pub(crate) fn subscribe(&self, table_id: u64, current: u64) -> watch::Receiver<u64> {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        let sender = senders.entry(table_id).or_insert_with(|| watch::channel(current).0);
        sender.send_if_modified(|v| {
            let moved = current > *v;
            if moved {
                *v = current;
            }
            moved
        });
        sender.subscribe()
    }

    /// Publishes new high watermarks after a durable commit.
    pub(crate) fn publish(&self, moved: impl Iterator<Item = (u64, u64)>) {
        let senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        for (table_id, seq) in moved {
            if let Some(sender) = senders.get(&table_id) {
                sender.send_if_modified(|v| {
                    let moved = seq > *v;
                    if moved {
                        *v = seq;
                    }
                    moved
                });
            }
        }
    }

    /// Drops a deleted table's sender, which closes every follower's receiver.
    pub(crate) fn close(&self, table_id: u64) {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).remove(&table_id);
    }
}
