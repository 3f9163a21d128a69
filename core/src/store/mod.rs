//! The table store: one redb file, one writer thread that group-commits queued requests, and
//! readers that use their own read transactions and never wait for the writer.
//!
//! Every write goes through [`Store`]'s async methods, which queue a command for the writer
//! (a bounded queue: callers wait when it is full) and answer only after the commit holding it
//! is durable. Reads run synchronously on the caller's thread (the server runs them on the
//! blocking pool).

mod backfill;
mod catalog;
mod consumer;
mod decide;
mod documents;
mod feed;
pub mod layout;
mod log;
mod read;
mod snapshot;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod transact;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::error::Error;
use crate::expr::{Condition, KeyCondition, UpdateExpression};
use crate::index::{IndexSpec, IndexStatus};
use crate::key::PrimaryKey;
use crate::limits::Limits;
use crate::schema::{BillingMode, StreamSettings, TableMeta, TableSpec, TableStats};
use crate::value::Item;

pub use catalog::Catalog;
pub use consumer::{CONSUMER_STATE_BYTES_MAX, Consumer, ConsumerCommit, ConsumerStatus, StartPosition};
pub use decide::check_item_limits;
pub use feed::ShardStart;
pub use layout::OpenError;
pub use read::{Page, ReadOptions, ScanSegment};
pub use snapshot::TableSnapshot;
pub use transact::{ConditionCheck, TransactAction, TransactWrite};

/// One item write: the key, what to do, and the condition that must hold first.
#[derive(Debug)]
pub struct ItemWrite {
    /// Table name.
    pub table: String,
    /// The item's key, checked against the table's key schema.
    pub key: PrimaryKey,
    /// What to write.
    pub action: WriteAction,
    /// ConditionExpression, evaluated against the current item (empty when absent).
    pub condition: Option<Condition>,
    /// ReturnValuesOnConditionCheckFailure = ALL_OLD.
    pub return_item_on_condition_failure: bool,
    /// Trigger write-backs that led to this write (0 for a client's write); carried into its
    /// change record so chains of triggers can be stopped.
    pub hops: u32,
}

/// What an [`ItemWrite`] does to its item.
#[derive(Debug)]
pub enum WriteAction {
    /// Replace the whole item (PutItem). The item holds the key attributes.
    Put(Item),
    /// Apply an update expression to the item, creating it from its key if absent (UpdateItem;
    /// without an expression it only creates the item).
    Update(Option<UpdateExpression>),
    /// Remove the item (DeleteItem).
    Delete,
}

/// The item before and after a committed write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOutcome {
    /// The item before the write, if it existed.
    pub old: Option<Item>,
    /// The item after the write, if it exists.
    pub new: Option<Item>,
}

/// A change UpdateTable, TagResource or UntagResource makes to a table's declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableChange {
    /// New billing mode and throughput.
    Billing(BillingMode),
    /// Enable (Some) or disable (None) the DynamoDB Streams API stream.
    Stream(Option<StreamSettings>),
    /// DeletionProtectionEnabled.
    DeletionProtection(bool),
    /// TableClass.
    TableClass(String),
    /// Add or overwrite tags.
    Tag(BTreeMap<String, String>),
    /// Remove tags by key.
    Untag(Vec<String>),
    /// How long change records are kept.
    Retention(std::time::Duration),
    /// Add a global secondary index (CREATING until its backfill completes), declaring the
    /// new key attributes it uses.
    CreateIndex(IndexSpec, Vec<crate::key::KeyAttribute>),
    /// Remove an index and its entries.
    DeleteIndex(String),
    /// New provisioned throughput for an index.
    IndexThroughput(String, (u64, u64)),
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// A request for the writer thread.
enum Command {
    Consumer {
        op: consumer::ConsumerOp,
        reply: Reply<consumer::Consumer>,
    },
    Document {
        op: documents::DocumentOp,
        reply: Reply<bool>,
    },
    ConsumerCommit {
        commit: consumer::ConsumerCommit,
        reply: Reply<Vec<WriteOutcome>>,
    },
    Trim {
        table: String,
        before_millis: u64,
        reply: Reply<usize>,
    },
    CreateTable {
        spec: Box<TableSpec>,
        indexes: Vec<IndexSpec>,
        table_uuid: String,
        reply: Reply<TableMeta>,
    },
    DeleteTable {
        name: String,
        reply: Reply<(TableMeta, TableStats)>,
    },
    AlterTable {
        name: String,
        changes: Vec<TableChange>,
        reply: Reply<TableMeta>,
    },
    Write {
        write: Box<ItemWrite>,
        reply: Reply<WriteOutcome>,
    },
    BatchWrite {
        writes: Vec<ItemWrite>,
        reply: Reply<Vec<WriteOutcome>>,
    },
    Backfill {
        table: String,
        index_id: u64,
        after: Option<Vec<u8>>,
        reply: Reply<backfill::BackfillProgress>,
    },
    Transact {
        actions: Vec<TransactAction>,
        token: Option<transact::Token>,
        reply: Reply<Vec<WriteOutcome>>,
    },
}

