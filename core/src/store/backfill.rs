//! Adding and removing global secondary indexes on a live table.
//!
//! UpdateTable adds an index as CREATING: from that commit on, every write maintains it. A
//! backfill thread then walks the table in key order, one bounded step per writer batch, and
//! writes the entries of the items it passes; an item written meanwhile already has its entry,
//! so the step's write is the same entry again. When the walk reaches the end, the same step
//! marks the index ACTIVE. Writes never wait for more than one step.

use std::ops::Bound;
use std::sync::Arc;

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use tokio::sync::oneshot;

use crate::codec;
use crate::error::Error;
use crate::index::{IndexKind, IndexMeta, IndexSpec, IndexStatus};
use crate::key::KeyAttribute;
use crate::schema::TableMeta;
use crate::store::decide::{StatsDelta, StatsTarget};
use crate::store::{Command, Store, layout};
use crate::value::item_size_bytes;

/// Most table items one backfill step indexes (one step runs inside one writer batch).
pub const BACKFILL_STEP_ITEMS_MAX: usize = 256;

/// Where a backfill stands after a step.
#[derive(Debug)]
pub(crate) enum BackfillProgress {
    /// More items follow the last one indexed.
    After(Vec<u8>),
    /// The index is complete (or was deleted meanwhile).
    Done,
}

/// Adds a CREATING index to `table`, declaring any new key attributes.
pub(crate) fn create_index(
    txn: &WriteTransaction,
    table: &mut TableMeta,
    spec: IndexSpec,
    definitions: Vec<KeyAttribute>,
    index_id: u64,
) -> Result<Result<(), Error>, Error> {
    if table.indexes.iter().any(|i| i.status == IndexStatus::Creating) {
        return Ok(Err(Error::LimitExceeded {
            message: "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"
                .into(),
        }));
    }
    for def in definitions {
        match table.spec.attribute_definitions.iter().find(|d| d.name == def.name) {
            Some(existing) if existing.scalar_type != def.scalar_type => {
                return Ok(Err(Error::validation(format!(
                    "One or more parameter values were invalid: Attribute {} is already defined with type {}",
                    def.name,
                    existing.scalar_type.as_str()
                ))));
            }
            Some(_) => {}
            None => table.spec.attribute_definitions.push(def),
        }
    }
    let mut all: Vec<&IndexSpec> = table.indexes.iter().map(|i| &i.spec).collect();
    all.push(&spec);
    if let Err(e) = table.spec.validate(&all) {
        return Ok(Err(e));
    }
    txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&layout::index_table_name(index_id)))?;
    txn.open_table(layout::INDEX_STATS)?.insert(index_id, (0, 0))?;
    table.indexes.push(IndexMeta { spec, id: index_id, status: IndexStatus::Creating });
    Ok(Ok(()))
}

/// Removes an index and its entries.
pub(crate) fn delete_index(
    txn: &WriteTransaction,
    table: &mut TableMeta,
    name: &str,
) -> Result<Result<(), Error>, Error> {
    // UpdateTable deletes global indexes only; a local index lives as long as its table.
    let Some(position) =
        table.indexes.iter().position(|i| i.spec.name == name && i.spec.kind == IndexKind::Global)
    else {
        return Ok(Err(Error::ResourceNotFound {
            message: format!("Requested resource not found: Index: {name} not found"),
        }));
    };
    let index = table.indexes.remove(position);
    txn.delete_table(TableDefinition::<&[u8], &[u8]>::new(&layout::index_table_name(index.id)))?;
    txn.open_table(layout::INDEX_STATS)?.remove(index.id)?;
    // Attribute definitions no key uses any more go with the index, as in DynamoDB.
    let used: Vec<String> = table
        .spec
        .key_schema
        .attribute_names()
        .chain(table.indexes.iter().flat_map(|i| i.spec.key_schema.attribute_names()))
        .map(str::to_string)
        .collect();
    table.spec.attribute_definitions.retain(|d| used.contains(&d.name));
    Ok(Ok(()))
}

