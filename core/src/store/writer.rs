//! The single writer: drains the command queue into one write transaction per batch (group
//! commit), commits it with `Durability::Immediate` (one fsync for the whole batch), and only
//! then answers every request in the batch.

use std::collections::HashMap;
use std::sync::Arc;

use redb::{Database, Durability, ReadableTable, TableDefinition, WriteTransaction};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::error::Error;
use crate::index::{IndexMeta, IndexSpec, IndexStatus};
use crate::limits::Limits;
use crate::schema::{BillingMode, TableMeta, TableStats};
use crate::store::catalog::{Catalog, Tables};
use crate::store::decide::{self, Mutation, StatsDelta, StatsTarget};
use crate::store::log::{self, BatchLog, Watermarks};
use crate::store::{Command, TableChange, WriteOutcome, backfill, consumer, documents, layout, transact};

/// Sends a command's result once the batch's fate is known: `None` means the commit is durable.
type Pending = Box<dyn FnOnce(Option<String>) + Send>;

pub(crate) struct Writer {
    db: Arc<Database>,
    catalog: Arc<Catalog>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    watermarks: Arc<Watermarks>,
}

/// What one batch has done so far, before its commit.
struct Batch {
    tables: Arc<Tables>,
    tables_changed: bool,
    stats: HashMap<StatsTarget, StatsDelta>,
    pending: Vec<Pending>,
    /// Change records appended so far, with their seqs.
    log: BatchLog,
    /// Tables deleted in this batch: their followers are told after the commit.
    deleted: Vec<u64>,
}

impl Writer {
    pub(crate) fn new(
        db: Arc<Database>,
        catalog: Arc<Catalog>,
        limits: Limits,
        clock: Arc<dyn Clock>,
        watermarks: Arc<Watermarks>,
    ) -> Self {
        Writer { db, catalog, limits, clock, watermarks }
    }

