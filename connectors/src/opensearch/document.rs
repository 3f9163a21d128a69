//! How an item becomes an OpenSearch document: the document id derived from the item's key, the
//! item as plain JSON, and the default index name derived from the table's name. The mapping is
//! documented for users in `docs/connectors.md` ("OpenSearch"); keep the two in step.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use eddy_core::number::Number;
use eddy_core::{AttributeValue, Item, PrimaryKey};
use serde_json::{Map, Value};
use sha2::Digest as _;

/// Longest document id OpenSearch accepts, in bytes.
pub const DOCUMENT_ID_BYTES_MAX: usize = 512;

/// Longest index name OpenSearch accepts, in bytes.
pub const INDEX_NAME_BYTES_MAX: usize = 255;

/// Marks an id made from a hash of the key. `~` is URL-safe but never appears in base64url, so
/// hashed ids can never equal a plain one.
const HASHED_ID_PREFIX: char = '~';

/// The document id of the item with `keys`: base64url (no padding) of the key's storage
/// encoding (partition then sort component, as `PrimaryKey::encode` lays it out on disk), so
/// equal keys always give equal ids, different keys different ids, and the id is safe in a
/// URL path. A key whose id would pass OpenSearch's 512-byte limit (possible with long string
/// or binary keys, up to 2048 + 1024 bytes in DynamoDB) gets `~` + base64url(SHA-256 of the
/// encoding) instead.
///
/// `key_attributes` names the key attributes, partition first; an empty list (a caller that
/// does not know the schema) takes the attributes of `keys` in name order.
pub fn document_id(key_attributes: &[String], keys: &Item) -> Result<String, String> {
    let mut values = Vec::with_capacity(2);
    if key_attributes.is_empty() {
        values.extend(keys.values());
    } else {
        for name in key_attributes {
            let value =
                keys.get(name).ok_or_else(|| format!("the record's key lacks key attribute {name}"))?;
            values.push(value);
        }
    }
    let mut values = values.into_iter();
    let partition = values.next().ok_or("the record has an empty key")?.clone();
    let sort = values.next().cloned();
    if values.next().is_some() {
        return Err("the record's key has more than two attributes".into());
    }
    for value in std::iter::once(&partition).chain(sort.as_ref()) {
        if !matches!(value, AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::B(_)) {
            return Err(format!("a key attribute has type {}, not S, N or B", value.value_type()));
        }
    }
    let encoded = PrimaryKey { partition, sort }.encode();
    let id = URL_SAFE_NO_PAD.encode(&encoded);
    if id.len() <= DOCUMENT_ID_BYTES_MAX {
        return Ok(id);
    }
    let digest = sha2::Sha256::digest(&encoded);
    Ok(format!("{HASHED_ID_PREFIX}{}", URL_SAFE_NO_PAD.encode(digest)))
}

/// The item as a plain JSON object (see [`value_to_json`]).
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(
        item.iter().map(|(name, value)| (name.clone(), value_to_json(value))).collect::<Map<_, _>>(),
    )
}

/// One attribute value as plain JSON: S → string, N → number where exact (see
/// [`number_to_json`]), B → standard base64 string, BOOL → boolean, NULL → null, M → object,
/// L → array, SS/NS/BS → arrays of their members mapped the same way (in DynamoDB's set
/// order: sorted).
pub fn value_to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number_to_json(n),
        AttributeValue::B(b) => Value::String(STANDARD.encode(b)),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null => Value::Null,
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect::<Map<_, _>>())
        }
        AttributeValue::L(l) => Value::Array(l.iter().map(value_to_json).collect()),
        AttributeValue::Ss(s) => Value::Array(s.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(s) => Value::Array(s.iter().map(number_to_json).collect()),
        AttributeValue::Bs(s) => Value::Array(s.iter().map(|b| Value::String(STANDARD.encode(b))).collect()),
    }
}

