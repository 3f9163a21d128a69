//! A whole table read from one snapshot, page by page: [`TableSnapshot`] keeps one redb read
//! transaction open, so every page sees the same commit however many writes land meanwhile, and
//! records the table's high watermark as of that commit. Table exports read through it;
//! `Store::scan` cannot, since each of its pages opens its own read transaction.

use std::ops::Bound;
use std::sync::Arc;

use redb::{ReadTransaction, ReadableDatabase, TableDefinition};

use crate::codec;
use crate::error::Error;
use crate::schema::TableMeta;
use crate::store::{Store, layout};
use crate::value::{Item, item_size_bytes};

/// A table's items as of one commit, read in storage order in bounded pages.
///
/// While it lives, redb keeps the pages of its commit: a long export holds back the reuse of
/// space freed by later writes (the file may grow), never the writer itself.
pub struct TableSnapshot {
    txn: ReadTransaction,
    meta: Arc<TableMeta>,
    high_watermark: u64,
    /// The storage key of the last item returned; the next page starts after it.
    after: Option<Vec<u8>>,
    done: bool,
}

impl Store {
    /// Opens a snapshot of `table` as of the last commit: its items and the high watermark of
    /// its changelog, read in the same read transaction.
    pub fn snapshot(&self, table: &str) -> Result<TableSnapshot, Error> {
        let meta = self.table(table)?;
        let txn = self.inner.db.begin_read()?;
        // The table must exist in this commit too (it may have been deleted since the lookup).
        match txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&layout::items_table_name(meta.id))) {
            Ok(_) => {}
            Err(redb::TableError::TableDoesNotExist(_)) => return Err(Error::table_not_found()),
            Err(e) => return Err(e.into()),
        }
        let high_watermark = match txn.open_table(layout::SEQUENCES) {
            Ok(t) => t.get(meta.id)?.map(|g| g.value()).unwrap_or(0),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(TableSnapshot { txn, meta, high_watermark, after: None, done: false })
    }
}

impl TableSnapshot {
    /// The table's declaration.
    pub fn table(&self) -> &TableMeta {
        &self.meta
    }

    /// The sequence number of the table's last change record in this snapshot: every change
    /// up to it is in the items, none after it.
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// The next page: at most `items_max` items, ending after the item that reaches
    /// `bytes_max` (DynamoDB's item size). `None` once every item was returned.
    pub fn next_page(&mut self, items_max: usize, bytes_max: usize) -> Result<Option<Vec<Item>>, Error> {
        if self.done {
            return Ok(None);
        }
        let name = layout::items_table_name(self.meta.id);
        let items = match self.txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Err(Error::table_not_found()),
            Err(e) => return Err(e.into()),
        };
        let lower = match &self.after {
            Some(key) => Bound::Excluded(key.as_slice()),
            None => Bound::Unbounded,
        };
        let mut page = Vec::new();
        let mut bytes = 0;
        let mut last = None;
        for entry in items.range::<&[u8]>((lower, Bound::Unbounded))? {
            let (key, value) = entry?;
            let item = codec::decode_item(value.value())
                .ok_or_else(|| Error::Corrupt(format!("item in {name} does not decode")))?;
            bytes += item_size_bytes(&item);
            page.push(item);
            last = Some(key.value().to_vec());
            if page.len() >= items_max.max(1) || bytes >= bytes_max {
                break;
            }
        }
        match last {
            Some(key) => self.after = Some(key),
            None => {
                self.done = true;
                return Ok(None);
            }
        }
        Ok(Some(page))
    }
}