    /// Runs until every sender is gone, committing a batch per loop.
    pub(crate) fn run(self, mut commands: mpsc::Receiver<Command>) {
        let mut batch_commands = Vec::with_capacity(self.limits.commit_batch_requests_max);
        while let Some(first) = commands.blocking_recv() {
            batch_commands.push(first);
            while batch_commands.len() < self.limits.commit_batch_requests_max {
                match commands.try_recv() {
                    Ok(c) => batch_commands.push(c),
                    Err(_) => break,
                }
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.commit_batch(batch_commands.drain(..));
            }));
            if outcome.is_err() {
                // A panic here is a broken invariant: nothing in the batch was acknowledged and
                // the storage state is trusted only as of the last commit, so stop the process
                // rather than keep accepting writes.
                tracing::error!(
                    "the writer panicked; stopping so that no write is acknowledged on broken state"
                );
                std::process::abort();
            }
        }
    }

    /// Creates the store-wide tables so readers can always open them (before the writer runs).
    pub(crate) fn initialise(&self) -> Result<(), Error> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(layout::META)?;
            if meta.get("format_version")?.is_none() {
                meta.insert("format_version", layout::FORMAT_VERSION.to_le_bytes().as_slice())?;
            }
            txn.open_table(layout::TABLES)?;
            txn.open_table(layout::TABLE_STATS)?;
            txn.open_table(layout::INDEX_STATS)?;
        }
        txn.commit()?;
        Ok(())
    }

    fn commit_batch(&self, commands: impl Iterator<Item = Command>) {
        let mut batch = Batch {
            tables: self.catalog.snapshot(),
            tables_changed: false,
            stats: HashMap::new(),
            pending: Vec::new(),
            log: BatchLog::new(self.clock.now_millis(), self.limits.shard_period.as_millis() as u64),
            deleted: Vec::new(),
        };
        let txn = match self.db.begin_write() {
            Ok(mut txn) => match txn.set_durability(Durability::Immediate) {
                Ok(()) => Some(txn),
                Err(e) => {
                    tracing::error!("cannot set commit durability: {e}");
                    None
                }
            },
            Err(e) => {
                tracing::error!("cannot begin a write transaction: {e}");
                None
            }
        };
        let Some(txn) = txn else {
            for command in commands {
                fail(command, "the store cannot begin a write transaction");
            }
            return;
        };
        let mut broken: Option<String> = None;
        for command in commands {
            if let Some(reason) = &broken {
                fail(command, reason);
                continue;
            }
            if let Err(e) = self.execute(&txn, &mut batch, command) {
                // A storage failure mid-command leaves the transaction in an unknown state:
                // the whole batch is abandoned and nothing in it is acknowledged.
                tracing::error!("write batch abandoned: {e}");
                broken = Some(format!("the write failed: {e}"));
            }
        }
        let outcome = match broken {
            Some(reason) => {
                drop(txn);
                Some(reason)
            }
            None => self.finish(txn, &batch).err().map(|e| {
                tracing::error!("commit failed: {e}");
                format!("the commit failed: {e}")
            }),
        };
        if outcome.is_none() && batch.tables_changed {
            self.catalog.publish(batch.tables.clone());
        }
        if outcome.is_none() {
            // Followers learn of new records only once they are durable.
            self.watermarks.publish(batch.log.appended());
            for table_id in &batch.deleted {
                self.watermarks.close(*table_id);
            }
        }
        for pending in batch.pending {
            pending(outcome.clone());
        }
    }

    /// Writes the batch's stats changes and commits durably.
    fn finish(&self, txn: WriteTransaction, batch: &Batch) -> Result<(), Error> {
        batch.log.finish(&txn)?;
        {
            let mut stats = txn.open_table(layout::TABLE_STATS)?;
            let mut index_stats = txn.open_table(layout::INDEX_STATS)?;
            for (target, delta) in &batch.stats {
                let id = match target {
                    StatsTarget::Table(id) => *id,
                    StatsTarget::Index(index_id) => {
                        // Deleted indexes have no stats left to update.
                        if !batch.tables.values().any(|t| t.indexes.iter().any(|i| i.id == *index_id)) {
                            continue;
                        }
                        let (count, bytes) = index_stats.get(*index_id)?.map(|g| g.value()).unwrap_or((0, 0));
                        let name = format!("index {index_id}");
                        let count =
                            count.checked_add_signed(delta.items).ok_or_else(|| negative_stats(&name))?;
                        let bytes =
                            bytes.checked_add_signed(delta.bytes).ok_or_else(|| negative_stats(&name))?;
                        index_stats.insert(*index_id, (count, bytes))?;
                        continue;
                    }
                };
                let Some(meta) = batch.tables.values().find(|t| t.id == id) else {
                    continue;
                };
                let (count, bytes) = stats.get(meta.spec.name.as_str())?.map(|g| g.value()).unwrap_or((0, 0));
                let count =
                    count.checked_add_signed(delta.items).ok_or_else(|| negative_stats(&meta.spec.name))?;
                let bytes =
                    bytes.checked_add_signed(delta.bytes).ok_or_else(|| negative_stats(&meta.spec.name))?;
                stats.insert(meta.spec.name.as_str(), (count, bytes))?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Runs one command inside the batch. `Err` only for storage failures, which abandon the
    /// batch; a rejected request (condition, validation) is answered through `pending`.
    fn execute(&self, txn: &WriteTransaction, batch: &mut Batch, command: Command) -> Result<(), Error> {
        match command {
            Command::Write { write, reply } => {
                let result = decide::decide_write(txn, &batch.tables, &write, &self.limits);
                let result = self.apply_all(txn, batch, result.map(|m| vec![m]))?;
                let result = result.map(|mut outcomes| outcomes.pop().unwrap_or_default());
                batch.pending.push(deferred(reply, result));
            }
            Command::Transact { actions, token, reply } => {
                let now = self.clock.now_millis();
                let decision =
                    transact::decide(txn, &batch.tables, &actions, token.as_ref(), &self.limits, now)?;
                let result = match decision {
                    transact::Decision::Replay(outcomes) => Ok(outcomes),
                    transact::Decision::Rejected(rejected) => Err(rejected),
                    transact::Decision::Apply { mut mutations, checked } => {
                        // Every record of one transaction carries the same transaction id.
                        let transaction_id = allocate_counter(txn, "next_transaction_id")?;
                        for mutation in &mut mutations {
                            mutation.transaction_id = Some(transaction_id);
                        }
                        // The actions' items are distinct, so deciding all before applying any
                        // is the same as running them one after another.
                        let applied = self.apply_all(txn, batch, Ok(mutations))?;
                        if let (Ok(_), Some(token)) = (&applied, &token) {
                            transact::record(txn, token, actions.len(), &self.limits, now)?;
                        }
                        applied.map(|applied| transact::outcomes(checked, applied))
                    }
                };
                batch.pending.push(deferred(reply, result));
            }
            Command::BatchWrite { writes, reply } => {
                // Keys in one batch are distinct, so deciding all before applying any is
                // the same as interleaving, and a rejected write leaves nothing applied.
                let decided: Result<Vec<Mutation>, Error> = writes
                    .iter()
                    .map(|w| decide::decide_write(txn, &batch.tables, w, &self.limits))
                    .collect();
                let result = self.apply_all(txn, batch, decided)?;
                batch.pending.push(deferred(reply, result));
            }
            Command::CreateTable { spec, indexes, table_uuid, reply } => {
                let result = self.create_table(txn, batch, *spec, indexes, table_uuid)?;
                batch.pending.push(deferred(reply, result));
            }
            Command::DeleteTable { name, reply } => {
                let result = self.delete_table(txn, batch, &name)?;
                batch.pending.push(deferred(reply, result));
            }
            Command::Consumer { op, reply } => {
                let table = match &op {
                    consumer::ConsumerOp::Create { table, .. } => batch.tables.get(table).cloned(),
                    _ => None,
                };
                let result = consumer::execute(txn, table.as_deref(), op, self.clock.now_millis())?;
                batch.pending.push(deferred(reply, result));
            }
            Command::Document { op, reply } => {
                let result = documents::execute(txn, op)?;
                batch.pending.push(deferred(reply, result));
            }
            Command::ConsumerCommit { commit, reply } => {
                let sizes = consumer::check_state(&commit.name, commit.state.as_deref())
                    .and_then(|()| consumer::check_state(&commit.name, commit.counters.as_deref()));
                let checked = match sizes {
                    Err(e) => Ok(Err(e)),
                    Ok(()) => consumer::checked_checkpoint(txn, &commit.name, commit.checkpoint),
                };
                let result = match checked? {
                    Err(e) => Err(e),
                    Ok(current) => {
                        match decide::decide_sequence(txn, &batch.tables, &commit.writes, &self.limits) {
                            Err((index, e @ (Error::Storage(_) | Error::Corrupt(_)))) => {
                                tracing::error!("write {index} of consumer {} failed: {e}", commit.name);
                                return Err(e);
                            }
                            Err((index, rejected)) => {
                                Err(Error::WriteRejected { index, reason: Box::new(rejected) })
                            }
                            Ok(mutations) => match self.apply_all(txn, batch, Ok(mutations))? {
                                Ok(outcomes) => {
                                    consumer::store_checkpoint(
                                        txn,
                                        current,
                                        commit.checkpoint,
                                        commit.state,
                                        commit.counters,
                                        self.clock.now_millis(),
                                    )?;
                                    Ok(outcomes)
                                }
                                Err(e) => Err(e),
                            },
                        }
                    }
                };
                batch.pending.push(deferred(reply, result));
            }
            Command::Trim { table, before_millis, reply } => {
                let result = match batch.tables.get(&table) {
                    Some(meta) => {
                        Ok(log::trim(txn, meta.id, before_millis, self.limits.trim_step_records_max)?)
                    }
                    None => Ok(0),
                };
                batch.pending.push(deferred(reply, result));
            }
            Command::Backfill { table, index_id, after, reply } => {
                let result = self.backfill(txn, batch, &table, index_id, after)?;
                batch.pending.push(deferred(reply, result));
            }
            Command::AlterTable { name, changes, reply } => {
                let result = self.alter_table(txn, batch, &name, changes)?;
                batch.pending.push(deferred(reply, result));
            }
        }
        Ok(())
    }

    /// Applies decided mutations, or passes a rejection through untouched.
    fn apply_all(
        &self,
        txn: &WriteTransaction,
        batch: &mut Batch,
        decided: Result<Vec<Mutation>, Error>,
    ) -> Result<Result<Vec<WriteOutcome>, Error>, Error> {
        let mutations = match decided {
            Ok(m) => m,
            Err(e @ (Error::Storage(_) | Error::Corrupt(_))) => return Err(e),
            Err(rejected) => return Ok(Err(rejected)),
        };
        let mut outcomes = Vec::with_capacity(mutations.len());
        for mutation in mutations {
            for (target, delta) in decide::apply(txn, &mutation, &mut batch.log)? {
                let total = batch.stats.entry(target).or_default();
                total.items += delta.items;
                total.bytes += delta.bytes;
            }
            outcomes.push(WriteOutcome { old: mutation.old, new: mutation.new });
        }
        Ok(Ok(outcomes))
    }

    fn create_table(
        &self,
        txn: &WriteTransaction,
        batch: &mut Batch,
        spec: crate::schema::TableSpec,
        indexes: Vec<IndexSpec>,
        table_uuid: String,
    ) -> Result<Result<TableMeta, Error>, Error> {
        if batch.tables.contains_key(&spec.name) {
            return Ok(Err(Error::ResourceInUse { message: format!("Table already exists: {}", spec.name) }));
        }
        if batch.tables.len() >= self.limits.tables_max {
            return Ok(Err(Error::LimitExceeded {
                message: format!(
                    "Subscriber limit exceeded: You have exceeded the maximum number of tables ({})",
                    self.limits.tables_max
                ),
            }));
        }
        let id = allocate_id(txn)?;
        log::start_table(txn, id)?;
        let mut index_metas = Vec::with_capacity(indexes.len());
        for spec in indexes {
            let index_id = allocate_id(txn)?;
            txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&layout::index_table_name(index_id)))?;
            txn.open_table(layout::INDEX_STATS)?.insert(index_id, (0, 0))?;
            index_metas.push(IndexMeta { spec, id: index_id, status: IndexStatus::Active });
        }
        let mut spec = spec;
        if let Some(stream) = spec.stream.as_mut() {
            stream.first_seq = log::last_seq(txn, id)? + 1;
        }
        let table = TableMeta {
            spec,
            id,
            table_uuid,
            created_at_millis: self.clock.now_millis(),
            last_increase_millis: None,
            last_decrease_millis: None,
            decreases_today: 0,
            retention_millis: None,
            past_streams: Vec::new(),
            indexes: index_metas,
        };
        self.store_meta(txn, &table)?;
        txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&layout::items_table_name(id)))?;
        txn.open_table(layout::TABLE_STATS)?.insert(table.spec.name.as_str(), (0, 0))?;
        Arc::make_mut(&mut batch.tables).insert(table.spec.name.clone(), Arc::new(table.clone()));
        batch.tables_changed = true;
        Ok(Ok(table))
    }

    fn delete_table(
        &self,
        txn: &WriteTransaction,
        batch: &mut Batch,
        name: &str,
    ) -> Result<Result<(TableMeta, TableStats), Error>, Error> {
        let Some(table) = batch.tables.get(name).cloned() else {
            return Ok(Err(not_found(name)));
        };
        if table.spec.deletion_protection {
            return Ok(Err(Error::validation(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
            )));
        }
        let stats = {
            let mut stats = txn.open_table(layout::TABLE_STATS)?;
            let (item_count, size_bytes) = stats.remove(name)?.map(|g| g.value()).unwrap_or((0, 0));
            TableStats { item_count, size_bytes }
        };
        txn.open_table(layout::TABLES)?.remove(name)?;
        log::drop_table(txn, table.id)?;
        consumer::stop_for_table(txn, table.id, name)?;
        batch.deleted.push(table.id);
        txn.delete_table(TableDefinition::<&[u8], &[u8]>::new(&layout::items_table_name(table.id)))?;
        batch.stats.retain(|target, _| match target {
            StatsTarget::Table(id) => *id != table.id,
            StatsTarget::Index(id) => !table.indexes.iter().any(|i| i.id == *id),
        });
        if table.has_local_indexes() {
            let mut collections = txn.open_table(layout::ITEM_COLLECTIONS)?;
            let (start, end) = (table.id.to_be_bytes(), (table.id + 1).to_be_bytes());
            collections.retain_in::<&[u8], _>(start.as_slice()..end.as_slice(), |_, _| false)?;
        }
        for index in &table.indexes {
            txn.delete_table(TableDefinition::<&[u8], &[u8]>::new(&layout::index_table_name(index.id)))?;
            txn.open_table(layout::INDEX_STATS)?.remove(index.id)?;
        }
        Arc::make_mut(&mut batch.tables).remove(name);
        batch.tables_changed = true;
        Ok(Ok(((*table).clone(), stats)))
    }

    fn alter_table(
        &self,
        txn: &WriteTransaction,
        batch: &mut Batch,
        name: &str,
        changes: Vec<TableChange>,
    ) -> Result<Result<TableMeta, Error>, Error> {
        let Some(current) = batch.tables.get(name) else {
            return Ok(Err(not_found(name)));
        };
        let mut table = (**current).clone();
        let now = self.clock.now_millis();
        for change in changes {
            match change {
                TableChange::Billing(billing) => {
                    let units = |b: BillingMode| match b {
                        BillingMode::Provisioned { read_capacity_units, write_capacity_units } => {
                            (read_capacity_units, write_capacity_units)
                        }
                        BillingMode::PayPerRequest => (0, 0),
                    };
                    let (old_r, old_w) = units(table.spec.billing);
                    let (new_r, new_w) = units(billing);
                    if new_r > old_r || new_w > old_w {
                        table.last_increase_millis = Some(now);
                    }
                    if new_r < old_r || new_w < old_w {
                        table.last_decrease_millis = Some(now);
                        table.decreases_today += 1;
                    }
                    table.spec.billing = billing;
                }
                TableChange::Stream(mut stream) => {
                    // A stream shows the records committed while it is enabled.
                    let high_watermark = log::last_seq(txn, table.id)?;
                    if let Some(mut old) = table.spec.stream.take() {
                        old.last_seq = Some(high_watermark);
                        table.past_streams.push(old);
                    }
                    if let Some(s) = stream.as_mut() {
                        s.first_seq = high_watermark + 1;
                    }
                    table.spec.stream = stream;
                }
                TableChange::Retention(retention) => {
                    table.retention_millis = Some(retention.as_millis() as u64)
                }
                TableChange::DeletionProtection(on) => table.spec.deletion_protection = on,
                TableChange::TableClass(class) => table.spec.table_class = class,
                TableChange::Tag(tags) => table.spec.tags.extend(tags),
                TableChange::CreateIndex(spec, definitions) => {
                    let index_id = allocate_id(txn)?;
                    if let Err(e) = backfill::create_index(txn, &mut table, spec, definitions, index_id)? {
                        return Ok(Err(e));
                    }
                }
                TableChange::DeleteIndex(index) => {
                    if let Err(e) = backfill::delete_index(txn, &mut table, &index)? {
                        return Ok(Err(e));
                    }
                    batch.stats.retain(|target, _| match target {
                        StatsTarget::Index(id) => {
                            current.indexes.iter().all(|i| i.spec.name != index || i.id != *id)
                        }
                        StatsTarget::Table(_) => true,
                    });
                }
                TableChange::IndexThroughput(index, throughput) => {
                    let Some(i) = table.indexes.iter_mut().find(|i| i.spec.name == index) else {
                        return Ok(Err(Error::ResourceNotFound {
                            message: format!("Requested resource not found: Index: {index} not found"),
                        }));
                    };
                    i.spec.throughput = Some(throughput);
                }
                TableChange::Untag(keys) => {
                    for k in keys {
                        table.spec.tags.remove(&k);
                    }
                }
            }
        }
        if let Err(e) = crate::schema::validate_tags(&table.spec.tags) {
            return Ok(Err(e));
        }
        self.store_meta(txn, &table)?;
        Arc::make_mut(&mut batch.tables).insert(name.to_string(), Arc::new(table.clone()));
        batch.tables_changed = true;
        Ok(Ok(table))
    }

    fn backfill(
        &self,
        txn: &WriteTransaction,
        batch: &mut Batch,
        table: &str,
        index_id: u64,
        after: Option<Vec<u8>>,
    ) -> Result<Result<backfill::BackfillProgress, Error>, Error> {
        let Some(meta) = batch.tables.get(table).cloned() else {
            return Ok(Ok(backfill::BackfillProgress::Done));
        };
        let mut deltas = Vec::new();
        let (progress, changed) = backfill::step(txn, &meta, index_id, after.as_deref(), &mut deltas)?;
        for (target, delta) in deltas {
            let total = batch.stats.entry(target).or_default();
            total.items += delta.items;
            total.bytes += delta.bytes;
        }
        if let Some(changed) = changed {
            self.store_meta(txn, &changed)?;
            Arc::make_mut(&mut batch.tables).insert(table.to_string(), Arc::new(changed));
            batch.tables_changed = true;
        }
        Ok(Ok(progress))
    }

    fn store_meta(&self, txn: &WriteTransaction, table: &TableMeta) -> Result<(), Error> {
        let bytes = serde_json::to_vec(table).map_err(|e| Error::Corrupt(format!("table metadata: {e}")))?;
        txn.open_table(layout::TABLES)?.insert(table.spec.name.as_str(), bytes.as_slice())?;
        Ok(())
    }
}

