//! Primary keys: the key schema of a table, extracting and validating an item's key, and the
//! order-preserving byte encoding that makes a Query a range read.
//!
//! Encoding: `component(partition) ++ component(sort)`. A partition component is prefix-free
//! (strings and binaries escape `0x00` as `0x00 0xff` and end with `0x00 0x00`; numbers use
//! [`Number::sortable_bytes`]), so every item of one partition shares the partition's encoding
//! as a prefix and sorts by its sort key after it. Strings and binaries compare bytewise,
//! numbers numerically, as DynamoDB orders them.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::limits::Limits;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

/// The three types a key attribute may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScalarType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl ScalarType {
    /// DynamoDB's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    /// Parses `S`, `N` or `B`.
    pub fn parse(name: &str) -> Option<ScalarType> {
        match name {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    /// True when `value` has this type.
    pub fn matches(self, value: &AttributeValue) -> bool {
        matches!(
            (self, value),
            (ScalarType::S, AttributeValue::S(_))
                | (ScalarType::N, AttributeValue::N(_))
                | (ScalarType::B, AttributeValue::B(_))
        )
    }
}

/// One key attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Attribute type.
    pub scalar_type: ScalarType,
}

/// A table's (or index's) primary key: a partition key and an optional sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    /// The partition (HASH) key.
    pub partition: KeyAttribute,
    /// The sort (RANGE) key, if any.
    pub sort: Option<KeyAttribute>,
}

/// An item's primary key values, checked against a [`KeySchema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKey {
    /// The partition key value (S, N or B).
    pub partition: AttributeValue,
    /// The sort key value, present iff the schema has a sort key.
    pub sort: Option<AttributeValue>,
}

impl KeySchema {
    /// True when `name` is one of the key attributes.
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.partition.name == name || self.sort.as_ref().is_some_and(|s| s.name == name)
    }

    /// The key attribute names, partition first.
    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.partition.name.as_str()).chain(self.sort.as_ref().map(|s| s.name.as_str()))
    }

    /// True when `key` has this schema's shape and types.
    pub fn fits(&self, key: &PrimaryKey) -> bool {
        self.partition.scalar_type.matches(&key.partition)
            && match (&self.sort, &key.sort) {
                (Some(attr), Some(value)) => attr.scalar_type.matches(value),
                (None, None) => true,
                _ => false,
            }
    }

    /// The key of a full item (PutItem): missing key attributes are "Missing the key" errors.
    pub fn key_of_item(&self, item: &Item, limits: &Limits) -> Result<PrimaryKey, Error> {
        let get = |attr: &KeyAttribute| {
            item.get(&attr.name).ok_or_else(|| {
                Error::validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    attr.name
                ))
            })
        };
        let partition = get(&self.partition)?;
        let sort = self.sort.as_ref().map(get).transpose()?;
        self.checked_key(partition, sort, limits)
    }

    /// The key given as a request's `Key` (GetItem, DeleteItem, UpdateItem): exactly the key
    /// attributes, nothing else.
    pub fn key_from_request(&self, key: &Item, limits: &Limits) -> Result<PrimaryKey, Error> {
        let expected = 1 + usize::from(self.sort.is_some());
        let partition = key.get(&self.partition.name);
        let sort = self.sort.as_ref().map(|s| key.get(&s.name));
        let complete = partition.is_some() && sort.is_none_or(|s| s.is_some());
        if key.len() != expected || !complete {
            return Err(Error::validation("The provided key element does not match the schema"));
        }
        let (Some(partition), sort) = (partition, sort.flatten()) else {
            return Err(Error::validation("The provided key element does not match the schema"));
        };
        self.checked_key(partition, sort, limits)
    }

    fn checked_key(
        &self,
        partition: &AttributeValue,
        sort: Option<&AttributeValue>,
        limits: &Limits,
    ) -> Result<PrimaryKey, Error> {
        check_key_value(&self.partition, partition)?;
        if key_value_bytes(partition) > limits.partition_key_bytes_max {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of{} bytes",
                limits.partition_key_bytes_max
            )));
        }
        if let (Some(attr), Some(value)) = (&self.sort, sort) {
            check_key_value(attr, value)?;
            if key_value_bytes(value) > limits.sort_key_bytes_max {
                return Err(Error::validation(format!(
                    "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of {} bytes",
                    limits.sort_key_bytes_max
                )));
            }
        }
        Ok(PrimaryKey { partition: partition.clone(), sort: sort.cloned() })
    }
}