/// A DynamoDB number as JSON. A JSON number when a reader gets the exact value back: integers
/// that fit a signed 64-bit integer (OpenSearch's `long`), and fractions whose decimal text
/// survives a round trip through a 64-bit float (about 15 significant digits). Anything else
/// (integers beyond ±2^63, fractions with more digits) is the number's canonical decimal text
/// as a string, so no digit is ever lost in `_source`.
pub fn number_to_json(n: &Number) -> Value {
    let text = n.to_string();
    if !text.contains('.') {
        return match text.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::String(text),
        };
    }
    let exact = text
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .filter(|f| Number::parse(&f.to_string()).is_ok_and(|back| back == *n))
        .and_then(serde_json::Number::from_f64);
    match exact {
        Some(number) => Value::Number(number),
        None => Value::String(text),
    }
}

/// The default index of a table: its name lowercased (OpenSearch index names are lowercase),
/// with any character OpenSearch refuses replaced by `_`, prefixed with `eddy-` when it would
/// start with a character an index name may not start with (`_`, `-`, `+`, `.`), and cut to
/// 255 bytes. Table names differing only in case map to the same index: give one an `Index`.
pub fn default_index_name(table: &str) -> String {
    let mut name: String = table
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(['_', '-', '+', '.']) {
        name.insert_str(0, "eddy-");
    }
    name.truncate(INDEX_NAME_BYTES_MAX);
    name
}

