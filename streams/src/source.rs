//! [`StreamSource`]: what the DynamoDB Streams API view reads: the change feed, table
//! declarations, where shards begin, and the server's clock. The store implements it; tests can
//! implement it in memory.

use std::sync::Arc;

use eddy_core::changelog::ChangeFeed;
use eddy_core::schema::TableMeta;
use eddy_core::store::ShardStart;
use eddy_core::{Error, Store};

/// The read side the streams view needs; changes are read only through [`ChangeFeed`].
pub trait StreamSource: ChangeFeed {
    /// The declaration of `table` (ResourceNotFound when there is none).
    fn table_meta(&self, table: &str) -> Result<Arc<TableMeta>, Error>;

    /// The names of every table.
    fn table_names(&self) -> Vec<String>;

    /// Where the shards of `table`'s changelog begin, oldest first; each ends where the next
    /// begins.
    fn shard_starts(&self, table: &str) -> Result<Vec<ShardStart>, Error>;

    /// The server's clock, milliseconds since the epoch.
    fn now_millis(&self) -> u64;
}

impl StreamSource for Store {
    fn table_meta(&self, table: &str) -> Result<Arc<TableMeta>, Error> {
        self.table(table)
    }

    fn table_names(&self) -> Vec<String> {
        Store::table_names(self)
    }

    fn shard_starts(&self, table: &str) -> Result<Vec<ShardStart>, Error> {
        self.shards(table)
    }

    fn now_millis(&self) -> u64 {
        Store::now_millis(self)
    }
}