fn check_key_value(attr: &KeyAttribute, value: &AttributeValue) -> Result<(), Error> {
    if !attr.scalar_type.matches(value) {
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
            attr.name,
            attr.scalar_type.as_str(),
            value.value_type()
        )));
    }
    let empty = match value {
        AttributeValue::S(s) => s.is_empty(),
        AttributeValue::B(b) => b.is_empty(),
        _ => false,
    };
    if empty {
        let kind = if matches!(value, AttributeValue::S(_)) { "string" } else { "binary" };
        return Err(Error::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {}",
            attr.name
        )));
    }
    Ok(())
}

fn key_value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        other => other.size_bytes(),
    }
}

impl PrimaryKey {
    /// The storage key: partition component then sort component.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        encode_partition(&self.partition, &mut out);
        if let Some(sort) = &self.sort {
            encode_sort(sort, &mut out);
        }
        out
    }

    /// Decodes a storage key written by [`PrimaryKey::encode`] for `schema`.
    pub fn decode(schema: &KeySchema, bytes: &[u8]) -> Option<PrimaryKey> {
        let (partition, used) = decode_partition(schema.partition.scalar_type, bytes)?;
        let rest = &bytes[used..];
        let sort = match &schema.sort {
            Some(attr) => Some(decode_sort(attr.scalar_type, rest)?),
            None if rest.is_empty() => None,
            None => return None,
        };
        Some(PrimaryKey { partition, sort })
    }

    /// The key as an item of its attributes (for LastEvaluatedKey and REMOVE images).
    pub fn to_item(&self, schema: &KeySchema) -> Item {
        let mut item = Item::new();
        item.insert(schema.partition.name.clone(), self.partition.clone());
        if let (Some(attr), Some(value)) = (&schema.sort, &self.sort) {
            item.insert(attr.name.clone(), value.clone());
        }
        item
    }
}

/// The storage-key prefix shared by every item of one partition.
pub fn partition_prefix(partition: &AttributeValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    encode_partition(partition, &mut out);
    out
}

/// Appends the sort-key component of a storage key (used for Query bounds).
pub fn encode_sort(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(s) => out.extend_from_slice(s.as_bytes()),
        AttributeValue::B(b) => out.extend_from_slice(b),
        AttributeValue::N(n) => n.sortable_bytes(out),
        // Key values are checked against the schema before they are encoded.
        _ => {}
    }
}

/// Appends a prefix-free, order-preserving encoding of a key value (the partition component,
/// and the sort component of an index key, which the table key follows).
pub fn encode_terminated(value: &AttributeValue, out: &mut Vec<u8>) {
    encode_partition(value, out);
}

/// Appends the encoding of a string or binary without its terminator: every value that begins
/// with `value` has an encoding that begins with these bytes (for `begins_with` on index keys).
pub fn encode_unterminated(value: &AttributeValue, out: &mut Vec<u8>) {
    let before = out.len();
    encode_partition(value, out);
    if matches!(value, AttributeValue::S(_) | AttributeValue::B(_)) && out.len() >= before + 2 {
        out.truncate(out.len() - 2);
    }
}

