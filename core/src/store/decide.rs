//! Decide, then apply. Deciding evaluates a request against the current state (conditions,
//! update expressions, limits) and produces [`Mutation`]s with full old and new images, writing
//! nothing; applying writes mutations without evaluating anything, so replaying mutations
//! rebuilds the state. Both run on the writer thread inside the batch's write transaction.

use std::sync::Arc;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::changelog::ChangeEvent;
use crate::codec;
use crate::error::Error;
use crate::index::IndexKind;
use crate::key::partition_component_len;
use crate::limits::Limits;
use crate::schema::TableMeta;
use crate::store::catalog::Tables;
use crate::store::layout;
use crate::store::log::BatchLog;
use crate::store::{ItemWrite, WriteAction};
use crate::value::{Item, item_size_bytes};

/// One item's change, decided and ready to apply.
#[derive(Debug)]
pub(crate) struct Mutation {
    /// The table, as declared when the mutation was decided.
    pub table: Arc<TableMeta>,
    /// Encoded primary key.
    pub key: Vec<u8>,
    /// The item before.
    pub old: Option<Item>,
    /// The item after (None removes it).
    pub new: Option<Item>,
    /// The transaction the change belongs to, if any.
    pub transaction_id: Option<u64>,
    /// Trigger write-backs that led to this change (0 for a client's write).
    pub hops: u32,
}

/// The change a mutation makes to a table's or an index's item count and size.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StatsDelta {
    pub items: i64,
    pub bytes: i64,
}

/// Looks up a table for a data-plane write.
pub(crate) fn table<'t>(tables: &'t Tables, name: &str) -> Result<&'t Arc<TableMeta>, Error> {
    tables.get(name).ok_or_else(Error::table_not_found)
}

/// Reads one item inside the write transaction.
pub(crate) fn read_item(txn: &WriteTransaction, table_id: u64, key: &[u8]) -> Result<Option<Item>, Error> {
    let name = layout::items_table_name(table_id);
    let items = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
    let Some(bytes) = items.get(key)? else {
        return Ok(None);
    };
    codec::decode_item(bytes.value())
        .map(Some)
        .ok_or_else(|| Error::Corrupt(format!("item in {name} does not decode")))
}

/// Items as a sequence of decided-but-not-applied writes leaves them: (table id, key) → item.
pub(crate) type Overlay = std::collections::HashMap<(u64, Vec<u8>), Option<Item>>;

/// Decides one item write: evaluates its condition and computes the new item.
pub(crate) fn decide_write(
    txn: &WriteTransaction,
    tables: &Tables,
    write: &ItemWrite,
    limits: &Limits,
) -> Result<Mutation, Error> {
    decide_write_over(txn, tables, write, limits, None)
}

/// Decides writes one after another, each seeing the ones before it (several may touch one
/// item), without applying any: all or nothing. On failure, the index of the failed write.
pub(crate) fn decide_sequence(
    txn: &WriteTransaction,
    tables: &Tables,
    writes: &[ItemWrite],
    limits: &Limits,
) -> Result<Vec<Mutation>, (usize, Error)> {
    let mut overlay = Overlay::new();
    let mut mutations = Vec::with_capacity(writes.len());
    for (i, write) in writes.iter().enumerate() {
        let mutation = decide_write_over(txn, tables, write, limits, Some(&overlay)).map_err(|e| (i, e))?;
        overlay.insert((mutation.table.id, mutation.key.clone()), mutation.new.clone());
        mutations.push(mutation);
    }
    Ok(mutations)
}

