//! Parsing one filter pattern string into a [`Pattern`]: JSON text to a raw tree (bounded depth,
//! duplicate keys kept), then the raw tree to typed matchers, refusing anything Lambda refuses.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::error::{FilterError, PatternProblem};
use super::{PATTERN_CHARS_MAX, PATTERN_DEPTH_MAX};

/// A compiled pattern: a conjunction of conditions on the fields of the change record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    pub(crate) root: Fields,
}

/// Conditions that must all hold on one JSON object of the record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields(pub(crate) Vec<Condition>);

/// One condition of a [`Fields`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    /// The named field satisfies `node`. A key written twice gives two conditions, both required:
    /// Lambda's own "Boolean expressions" example repeats `"dynamodb"` to AND two sub-patterns.
    Field { name: String, node: Node },
    /// `"$or": [{...}, {...}]`: at least one alternative holds on the same object.
    AnyOf(Vec<Fields>),
}

/// What a field of the pattern asks of the matching field of the record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A nested object: conditions on the fields below.
    Object(Fields),
    /// A list of allowed values: at least one matcher accepts the field.
    Leaf(Vec<Matcher>),
}

/// One entry in a list of allowed values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    /// `"x"`, `5`, `true`, `null`: equal value of the same JSON type (numbers by representation).
    Exact(Scalar),
    /// `{"prefix": "x"}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": "x"}}`; holds the lowercased prefix.
    PrefixIgnoreCase(String),
    /// `{"suffix": "x"}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": "x"}}`; holds the lowercased suffix.
    SuffixIgnoreCase(String),
    /// `{"equals-ignore-case": "x"}`; holds the lowercased string.
    EqualsIgnoreCase(String),
    /// `{"anything-but": ...}`: a present leaf value equal to none of these.
    AnythingBut(Vec<Scalar>),
    /// `{"numeric": [...]}`.
    Numeric(Range),
    /// `{"exists": bool}`: whether the field is present as a leaf.
    Exists(bool),
}

/// A JSON scalar in a pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// A numeric interval; `None` is unbounded on that side. `=` is a closed interval of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub(crate) lower: Option<Bound>,
    pub(crate) upper: Option<Bound>,
}

/// One end of a [`Range`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) inclusive: bool,
}

/// The magnitude EventBridge and Lambda compare numerically: ±5.0e9 inclusive.
pub(crate) const NUMERIC_ABS_MAX: f64 = 5.0e9;

impl Pattern {
    /// Parses filter number `filter` (for error messages) from its pattern text.
    pub(crate) fn parse(text: &str, filter: usize) -> Result<Self, FilterError> {
        // Checked before parsing, so hostile input costs one pass over at most this many chars.
        let chars = text.chars().count();
        if chars > PATTERN_CHARS_MAX {
            return Err(FilterError::PatternTooLong { filter, chars, max: PATTERN_CHARS_MAX });
        }
        let raw = parse_raw(text, filter)?;
        let Raw::Object(entries) = raw else {
            return Err(invalid(filter, &[], PatternProblem::NotAnObject));
        };
        let mut compiler = Compiler { filter, path: Vec::new() };
        Ok(Pattern { root: compiler.fields(&entries)? })
    }
}

fn invalid(filter: usize, path: &[&str], problem: PatternProblem) -> FilterError {
    FilterError::InvalidPattern { filter, path: path.join("."), problem }
}

/// JSON as written: objects keep every key in order, duplicates included.
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Raw>),
    Object(Vec<(String, Raw)>),
}

fn parse_raw(text: &str, filter: usize) -> Result<Raw, FilterError> {
    let too_deep = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = RawSeed { depth: 0, too_deep: &too_deep }
        .deserialize(&mut deserializer)
        .and_then(|raw| deserializer.end().map(|()| raw));
    match parsed {
        Ok(raw) => Ok(raw),
        Err(_) if too_deep.get() => Err(FilterError::PatternTooDeep { filter, max: PATTERN_DEPTH_MAX }),
        Err(error) => Err(FilterError::PatternNotJson { filter, reason: error.to_string() }),
    }
}

/// Deserializes a [`Raw`] at a known nesting depth. The depth check fires before serde_json's own
/// recursion limit (128), so the error is ours and precise, and the stack stays shallow.
struct RawSeed<'a> {
    depth: usize,
    too_deep: &'a Cell<bool>,
}

impl RawSeed<'_> {
    /// Called on entering an array or object at `self.depth` (the outermost is at 0).
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= PATTERN_DEPTH_MAX {
            self.too_deep.set(true);
            return Err(E::custom("pattern nests too deeply"));
        }
        Ok(())
    }

    fn child(&self) -> RawSeed<'_> {
        RawSeed { depth: self.depth + 1, too_deep: self.too_deep }
    }
}

