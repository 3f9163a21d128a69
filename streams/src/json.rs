//! DynamoDB JSON for attribute values (`{"S": "x"}`, `{"N": "1"}`, `{"B": base64}`, ...): the
//! decoder with DynamoDB's validation messages and the serializers. Shared by the server (the
//! DynamoDB API), stream records, and trigger write-backs.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use eddy_core::{AttributeValue, Item, Number};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

/// Why a DynamoDB JSON value was refused: DynamoDB answers ValidationException for values of the
/// right shape that break a rule, SerializationException for malformed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonValueError {
    /// A rule DynamoDB enforces on values (ValidationException).
    #[error("{0}")]
    Validation(String),
    /// Malformed data, such as invalid base64 (SerializationException).
    #[error("{0}")]
    Serialization(String),
}

impl JsonValueError {
    fn validation(message: impl Into<String>) -> Self {
        JsonValueError::Validation(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            JsonValueError::Validation(m) | JsonValueError::Serialization(m) => m,
        }
    }
}

/// An attribute value as a client sent it, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValue {
    #[serde(rename = "S")]
    s: Option<String>,
    #[serde(rename = "N")]
    n: Option<String>,
    #[serde(rename = "B")]
    b: Option<String>,
    #[serde(rename = "BOOL")]
    bool: Option<bool>,
    #[serde(rename = "NULL")]
    null: Option<bool>,
    #[serde(rename = "M")]
    m: Option<BTreeMap<String, RawValue>>,
    #[serde(rename = "L")]
    l: Option<Vec<RawValue>>,
    #[serde(rename = "SS")]
    ss: Option<Vec<String>>,
    #[serde(rename = "NS")]
    ns: Option<Vec<String>>,
    #[serde(rename = "BS")]
    bs: Option<Vec<String>>,
}

/// An item (or key) as a client sent it.
pub type RawItem = BTreeMap<String, RawValue>;

fn invalid(message: impl Into<String>) -> JsonValueError {
    JsonValueError::validation(format!("One or more parameter values were invalid: {}", message.into()))
}

fn decode_binary(text: &str) -> Result<Vec<u8>, JsonValueError> {
    BASE64.decode(text).map_err(|_| {
        JsonValueError::Serialization(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        ))
    })
}

fn parse_number(text: &str) -> Result<Number, JsonValueError> {
    Number::parse(text).map_err(|e| JsonValueError::validation(e.to_string()))
}

