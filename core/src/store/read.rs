//! Reads: GetItem, and Query and Scan pages with DynamoDB's paging rules (Limit counts items
//! evaluated, a page stops after 1 MB read, LastEvaluatedKey resumes after the last item
//! evaluated). Every read uses its own redb read transaction, a consistent snapshot.

use std::ops::Bound;

use redb::{ReadTransaction, TableDefinition};

use crate::codec;
use crate::error::Error;
use crate::expr::{Condition, KeyCondition, Projection, SortKeyCondition};
use crate::index::{IndexKind, IndexMeta, Projection as IndexProjection};
use crate::key::{
    KeySchema, PrimaryKey, ScalarType, encode_sort, encode_terminated, encode_unterminated,
    partition_component_len, partition_prefix,
};
use crate::limits::Limits;
use crate::schema::TableMeta;
use crate::store::layout;
use crate::value::AttributeValue;
use crate::value::{Item, item_size_bytes};

/// What a Query or Scan page returns and how it reads.
#[derive(Debug, Default)]
pub struct ReadOptions {
    /// FilterExpression, applied after reading (Count counts only matches).
    pub filter: Option<Condition>,
    /// ProjectionExpression or AttributesToGet.
    pub projection: Option<Projection>,
    /// Select = COUNT: return counts, no items.
    pub count_only: bool,
    /// Limit: most items evaluated (before the filter).
    pub limit: Option<usize>,
    /// ExclusiveStartKey as sent: the table key, plus the index key when reading an index.
    pub exclusive_start: Option<Item>,
    /// Select = ALL_ATTRIBUTES on an index: a local index then reads table items for
    /// attributes it does not hold.
    pub all_attributes: bool,
    /// ScanIndexForward (Query only; Scan always reads forward).
    pub backward: bool,
}

/// One page of a Query or Scan.
#[derive(Debug, Default)]
pub struct Page {
    /// Matching items, projected (empty when counting only).
    pub items: Vec<Item>,
    /// Items that matched the filter.
    pub count: usize,
    /// Items evaluated.
    pub scanned_count: usize,
    /// Bytes of the items evaluated (for consumed capacity).
    pub scanned_bytes: usize,
    /// Where the next page starts, when this page stopped early.
    pub last_evaluated_key: Option<Item>,
}

/// A parallel-scan segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanSegment {
    /// This segment, `0..total`.
    pub segment: u32,
    /// TotalSegments.
    pub total: u32,
}

fn items_table(meta: &TableMeta) -> String {
    layout::items_table_name(meta.id)
}

/// Reads one item.
pub(crate) fn get(txn: &ReadTransaction, meta: &TableMeta, key: &PrimaryKey) -> Result<Option<Item>, Error> {
    let name = items_table(meta);
    let items = match txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name)) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Err(Error::table_not_found()),
        Err(e) => return Err(e.into()),
    };
    match items.get(key.encode().as_slice())? {
        Some(bytes) => decode(&name, bytes.value()).map(Some),
        None => Ok(None),
    }
}

fn decode(table: &str, bytes: &[u8]) -> Result<Item, Error> {
    codec::decode_item(bytes).ok_or_else(|| Error::Corrupt(format!("item in {table} does not decode")))
}

/// What a Query or Scan reads: the table itself, or one of its indexes.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// The table's items.
    Table,
    /// A secondary index's entries.
    Index(&'a IndexMeta),
}

