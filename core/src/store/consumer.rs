//! Named durable consumers of a table's changelog: where each starts and its checkpoint (the
//! last sequence number it has processed). HTTP consumers, triggers and connectors all keep
//! their progress here, written by the writer like any other state.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::schema::TableMeta;
use crate::store::{Command, Store, layout, log};

/// Longest consumer name (characters).
pub const CONSUMER_NAME_CHARS_MAX: usize = 128;
/// Most consumers in one store.
pub const CONSUMERS_MAX: usize = 10_000;
/// Largest opaque state a consumer commits with its checkpoint (Lambda's 1 MB window state).
pub const CONSUMER_STATE_BYTES_MAX: usize = 1024 * 1024;

/// Where a new consumer starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartPosition {
    /// The oldest retained record.
    TrimHorizon,
    /// Only records committed after the consumer is created.
    Latest,
    /// The record with this seq (or the first after it).
    AtSequence(u64),
    /// The first record committed at or after this time (milliseconds since the epoch).
    AtTime(u64),
}

/// Whether a consumer can still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerStatus {
    /// Reading its table's changelog.
    Active,
    /// Its table was deleted; it reads nothing more.
    Stopped {
        /// Why.
        reason: String,
    },
}

/// A consumer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// Unique name.
    pub name: String,
    /// The table it reads.
    pub table: String,
    /// The internal id of that table (a re-created table is another table).
    pub table_id: u64,
    /// The seq it reads next when nothing is checkpointed past it.
    pub start_seq: u64,
    /// The last seq it has processed (`start_seq - 1` before its first checkpoint).
    pub checkpoint: u64,
    /// When it was created, milliseconds since the epoch.
    pub created_at_millis: u64,
    /// When it last checkpointed, milliseconds since the epoch.
    pub checkpointed_at_millis: Option<u64>,
    /// Active, or stopped with a reason.
    pub status: ConsumerStatus,
    /// Opaque state the consumer committed with its checkpoint (a trigger's tumbling window),
    /// at most [`CONSUMER_STATE_BYTES_MAX`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "state_bytes")]
    pub state: Option<Vec<u8>>,
    /// Opaque counters the consumer committed with its checkpoint (a trigger's totals), kept
    /// apart from `state` so that either can be replaced alone; at most
    /// [`CONSUMER_STATE_BYTES_MAX`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "state_bytes")]
    pub counters: Option<Vec<u8>>,
}

impl Consumer {
    /// The seq to read next.
    pub fn next_seq(&self) -> u64 {
        self.checkpoint + 1
    }
}

/// What a consumer commits after processing a batch, atomically: the writes the batch caused
/// (a trigger's write-backs) and the checkpoint past the batch. Either both commit or neither.
#[derive(Debug)]
pub struct ConsumerCommit {
    /// The consumer.
    pub name: String,
    /// The last seq the batch covered.
    pub checkpoint: u64,
    /// Writes to commit with the checkpoint, decided in order (several may touch one item).
    pub writes: Vec<crate::store::ItemWrite>,
    /// `Some` replaces the consumer's opaque state in the same commit (empty bytes clear it);
    /// `None` leaves it as it is.
    pub state: Option<Vec<u8>>,
    /// `Some` replaces the consumer's opaque counters in the same commit (empty bytes clear
    /// them); `None` leaves them as they are.
    pub counters: Option<Vec<u8>>,
}

/// The state as base64 inside the consumer's JSON record.
mod state_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(state: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match state {
            Some(bytes) => serializer.serialize_str(&STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => STANDARD.decode(text).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// What the writer does to consumers.
pub(crate) enum ConsumerOp {
    Create { name: String, table: String, start: StartPosition },
    Checkpoint { name: String, seq: u64 },
    Delete { name: String },
}

fn decode(name: &str, bytes: &[u8]) -> Result<Consumer, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(format!("consumer {name}: {e}")))
}

fn encode(consumer: &Consumer) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(consumer).map_err(|e| Error::Corrupt(format!("consumer {}: {e}", consumer.name)))
}

fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.chars().count() <= CONSUMER_NAME_CHARS_MAX
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "Consumer names are 1 to {CONSUMER_NAME_CHARS_MAX} characters of [a-zA-Z0-9_.-]; got {name:?}"
        )))
    }
}

