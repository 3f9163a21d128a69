//! Secondary indexes: their declarations, the rules DynamoDB checks on them, and the index
//! entry an item produces (its storage key and projected attributes).
//!
//! An index entry's storage key is `component(index partition) ++ terminated(index sort) ++
//! table storage key`: the index key first, so an index Query is one range read, and the
//! table key last, so entries of items sharing an index key are distinct and ordered.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::key::{KeyAttribute, KeySchema, PrimaryKey, ScalarType, encode_terminated, partition_prefix};
use crate::limits::Limits;
use crate::schema::validation_errors;
use crate::value::{AttributeValue, Item};

/// Most global secondary indexes on a table (DynamoDB default quota: 20).
pub const GLOBAL_INDEXES_MAX: usize = 20;
/// Most local secondary indexes on a table (DynamoDB: 5).
pub const LOCAL_INDEXES_MAX: usize = 5;
/// Most NonKeyAttributes across all of a table's indexes (DynamoDB: 100).
pub const NON_KEY_ATTRIBUTES_MAX: usize = 100;

/// Global (any key, eventually consistent in DynamoDB) or local (the table's partition key, an
/// alternate sort key, declared at CreateTable only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    /// A global secondary index.
    Global,
    /// A local secondary index.
    Local,
}

/// Which attributes an index holds besides the keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    /// Only the index and table keys.
    KeysOnly,
    /// The keys and the named attributes.
    Include(BTreeSet<String>),
    /// Every attribute.
    All,
}

impl Projection {
    /// DynamoDB's ProjectionType.
    pub fn type_name(&self) -> &'static str {
        match self {
            Projection::KeysOnly => "KEYS_ONLY",
            Projection::Include(_) => "INCLUDE",
            Projection::All => "ALL",
        }
    }
}

/// An index as declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSpec {
    /// Index name, unique within the table.
    pub name: String,
    /// Global or local.
    pub kind: IndexKind,
    /// The index's key.
    pub key_schema: KeySchema,
    /// The attributes the index holds.
    pub projection: Projection,
    /// Provisioned (read, write) capacity units of a global index on a provisioned table.
    pub throughput: Option<(u64, u64)>,
}

/// Whether an index can serve reads yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexStatus {
    /// Added by UpdateTable; maintained on every write while a backfill copies existing items.
    Creating,
    /// Complete.
    Active,
}

/// An index as stored with its table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// The declaration.
    pub spec: IndexSpec,
    /// Internal number naming the index's storage; never reused.
    pub id: u64,
    /// CREATING while backfilling, then ACTIVE.
    pub status: IndexStatus,
}

impl IndexSpec {
    /// The index entry of `item`, or `None` when the item lacks an index key attribute or
    /// holds one of another type or an empty one (such items are not in the index: a sparse
    /// index; writes cannot create them once the index exists, but a backfill meets them).
    pub fn entry(&self, table_key: &KeySchema, item: &Item) -> Option<(Vec<u8>, Item)> {
        let usable = |attr: &KeyAttribute, value: &AttributeValue| {
            attr.scalar_type.matches(value)
                && !matches!(value, AttributeValue::S(s) if s.is_empty())
                && !matches!(value, AttributeValue::B(b) if b.is_empty())
        };
        let partition = item.get(&self.key_schema.partition.name)?;
        if !usable(&self.key_schema.partition, partition) {
            return None;
        }
        let mut key = partition_prefix(partition);
        if let Some(sort_attr) = &self.key_schema.sort {
            let sort = item.get(&sort_attr.name)?;
            if !usable(sort_attr, sort) {
                return None;
            }
            encode_terminated(sort, &mut key);
        }
        let table_primary = PrimaryKey {
            partition: item.get(&table_key.partition.name)?.clone(),
            sort: match &table_key.sort {
                Some(s) => Some(item.get(&s.name)?.clone()),
                None => None,
            },
        };
        key.extend_from_slice(&table_primary.encode());
        Some((key, self.project(table_key, item)))
    }