impl Source<'_> {
    fn redb_table(&self, meta: &TableMeta) -> String {
        match self {
            Source::Table => items_table(meta),
            Source::Index(index) => layout::index_table_name(index.id),
        }
    }

    fn key_schema<'m>(&'m self, meta: &'m TableMeta) -> &'m KeySchema {
        match self {
            Source::Table => &meta.spec.key_schema,
            Source::Index(index) => &index.spec.key_schema,
        }
    }

    /// The storage key an ExclusiveStartKey names, checked against the key schemas.
    fn start_key(&self, meta: &TableMeta, start: &Item, limits: &Limits) -> Result<Vec<u8>, Error> {
        let invalid = || {
            Error::validation(
                "The provided starting key is invalid: The provided key element does not match the schema",
            )
        };
        match self {
            Source::Table => {
                let key =
                    meta.spec.key_schema.key_from_request(start, limits).map_err(|e| {
                        Error::validation(format!("The provided starting key is invalid: {e}"))
                    })?;
                Ok(key.encode())
            }
            Source::Index(index) => {
                index.spec.entry_key_from_start(&meta.spec.key_schema, start).ok_or_else(invalid)
            }
        }
    }

    /// LastEvaluatedKey of an entry: the table key, plus the index key for an index.
    fn last_key(&self, meta: &TableMeta, table: &str, key: &[u8], item: &Item) -> Result<Item, Error> {
        match self {
            Source::Table => key_item(meta, table, key),
            Source::Index(index) => Ok(index.spec.entry_key_item(&meta.spec.key_schema, item)),
        }
    }
}

/// The key range of one partition under a sort-key condition. Table keys end with the raw sort
/// component; index keys carry a terminated sort component followed by the table key.
fn query_bounds(source: Source<'_>, condition: &KeyCondition) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let prefix = partition_prefix(&condition.partition);
    let end_of_partition = match successor(&prefix) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    };
    let after = |k: Vec<u8>| match successor(&k) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    };
    let start = || Bound::Included(prefix.clone());
    let Some(sort) = &condition.sort else {
        return (start(), end_of_partition);
    };
    if let Source::Table = source {
        let with = |v: &AttributeValue| {
            let mut k = prefix.clone();
            encode_sort(v, &mut k);
            k
        };
        return match sort {
            SortKeyCondition::Eq(v) => (Bound::Included(with(v)), Bound::Included(with(v))),
            SortKeyCondition::Lt(v) => (start(), Bound::Excluded(with(v))),
            SortKeyCondition::Le(v) => (start(), Bound::Included(with(v))),
            SortKeyCondition::Gt(v) => (Bound::Excluded(with(v)), end_of_partition),
            SortKeyCondition::Ge(v) => (Bound::Included(with(v)), end_of_partition),
            SortKeyCondition::Between(a, b) => (Bound::Included(with(a)), Bound::Included(with(b))),
            SortKeyCondition::BeginsWith(v) => {
                let k = with(v);
                (Bound::Included(k.clone()), after(k))
            }
        };
    }
    let with = |v: &AttributeValue| {
        let mut k = prefix.clone();
        encode_terminated(v, &mut k);
        k
    };
    match sort {
        SortKeyCondition::Eq(v) => (Bound::Included(with(v)), after(with(v))),
        SortKeyCondition::Lt(v) => (start(), Bound::Excluded(with(v))),
        SortKeyCondition::Le(v) => (start(), after(with(v))),
        SortKeyCondition::Gt(v) => (after_lower(with(v)), end_of_partition),
        SortKeyCondition::Ge(v) => (Bound::Included(with(v)), end_of_partition),
        SortKeyCondition::Between(a, b) => (Bound::Included(with(a)), after(with(b))),
        SortKeyCondition::BeginsWith(v) => {
            let mut k = prefix.clone();
            encode_unterminated(v, &mut k);
            (Bound::Included(k.clone()), after(k))
        }
    }
}

/// The lower bound just past every key that starts with `k`.
fn after_lower(k: Vec<u8>) -> Bound<Vec<u8>> {
    match successor(&k) {
        Some(s) => Bound::Included(s),
        // Nothing sorts after a run of 0xff bytes: an empty range.
        None => Bound::Excluded(vec![0xff; k.len() + 1]),
    }
}