fn decide_write_over(
    txn: &WriteTransaction,
    tables: &Tables,
    write: &ItemWrite,
    limits: &Limits,
    overlay: Option<&Overlay>,
) -> Result<Mutation, Error> {
    let meta = table(tables, &write.table)?;
    if !meta.spec.key_schema.fits(&write.key) {
        // The key was checked against a table of the same name that has since been deleted
        // and re-created with another key schema.
        return Err(Error::validation("The provided key element does not match the schema"));
    }
    if let WriteAction::Update(Some(update)) = &write.action {
        // A static rule: checked before the condition, as DynamoDB does.
        for name in update.top_level_attributes() {
            if meta.spec.key_schema.is_key_attribute(name) {
                return Err(Error::validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
                )));
            }
        }
    }
    let key = write.key.encode();
    let old = match overlay.and_then(|o| o.get(&(meta.id, key.clone()))) {
        Some(item) => item.clone(),
        None => read_item(txn, meta.id, &key)?,
    };
    if let Some(condition) = &write.condition {
        let empty = Item::new();
        if !condition.evaluate(old.as_ref().unwrap_or(&empty)) {
            let item = if write.return_item_on_condition_failure { old } else { None };
            return Err(Error::ConditionalCheckFailed { item });
        }
    }
    let new = match &write.action {
        WriteAction::Put(item) => Some(item.clone()),
        WriteAction::Delete => None,
        WriteAction::Update(update) => {
            let base = match &old {
                Some(item) => item.clone(),
                None => write.key.to_item(&meta.spec.key_schema),
            };
            let updated = match update {
                Some(update) => update.apply(&base)?,
                None => base,
            };
            check_item_limits(&updated, limits, "Item size to update has exceeded the maximum allowed size")?;
            Some(updated)
        }
    };
    if let Some(item) = &new {
        for index in &meta.indexes {
            index.spec.check_item(item, limits)?;
        }
    }
    if meta.has_local_indexes() && collection_bytes(meta, &new) > collection_bytes(meta, &old) {
        let current = item_collection_bytes(txn, meta, &key)?;
        let after = current + collection_bytes(meta, &new) - collection_bytes(meta, &old);
        if after > limits.item_collection_bytes_max {
            return Err(Error::ItemCollectionSizeLimitExceeded);
        }
    }
    Ok(Mutation { table: meta.clone(), key, old, new, transaction_id: None, hops: write.hops })
}

/// What one item counts toward its item collection: the item and its local index entries.
pub(crate) fn collection_bytes(meta: &TableMeta, item: &Option<Item>) -> u64 {
    let Some(item) = item else { return 0 };
    let local = meta
        .indexes
        .iter()
        .filter(|i| i.spec.kind == IndexKind::Local)
        .filter_map(|i| i.spec.entry(&meta.spec.key_schema, item))
        .map(|(_, projected)| item_size_bytes(&projected) as u64);
    item_size_bytes(item) as u64 + local.sum::<u64>()
}

/// The item-collection key of a table storage key (table id ++ partition component).
pub(crate) fn collection_key(meta: &TableMeta, key: &[u8]) -> Result<Vec<u8>, Error> {
    let len = partition_component_len(meta.spec.key_schema.partition.scalar_type, key).ok_or_else(|| {
        Error::Corrupt(format!("a key of table {} has no partition component", meta.spec.name))
    })?;
    Ok(layout::item_collection_key(meta.id, &key[..len]))
}

/// The current size of the item collection holding `key`.
fn item_collection_bytes(txn: &WriteTransaction, meta: &TableMeta, key: &[u8]) -> Result<u64, Error> {
    let collections = txn.open_table(layout::ITEM_COLLECTIONS)?;
    Ok(collections.get(collection_key(meta, key)?.as_slice())?.map(|g| g.value()).unwrap_or(0))
}

/// Checks an item against the size and nesting limits.
pub fn check_item_limits(item: &Item, limits: &Limits, size_message: &str) -> Result<(), Error> {
    if item_size_bytes(item) > limits.item_bytes_max {
        return Err(Error::validation(size_message));
    }
    if item.values().any(|v| v.depth() > limits.nesting_depth_max) {
        return Err(Error::validation(format!(
            "Nesting Levels have exceeded supported limits: Attribute value nesting exceeds the maximum of {}",
            limits.nesting_depth_max
        )));
    }
    Ok(())
}

