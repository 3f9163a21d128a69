//! The items that write-backs of earlier batches of a group will have written once the group
//! commits: a batch's `get_item` sees them, as it would have had each batch committed alone.

use std::sync::Arc;

use eddy_core::store::{ItemWrite, WriteAction};
use eddy_core::{Item, PrimaryKey, Store};

/// Items written by buffered write-backs, by table and key, as of the last one. Like the
/// sandbox's own overlay it assumes every buffered write will succeed: a rejected write fails
/// the commit of the whole group, and the batches run again from committed state.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overlay {
    /// `None`: deleted. Few entries (a group's write-backs), so a list is searched.
    items: Vec<(String, PrimaryKey, Option<Item>)>,
    /// The writes of the group whose commit is still in flight, under this group's own.
    base: Option<Arc<Overlay>>,
}

impl Overlay {
    /// An empty overlay on top of `previous`'s own writes: those of the group committing
    /// while this one runs. The groups before it have committed, so their writes are left out.
    pub fn after(previous: &Overlay) -> Self {
        let base = Overlay { items: previous.items.clone(), base: None };
        Overlay { items: Vec::new(), base: (!base.items.is_empty()).then(|| Arc::new(base)) }
    }

    /// The item as the buffered writes leave it: `None` when they do not touch it,
    /// `Some(None)` when they delete it.
    pub fn get(&self, table: &str, key: &PrimaryKey) -> Option<&Option<Item>> {
        self.items
            .iter()
            .find(|(t, k, _)| t == table && k == key)
            .map(|(_, _, item)| item)
            .or_else(|| self.base.as_ref().and_then(|base| base.get(table, key)))
    }

    /// Applies `writes`, in order, on top of the committed state and the writes before them.
    /// Conditions are not evaluated. An error means the result cannot be known here (an update
    /// that does not apply): the group stops before the next batch.
    pub fn apply(&mut self, store: &Store, writes: &[ItemWrite]) -> Result<(), String> {
        for write in writes {
            let after = match &write.action {
                WriteAction::Put(item) => Some(item.clone()),
                WriteAction::Delete => None,
                WriteAction::Update(update) => {
                    // Only an update needs the item before it.
                    let before = match self.get(&write.table, &write.key) {
                        Some(item) => item.clone(),
                        None => store.get_item(&write.table, &write.key).map_err(|e| e.to_string())?,
                    };
                    let base = match before {
                        Some(item) => item,
                        None => {
                            let meta = store.table(&write.table).map_err(|e| e.to_string())?;
                            write.key.to_item(&meta.spec.key_schema)
                        }
                    };
                    match update {
                        Some(update) => Some(update.apply(&base).map_err(|e| e.to_string())?),
                        None => Some(base),
                    }
                }
            };
            match self.items.iter_mut().find(|(t, k, _)| *t == write.table && *k == write.key) {
                Some(entry) => entry.2 = after,
                None => self.items.push((write.table.clone(), write.key.clone(), after)),
            }
        }
        Ok(())
    }
}
