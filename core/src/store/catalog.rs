//! The catalog: every table's declaration, in memory for lock-free lookups by readers,
//! replaced as a whole by the writer after each commit that changes it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable};

use crate::error::Error;
use crate::schema::TableMeta;
use crate::store::{decode_meta, layout};

/// Table name → declaration.
pub type Tables = HashMap<String, Arc<TableMeta>>;

/// The published set of tables.
pub struct Catalog {
    tables: RwLock<Arc<Tables>>,
}

impl Catalog {
    /// Loads every table's declaration from the database.
    pub(crate) fn load(db: &Database) -> Result<Catalog, Error> {
        let mut tables = Tables::new();
        let txn = db.begin_read()?;
        match txn.open_table(layout::TABLES) {
            Ok(stored) => {
                for entry in stored.iter()? {
                    let (name, bytes) = entry?;
                    tables.insert(name.value().to_string(), Arc::new(decode_meta(bytes.value())?));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Catalog { tables: RwLock::new(Arc::new(tables)) })
    }

    /// The current set of tables.
    pub fn snapshot(&self) -> Arc<Tables> {
        match self.tables.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// One table's declaration.
    pub fn get(&self, name: &str) -> Option<Arc<TableMeta>> {
        self.snapshot().get(name).cloned()
    }

    /// Table names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.snapshot().keys().cloned().collect();
        names.sort();
        names
    }

    /// Replaces the published set (writer only, after a durable commit).
    pub(crate) fn publish(&self, tables: Arc<Tables>) {
        match self.tables.write() {
            Ok(mut t) => *t = tables,
            Err(poisoned) => *poisoned.into_inner() = tables,
        }
    }
}
