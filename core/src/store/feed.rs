//! [`ChangeFeed`] over the store: reads of the changelog in their own read transactions, never
//! past what has durably committed, and high-watermark notifications from the writer.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::changelog::{ChangeFeed, ChangeRecord, FeedPosition, decode_record};
use crate::error::Error;
use crate::store::{Store, layout, log};

/// Where a shard of a table's changelog begins (the DynamoDB Streams API view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardStart {
    /// The first seq of the shard.
    pub first_seq: u64,
    /// When the shard was created, milliseconds since the epoch.
    pub created_at_millis: u64,
}

impl Store {
    fn changelog_name(&self, table: &str) -> Result<(u64, String), Error> {
        let meta = self.table(table)?;
        Ok((meta.id, layout::changelog_table_name(meta.id)))
    }

    /// The shards of a table's changelog, oldest first; each ends where the next begins.
    pub fn shards(&self, table: &str) -> Result<Vec<ShardStart>, Error> {
        let meta = self.table(table)?;
        let txn = self.inner.db.begin_read()?;
        let shards = match txn.open_table(layout::SHARDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        shards
            .range((meta.id, 0)..=(meta.id, u64::MAX))?
            .map(|entry| {
                let (key, created) = entry?;
                Ok(ShardStart { first_seq: key.value().1, created_at_millis: created.value() })
            })
            .collect()
    }

    /// Removes one bounded step of `table`'s records older than its retention; returns how
    /// many went. The store's trimmer calls it until a step removes nothing.
    pub async fn trim_step(&self, table: &str) -> Result<usize, Error> {
        let meta = self.table(table)?;
        let retention = meta.retention_millis.unwrap_or(self.inner.limits.retention.as_millis() as u64);
        let before_millis = self.inner.clock.now_millis().saturating_sub(retention);
        self.submit(|reply| super::Command::Trim { table: table.to_string(), before_millis, reply }).await
    }

    /// Trims every table's expired records to completion, in bounded steps.
    pub async fn trim_all(&self) -> Result<usize, Error> {
        let mut removed = 0;
        for table in self.table_names() {
            loop {
                match self.trim_step(&table).await {
                    Ok(0) => break,
                    Ok(n) => removed += n,
                    Err(Error::ResourceNotFound { .. }) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// The store's clock (time enters only through it).
    pub fn now_millis(&self) -> u64 {
        self.inner.clock.now_millis()
    }
}

impl ChangeFeed for Store {
    fn read(&self, table: &str, from: u64, limit: usize) -> Result<Vec<ChangeRecord>, Error> {
        let (_, name) = self.changelog_name(table)?;
        let txn = self.inner.db.begin_read()?;
        let log = match txn.open_table(TableDefinition::<u64, &[u8]>::new(&name)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Err(Error::table_not_found()),
            Err(e) => return Err(e.into()),
        };
        log.range(from..)?
            .take(limit)
            .map(|entry| {
                let (seq, bytes) = entry?;
                decode_record(bytes.value()).ok_or_else(|| {
                    Error::Corrupt(format!("record {} of {name} does not decode", seq.value()))
                })
            })
            .collect()
    }

    fn position(&self, table: &str) -> Result<FeedPosition, Error> {
        let (table_id, name) = self.changelog_name(table)?;
        let txn = self.inner.db.begin_read()?;
        let high_watermark = match txn.open_table(layout::SEQUENCES) {
            Ok(t) => t.get(table_id)?.map(|g| g.value()).unwrap_or(0),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        let trim_horizon = match txn.open_table(TableDefinition::<u64, &[u8]>::new(&name)) {
            Ok(t) => t.first()?.map(|(seq, _)| seq.value()).unwrap_or(high_watermark + 1),
            Err(redb::TableError::TableDoesNotExist(_)) => high_watermark + 1,
            Err(e) => return Err(e.into()),
        };
        Ok(FeedPosition { table_id, trim_horizon, high_watermark })
    }

    fn seq_at_time(&self, table: &str, millis: u64) -> Result<u64, Error> {
        let position = self.position(table)?;
        let (_, name) = self.changelog_name(table)?;
        let txn = self.inner.db.begin_read()?;
        let log = match txn.open_table(TableDefinition::<u64, &[u8]>::new(&name)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Err(Error::table_not_found()),
            Err(e) => return Err(e.into()),
        };
        // Commit times rise with seqs, so the first record at or after `millis` is found by
        // bisecting the retained range.
        let (mut low, mut high) = (position.trim_horizon, position.high_watermark + 1);
        while low < high {
            let mid = low + (high - low) / 2;
            let at = log.range(mid..)?.next().transpose()?;
            match at {
                Some((seq, bytes)) => {
                    let time = log::record_time(bytes.value()).unwrap_or(u64::MAX);
                    if time >= millis {
                        high = mid.min(seq.value());
                    } else {
                        low = seq.value() + 1;
                    }
                }
                None => high = mid,
            }
        }
        Ok(low)
    }

    fn watch(&self, table: &str) -> Result<tokio::sync::watch::Receiver<u64>, Error> {
        let position = self.position(table)?;
        Ok(self.inner.watermarks.subscribe(position.table_id, position.high_watermark))
    }
}