    /// The attributes of `item` this index holds.
    pub fn project(&self, table_key: &KeySchema, item: &Item) -> Item {
        match &self.projection {
            Projection::All => item.clone(),
            Projection::KeysOnly | Projection::Include(_) => item
                .iter()
                .filter(|(name, _)| {
                    table_key.is_key_attribute(name)
                        || self.key_schema.is_key_attribute(name)
                        || matches!(&self.projection, Projection::Include(attrs) if attrs.contains(*name))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// True when the index holds `attribute`.
    pub fn projects(&self, table_key: &KeySchema, attribute: &str) -> bool {
        table_key.is_key_attribute(attribute)
            || self.key_schema.is_key_attribute(attribute)
            || match &self.projection {
                Projection::All => true,
                Projection::KeysOnly => false,
                Projection::Include(attrs) => attrs.contains(attribute),
            }
    }

    /// The key attributes of an index entry (index keys and table keys), for LastEvaluatedKey.
    pub fn entry_key_item(&self, table_key: &KeySchema, item: &Item) -> Item {
        item.iter()
            .filter(|(name, _)| table_key.is_key_attribute(name) || self.key_schema.is_key_attribute(name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The storage key of the entry a LastEvaluatedKey names (ExclusiveStartKey): it must hold
    /// exactly the index keys and the table keys.
    pub fn entry_key_from_start(&self, table_key: &KeySchema, start: &Item) -> Option<Vec<u8>> {
        let expected: BTreeSet<&str> =
            table_key.attribute_names().chain(self.key_schema.attribute_names()).collect();
        if start.len() != expected.len() || !start.keys().all(|k| expected.contains(k.as_str())) {
            return None;
        }
        self.entry(table_key, start).map(|(key, _)| key)
    }

    /// Checks that a written item's index key attributes have the declared types, are not
    /// empty and fit the key size limits (DynamoDB rejects such writes).
    pub fn check_item(&self, item: &Item, limits: &Limits) -> Result<(), Error> {
        let attributes = std::iter::once((&self.key_schema.partition, limits.partition_key_bytes_max))
            .chain(self.key_schema.sort.as_ref().map(|s| (s, limits.sort_key_bytes_max)));
        for (attr, bytes_max) in attributes {
            let Some(value) = item.get(&attr.name) else { continue };
            check_index_key_value(&self.name, attr, value, bytes_max)?;
        }
        Ok(())
    }
}

fn check_index_key_value(
    index: &str,
    attr: &KeyAttribute,
    value: &AttributeValue,
    bytes_max: usize,
) -> Result<(), Error> {
    if !attr.scalar_type.matches(value) {
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {index}",
            attr.name,
            attr.scalar_type.as_str(),
            value.value_type()
        )));
    }
    let len = match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        _ => 1,
    };
    if len == 0 {
        return Err(Error::validation(format!(
            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {index}, IndexKey: {}",
            if attr.scalar_type == ScalarType::S { "string" } else { "binary" },
            attr.name
        )));
    }
    if len > bytes_max {
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: Index key {} of index {index} exceeds the maximum size of {bytes_max} bytes",
            attr.name
        )));
    }
    Ok(())
}

