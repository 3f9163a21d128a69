//! The items that write-backs of earlier batches will have written once they commit: the
//! batches before in the same group, and the group whose commit is still in flight. A batch's
//! `get_item` sees them, as it would have had each batch committed alone.

use std::collections::HashMap;
use std::sync::Arc;

use eddy_core::store::{ItemWrite, WriteAction};
use eddy_core::{Item, PrimaryKey, Store};

/// Items by table and encoded key (the store's own key bytes, so keys compare as the store
/// compares them); `None`: deleted.
type Items = HashMap<(String, Vec<u8>), Option<Item>>;

/// Items written by buffered write-backs, as of the last one. Like the sandbox's own overlay
/// it assumes every buffered write will succeed: a rejected write fails the commit of the whole
/// group, and the batches run again from committed state.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overlay {
    /// This group's writes.
    items: Arc<Items>,
    /// The writes of the group whose commit is still in flight, under this group's own.
    base: Option<Arc<Items>>,
}

impl Overlay {
    /// An empty overlay on top of `previous`'s own writes: those of the group committing
    /// while this one runs. The groups before it have committed, so their writes are left out.
    /// Shares `previous`'s items; nothing is copied.
    pub fn after(previous: &Overlay) -> Self {
        let base = (!previous.items.is_empty()).then(|| Arc::clone(&previous.items));
        Overlay { items: Arc::default(), base }
    }

    /// The item as the buffered writes leave it: `None` when they do not touch it,
    /// `Some(None)` when they delete it.
    pub fn get(&self, table: &str, key: &PrimaryKey) -> Option<&Option<Item>> {
        let id = (table.to_string(), key.encode());
        self.items.get(&id).or_else(|| self.base.as_ref().and_then(|base| base.get(&id)))
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
            Arc::make_mut(&mut self.items).insert((write.table.clone(), write.key.encode()), after);
        }
        Ok(())
    }
}