/// One backfill step: indexes up to [`BACKFILL_STEP_ITEMS_MAX`] items after `after` and, at the
/// end of the table, marks the index ACTIVE. Returns the changed table when it did.
pub(crate) fn step(
    txn: &WriteTransaction,
    table: &TableMeta,
    index_id: u64,
    after: Option<&[u8]>,
    stats: &mut Vec<(StatsTarget, StatsDelta)>,
) -> Result<(BackfillProgress, Option<TableMeta>), Error> {
    let Some(index) = table.indexes.iter().find(|i| i.id == index_id && i.status == IndexStatus::Creating)
    else {
        return Ok((BackfillProgress::Done, None));
    };
    let items_name = layout::items_table_name(table.id);
    let items = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&items_name))?;
    let mut entries =
        txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&layout::index_table_name(index_id)))?;
    let lower = match after {
        Some(k) => Bound::Excluded(k),
        None => Bound::Unbounded,
    };
    let mut last = None;
    let mut delta = StatsDelta::default();
    for entry in items.range::<&[u8]>((lower, Bound::Unbounded))?.take(BACKFILL_STEP_ITEMS_MAX) {
        let (key, value) = entry?;
        let item = codec::decode_item(value.value())
            .ok_or_else(|| Error::Corrupt(format!("item in {items_name} does not decode")))?;
        if let Some((entry_key, projected)) = index.spec.entry(&table.spec.key_schema, &item) {
            let encoded = codec::encode_item(&projected);
            let previous = entries.insert(entry_key.as_slice(), encoded.as_slice())?;
            if previous.is_none() {
                delta.items += 1;
                delta.bytes += item_size_bytes(&projected) as i64;
            }
        }
        last = Some(key.value().to_vec());
    }
    stats.push((StatsTarget::Index(index_id), delta));
    if let Some(key) = last {
        let more =
            items.range::<&[u8]>((Bound::Excluded(key.as_slice()), Bound::Unbounded))?.next().is_some();
        if more {
            return Ok((BackfillProgress::After(key), None));
        }
    }
    let mut done = table.clone();
    for i in &mut done.indexes {
        if i.id == index_id {
            i.status = IndexStatus::Active;
        }
    }
    Ok((BackfillProgress::Done, Some(done)))
}

/// Starts a thread that backfills `index_id` of `table` to completion, one step per commit.
pub(crate) fn spawn(store: &Store, table: String, index_id: u64) {
    let store = store.clone();
    let spawned = std::thread::Builder::new().name(format!("eddy-backfill-{index_id}")).spawn(move || {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let (reply, answer) = oneshot::channel();
            let command = Command::Backfill { table: table.clone(), index_id, after: after.take(), reply };
            if store.inner.queue.blocking_send(command).is_err() {
                return;
            }
            match answer.blocking_recv() {
                Ok(Ok(BackfillProgress::After(key))) => after = Some(key),
                Ok(Ok(BackfillProgress::Done)) => return,
                Ok(Err(e)) => {
                    // Resumes from the start at the next open: re-indexing an item is harmless.
                    tracing::error!("backfill of index {index_id} on {table} stopped: {e}");
                    return;
                }
                Err(_) => return,
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the backfill of index {index_id}: {e}");
    }
}

/// Resumes every backfill that a restart interrupted.
pub(crate) fn resume_all(store: &Store) {
    let tables = store.inner.catalog.snapshot();
    for table in tables.values() {
        for index in table.indexes.iter().filter(|i| i.status == IndexStatus::Creating) {
            spawn(store, table.spec.name.clone(), index.id);
        }
    }
}

/// Starts backfills for indexes `after` has in CREATING that `before` did not.
pub(crate) fn start_new(store: &Store, before: &Arc<TableMeta>, after: &TableMeta) {
    for index in after.indexes.iter().filter(|i| i.status == IndexStatus::Creating) {
        if !before.indexes.iter().any(|b| b.id == index.id) {
            spawn(store, after.spec.name.clone(), index.id);
        }
    }
}