impl<'de> DeserializeSeed<'de> for RawSeed<'_> {
    type Value = Raw;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RawSeed<'_> {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Number(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Number::from_f64(v).map(Raw::Number).ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child())? {
            items.push(item);
        }
        Ok(Raw::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        self.enter()?;
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.child())?;
            entries.push((key, value));
        }
        Ok(Raw::Object(entries))
    }
}

/// Turns a [`Raw`] tree into [`Fields`], tracking the field path for error messages.
struct Compiler<'a> {
    filter: usize,
    path: Vec<&'a str>,
}

impl<'a> Compiler<'a> {
    fn error(&self, problem: PatternProblem) -> FilterError {
        invalid(self.filter, &self.path, problem)
    }

    fn fields(&mut self, entries: &'a [(String, Raw)]) -> Result<Fields, FilterError> {
        if entries.is_empty() {
            return Err(self.error(PatternProblem::EmptyObject));
        }
        let mut conditions = Vec::with_capacity(entries.len());
        for (name, value) in entries {
            self.path.push(name);
            let condition = match or_alternatives(name, value) {
                Some(alternatives) => {
                    let mut compiled = Vec::with_capacity(alternatives.len());
                    for alternative in alternatives {
                        compiled.push(self.fields(alternative)?);
                    }
                    Condition::AnyOf(compiled)
                }
                None => Condition::Field { name: name.clone(), node: self.node(value)? },
            };
            self.path.pop();
            conditions.push(condition);
        }
        Ok(Fields(conditions))
    }

    fn node(&mut self, value: &'a Raw) -> Result<Node, FilterError> {
        match value {
            Raw::Object(entries) => Ok(Node::Object(self.fields(entries)?)),
            Raw::Array(items) if items.is_empty() => Err(self.error(PatternProblem::EmptyArray)),
            Raw::Array(items) => {
                let matchers = items.iter().map(|item| self.matcher(item)).collect::<Result<_, _>>()?;
                Ok(Node::Leaf(matchers))
            }
            _ => Err(self.error(PatternProblem::NotArrayOrObject)),
        }
    }

    fn matcher(&self, item: &Raw) -> Result<Matcher, FilterError> {
        let entries = match item {
            Raw::Array(_) => return Err(self.error(PatternProblem::NestedArray)),
            Raw::Object(entries) => entries,
            scalar => return Ok(Matcher::Exact(self.scalar(scalar)?)),
        };
        let [(operator, operand)] = entries.as_slice() else {
            return Err(self.error(PatternProblem::OperatorCount { keys: entries.len() }));
        };
        match operator.as_str() {
            "prefix" => self.affix(operand, "prefix", Matcher::Prefix, Matcher::PrefixIgnoreCase),
            "suffix" => self.affix(operand, "suffix", Matcher::Suffix, Matcher::SuffixIgnoreCase),
            "equals-ignore-case" => match operand {
                Raw::String(s) => Ok(Matcher::EqualsIgnoreCase(s.to_lowercase())),
                _ => Err(self.operand("equals-ignore-case", "a string")),
            },
            "anything-but" => self.anything_but(operand),
            "numeric" => self.numeric(operand).map(Matcher::Numeric),
            "exists" => match operand {
                Raw::Bool(b) => Ok(Matcher::Exists(*b)),
                _ => Err(self.operand("exists", "true or false")),
            },
            // Documented for EventBridge event buses, marked unsupported for pipes, absent from
            // Lambda's operator list: refused, as Lambda refuses them.
            "wildcard" | "cidr" => {
                Err(self.error(PatternProblem::UnsupportedOperator { operator: operator.clone() }))
            }
            _ => Err(self.error(PatternProblem::UnknownOperator { operator: operator.clone() })),
        }
    }

    fn scalar(&self, raw: &Raw) -> Result<Scalar, FilterError> {
        match raw {
            Raw::Null => Ok(Scalar::Null),
            Raw::Bool(b) => Ok(Scalar::Bool(*b)),
            Raw::Number(n) => Ok(Scalar::Number(n.clone())),
            Raw::String(s) => Ok(Scalar::String(s.clone())),
            Raw::Array(_) => Err(self.error(PatternProblem::NestedArray)),
            Raw::Object(_) => Err(self.error(PatternProblem::NotArrayOrObject)),
        }
    }

    fn operand(&self, operator: &'static str, expected: &'static str) -> FilterError {
        self.error(PatternProblem::InvalidOperand { operator, expected })
    }

    /// `prefix` / `suffix`: a string, or `{"equals-ignore-case": "..."}`.
    fn affix(
        &self,
        operand: &Raw,
        operator: &'static str,
        exact: fn(String) -> Matcher,
        ignore_case: fn(String) -> Matcher,
    ) -> Result<Matcher, FilterError> {
        const EXPECTED: &str = "a string or {\"equals-ignore-case\": \"...\"}";
        match operand {
            Raw::String(s) => Ok(exact(s.clone())),
            Raw::Object(entries) => match entries.as_slice() {
                [(key, Raw::String(s))] if key == "equals-ignore-case" => Ok(ignore_case(s.to_lowercase())),
                _ => Err(self.operand(operator, EXPECTED)),
            },
            _ => Err(self.operand(operator, EXPECTED)),
        }
    }