/// Where a mutation's stats changes go: the table, or one of its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StatsTarget {
    /// The table with this internal id.
    Table(u64),
    /// The index with this internal id.
    Index(u64),
}

/// Applies a decided mutation to the table and every index; returns the stats changes.
pub(crate) fn apply(
    txn: &WriteTransaction,
    mutation: &Mutation,
    log: &mut BatchLog,
) -> Result<Vec<(StatsTarget, StatsDelta)>, Error> {
    let meta = &mutation.table;
    if mutation.old == mutation.new {
        // A write that changes nothing writes nothing and records nothing.
        return Ok(Vec::new());
    }
    let name = layout::items_table_name(meta.id);
    let mut items = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
    match &mutation.new {
        Some(item) => {
            items.insert(mutation.key.as_slice(), codec::encode_item(item).as_slice())?;
        }
        None => {
            items.remove(mutation.key.as_slice())?;
        }
    }
    let mut deltas = vec![(StatsTarget::Table(meta.id), delta(&mutation.old, &mutation.new))];
    for index in &meta.indexes {
        let table_key = &meta.spec.key_schema;
        let old = mutation.old.as_ref().and_then(|i| index.spec.entry(table_key, i));
        let new = mutation.new.as_ref().and_then(|i| index.spec.entry(table_key, i));
        if old.is_none() && new.is_none() {
            continue;
        }
        let name = layout::index_table_name(index.id);
        let mut entries = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
        // Stats follow what the index really held: an index still backfilling may not have
        // the old entry yet.
        let mut change = StatsDelta::default();
        let old_size = old.as_ref().map_or(0, |(_, i)| item_size_bytes(i) as i64);
        if let Some((old_key, _)) = &old
            && new.as_ref().is_none_or(|(k, _)| k != old_key)
            && entries.remove(old_key.as_slice())?.is_some()
        {
            change.items -= 1;
            change.bytes -= old_size;
        }
        if let Some((new_key, projected)) = &new {
            let previous = entries.insert(new_key.as_slice(), codec::encode_item(projected).as_slice())?;
            change.bytes += item_size_bytes(projected) as i64;
            if previous.is_some() {
                change.bytes -= old_size;
            } else {
                change.items += 1;
            }
        }
        deltas.push((StatsTarget::Index(index.id), change));
    }
    if meta.has_local_indexes() {
        let before = collection_bytes(meta, &mutation.old);
        let after = collection_bytes(meta, &mutation.new);
        if before != after {
            let mut collections = txn.open_table(layout::ITEM_COLLECTIONS)?;
            let ckey = collection_key(meta, &mutation.key)?;
            let current = collections.get(ckey.as_slice())?.map(|g| g.value()).unwrap_or(0);
            let updated = (current + after).checked_sub(before).ok_or_else(|| {
                Error::Corrupt(format!("item collection size of table {} would go negative", meta.spec.name))
            })?;
            if updated == 0 {
                collections.remove(ckey.as_slice())?;
            } else {
                collections.insert(ckey.as_slice(), updated)?;
            }
        }
    }
    let event = match (&mutation.old, &mutation.new) {
        (None, _) => ChangeEvent::Insert,
        (Some(_), Some(_)) => ChangeEvent::Modify,
        (Some(_), None) => ChangeEvent::Remove,
    };
    let image = mutation.new.as_ref().or(mutation.old.as_ref());
    let keys: Item = image
        .map(|i| {
            i.iter()
                .filter(|(k, _)| meta.spec.key_schema.is_key_attribute(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    log.append(
        txn,
        meta.id,
        event,
        keys,
        mutation.old.clone(),
        mutation.new.clone(),
        mutation.transaction_id,
        mutation.hops,
    )?;
    Ok(deltas)
}

fn delta(old: &Option<Item>, new: &Option<Item>) -> StatsDelta {
    let size = |item: &Option<Item>| item.as_ref().map_or(0, |i| item_size_bytes(i) as i64);
    StatsDelta { items: i64::from(new.is_some()) - i64::from(old.is_some()), bytes: size(new) - size(old) }
}
