//! Consumed capacity as DynamoDB counts it: read units of 4 KB (half price when eventually
//! consistent), write units of 1 KB, transactional operations at twice the price, and the split
//! between the table and each secondary index that ReturnConsumedCapacity = INDEXES reports.
//!
//! Eddy does not throttle, so these figures are reports for clients that budget capacity, not
//! charges against a quota; they follow DynamoDB's arithmetic so the same client sees the same
//! numbers against either.

use std::collections::BTreeMap;

use crate::value::{Item, item_size_bytes};

/// Bytes in one read capacity unit (DynamoDB: 4 KB).
pub const READ_UNIT_BYTES: usize = 4096;
/// Bytes in one write capacity unit (DynamoDB: 1 KB).
pub const WRITE_UNIT_BYTES: usize = 1024;

/// How a read is priced. Eddy's reads are always strongly consistent; the request's
/// ConsistentRead flag still decides the price, as it does in DynamoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// ConsistentRead absent or false: half a unit per 4 KB.
    Eventual,
    /// ConsistentRead = true: one unit per 4 KB.
    Strong,
}

impl Consistency {
    /// From a request's ConsistentRead flag.
    pub fn from_flag(consistent_read: Option<bool>) -> Consistency {
        if consistent_read == Some(true) { Consistency::Strong } else { Consistency::Eventual }
    }
}

/// How much a response reports (ReturnConsumedCapacity other than NONE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// TOTAL: the table name and the total units.
    Total,
    /// INDEXES: the total, plus the table's share and each index's share.
    Indexes,
}

/// Whether an index is global or local (they are reported in separate maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// A global secondary index.
    Global,
    /// A local secondary index.
    Local,
}

impl From<crate::index::IndexKind> for IndexKind {
    fn from(kind: crate::index::IndexKind) -> IndexKind {
        match kind {
            crate::index::IndexKind::Global => IndexKind::Global,
            crate::index::IndexKind::Local => IndexKind::Local,
        }
    }
}

/// Read units for `bytes` read in one request (at least one unit).
pub fn read_units(bytes: usize, consistency: Consistency) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    match consistency {
        Consistency::Eventual => units / 2.0,
        Consistency::Strong => units,
    }
}

/// Write units for an item of `bytes` (at least one unit).
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Write units of one item write: priced on the larger of the item before and after (a
/// delete on its old item, a put on the larger of the two, a write to an absent item on one unit).
pub fn item_write_units(old_bytes: Option<usize>, new_bytes: Option<usize>) -> f64 {
    write_units(old_bytes.unwrap_or(0).max(new_bytes.unwrap_or(0)))
}

/// Transactional reads and writes cost twice their plain price (TransactGetItems,
/// TransactWriteItems).
pub fn transactional(units: f64) -> f64 {
    units * 2.0
}

/// How one write changes one secondary index entry, for the index's share of the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexWrite {
    /// The index name.
    pub name: String,
    /// Global or local.
    pub kind: IndexKind,
    /// Size of the index entry before the write (projected attributes), if there was one.
    pub old_entry_bytes: Option<usize>,
    /// Size of the index entry after the write, if there is one.
    pub new_entry_bytes: Option<usize>,
    /// The entry moved to another index key (an update of the index key attributes): DynamoDB
    /// counts a delete of the old entry and a put of the new one.
    pub key_changed: bool,
}

impl IndexWrite {
    /// The write units this change costs the index; nothing when no entry existed or exists.
    /// Callers list only indexes whose entry the write changes.
    pub fn units(&self) -> f64 {
        match (self.old_entry_bytes, self.new_entry_bytes) {
            (None, None) => 0.0,
            (Some(old), None) => write_units(old),
            (None, Some(new)) => write_units(new),
            (Some(old), Some(new)) if self.key_changed => write_units(old) + write_units(new),
            (Some(old), Some(new)) => write_units(old.max(new)),
        }
    }
}

/// The index entry changes of one item write on `table`, for the indexes' shares.
pub fn index_writes(
    table: &crate::schema::TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<IndexWrite> {
    let key = &table.spec.key_schema;
    table
        .indexes
        .iter()
        .filter_map(|index| {
            let before = old.and_then(|i| index.spec.entry(key, i));
            let after = new.and_then(|i| index.spec.entry(key, i));
            if before.is_none() && after.is_none() {
                return None;
            }
            if let (Some((k0, i0)), Some((k1, i1))) = (&before, &after)
                && k0 == k1
                && i0 == i1
            {
                // The write did not touch this index's entry.
                return None;
            }
            let key_changed = matches!((&before, &after), (Some((k0, _)), Some((k1, _))) if k0 != k1);
            Some(IndexWrite {
                name: index.spec.name.clone(),
                kind: index.spec.kind.into(),
                old_entry_bytes: before.map(|(_, i)| item_size_bytes(&i)),
                new_entry_bytes: after.map(|(_, i)| item_size_bytes(&i)),
                key_changed,
            })
        })
        .collect()
}

/// The capacity one request consumed on one table and its indexes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumedCapacity {
    /// The table name.
    pub table_name: String,
    /// Units consumed on the table itself.
    pub table: f64,
    /// Units consumed on each global secondary index.
    pub global_indexes: BTreeMap<String, f64>,
    /// Units consumed on each local secondary index.
    pub local_indexes: BTreeMap<String, f64>,
}

impl ConsumedCapacity {
    /// Nothing consumed yet on `table_name`.
    pub fn new(table_name: impl Into<String>) -> ConsumedCapacity {
        ConsumedCapacity { table_name: table_name.into(), ..ConsumedCapacity::default() }
    }