/// Checks a table's index declarations as CreateTable and UpdateTable do.
pub fn validate_indexes(table_key: &KeySchema, indexes: &[&IndexSpec]) -> Result<(), Error> {
    let mut names = BTreeSet::new();
    let mut non_key = 0;
    let (mut globals, mut locals) = (0, 0);
    for index in indexes {
        crate::schema::validate_table_name(&index.name, "indexName").map_err(|_| {
            Error::validation(format!(
                "1 validation error detected: Value '{}' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255",
                index.name
            ))
        })?;
        if !names.insert(index.name.as_str()) {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: Duplicate index name: {}",
                index.name
            )));
        }
        if index.key_schema.sort.as_ref().is_some_and(|s| s.name == index.key_schema.partition.name) {
            return Err(Error::validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
        if let Projection::Include(attrs) = &index.projection {
            non_key += attrs.len();
        }
        match index.kind {
            IndexKind::Global => globals += 1,
            IndexKind::Local => {
                locals += 1;
                if table_key.sort.is_none() {
                    return Err(Error::validation(
                        "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
                    ));
                }
                if index.key_schema.partition.name != table_key.partition.name {
                    return Err(Error::validation(format!(
                        "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                        index.name, index.key_schema.partition.name, table_key.partition.name
                    )));
                }
                if index.key_schema.sort.is_none() {
                    return Err(Error::validation(format!(
                        "One or more parameter values were invalid: Index KeySchema must have a range key for index: {}",
                        index.name
                    )));
                }
            }
        }
    }
    let mut problems = Vec::new();
    if globals > GLOBAL_INDEXES_MAX {
        problems.push(format!(
            "Value at 'globalSecondaryIndexes' failed to satisfy constraint: Member must have length less than or equal to {GLOBAL_INDEXES_MAX}"
        ));
    }
    if locals > LOCAL_INDEXES_MAX {
        problems.push(format!(
            "Value at 'localSecondaryIndexes' failed to satisfy constraint: Member must have length less than or equal to {LOCAL_INDEXES_MAX}"
        ));
    }
    validation_errors(problems)?;
    if non_key > NON_KEY_ATTRIBUTES_MAX {
        return Err(Error::LimitExceeded {
            message: format!(
                "One or more parameter values were invalid: Number of projected attributes in all indexes exceeds limit of {NON_KEY_ATTRIBUTES_MAX}"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;

    fn attr(name: &str, t: ScalarType) -> KeyAttribute {
        KeyAttribute { name: name.into(), scalar_type: t }
    }

    fn table_key() -> KeySchema {
        KeySchema { partition: attr("pk", ScalarType::S), sort: Some(attr("sk", ScalarType::S)) }
    }

    fn gsi(projection: Projection) -> IndexSpec {
        IndexSpec {
            name: "by_status".into(),
            kind: IndexKind::Global,
            key_schema: KeySchema {
                partition: attr("status", ScalarType::S),
                sort: Some(attr("n", ScalarType::N)),
            },
            projection,
            throughput: None,
        }
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(v).unwrap())
    }

    #[test]
    fn items_without_index_keys_or_with_other_types_are_not_indexed() {
        let index = gsi(Projection::All);
        assert!(index.entry(&table_key(), &item(&[("pk", s("a")), ("sk", s("1"))])).is_none());
        let wrong = item(&[("pk", s("a")), ("sk", s("1")), ("status", s("x")), ("n", s("not a number"))]);
        assert!(index.entry(&table_key(), &wrong).is_none());
    }

    #[test]
    fn entries_sort_by_index_key_then_table_key() {
        let index = gsi(Projection::KeysOnly);
        let key = |pk: &str, number: &str| {
            index
                .entry(
                    &table_key(),
                    &item(&[("pk", s(pk)), ("sk", s("x")), ("status", s("open")), ("n", n(number))]),
                )
                .map(|(k, _)| k)
                .unwrap()
        };
        assert!(key("b", "-5") < key("a", "1"));
        assert!(key("a", "1") < key("b", "1"));
        assert!(key("z", "1") < key("a", "10"));
    }

    #[test]
    fn projections_keep_keys_and_chosen_attributes() {
        let full = item(&[
            ("pk", s("a")),
            ("sk", s("1")),
            ("status", s("open")),
            ("n", n("2")),
            ("x", s("1")),
            ("y", s("2")),
        ]);
        let keys_only = gsi(Projection::KeysOnly).project(&table_key(), &full);
        assert_eq!(keys_only.keys().map(String::as_str).collect::<Vec<_>>(), ["n", "pk", "sk", "status"]);
        let include = gsi(Projection::Include(["y".to_string()].into())).project(&table_key(), &full);
        assert!(include.contains_key("y") && !include.contains_key("x"));
        assert_eq!(gsi(Projection::All).project(&table_key(), &full), full);
    }

    #[test]
    fn start_keys_must_name_index_and_table_keys_exactly() {
        let index = gsi(Projection::All);
        let start = item(&[("pk", s("a")), ("sk", s("1")), ("status", s("open")), ("n", n("2"))]);
        assert!(index.entry_key_from_start(&table_key(), &start).is_some());
        let mut extra = start.clone();
        extra.insert("x".into(), s("1"));
        assert!(index.entry_key_from_start(&table_key(), &extra).is_none());
    }

    #[test]
    fn wrong_index_key_type_is_rejected_with_dynamodb_message() {
        let index = gsi(Projection::All);
        let bad = item(&[("pk", s("a")), ("sk", s("1")), ("status", n("3"))]);
        let message = index.check_item(&bad, &Limits::default()).unwrap_err().to_string();
        assert!(
            message.contains("Type mismatch for Index Key status Expected: S Actual: N IndexName: by_status"),
            "{message}"
        );
    }
}