/// One Query page, on the table or one of its indexes.
pub(crate) fn query(
    txn: &ReadTransaction,
    meta: &TableMeta,
    source: Source<'_>,
    key_condition: &KeyCondition,
    options: &ReadOptions,
    limits: &Limits,
) -> Result<Page, Error> {
    let (mut lower, mut upper) = query_bounds(source, key_condition);
    if let Some(start) = &options.exclusive_start {
        let partition = start.get(&source.key_schema(meta).partition.name);
        if partition != Some(&key_condition.partition) {
            return Err(Error::validation(
                "The provided starting key is outside query boundaries based on provided conditions",
            ));
        }
        let start = source.start_key(meta, start, limits)?;
        if options.backward {
            upper = tighter_upper(upper, start);
        } else {
            lower = tighter_lower(lower, start);
        }
    }
    if bounds_empty(&lower, &upper) {
        return Ok(Page::default());
    }
    let name = source.redb_table(meta);
    let entries = open_entries(txn, &name)?;
    let range = entries.range::<&[u8]>((as_ref(&lower), as_ref(&upper)))?;
    let iter: Box<dyn Iterator<Item = _>> =
        if options.backward { Box::new(range.rev()) } else { Box::new(range) };
    collect_page(txn, meta, source, &name, iter, options, limits, |_| true)
}

/// One Scan page (of one segment when parallel), of the table or one of its indexes.
pub(crate) fn scan(
    txn: &ReadTransaction,
    meta: &TableMeta,
    source: Source<'_>,
    options: &ReadOptions,
    segment: Option<ScanSegment>,
    limits: &Limits,
) -> Result<Page, Error> {
    let partition_type = source.key_schema(meta).partition.scalar_type;
    let in_segment = move |key: &[u8]| match segment {
        None => true,
        Some(s) => segment_of(partition_type, key, s.total) == Some(s.segment),
    };
    let lower = match &options.exclusive_start {
        Some(start) => {
            // A segment's page may end on a key of another segment (see `collect_page`), so
            // the start key is not required to map to this segment.
            Bound::Excluded(source.start_key(meta, start, limits)?)
        }
        None => Bound::Unbounded,
    };
    let name = source.redb_table(meta);
    let entries = open_entries(txn, &name)?;
    let range = entries.range::<&[u8]>((as_ref(&lower), Bound::Unbounded))?;
    collect_page(txn, meta, source, &name, Box::new(range), options, limits, in_segment)
}

type Entry<'a> =
    Result<(redb::AccessGuard<'a, &'static [u8]>, redb::AccessGuard<'a, &'static [u8]>), redb::StorageError>;

#[allow(clippy::too_many_arguments, reason = "one private helper shared by Query and Scan")]
fn collect_page<'a>(
    txn: &ReadTransaction,
    meta: &TableMeta,
    source: Source<'_>,
    table: &str,
    entries: Box<dyn Iterator<Item = Entry<'a>> + 'a>,
    options: &ReadOptions,
    limits: &Limits,
    include: impl Fn(&[u8]) -> bool,
) -> Result<Page, Error> {
    let base_lookup = match source {
        Source::Index(index) if needs_table_item(meta, index, options) => {
            Some(txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&items_table(meta)))?)
        }
        _ => None,
    };
    let mut page = Page::default();
    let mut last: Option<(Vec<u8>, Item)> = None;
    let mut stopped = false;
    let mut skipped_bytes = 0;
    for entry in entries {
        let (key, value) = entry?;
        if !include(key.value()) {
            // Entries of other segments cost reading too: they count toward the page's budget,
            // so a segment's page is bounded even when few entries belong to it.
            skipped_bytes += key.value().len() + value.value().len();
            if page.scanned_bytes + skipped_bytes >= limits.page_bytes_max {
                let item = decode(table, value.value())?;
                let entry_key = match source {
                    Source::Table => Item::new(),
                    Source::Index(index) => index.spec.entry_key_item(&meta.spec.key_schema, &item),
                };
                page.last_evaluated_key = Some(source.last_key(meta, table, key.value(), &entry_key)?);
                return Ok(page);
            }
            continue;
        }
        if stopped {
            // Something remains after the page: it needs a LastEvaluatedKey.
            page.last_evaluated_key =
                last.take().map(|(k, item)| source.last_key(meta, table, &k, &item)).transpose()?;
            return Ok(page);
        }
        let mut item = decode(table, value.value())?;
        page.scanned_count += 1;
        page.scanned_bytes += item_size_bytes(&item);
        let entry_key = match source {
            Source::Table => Item::new(),
            Source::Index(index) => index.spec.entry_key_item(&meta.spec.key_schema, &item),
        };
        if let Some(base) = &base_lookup {
            // A local index that does not hold every attribute asked for reads the table item.
            let key = meta.spec.key_schema.key_of_item(&item, limits)?;
            if let Some(bytes) = base.get(key.encode().as_slice())? {
                item = decode(&items_table(meta), bytes.value())?;
            }
        }
        if options.filter.as_ref().is_none_or(|f| f.evaluate(&item)) {
            page.count += 1;
            if !options.count_only {
                page.items.push(match &options.projection {
                    Some(p) => p.apply(&item),
                    None => item,
                });
            }
        }
        last = Some((key.value().to_vec(), entry_key));
        if options.limit.is_some_and(|l| page.scanned_count >= l) {
            // DynamoDB returns a LastEvaluatedKey whenever Limit ends the page.
            page.last_evaluated_key =
                last.take().map(|(k, item)| source.last_key(meta, table, &k, &item)).transpose()?;
            return Ok(page);
        }
        if page.scanned_bytes >= limits.page_bytes_max {
            stopped = true;
        }
    }
    Ok(page)
}