/// The table store. Cheap to clone; all clones share one database and one writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    catalog: Arc<Catalog>,
    queue: mpsc::Sender<Command>,
    limits: Limits,
    data_dir: PathBuf,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    watermarks: Arc<log::Watermarks>,
    clock: Arc<dyn Clock>,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and starts its writer thread.
    pub fn open(data_dir: &Path, limits: Limits, clock: Arc<dyn Clock>) -> Result<Store, OpenError> {
        layout::prepare_data_dir(data_dir)?;
        let path = layout::database_path(data_dir);
        let db = Database::builder()
            .create(&path)
            .map_err(|source| OpenError::Database { path: path.clone(), source })?;
        let db = Arc::new(db);
        let catalog = Arc::new(Catalog::load(&db)?);
        let (queue, commands) = mpsc::channel(limits.write_queue_requests_max);
        let watermarks = Arc::new(log::Watermarks::default());
        let writer = writer::Writer::new(
            db.clone(),
            catalog.clone(),
            limits.clone(),
            clock.clone(),
            watermarks.clone(),
        );
        writer.initialise()?;
        let handle = std::thread::Builder::new()
            .name("eddy-writer".into())
            .spawn(move || writer.run(commands))
            .map_err(|source| OpenError::Io { path: data_dir.to_path_buf(), source })?;
        let store = Store {
            inner: Arc::new(Inner {
                db,
                catalog,
                queue,
                limits,
                data_dir: data_dir.to_path_buf(),
                writer: std::sync::Mutex::new(Some(handle)),
                watermarks,
                clock,
            }),
        };
        backfill::resume_all(&store);
        Ok(store)
    }

    /// The limits the store enforces.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The table's declaration, or ResourceNotFound.
    pub fn table(&self, name: &str) -> Result<Arc<TableMeta>, Error> {
        self.inner.catalog.get(name).ok_or_else(Error::table_not_found)
    }

    /// All table names, sorted.
    pub fn table_names(&self) -> Vec<String> {
        self.inner.catalog.names()
    }

    /// The table's item count and size as of the last commit.
    pub fn table_stats(&self, name: &str) -> Result<TableStats, Error> {
        let txn = self.inner.db.begin_read()?;
        let stats = txn.open_table(layout::TABLE_STATS)?;
        Ok(stats
            .get(name)?
            .map(|g| {
                let (item_count, size_bytes) = g.value();
                TableStats { item_count, size_bytes }
            })
            .unwrap_or_default())
    }

    /// The size of the item collection holding `key` (ReturnItemCollectionMetrics), or `None`
    /// when the table has no local secondary index and so no item collections.
    pub fn item_collection_bytes(&self, table: &str, key: &PrimaryKey) -> Result<Option<u64>, Error> {
        let meta = self.table(table)?;
        if !meta.has_local_indexes() {
            return Ok(None);
        }
        let ckey = decide::collection_key(&meta, &key.encode())?;
        let txn = self.inner.db.begin_read()?;
        let collections = match txn.open_table(layout::ITEM_COLLECTIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Some(0)),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(collections.get(ckey.as_slice())?.map(|g| g.value()).unwrap_or(0)))
    }

    /// An index's entry count and size as of the last commit.
    pub fn index_stats(&self, index_id: u64) -> Result<TableStats, Error> {
        let txn = self.inner.db.begin_read()?;
        let stats = txn.open_table(layout::INDEX_STATS)?;
        Ok(stats
            .get(index_id)?
            .map(|g| {
                let (item_count, size_bytes) = g.value();
                TableStats { item_count, size_bytes }
            })
            .unwrap_or_default())
    }

    /// CreateTable: validates the declaration (with its secondary indexes) and creates the table.
    pub async fn create_table(
        &self,
        spec: TableSpec,
        indexes: Vec<IndexSpec>,
        table_uuid: String,
    ) -> Result<TableMeta, Error> {
        spec.validate(&indexes.iter().collect::<Vec<_>>())?;
        self.submit(|reply| Command::CreateTable { spec: Box::new(spec), indexes, table_uuid, reply }).await
    }

    /// DeleteTable: removes the table and all its items; returns what it was.
    pub async fn delete_table(&self, name: &str) -> Result<(TableMeta, TableStats), Error> {
        self.submit(|reply| Command::DeleteTable { name: name.to_string(), reply }).await
    }

    /// Applies declaration changes (UpdateTable, TagResource, UntagResource) in one commit.
    pub async fn alter_table(&self, name: &str, changes: Vec<TableChange>) -> Result<TableMeta, Error> {
        let before = self.table(name)?;
        let after =
            self.submit(|reply| Command::AlterTable { name: name.to_string(), changes, reply }).await?;
        backfill::start_new(self, &before, &after);
        Ok(after)
    }

    /// PutItem, UpdateItem or DeleteItem.
    pub async fn write(&self, write: ItemWrite) -> Result<WriteOutcome, Error> {
        self.submit(|reply| Command::Write { write: Box::new(write), reply }).await
    }

    /// BatchWriteItem: unconditional puts and deletes committed together.
    pub async fn batch_write(&self, writes: Vec<ItemWrite>) -> Result<Vec<WriteOutcome>, Error> {
        self.submit(|reply| Command::BatchWrite { writes, reply }).await
    }

    /// TransactWriteItems: every action committed together, or none. A failed condition or an
    /// action the current item makes invalid cancels the whole transaction
    /// ([`Error::TransactionCanceled`], one reason per action in request order). With a token,
    /// a retry of a committed transaction within `Limits::idempotency_window` writes nothing
    /// and answers one empty [`WriteOutcome`] per action; the same token with other actions is
    /// [`Error::IdempotentParameterMismatch`]. A ConditionCheck's outcome is the item it found.
    pub async fn transact_write(&self, request: TransactWrite) -> Result<Vec<WriteOutcome>, Error> {
        transact::validate_write(&request.actions, &self.inner.limits)?;
        let token = request
            .token
            .map(|name| transact::Token { name, request_hash: transact::request_hash(&request.actions) });
        let actions = request.actions;
        self.submit(|reply| Command::Transact { actions, token, reply }).await
    }

    /// TransactGetItems: the items (None where absent), all read from one snapshot.
    pub fn transact_get(&self, gets: &[(String, PrimaryKey)]) -> Result<Vec<Option<Item>>, Error> {
        transact::validate_get(gets, &self.inner.limits)?;
        self.get_items(gets)
    }

    async fn submit<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        let unavailable = || Error::Unavailable { message: "the writer has stopped".into() };
        self.inner.queue.send(command(reply)).await.map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }

    /// GetItem: the committed item, read without waiting for the writer.
    pub fn get_item(&self, table: &str, key: &PrimaryKey) -> Result<Option<Item>, Error> {
        let meta = self.table(table)?;
        let txn = self.inner.db.begin_read()?;
        read::get(&txn, &meta, key)
    }

    /// Several GetItems against one snapshot (BatchGetItem).
    pub fn get_items(&self, requests: &[(String, PrimaryKey)]) -> Result<Vec<Option<Item>>, Error> {
        let txn = self.inner.db.begin_read()?;
        requests
            .iter()
            .map(|(table, key)| {
                let meta = self.table(table)?;
                read::get(&txn, &meta, key)
            })
            .collect()
    }

    /// Query: one partition's items in sort-key order, one page, of the table or of the index
    /// named `index`.
    pub fn query(
        &self,
        table: &str,
        index: Option<&str>,
        key_condition: &KeyCondition,
        options: &ReadOptions,
    ) -> Result<Page, Error> {
        let meta = self.table(table)?;
        let source = read_source(&meta, index)?;
        let txn = self.inner.db.begin_read()?;
        read::query(&txn, &meta, source, key_condition, options, &self.inner.limits)
    }

    /// Scan: the items of the table (or of the index named `index`) in storage order, one page,
    /// optionally one segment of many.
    pub fn scan(
        &self,
        table: &str,
        index: Option<&str>,
        options: &ReadOptions,
        segment: Option<ScanSegment>,
    ) -> Result<Page, Error> {
        let meta = self.table(table)?;
        let source = read_source(&meta, index)?;
        let txn = self.inner.db.begin_read()?;
        read::scan(&txn, &meta, source, options, segment, &self.inner.limits)
    }

    /// Stops the writer after the queued commands and waits for it. Later writes fail.
    pub fn shutdown(self) {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return;
        };
        let handle = inner.writer.lock().ok().and_then(|mut h| h.take());
        drop(inner.queue);
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// The table or the named index, which must exist and be readable.
fn read_source<'m>(meta: &'m TableMeta, index: Option<&str>) -> Result<read::Source<'m>, Error> {
    let Some(name) = index else {
        return Ok(read::Source::Table);
    };
    let index = meta
        .index(name)
        .ok_or_else(|| Error::validation(format!("The table does not have the specified index: {name}")))?;
    if index.status == IndexStatus::Creating {
        return Err(Error::validation(format!(
            "Cannot read from backfilling global secondary index: {name}"
        )));
    }
    Ok(read::Source::Index(index))
}

/// Reads a table's stored metadata (used when loading the catalog).
fn decode_meta(bytes: &[u8]) -> Result<TableMeta, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(format!("table metadata: {e}")))
}