fn encode_partition(value: &AttributeValue, out: &mut Vec<u8>) {
    let bytes: &[u8] = match value {
        AttributeValue::S(s) => s.as_bytes(),
        AttributeValue::B(b) => b,
        AttributeValue::N(n) => return n.sortable_bytes(out),
        _ => return,
    };
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// The length of the partition component at the front of a storage key (table or index).
pub fn partition_component_len(scalar_type: ScalarType, bytes: &[u8]) -> Option<usize> {
    decode_partition(scalar_type, bytes).map(|(_, used)| used)
}

fn decode_partition(scalar_type: ScalarType, bytes: &[u8]) -> Option<(AttributeValue, usize)> {
    if scalar_type == ScalarType::N {
        let (n, used) = Number::from_sortable_bytes(bytes)?;
        return Some((AttributeValue::N(n), used));
    }
    let mut raw = Vec::new();
    let mut i = 0;
    loop {
        let b = *bytes.get(i)?;
        if b == 0 {
            match *bytes.get(i + 1)? {
                0 => break,
                0xff => {
                    raw.push(0);
                    i += 2;
                    continue;
                }
                _ => return None,
            }
        }
        raw.push(b);
        i += 1;
    }
    let value = match scalar_type {
        ScalarType::S => AttributeValue::S(String::from_utf8(raw).ok()?),
        _ => AttributeValue::B(raw),
    };
    Some((value, i + 2))
}

fn decode_sort(scalar_type: ScalarType, bytes: &[u8]) -> Option<AttributeValue> {
    Some(match scalar_type {
        ScalarType::S => AttributeValue::S(String::from_utf8(bytes.to_vec()).ok()?),
        ScalarType::B => AttributeValue::B(bytes.to_vec()),
        ScalarType::N => {
            let (n, used) = Number::from_sortable_bytes(bytes)?;
            if used != bytes.len() {
                return None;
            }
            AttributeValue::N(n)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(p: ScalarType, s: Option<ScalarType>) -> KeySchema {
        KeySchema {
            partition: KeyAttribute { name: "pk".into(), scalar_type: p },
            sort: s.map(|t| KeyAttribute { name: "sk".into(), scalar_type: t }),
        }
    }

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap_or_else(|_| Number::zero()))
    }

    #[test]
    fn keys_round_trip_through_encoding() {
        let sch = schema(ScalarType::B, Some(ScalarType::N));
        let key = PrimaryKey { partition: AttributeValue::B(vec![0, 1, 0, 0xff]), sort: Some(n("-3.5")) };
        assert_eq!(PrimaryKey::decode(&sch, &key.encode()), Some(key));
        let sch = schema(ScalarType::S, None);
        let key = PrimaryKey { partition: AttributeValue::S("a\0b".into()), sort: None };
        assert_eq!(PrimaryKey::decode(&sch, &key.encode()), Some(key));
    }

    #[test]
    fn items_of_a_partition_share_its_prefix_and_sort_by_sort_key() {
        let part = AttributeValue::S("p".into());
        let other = AttributeValue::S("p\0".into());
        let prefix = partition_prefix(&part);
        let keys: Vec<Vec<u8>> = ["-10", "-1", "0", "2", "10"]
            .iter()
            .map(|s| PrimaryKey { partition: part.clone(), sort: Some(n(s)) }.encode())
            .collect();
        assert!(keys.iter().all(|k| k.starts_with(&prefix)));
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let foreign = PrimaryKey { partition: other, sort: Some(n("0")) }.encode();
        assert!(!foreign.starts_with(&prefix));
    }

    #[test]
    fn request_key_must_match_schema_exactly() {
        let sch = schema(ScalarType::S, Some(ScalarType::S));
        let limits = Limits::default();
        let mut key = Item::new();
        key.insert("pk".into(), AttributeValue::S("a".into()));
        assert!(sch.key_from_request(&key, &limits).is_err());
        key.insert("sk".into(), AttributeValue::N(Number::zero()));
        let err = sch.key_from_request(&key, &limits).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("Type mismatch for key sk expected: S actual: N"), "{err}");
        key.insert("sk".into(), AttributeValue::S("b".into()));
        assert!(sch.key_from_request(&key, &limits).is_ok());
        key.insert("x".into(), AttributeValue::S("b".into()));
        assert!(sch.key_from_request(&key, &limits).is_err());
    }
}