/// Opens a table's or index's entries; a table deleted since the catalog lookup is not found.
fn open_entries(
    txn: &ReadTransaction,
    name: &str,
) -> Result<redb::ReadOnlyTable<&'static [u8], &'static [u8]>, Error> {
    match txn.open_table(TableDefinition::<&[u8], &[u8]>::new(name)) {
        Ok(t) => Ok(t),
        Err(redb::TableError::TableDoesNotExist(_)) => Err(Error::table_not_found()),
        Err(e) => Err(e.into()),
    }
}

/// A local index fetches table items when asked for attributes it does not hold.
fn needs_table_item(meta: &TableMeta, index: &IndexMeta, options: &ReadOptions) -> bool {
    if index.spec.kind != IndexKind::Local || index.spec.projection == IndexProjection::All {
        return false;
    }
    let table_key = &meta.spec.key_schema;
    let missing = |name: &str| !index.spec.projects(table_key, name);
    options.all_attributes
        || options.projection.as_ref().is_some_and(|p| p.top_level_attributes().any(missing))
        || options.filter.as_ref().is_some_and(|f| f.top_level_attributes().into_iter().any(missing))
}

fn key_item(meta: &TableMeta, table: &str, key: &[u8]) -> Result<Item, Error> {
    PrimaryKey::decode(&meta.spec.key_schema, key)
        .map(|k| k.to_item(&meta.spec.key_schema))
        .ok_or_else(|| Error::Corrupt(format!("key in {table} does not decode")))
}

/// The parallel-scan segment of a storage key: a stable hash of its partition component.
fn segment_of(partition_type: ScalarType, key: &[u8], total: u32) -> Option<u32> {
    let len = partition_component_len(partition_type, key)?;
    // FNV-1a: stable across versions and platforms, so a segment's items never move.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &key[..len] {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Some((hash % u64::from(total.max(1))) as u32)
}

/// The smallest byte string greater than every string starting with `prefix`.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

fn tighter_lower(current: Bound<Vec<u8>>, start: Vec<u8>) -> Bound<Vec<u8>> {
    match &current {
        Bound::Included(b) | Bound::Excluded(b) if *b > start => current,
        _ => Bound::Excluded(start),
    }
}

fn tighter_upper(current: Bound<Vec<u8>>, start: Vec<u8>) -> Bound<Vec<u8>> {
    match &current {
        Bound::Included(b) | Bound::Excluded(b) if *b < start => current,
        _ => Bound::Excluded(start),
    }
}

fn bounds_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        _ => false,
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_skips_trailing_ff() {
        assert_eq!(successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(successor(&[0xff]), None);
    }

    #[test]
    fn bounds_detect_empty_ranges() {
        assert!(bounds_empty(&Bound::Included(vec![2]), &Bound::Included(vec![1])));
        assert!(bounds_empty(&Bound::Excluded(vec![1]), &Bound::Included(vec![1])));
        assert!(!bounds_empty(&Bound::Included(vec![1]), &Bound::Included(vec![1])));
    }
}