impl RawValue {
    /// Validates and converts the value.
    pub fn into_value(self) -> Result<AttributeValue, JsonValueError> {
        let set = [
            self.s.is_some(),
            self.n.is_some(),
            self.b.is_some(),
            self.bool.is_some(),
            self.null.is_some(),
            self.m.is_some(),
            self.l.is_some(),
            self.ss.is_some(),
            self.ns.is_some(),
            self.bs.is_some(),
        ]
        .iter()
        .filter(|&&x| x)
        .count();
        if set == 0 {
            return Err(JsonValueError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        }
        if set > 1 {
            return Err(JsonValueError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        if let Some(s) = self.s {
            return Ok(AttributeValue::S(s));
        }
        if let Some(n) = self.n {
            return Ok(AttributeValue::N(parse_number(&n)?));
        }
        if let Some(b) = self.b {
            return Ok(AttributeValue::B(decode_binary(&b)?));
        }
        if let Some(b) = self.bool {
            return Ok(AttributeValue::Bool(b));
        }
        if let Some(null) = self.null {
            if !null {
                return Err(invalid("Null attribute value types must have the value of true"));
            }
            return Ok(AttributeValue::Null);
        }
        if let Some(m) = self.m {
            return Ok(AttributeValue::M(raw_map(m)?));
        }
        if let Some(l) = self.l {
            return Ok(AttributeValue::L(l.into_iter().map(RawValue::into_value).collect::<Result<_, _>>()?));
        }
        if let Some(ss) = self.ss {
            check_set(&ss, "string")?;
            return Ok(AttributeValue::Ss(unique(ss.iter().cloned(), &ss)?));
        }
        if let Some(ns) = self.ns {
            check_set(&ns, "number")?;
            let parsed = ns.iter().map(|n| parse_number(n)).collect::<Result<Vec<_>, _>>()?;
            return Ok(AttributeValue::Ns(unique(parsed, &ns)?));
        }
        if let Some(bs) = self.bs {
            check_set(&bs, "binary")?;
            let decoded = bs.iter().map(|b| decode_binary(b)).collect::<Result<Vec<_>, _>>()?;
            return Ok(AttributeValue::Bs(unique(decoded, &bs)?));
        }
        Err(JsonValueError::validation(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ))
    }
}

fn check_set(members: &[String], kind: &str) -> Result<(), JsonValueError> {
    if members.is_empty() {
        return Err(invalid(format!("An {kind} set  may not be empty")));
    }
    Ok(())
}

fn unique<T: Ord>(
    members: impl IntoIterator<Item = T>,
    text: &[String],
) -> Result<BTreeSet<T>, JsonValueError> {
    let mut set = BTreeSet::new();
    for m in members {
        if !set.insert(m) {
            return Err(invalid(format!("Input collection [{}] contains duplicates.", text.join(", "))));
        }
    }
    Ok(set)
}

fn raw_map(raw: BTreeMap<String, RawValue>) -> Result<BTreeMap<String, AttributeValue>, JsonValueError> {
    raw.into_iter().map(|(k, v)| Ok((k, v.into_value()?))).collect()
}

/// Validates and converts an item.
pub fn item_from_raw(raw: RawItem) -> Result<Item, JsonValueError> {
    raw_map(raw)
}

/// Serializes an attribute value as DynamoDB JSON.
pub struct Wire<'a>(pub &'a AttributeValue);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::S(s) => map.serialize_entry("S", s)?,
            AttributeValue::N(n) => map.serialize_entry("N", &n.to_string())?,
            AttributeValue::B(b) => map.serialize_entry("B", &BASE64.encode(b))?,
            AttributeValue::Bool(b) => map.serialize_entry("BOOL", b)?,
            AttributeValue::Null => map.serialize_entry("NULL", &true)?,
            AttributeValue::M(m) => map.serialize_entry("M", &WireItem(m))?,
            AttributeValue::L(l) => map.serialize_entry("L", &WireList(l))?,
            AttributeValue::Ss(s) => map.serialize_entry("SS", s)?,
            AttributeValue::Ns(s) => {
                map.serialize_entry("NS", &s.iter().map(|n| n.to_string()).collect::<Vec<_>>())?
            }
            AttributeValue::Bs(s) => {
                map.serialize_entry("BS", &s.iter().map(|b| BASE64.encode(b)).collect::<Vec<_>>())?
            }
        }
        map.end()
    }
}

/// Serializes an item (or map) as DynamoDB JSON.
pub struct WireItem<'a>(pub &'a BTreeMap<String, AttributeValue>);

impl Serialize for WireItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, &Wire(v))?;
        }
        map.end()
    }
}

struct WireList<'a>(&'a [AttributeValue]);

impl Serialize for WireList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&Wire(v))?;
        }
        seq.end()
    }
}

/// Serializes a list of items.
pub struct WireItems<'a>(pub &'a [Item]);

impl Serialize for WireItems<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&WireItem(item))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<AttributeValue, String> {
        let raw: RawValue = serde_json::from_str(json).map_err(|e| e.to_string())?;
        raw.into_value().map_err(|e| e.message().to_string())
    }

    #[test]
    fn values_round_trip_through_wire_json() {
        for json in [
            r#"{"S":"x"}"#,
            r#"{"N":"1.5"}"#,
            r#"{"B":"AAE="}"#,
            r#"{"BOOL":true}"#,
            r#"{"NULL":true}"#,
            r#"{"M":{"a":{"L":[{"N":"1"},{"SS":["a","b"]}]}}}"#,
            r#"{"NS":["1","2"]}"#,
            r#"{"BS":["AA=="]}"#,
        ] {
            let value = parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(serde_json::to_string(&Wire(&value)).ok().as_deref(), Some(json));
        }
    }

    #[test]
    fn invalid_values_get_dynamodb_messages() {
        assert!(parse("{}").unwrap_err().contains("Supplied AttributeValue is empty"));
        assert!(parse(r#"{"S":"a","N":"1"}"#).unwrap_err().contains("more than one datatypes"));
        assert!(parse(r#"{"N":"abc"}"#).unwrap_err().contains("cannot be converted to a numeric value"));
        assert!(parse(r#"{"SS":[]}"#).unwrap_err().contains("may not be empty"));
        assert!(parse(r#"{"SS":["a","a"]}"#).unwrap_err().contains("contains duplicates"));
        assert!(parse(r#"{"NS":["1","1.0"]}"#).unwrap_err().contains("contains duplicates"));
        assert!(parse(r#"{"NULL":false}"#).unwrap_err().contains("must have the value of true"));
    }
}