    /// `anything-but`: a string, a number, or a non-empty list of only strings or only numbers.
    fn anything_but(&self, operand: &Raw) -> Result<Matcher, FilterError> {
        const EXPECTED: &str = "a string, a number, or a list of strings or of numbers";
        match operand {
            Raw::String(_) | Raw::Number(_) => Ok(Matcher::AnythingBut(vec![self.scalar(operand)?])),
            Raw::Array(items) if items.is_empty() => Err(self.error(PatternProblem::EmptyArray)),
            Raw::Array(items) => {
                let strings = items.iter().all(|item| matches!(item, Raw::String(_)));
                let numbers = items.iter().all(|item| matches!(item, Raw::Number(_)));
                if !strings && !numbers {
                    let scalars = items.iter().all(|item| matches!(item, Raw::String(_) | Raw::Number(_)));
                    return Err(if scalars {
                        self.error(PatternProblem::MixedAnythingBut)
                    } else {
                        self.operand("anything-but", EXPECTED)
                    });
                }
                Ok(Matcher::AnythingBut(
                    items.iter().map(|item| self.scalar(item)).collect::<Result<_, _>>()?,
                ))
            }
            // EventBridge's anything-but with prefix, suffix, equals-ignore-case or wildcard is
            // not available to pipes or Lambda.
            Raw::Object(entries) => match entries.as_slice() {
                [(key, _)]
                    if matches!(key.as_str(), "prefix" | "suffix" | "equals-ignore-case" | "wildcard") =>
                {
                    Err(self.error(PatternProblem::UnsupportedOperator {
                        operator: format!("anything-but/{key}"),
                    }))
                }
                _ => Err(self.operand("anything-but", EXPECTED)),
            },
            _ => Err(self.operand("anything-but", EXPECTED)),
        }
    }

    /// `numeric`: `["=", n]`, or one lower and/or one upper bound, each a comparison and a number.
    fn numeric(&self, operand: &Raw) -> Result<Range, FilterError> {
        let Raw::Array(items) = operand else {
            return Err(self.operand("numeric", "an array such as [\">\", 0, \"<=\", 5]"));
        };
        if items.is_empty() || items.len() > 4 {
            return Err(self.error(PatternProblem::NumericShape));
        }
        let mut range = Range { lower: None, upper: None };
        let mut equals = false;
        for pair in items.chunks(2) {
            let Raw::String(written) = &pair[0] else {
                return Err(self.error(PatternProblem::NumericShape));
            };
            let comparison: &'static str = match written.as_str() {
                "=" => "=",
                "<" => "<",
                "<=" => "<=",
                ">" => ">",
                ">=" => ">=",
                _ => {
                    return Err(self.error(PatternProblem::NumericComparison { comparison: written.clone() }));
                }
            };
            let value = match pair.get(1) {
                Some(Raw::Number(n)) => n.as_f64(),
                _ => None,
            };
            let Some(value) = value else {
                return Err(self.error(PatternProblem::NumericOperand { comparison }));
            };
            if !(-NUMERIC_ABS_MAX..=NUMERIC_ABS_MAX).contains(&value) {
                return Err(self.error(PatternProblem::NumericOutOfRange));
            }
            let bound = Bound { value, inclusive: matches!(comparison, "=" | "<=" | ">=") };
            let taken = match comparison {
                "=" => {
                    let taken = range.lower.is_some() || range.upper.is_some();
                    equals = true;
                    range.lower = Some(bound);
                    range.upper = Some(bound);
                    taken
                }
                ">" | ">=" => equals || range.lower.replace(bound).is_some(),
                _ => equals || range.upper.replace(bound).is_some(),
            };
            if taken {
                return Err(self.error(PatternProblem::NumericShape));
            }
        }
        if equals && items.len() != 2 {
            return Err(self.error(PatternProblem::NumericShape));
        }
        if let (Some(lower), Some(upper)) = (range.lower, range.upper)
            && !equals
            && lower.value >= upper.value
        {
            return Err(self.error(PatternProblem::NumericEmptyRange));
        }
        Ok(range)
    }
}

/// `"$or"` means OR only as event-ruler recognizes it: an array of two or more objects.
/// Otherwise `$or` is an ordinary field name, as in event-ruler.
fn or_alternatives<'a>(name: &str, value: &'a Raw) -> Option<Vec<&'a [(String, Raw)]>> {
    if name != "$or" {
        return None;
    }
    let Raw::Array(items) = value else { return None };
    if items.len() < 2 {
        return None;
    }
    items
        .iter()
        .map(|item| match item {
            Raw::Object(entries) => Some(entries.as_slice()),
            _ => None,
        })
        .collect()
}