/// Runs a consumer operation inside the writer's transaction.
pub(crate) fn execute(
    txn: &WriteTransaction,
    table: Option<&TableMeta>,
    op: ConsumerOp,
    now_millis: u64,
) -> Result<Result<Consumer, Error>, Error> {
    let mut consumers = txn.open_table(layout::CONSUMERS)?;
    match op {
        ConsumerOp::Create { name, table: table_name, start } => {
            if let Err(e) = validate_name(&name) {
                return Ok(Err(e));
            }
            if consumers.get(name.as_str())?.is_some() {
                return Ok(Err(Error::ResourceInUse { message: format!("Consumer already exists: {name}") }));
            }
            if consumers.len()? as usize >= CONSUMERS_MAX {
                return Ok(Err(Error::LimitExceeded {
                    message: format!("A store holds at most {CONSUMERS_MAX} consumers"),
                }));
            }
            let Some(meta) = table else {
                return Ok(Err(Error::ResourceNotFound {
                    message: format!("Requested resource not found: Table: {table_name} not found"),
                }));
            };
            let high_watermark = log::last_seq(txn, meta.id)?;
            let start_seq = match start {
                StartPosition::Latest => high_watermark + 1,
                // The oldest retained record: a new table's changelog starts above every
                // sequence number a deleted table used, not at 1.
                StartPosition::TrimHorizon => log::first_seq(txn, meta.id)?.unwrap_or(high_watermark + 1),
                StartPosition::AtSequence(seq) => seq,
                StartPosition::AtTime(millis) => log::seq_at_time(txn, meta.id, millis, high_watermark)?,
            };
            let start_seq = start_seq.max(1);
            let consumer = Consumer {
                name: name.clone(),
                table: table_name,
                table_id: meta.id,
                start_seq,
                checkpoint: start_seq - 1,
                created_at_millis: now_millis,
                checkpointed_at_millis: None,
                status: ConsumerStatus::Active,
                state: None,
                counters: None,
            };
            consumers.insert(name.as_str(), encode(&consumer)?.as_slice())?;
            Ok(Ok(consumer))
        }
        ConsumerOp::Checkpoint { name, seq } => {
            drop(consumers);
            let consumer = match checked_checkpoint(txn, &name, seq)? {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            Ok(Ok(store_checkpoint(txn, consumer, seq, None, None, now_millis)?))
        }
        ConsumerOp::Delete { name } => {
            let Some(bytes) = consumers.remove(name.as_str())?.map(|g| g.value().to_vec()) else {
                return Ok(Err(not_found(&name)));
            };
            Ok(Ok(decode(&name, &bytes)?))
        }
    }
}

/// The consumer, if `seq` is a checkpoint it may take now (active, forward, committed).
pub(crate) fn checked_checkpoint(
    txn: &WriteTransaction,
    name: &str,
    seq: u64,
) -> Result<Result<Consumer, Error>, Error> {
    let consumers = txn.open_table(layout::CONSUMERS)?;
    let Some(bytes) = consumers.get(name)?.map(|g| g.value().to_vec()) else {
        return Ok(Err(not_found(name)));
    };
    let consumer = decode(name, &bytes)?;
    if let ConsumerStatus::Stopped { reason } = &consumer.status {
        return Ok(Err(Error::validation(format!("Consumer {name} is stopped: {reason}"))));
    }
    let high_watermark = log::last_seq(txn, consumer.table_id)?;
    if seq > high_watermark {
        return Ok(Err(Error::validation(format!(
            "Cannot checkpoint sequence number {seq}: the table's last record is {high_watermark}"
        ))));
    }
    if seq < consumer.checkpoint {
        return Ok(Err(Error::validation(format!(
            "Cannot checkpoint sequence number {seq}: consumer {name} has already checkpointed {}",
            consumer.checkpoint
        ))));
    }
    Ok(Ok(consumer))
}

/// Refuses a state above [`CONSUMER_STATE_BYTES_MAX`].
pub(crate) fn check_state(name: &str, state: Option<&[u8]>) -> Result<(), Error> {
    match state {
        Some(bytes) if bytes.len() > CONSUMER_STATE_BYTES_MAX => Err(Error::validation(format!(
            "The state of consumer {name} is {} bytes; it may be at most {CONSUMER_STATE_BYTES_MAX} bytes",
            bytes.len()
        ))),
        _ => Ok(()),
    }
}

/// Writes a checked checkpoint, and the state and the counters when they are `Some` (empty
/// clears them).
pub(crate) fn store_checkpoint(
    txn: &WriteTransaction,
    mut consumer: Consumer,
    seq: u64,
    state: Option<Vec<u8>>,
    counters: Option<Vec<u8>>,
    now_millis: u64,
) -> Result<Consumer, Error> {
    consumer.checkpoint = seq;
    consumer.checkpointed_at_millis = Some(now_millis);
    if let Some(state) = state {
        consumer.state = if state.is_empty() { None } else { Some(state) };
    }
    if let Some(counters) = counters {
        consumer.counters = if counters.is_empty() { None } else { Some(counters) };
    }
    txn.open_table(layout::CONSUMERS)?.insert(consumer.name.as_str(), encode(&consumer)?.as_slice())?;
    Ok(consumer)
}

fn not_found(name: &str) -> Error {
    Error::ResourceNotFound { message: format!("Requested resource not found: Consumer: {name} not found") }
}

/// Stops every consumer of a deleted table, with the reason.
pub(crate) fn stop_for_table(txn: &WriteTransaction, table_id: u64, table: &str) -> Result<(), Error> {
    let mut consumers = txn.open_table(layout::CONSUMERS)?;
    let mut stopped = Vec::new();
    for entry in consumers.iter()? {
        let (name, bytes) = entry?;
        let mut consumer = decode(name.value(), bytes.value())?;
        if consumer.table_id == table_id && consumer.status == ConsumerStatus::Active {
            consumer.status = ConsumerStatus::Stopped { reason: format!("table {table} was deleted") };
            stopped.push(consumer);
        }
    }
    for consumer in stopped {
        consumers.insert(consumer.name.as_str(), encode(&consumer)?.as_slice())?;
    }
    Ok(())
}

impl Store {
    /// Creates a named consumer of `table` starting at `start`.
    pub async fn create_consumer(
        &self,
        name: &str,
        table: &str,
        start: StartPosition,
    ) -> Result<Consumer, Error> {
        let op = ConsumerOp::Create { name: name.to_string(), table: table.to_string(), start };
        self.submit(|reply| Command::Consumer { op, reply }).await
    }

    /// Records that `name` has processed every record up to `seq`; checkpoints only move forward.
    pub async fn checkpoint(&self, name: &str, seq: u64) -> Result<Consumer, Error> {
        let op = ConsumerOp::Checkpoint { name: name.to_string(), seq };
        self.submit(|reply| Command::Consumer { op, reply }).await
    }

    /// Commits a processed batch: its writes and the consumer's checkpoint, atomically. A write
    /// that fails to decide (condition, validation) rejects the whole commit.
    pub async fn commit_consumer(
        &self,
        commit: ConsumerCommit,
    ) -> Result<Vec<crate::store::WriteOutcome>, Error> {
        self.submit(|reply| Command::ConsumerCommit { commit, reply }).await
    }

    /// Deletes a consumer; returns what it was.
    pub async fn delete_consumer(&self, name: &str) -> Result<Consumer, Error> {
        let op = ConsumerOp::Delete { name: name.to_string() };
        self.submit(|reply| Command::Consumer { op, reply }).await
    }

    /// One consumer.
    pub fn consumer(&self, name: &str) -> Result<Consumer, Error> {
        let txn = self.inner.db.begin_read()?;
        let consumers = match txn.open_table(layout::CONSUMERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Err(not_found(name)),
            Err(e) => return Err(e.into()),
        };
        match consumers.get(name)? {
            Some(bytes) => decode(name, bytes.value()),
            None => Err(not_found(name)),
        }
    }

    /// Consumers in name order after `after`, at most `limit`.
    pub fn consumers(&self, after: Option<&str>, limit: usize) -> Result<Vec<Consumer>, Error> {
        let txn = self.inner.db.begin_read()?;
        let consumers = match txn.open_table(layout::CONSUMERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let range = match after {
            Some(a) => consumers.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?,
            None => consumers.range::<&str>(..)?,
        };
        range
            .take(limit)
            .map(|entry| {
                let (name, bytes) = entry?;
                decode(name.value(), bytes.value())
            })
            .collect()
    }
}
