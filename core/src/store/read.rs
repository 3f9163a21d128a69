//! Reads: GetItem, and Query and Scan pages with DynamoDB's paging rules (Limit counts items
//! evaluated, a page stops after 1 MB read, LastEvaluatedKey resumes after the last item
//! evaluated). Every read uses its own redb read transaction, a consistent snapshot.

use std::ops::Bound;

use redb::{ReadTransaction, TableDefinition};

use crate::codec;
use crate::error::Error;
use crate::expr::{Condition, KeyCondition, Projection, SortKeyCondition};
use crate::key::{PrimaryKey, encode_sort, partition_prefix};
use crate::limits::Limits;
use crate::schema::TableMeta;
use crate::store::layout;
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
    /// ExclusiveStartKey: resume after this key.
    pub exclusive_start: Option<PrimaryKey>,
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

/// One Query page.
pub(crate) fn query(
    txn: &ReadTransaction,
    meta: &TableMeta,
    key_condition: &KeyCondition,
    options: &ReadOptions,
    limits: &Limits,
) -> Result<Page, Error> {
    let prefix = partition_prefix(&key_condition.partition);
    let with_sort = |v: &crate::value::AttributeValue| {
        let mut k = prefix.clone();
        encode_sort(v, &mut k);
        k
    };
    let end_of_partition = match successor(&prefix) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    };
    let (lower, upper) = match &key_condition.sort {
        None => (Bound::Included(prefix.clone()), end_of_partition),
        Some(SortKeyCondition::Eq(v)) => (Bound::Included(with_sort(v)), Bound::Included(with_sort(v))),
        Some(SortKeyCondition::Lt(v)) => (Bound::Included(prefix.clone()), Bound::Excluded(with_sort(v))),
        Some(SortKeyCondition::Le(v)) => (Bound::Included(prefix.clone()), Bound::Included(with_sort(v))),
        Some(SortKeyCondition::Gt(v)) => (Bound::Excluded(with_sort(v)), end_of_partition),
        Some(SortKeyCondition::Ge(v)) => (Bound::Included(with_sort(v)), end_of_partition),
        Some(SortKeyCondition::Between(a, b)) => {
            (Bound::Included(with_sort(a)), Bound::Included(with_sort(b)))
        }
        Some(SortKeyCondition::BeginsWith(v)) => {
            let start = with_sort(v);
            let end = match successor(&start) {
                Some(s) => Bound::Excluded(s),
                None => end_of_partition,
            };
            (Bound::Included(start), end)
        }
    };
    let (mut lower, mut upper) = (lower, upper);
    if let Some(start) = &options.exclusive_start {
        if start.partition != key_condition.partition {
            return Err(Error::validation(
                "The provided starting key is invalid: The provided key element does not match the schema",
            ));
        }
        let start = start.encode();
        if options.backward {
            upper = tighter_upper(upper, start);
        } else {
            lower = tighter_lower(lower, start);
        }
    }
    if bounds_empty(&lower, &upper) {
        return Ok(Page::default());
    }
    let name = items_table(meta);
    let items = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
    let range = items.range::<&[u8]>((as_ref(&lower), as_ref(&upper)))?;
    let entries: Box<dyn Iterator<Item = _>> =
        if options.backward { Box::new(range.rev()) } else { Box::new(range) };
    collect_page(meta, &name, entries, options, limits, |_| true)
}

/// One Scan page (of one segment when parallel).
pub(crate) fn scan(
    txn: &ReadTransaction,
    meta: &TableMeta,
    options: &ReadOptions,
    segment: Option<ScanSegment>,
    limits: &Limits,
) -> Result<Page, Error> {
    let in_segment = move |key: &[u8]| match segment {
        None => true,
        Some(s) => segment_of(meta, key, s.total) == Some(s.segment),
    };
    let lower = match &options.exclusive_start {
        Some(start) => {
            let start = start.encode();
            if !in_segment(&start) {
                return Err(Error::validation(
                    "The provided Exclusive start key does not map to the provided segment",
                ));
            }
            Bound::Excluded(start)
        }
        None => Bound::Unbounded,
    };
    let name = items_table(meta);
    let items = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
    let range = items.range::<&[u8]>((as_ref(&lower), Bound::Unbounded))?;
    collect_page(meta, &name, Box::new(range), options, limits, in_segment)
}

type Entry<'a> =
    Result<(redb::AccessGuard<'a, &'static [u8]>, redb::AccessGuard<'a, &'static [u8]>), redb::StorageError>;

fn collect_page<'a>(
    meta: &TableMeta,
    table: &str,
    entries: Box<dyn Iterator<Item = Entry<'a>> + 'a>,
    options: &ReadOptions,
    limits: &Limits,
    include: impl Fn(&[u8]) -> bool,
) -> Result<Page, Error> {
    let mut page = Page::default();
    let mut last_key: Option<Vec<u8>> = None;
    let mut stopped = false;
    for entry in entries {
        let (key, value) = entry?;
        if !include(key.value()) {
            continue;
        }
        if stopped {
            // Something remains after the page: it needs a LastEvaluatedKey.
            page.last_evaluated_key = last_key.take().map(|k| key_item(meta, table, &k)).transpose()?;
            return Ok(page);
        }
        let item = decode(table, value.value())?;
        page.scanned_count += 1;
        page.scanned_bytes += item_size_bytes(&item);
        if options.filter.as_ref().is_none_or(|f| f.evaluate(&item)) {
            page.count += 1;
            if !options.count_only {
                page.items.push(match &options.projection {
                    Some(p) => p.apply(&item),
                    None => item,
                });
            }
        }
        last_key = Some(key.value().to_vec());
        if options.limit.is_some_and(|l| page.scanned_count >= l) {
            // DynamoDB returns a LastEvaluatedKey whenever Limit ends the page.
            page.last_evaluated_key = last_key.take().map(|k| key_item(meta, table, &k)).transpose()?;
            return Ok(page);
        }
        if page.scanned_bytes >= limits.page_bytes_max {
            stopped = true;
        }
    }
    Ok(page)
}

fn key_item(meta: &TableMeta, table: &str, key: &[u8]) -> Result<Item, Error> {
    PrimaryKey::decode(&meta.spec.key_schema, key)
        .map(|k| k.to_item(&meta.spec.key_schema))
        .ok_or_else(|| Error::Corrupt(format!("key in {table} does not decode")))
}

/// The parallel-scan segment of a storage key: a stable hash of its partition component.
fn segment_of(meta: &TableMeta, key: &[u8], total: u32) -> Option<u32> {
    let decoded = PrimaryKey::decode(&meta.spec.key_schema, key)?;
    let partition = partition_prefix(&decoded.partition);
    // FNV-1a: stable across versions and platforms, so a segment's items never move.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in partition {
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
