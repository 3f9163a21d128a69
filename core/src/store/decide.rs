//! Decide, then apply. Deciding evaluates a request against the current state (conditions,
//! update expressions, limits) and produces [`Mutation`]s with full old and new images, writing
//! nothing; applying writes mutations without evaluating anything, so replaying mutations
//! rebuilds the state. Both run on the writer thread inside the batch's write transaction.

use std::sync::Arc;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::codec;
use crate::error::Error;
use crate::limits::Limits;
use crate::schema::TableMeta;
use crate::store::catalog::Tables;
use crate::store::layout;
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

/// Decides one item write: evaluates its condition and computes the new item.
pub(crate) fn decide_write(
    txn: &WriteTransaction,
    tables: &Tables,
    write: &ItemWrite,
    limits: &Limits,
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
    let old = read_item(txn, meta.id, &key)?;
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
    Ok(Mutation { table: meta.clone(), key, old, new })
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
) -> Result<Vec<(StatsTarget, StatsDelta)>, Error> {
    let meta = &mutation.table;
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
        if let Some((old_key, _)) = &old
            && new.as_ref().is_none_or(|(k, _)| k != old_key)
        {
            entries.remove(old_key.as_slice())?;
        }
        if let Some((new_key, projected)) = &new {
            entries.insert(new_key.as_slice(), codec::encode_item(projected).as_slice())?;
        }
        let old_item = old.map(|(_, i)| i);
        let new_item = new.map(|(_, i)| i);
        deltas.push((StatsTarget::Index(index.id), delta(&old_item, &new_item)));
    }
    Ok(deltas)
}

fn delta(old: &Option<Item>, new: &Option<Item>) -> StatsDelta {
    let size = |item: &Option<Item>| item.as_ref().map_or(0, |i| item_size_bytes(i) as i64);
    StatsDelta { items: i64::from(new.is_some()) - i64::from(old.is_some()), bytes: size(new) - size(old) }
}