    /// A read of `bytes` from the table (GetItem; Query and Scan on the items evaluated).
    pub fn table_read(table_name: impl Into<String>, bytes: usize, consistency: Consistency) -> Self {
        let mut c = ConsumedCapacity::new(table_name);
        c.table = read_units(bytes, consistency);
        c
    }

    /// A read of `bytes` of index entries (Query or Scan with IndexName): the index's share.
    pub fn index_read(
        table_name: impl Into<String>,
        index: &str,
        kind: IndexKind,
        bytes: usize,
        consistency: Consistency,
    ) -> Self {
        let mut c = ConsumedCapacity::new(table_name);
        c.add_index(index, kind, read_units(bytes, consistency));
        c
    }

    /// One item write: the table's share on the larger of the old and new item, plus each
    /// changed index entry.
    pub fn item_write(
        table_name: impl Into<String>,
        old_bytes: Option<usize>,
        new_bytes: Option<usize>,
        indexes: &[IndexWrite],
    ) -> Self {
        let mut c = ConsumedCapacity::new(table_name);
        c.table = item_write_units(old_bytes, new_bytes);
        for index in indexes {
            c.add_index(&index.name, index.kind, index.units());
        }
        c
    }

    /// Adds units to one index's share.
    pub fn add_index(&mut self, name: &str, kind: IndexKind, units: f64) {
        let map = match kind {
            IndexKind::Global => &mut self.global_indexes,
            IndexKind::Local => &mut self.local_indexes,
        };
        *map.entry(name.to_string()).or_insert(0.0) += units;
    }

    /// Adds another consumption on the same table (the items of a batch).
    pub fn merge(&mut self, other: &ConsumedCapacity) {
        self.table += other.table;
        for (name, units) in &other.global_indexes {
            self.add_index(name, IndexKind::Global, *units);
        }
        for (name, units) in &other.local_indexes {
            self.add_index(name, IndexKind::Local, *units);
        }
    }

    /// The same consumption at the transactional price.
    pub fn transactional(mut self) -> Self {
        self.table = transactional(self.table);
        for units in self.global_indexes.values_mut().chain(self.local_indexes.values_mut()) {
            *units = transactional(*units);
        }
        self
    }

    /// The total over the table and all its indexes (CapacityUnits).
    pub fn total(&self) -> f64 {
        self.table + self.global_indexes.values().sum::<f64>() + self.local_indexes.values().sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: usize = 1024;

    #[test]
    fn reads_round_up_to_4kb_and_eventual_costs_half() {
        let item = 3 * KB + KB / 2;
        assert_eq!(read_units(item, Consistency::Strong), 1.0);
        assert_eq!(read_units(item, Consistency::Eventual), 0.5);
        assert_eq!(read_units(4 * KB, Consistency::Strong), 1.0);
        assert_eq!(read_units(4 * KB + 1, Consistency::Strong), 2.0);
        assert_eq!(read_units(0, Consistency::Strong), 1.0, "a miss still costs one unit");
        assert_eq!(read_units(0, Consistency::Eventual), 0.5);
    }

    #[test]
    fn query_is_rounded_once_over_all_items_evaluated() {
        // Ten 1 KB items: 10 KB in one request is 3 units, not 10.
        assert_eq!(read_units(10 * KB, Consistency::Strong), 3.0);
        assert_eq!(read_units(10 * KB, Consistency::Eventual), 1.5);
    }

    #[test]
    fn writes_round_up_to_1kb_on_the_larger_image() {
        let item = 3 * KB + KB / 2;
        assert_eq!(write_units(item), 4.0);
        assert_eq!(item_write_units(None, Some(item)), 4.0);
        assert_eq!(item_write_units(Some(item), Some(100)), 4.0, "shrinking pays for the old size");
        assert_eq!(item_write_units(Some(100), None), 1.0);
        assert_eq!(item_write_units(None, None), 1.0, "deleting nothing still costs one unit");
    }

    #[test]
    fn transactions_cost_double() {
        let c = ConsumedCapacity::item_write("t", None, Some(1500), &[]).transactional();
        assert_eq!(c.total(), 4.0);
        assert_eq!(transactional(read_units(KB, Consistency::Strong)), 2.0);
    }

    #[test]
    fn index_writes_add_to_the_total_by_kind() {
        let indexes = [
            IndexWrite {
                name: "byOwner".into(),
                kind: IndexKind::Global,
                old_entry_bytes: Some(500),
                new_entry_bytes: Some(600),
                key_changed: true,
            },
            IndexWrite {
                name: "byDate".into(),
                kind: IndexKind::Local,
                old_entry_bytes: None,
                new_entry_bytes: Some(2 * KB),
                key_changed: false,
            },
        ];
        let c = ConsumedCapacity::item_write("t", Some(KB), Some(KB), &indexes);
        assert_eq!(c.table, 1.0);
        assert_eq!(c.global_indexes.get("byOwner"), Some(&2.0), "a moved entry is a delete and a put");
        assert_eq!(c.local_indexes.get("byDate"), Some(&2.0));
        assert_eq!(c.total(), 5.0);
    }

    #[test]
    fn merge_sums_per_table_and_index() {
        let mut a = ConsumedCapacity::table_read("t", KB, Consistency::Strong);
        let mut b = ConsumedCapacity::index_read("t", "g", IndexKind::Global, KB, Consistency::Eventual);
        b.table = 1.0;
        a.merge(&b);
        assert_eq!(a.table, 2.0);
        assert_eq!(a.global_indexes.get("g"), Some(&0.5));
        assert_eq!(a.total(), 2.5);
    }
}
