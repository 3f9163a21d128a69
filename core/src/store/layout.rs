//! The on-disk layout: the data dir, its format version, and the redb tables inside the one
//! database file. `docs/design.md` describes it for people; this file is the truth.

use std::path::{Path, PathBuf};

use redb::TableDefinition;

/// The data dir format this build writes and reads. Bump it, with a migration, whenever the
/// meaning of any stored byte changes.
pub const FORMAT_VERSION: u32 = 1;

/// Name of the file in the data dir that records its format version.
pub const FORMAT_FILE: &str = "FORMAT";

/// Name of the redb database file in the data dir.
pub const DATABASE_FILE: &str = "eddy.redb";

/// Store-wide values: `format_version` (u32 LE), `next_table_id` (u64 LE).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Table name → [`crate::schema::TableMeta`] as JSON.
pub const TABLES: TableDefinition<&str, &[u8]> = TableDefinition::new("tables");

/// Table name → (item count, size in bytes).
pub const TABLE_STATS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("table_stats");

/// Table id → the last sequence number assigned in its changelog (its high watermark).
pub const SEQUENCES: TableDefinition<u64, u64> = TableDefinition::new("sequences");

/// (table id, first seq of the shard) → the shard's creation time in milliseconds: where the
/// DynamoDB Streams API's shards of a table begin.
pub const SHARDS: TableDefinition<(u64, u64), u64> = TableDefinition::new("shards");

/// The redb table name holding the changelog of the table with internal id `id`: seq →
/// encoded change record.
pub fn changelog_table_name(id: u64) -> String {
    format!("changelog.{id:016x}")
}

/// `kind \0 name` → a document of one of Eddy's own features (trigger registrations, ...).
pub const DOCUMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("documents");

/// Consumer name → its state (table, start, checkpoint) as JSON.
pub const CONSUMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("consumers");

/// Index id → (entry count, size in bytes), maintained with every commit.
pub const INDEX_STATS: TableDefinition<u64, (u64, u64)> = TableDefinition::new("index_stats");

/// Item collection sizes of tables with local secondary indexes: table id (u64 BE) ++ the
/// partition component of the storage key → bytes of the partition's items and local index
/// entries.
pub const ITEM_COLLECTIONS: TableDefinition<&[u8], u64> = TableDefinition::new("item_collections");

/// The key of a partition's item collection size in [`ITEM_COLLECTIONS`].
pub fn item_collection_key(table_id: u64, partition_component: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + partition_component.len());
    key.extend_from_slice(&table_id.to_be_bytes());
    key.extend_from_slice(partition_component);
    key
}

/// The redb table name holding the entries of the secondary index with internal id `id`:
/// encoded index entry key → encoded projected item.
pub fn index_table_name(id: u64) -> String {
    format!("index.{id:016x}")
}

/// Transaction ClientRequestToken → (SHA-256 of the canonical request, commit time in ms since
/// the Unix epoch, number of actions). Only committed transactions are recorded; entries older
/// than `Limits::idempotency_window` are ignored and trimmed.
pub const TRANSACT_TOKENS: TableDefinition<&str, (&[u8], u64, u64)> = TableDefinition::new("transact_tokens");

/// (commit time in ms, token) → (): the tokens in age order, so trimming expired ones is a
/// bounded range read.
pub const TRANSACT_TOKEN_AGES: TableDefinition<(u64, &str), ()> = TableDefinition::new("transact_token_ages");

/// The redb table name holding the items of the table with internal id `id`: encoded primary
/// key → encoded item.
pub fn items_table_name(id: u64) -> String {
    format!("items.{id:016x}")
}

/// The path of the database file in `data_dir`.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}

/// Why a data dir cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The data dir or its files could not be created or read.
    #[error("cannot use data dir {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The data dir was written by a newer Eddy.
    #[error(
        "data dir {path} has format version {found}, newer than this build of Eddy supports ({supported}); run a newer eddy, or restore from a backup made by this version"
    )]
    FormatTooNew {
        /// The data dir.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The format file does not say a version.
    #[error("data dir {path} has an unreadable {FORMAT_FILE} file: {content:?}")]
    FormatUnreadable {
        /// The data dir.
        path: PathBuf,
        /// What the file holds.
        content: String,
    },
    /// The database file could not be opened (for example, another server holds it).
    #[error("cannot open database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// The failure.
        source: redb::DatabaseError,
    },
    /// The database could not be initialised.
    #[error("cannot initialise database: {0}")]
    Init(#[from] crate::error::Error),
}

/// Creates the data dir if needed, then checks (or writes) its format version.
pub fn prepare_data_dir(data_dir: &Path) -> Result<(), OpenError> {
    let io = |source| OpenError::Io { path: data_dir.to_path_buf(), source };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let format_path = data_dir.join(FORMAT_FILE);
    match std::fs::read_to_string(&format_path) {
        Ok(content) => {
            let found = content
                .trim()
                .strip_prefix("eddy-data-format ")
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or_else(|| OpenError::FormatUnreadable {
                    path: data_dir.to_path_buf(),
                    content: content.clone(),
                })?;
            if found > FORMAT_VERSION {
                return Err(OpenError::FormatTooNew {
                    path: data_dir.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            // Older formats are migrated here when a second format exists.
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = data_dir.join(format!("{FORMAT_FILE}.tmp"));
            std::fs::write(&tmp, format!("eddy-data-format {FORMAT_VERSION}\n")).map_err(io)?;
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
            std::fs::rename(&tmp, &format_path).map_err(io)?;
            std::fs::File::open(data_dir).and_then(|d| d.sync_all()).map_err(io)?;
            Ok(())
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_data_dir_records_the_format_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        prepare_data_dir(&data).unwrap();
        let text = std::fs::read_to_string(data.join(FORMAT_FILE)).unwrap();
        assert_eq!(text, format!("eddy-data-format {FORMAT_VERSION}\n"));
        prepare_data_dir(&data).unwrap();
    }

    #[test]
    fn data_dir_from_a_newer_format_is_refused_with_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FORMAT_FILE), "eddy-data-format 99\n").unwrap();
        let err = prepare_data_dir(dir.path()).unwrap_err();
        assert!(matches!(err, OpenError::FormatTooNew { found: 99, supported: FORMAT_VERSION, .. }));
        let message = err.to_string();
        assert!(
            message.contains("format version 99") && message.contains(&format!("({FORMAT_VERSION})")),
            "{message}"
        );
    }

    #[test]
    fn unreadable_format_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FORMAT_FILE), "something else").unwrap();
        assert!(matches!(prepare_data_dir(dir.path()), Err(OpenError::FormatUnreadable { .. })));
    }
}
