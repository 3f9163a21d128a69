//! Durable documents of Eddy's own features (trigger registrations, connector configurations):
//! opaque bytes under a kind and a name, written by the writer like any other state, so they
//! survive restarts and commit atomically.

use redb::{ReadableDatabase, WriteTransaction};

use crate::error::Error;
use crate::store::{Command, Store, layout};

/// Longest document kind or name (bytes).
pub const DOCUMENT_NAME_BYTES_MAX: usize = 255;
/// Largest document (16 MiB: a trigger's wasm module is stored with its registration).
pub const DOCUMENT_BYTES_MAX: usize = 16 * 1024 * 1024;

/// A change to one document.
pub(crate) enum DocumentOp {
    Put { kind: String, name: String, bytes: Vec<u8> },
    Delete { kind: String, name: String },
}

fn key(kind: &str, name: &str) -> Result<String, Error> {
    if kind.is_empty() || kind.len() > DOCUMENT_NAME_BYTES_MAX || kind.contains('\0') {
        return Err(Error::validation(format!("invalid document kind {kind:?}")));
    }
    if name.is_empty() || name.len() > DOCUMENT_NAME_BYTES_MAX || name.contains('\0') {
        return Err(Error::validation(format!("invalid document name {name:?}")));
    }
    Ok(format!("{kind}\0{name}"))
}

/// Runs a document change inside the writer's transaction; returns whether the document existed.
pub(crate) fn execute(txn: &WriteTransaction, op: DocumentOp) -> Result<Result<bool, Error>, Error> {
    let mut documents = txn.open_table(layout::DOCUMENTS)?;
    match op {
        DocumentOp::Put { kind, name, bytes } => {
            let key = match key(&kind, &name) {
                Ok(k) => k,
                Err(e) => return Ok(Err(e)),
            };
            if bytes.len() > DOCUMENT_BYTES_MAX {
                return Ok(Err(Error::validation(format!(
                    "document {kind}/{name} is {} bytes; the most is {DOCUMENT_BYTES_MAX}",
                    bytes.len()
                ))));
            }
            Ok(Ok(documents.insert(key.as_str(), bytes.as_slice())?.is_some()))
        }
        DocumentOp::Delete { kind, name } => {
            let key = match key(&kind, &name) {
                Ok(k) => k,
                Err(e) => return Ok(Err(e)),
            };
            Ok(Ok(documents.remove(key.as_str())?.is_some()))
        }
    }
}

impl Store {
    /// Stores (or replaces) a document; returns whether it replaced one.
    pub async fn put_document(&self, kind: &str, name: &str, bytes: Vec<u8>) -> Result<bool, Error> {
        let op = DocumentOp::Put { kind: kind.to_string(), name: name.to_string(), bytes };
        self.submit(|reply| Command::Document { op, reply }).await
    }

    /// Deletes a document; returns whether it existed.
    pub async fn delete_document(&self, kind: &str, name: &str) -> Result<bool, Error> {
        let op = DocumentOp::Delete { kind: kind.to_string(), name: name.to_string() };
        self.submit(|reply| Command::Document { op, reply }).await
    }

    /// One document.
    pub fn document(&self, kind: &str, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let key = key(kind, name)?;
        let txn = self.inner.db.begin_read()?;
        let documents = match txn.open_table(layout::DOCUMENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(documents.get(key.as_str())?.map(|g| g.value().to_vec()))
    }

    /// The documents of one kind, in name order: (name, bytes).
    pub fn documents(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let start = key(kind, "\u{1}").map(|k| k.replace('\u{1}', ""))?;
        let txn = self.inner.db.begin_read()?;
        let documents = match txn.open_table(layout::DOCUMENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in documents.range::<&str>(start.as_str()..)? {
            let (k, v) = entry?;
            let Some(name) = k.value().strip_prefix(start.as_str()) else { break };
            out.push((name.to_string(), v.value().to_vec()));
        }
        Ok(out)
    }
}