/// Checks an index name given in the settings against OpenSearch's rules, so a bad name fails
/// when the connector is registered rather than on the first write.
pub fn check_index_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("Index {name:?} is not a valid OpenSearch index name: {why}"));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > INDEX_NAME_BYTES_MAX {
        return bad("it is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return bad("it is . or ..");
    }
    if name.starts_with(['_', '-', '+']) {
        return bad("it starts with _, - or +");
    }
    if name.chars().any(|c| c.is_uppercase()) {
        return bad("it has uppercase letters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'))
    {
        return bad(&format!("it contains {c:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).unwrap()
    }

    fn key(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn document_id_is_base64url_of_the_encoded_key() {
        let keys = key(&[("pk", AttributeValue::S("a/b+c".into())), ("sk", AttributeValue::N(n("7")))]);
        let id = document_id(&names(&["pk", "sk"]), &keys).unwrap();
        let expected = PrimaryKey {
            partition: AttributeValue::S("a/b+c".into()),
            sort: Some(AttributeValue::N(n("7"))),
        };
        assert_eq!(id, URL_SAFE_NO_PAD.encode(expected.encode()));
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{id}");
    }

    #[test]
    fn document_id_is_stable_and_distinguishes_keys() {
        let attrs = names(&["pk", "sk"]);
        let a = key(&[("pk", AttributeValue::S("a".into())), ("sk", AttributeValue::S("bc".into()))]);
        let b = key(&[("pk", AttributeValue::S("ab".into())), ("sk", AttributeValue::S("c".into()))]);
        assert_eq!(document_id(&attrs, &a).unwrap(), document_id(&attrs, &a.clone()).unwrap());
        assert_ne!(document_id(&attrs, &a).unwrap(), document_id(&attrs, &b).unwrap());
        // Numerically equal numbers are the same key.
        let x = key(&[("pk", AttributeValue::N(n("1.50")))]);
        let y = key(&[("pk", AttributeValue::N(n("15e-1")))]);
        assert_eq!(document_id(&names(&["pk"]), &x).unwrap(), document_id(&names(&["pk"]), &y).unwrap());
    }

    #[test]
    fn document_id_follows_the_key_attribute_order_not_the_name_order() {
        let keys = key(&[("a", AttributeValue::S("x".into())), ("b", AttributeValue::S("y".into()))]);
        assert_ne!(
            document_id(&names(&["a", "b"]), &keys).unwrap(),
            document_id(&names(&["b", "a"]), &keys).unwrap()
        );
        assert_eq!(document_id(&[], &keys).unwrap(), document_id(&names(&["a", "b"]), &keys).unwrap());
    }

    #[test]
    fn long_keys_get_a_hashed_id_within_the_limit() {
        let attrs = names(&["pk"]);
        let long = |c: &str| key(&[("pk", AttributeValue::S(c.repeat(2048)))]);
        let id = document_id(&attrs, &long("x")).unwrap();
        assert!(id.starts_with('~') && id.len() <= DOCUMENT_ID_BYTES_MAX, "{id}");
        assert_ne!(id, document_id(&attrs, &long("y")).unwrap());
        // 380 key bytes (+2 terminator bytes) is the longest that stays plain: 4 * 382 / 3 = 510.
        let plain = document_id(&attrs, &key(&[("pk", AttributeValue::S("z".repeat(380)))])).unwrap();
        assert!(!plain.starts_with('~') && plain.len() <= DOCUMENT_ID_BYTES_MAX);
    }

    #[test]
    fn document_id_refuses_a_key_missing_an_attribute() {
        let keys = key(&[("pk", AttributeValue::S("a".into()))]);
        assert!(document_id(&names(&["pk", "sk"]), &keys).unwrap_err().contains("sk"));
        assert!(document_id(&[], &Item::new()).is_err());
    }

    #[test]
    fn numbers_are_json_numbers_only_when_exact() {
        assert_eq!(number_to_json(&n("42")), json!(42));
        assert_eq!(number_to_json(&n("-9223372036854775808")), json!(i64::MIN));
        assert_eq!(number_to_json(&n("9223372036854775807")), json!(i64::MAX));
        assert_eq!(number_to_json(&n("9223372036854775808")), json!("9223372036854775808"));
        assert_eq!(number_to_json(&n("1e30")), json!("1000000000000000000000000000000"));
        assert_eq!(number_to_json(&n("1.5")), json!(1.5));
        assert_eq!(number_to_json(&n("0.1")), json!(0.1));
        assert_eq!(number_to_json(&n("-2.25e-10")), json!(-2.25e-10));
        assert_eq!(
            number_to_json(&n("3.14159265358979323846264338327950288")),
            json!("3.14159265358979323846264338327950288")
        );
        assert_eq!(number_to_json(&n("0")), json!(0));
    }

    #[test]
    fn items_map_to_plain_json() {
        let mut map = BTreeMap::new();
        map.insert(
            "inner".to_string(),
            AttributeValue::L(vec![AttributeValue::Null, AttributeValue::Bool(false)]),
        );
        let item = key(&[
            ("s", AttributeValue::S("text".into())),
            ("n", AttributeValue::N(n("12.5"))),
            ("b", AttributeValue::B(vec![0, 1, 2, 255])),
            ("t", AttributeValue::Bool(true)),
            ("z", AttributeValue::Null),
            ("m", AttributeValue::M(map)),
            ("ss", AttributeValue::Ss(BTreeSet::from(["b".to_string(), "a".to_string()]))),
            ("ns", AttributeValue::Ns(BTreeSet::from([n("10"), n("2"), n("0.5")]))),
            ("bs", AttributeValue::Bs(BTreeSet::from([vec![1], vec![0xfb, 0xff]]))),
        ]);
        assert_eq!(
            item_to_json(&item),
            json!({
                "s": "text",
                "n": 12.5,
                "b": "AAEC/w==",
                "t": true,
                "z": null,
                "m": {"inner": [null, false]},
                "ss": ["a", "b"],
                "ns": [0.5, 2, 10],
                "bs": ["AQ==", "+/8="],
            })
        );
    }

    #[test]
    fn default_index_names_are_valid() {
        assert_eq!(default_index_name("Orders"), "orders");
        assert_eq!(default_index_name("my.Table-2_x"), "my.table-2_x");
        assert_eq!(default_index_name("_private"), "eddy-_private");
        assert_eq!(default_index_name(".hidden"), "eddy-.hidden");
        assert_eq!(default_index_name("a b"), "a_b");
        for table in ["Orders", "_x", "-y", ".", "..", &"T".repeat(255)] {
            let name = default_index_name(table);
            assert_eq!(check_index_name(&name), Ok(()), "{table} → {name}");
        }
    }

    #[test]
    fn index_names_are_checked() {
        assert!(check_index_name("orders").is_ok());
        for bad in ["", "Orders", "_x", "-x", "+x", ".", "..", "a b", "a/b", "a:b", "a*", &"x".repeat(256)] {
            assert!(check_index_name(bad).is_err(), "{bad}");
        }
    }
}