fn not_found(name: &str) -> Error {
    Error::ResourceNotFound { message: format!("Requested resource not found: Table: {name} not found") }
}

/// The next internal id for a table or an index; ids are never reused.
fn allocate_id(txn: &WriteTransaction) -> Result<u64, Error> {
    allocate_counter(txn, "next_table_id")
}

/// The next value of a store-wide counter in `meta` (starting at 1, never reused).
fn allocate_counter(txn: &WriteTransaction, name: &str) -> Result<u64, Error> {
    let mut meta = txn.open_table(layout::META)?;
    let next = match meta.get(name)? {
        Some(g) => g.value().try_into().map(u64::from_le_bytes).map_err(|_| corrupt_meta())?,
        None => 1,
    };
    meta.insert(name, (next + 1).to_le_bytes().as_slice())?;
    Ok(next)
}

fn corrupt_meta() -> Error {
    Error::Corrupt("meta.next_table_id is not a u64".into())
}

fn negative_stats(table: &str) -> Error {
    Error::Corrupt(format!("stats of table {table} would go negative"))
}

/// Holds a command's result until the commit: a durable commit sends it, a failed one an error.
fn deferred<T: Send + 'static>(reply: super::Reply<T>, result: Result<T, Error>) -> Pending {
    Box::new(move |failure: Option<String>| {
        let answer = match (failure, result) {
            (None, result) => result,
            // A rejected request wrote nothing, so its rejection stands whatever the commit did.
            (Some(_), Err(rejected)) => Err(rejected),
            (Some(reason), Ok(_)) => Err(Error::Unavailable { message: reason }),
        };
        // The requester may have gone away (client disconnected); the write stands regardless.
        let _ = reply.send(answer);
    })
}

/// Answers a command that never ran.
fn fail(command: Command, reason: &str) {
    let error = || Error::Unavailable { message: reason.to_string() };
    let _ = match command {
        Command::Write { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::BatchWrite { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::Transact { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::CreateTable { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::DeleteTable { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::AlterTable { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::Backfill { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::Trim { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::Consumer { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::ConsumerCommit { reply, .. } => reply.send(Err(error())).is_ok(),
        Command::Document { reply, .. } => reply.send(Err(error())).is_ok(),
    };
}
