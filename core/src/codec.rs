//! The binary encoding of items on disk: compact, self-delimiting, versioned by the data dir's
//! format version (see `docs/design.md`).
//!
//! `item = varint(count) (varint(len) name value)*`; `value = tag payload`, with strings and
//! binaries as `varint(len) bytes`, numbers as [`Number::sortable_bytes`], and maps, lists and
//! sets as `varint(count)` followed by their members.

use std::collections::{BTreeMap, BTreeSet};

use crate::number::Number;
use crate::value::{AttributeValue, Item};

const TAG_S: u8 = 0;
const TAG_N: u8 = 1;
const TAG_B: u8 = 2;
const TAG_FALSE: u8 = 3;
const TAG_TRUE: u8 = 4;
const TAG_NULL: u8 = 5;
const TAG_M: u8 = 6;
const TAG_L: u8 = 7;
const TAG_SS: u8 = 8;
const TAG_NS: u8 = 9;
const TAG_BS: u8 = 10;

/// Deepest nesting the decoder follows; items are checked against the 32-level limit on write,
/// so a deeper encoding is corrupt.
const DECODE_DEPTH_MAX: usize = 64;

/// Encodes an item.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode_map(item, &mut out);
    out
}

/// Decodes an item written by [`encode_item`]; `None` if the bytes are not such an encoding.
pub fn decode_item(bytes: &[u8]) -> Option<Item> {
    let mut reader = Reader { bytes, pos: 0 };
    let item = reader.map(0)?;
    (reader.pos == bytes.len()).then_some(item)
}

fn encode_map(map: &BTreeMap<String, AttributeValue>, out: &mut Vec<u8>) {
    put_varint(map.len() as u64, out);
    for (name, value) in map {
        put_bytes(name.as_bytes(), out);
        encode_value(value, out);
    }
}

fn encode_value(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(s) => {
            out.push(TAG_S);
            put_bytes(s.as_bytes(), out);
        }
        AttributeValue::N(n) => {
            out.push(TAG_N);
            n.sortable_bytes(out);
        }
        AttributeValue::B(b) => {
            out.push(TAG_B);
            put_bytes(b, out);
        }
        AttributeValue::Bool(b) => out.push(if *b { TAG_TRUE } else { TAG_FALSE }),
        AttributeValue::Null => out.push(TAG_NULL),
        AttributeValue::M(m) => {
            out.push(TAG_M);
            encode_map(m, out);
        }
        AttributeValue::L(l) => {
            out.push(TAG_L);
            put_varint(l.len() as u64, out);
            for v in l {
                encode_value(v, out);
            }
        }
        AttributeValue::Ss(s) => {
            out.push(TAG_SS);
            put_varint(s.len() as u64, out);
            for v in s {
                put_bytes(v.as_bytes(), out);
            }
        }
        AttributeValue::Ns(s) => {
            out.push(TAG_NS);
            put_varint(s.len() as u64, out);
            for v in s {
                v.sortable_bytes(out);
            }
        }
        AttributeValue::Bs(s) => {
            out.push(TAG_BS);
            put_varint(s.len() as u64, out);
            for v in s {
                put_bytes(v, out);
            }
        }
    }
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(b: &[u8], out: &mut Vec<u8>) {
    put_varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<usize> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(v).ok();
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&[u8]> {
        let len = self.varint()?;
        let end = self.pos.checked_add(len)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn number(&mut self) -> Option<Number> {
        let (n, used) = Number::from_sortable_bytes(&self.bytes[self.pos..])?;
        self.pos += used;
        Some(n)
    }

    /// A count of members, each taking at least one byte: bounds allocations on corrupt input.
    fn count(&mut self) -> Option<usize> {
        let n = self.varint()?;
        (n <= self.bytes.len() - self.pos).then_some(n)
    }

    fn map(&mut self, depth: usize) -> Option<BTreeMap<String, AttributeValue>> {
        let n = self.count()?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let name = self.string()?;
            let value = self.value(depth + 1)?;
            map.insert(name, value);
        }
        Some(map)
    }

    fn value(&mut self, depth: usize) -> Option<AttributeValue> {
        if depth > DECODE_DEPTH_MAX {
            return None;
        }
        Some(match self.byte()? {
            TAG_S => AttributeValue::S(self.string()?),
            TAG_N => AttributeValue::N(self.number()?),
            TAG_B => AttributeValue::B(self.bytes()?.to_vec()),
            TAG_FALSE => AttributeValue::Bool(false),
            TAG_TRUE => AttributeValue::Bool(true),
            TAG_NULL => AttributeValue::Null,
            TAG_M => AttributeValue::M(self.map(depth)?),
            TAG_L => {
                let n = self.count()?;
                let mut list = Vec::with_capacity(n);
                for _ in 0..n {
                    list.push(self.value(depth + 1)?);
                }
                AttributeValue::L(list)
            }
            TAG_SS => {
                let n = self.count()?;
                let mut set = BTreeSet::new();
                for _ in 0..n {
                    set.insert(self.string()?);
                }
                AttributeValue::Ss(set)
            }
            TAG_NS => {
                let n = self.count()?;
                let mut set = BTreeSet::new();
                for _ in 0..n {
                    set.insert(self.number()?);
                }
                AttributeValue::Ns(set)
            }
            TAG_BS => {
                let n = self.count()?;
                let mut set = BTreeSet::new();
                for _ in 0..n {
                    set.insert(self.bytes()?.to_vec());
                }
                AttributeValue::Bs(set)
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let num = |s: &str| Number::parse(s).unwrap_or_else(|_| Number::zero());
        let mut inner = BTreeMap::new();
        inner.insert(
            "deep".to_string(),
            AttributeValue::L(vec![AttributeValue::Null, AttributeValue::Bool(false)]),
        );
        let mut item = Item::new();
        item.insert("s".into(), AttributeValue::S("héllo".into()));
        item.insert("n".into(), AttributeValue::N(num("-12.5e3")));
        item.insert("b".into(), AttributeValue::B(vec![0, 255, 7]));
        item.insert("t".into(), AttributeValue::Bool(true));
        item.insert("m".into(), AttributeValue::M(inner));
        item.insert("ss".into(), AttributeValue::Ss(["a".to_string(), "b".to_string()].into()));
        item.insert("ns".into(), AttributeValue::Ns([num("1"), num("0.5")].into()));
        item.insert("bs".into(), AttributeValue::Bs([vec![1], vec![]].into()));
        assert_eq!(decode_item(&encode_item(&item)), Some(item));
    }

    #[test]
    fn truncated_or_garbage_bytes_do_not_decode() {
        let mut item = Item::new();
        item.insert("s".into(), AttributeValue::S("value".into()));
        let bytes = encode_item(&item);
        for cut in 0..bytes.len() {
            assert_eq!(decode_item(&bytes[..cut]), None);
        }
        assert_eq!(decode_item(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
    }
}
