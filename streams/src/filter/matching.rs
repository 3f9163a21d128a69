//! Matching a change record's JSON against compiled patterns, with event-ruler's semantics as
//! Lambda documents them: fields AND, allowed values OR, event arrays "crushed" (any element
//! may match), and `exists` seeing only leaves (a nested object is not a present value).

use serde_json::Value;

use super::pattern::{Condition, Fields, Matcher, NUMERIC_ABS_MAX, Node, Range, Scalar};

/// Switches that widen matching beyond Lambda's; all off means exactly Lambda.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Let `numeric` compare DynamoDB number strings found under an `N` or `NS` key.
    pub(crate) dynamodb_numbers: bool,
}

/// Whether `fields` holds on `value`, which is `None` when the record has no such field.
pub(crate) fn fields_match(fields: &Fields, value: Option<&Value>, options: Options) -> bool {
    let Some(Value::Array(items)) = value else {
        return fields_match_one(fields, value, options);
    };
    // An array stands for each of its elements; fields from one element must all match together.
    let mut elements = Flatten::new(items).peekable();
    if elements.peek().is_none() {
        return fields_match_one(fields, None, options);
    }
    elements.any(|element| fields_match_one(fields, Some(element), options))
}

/// [`fields_match`] on a value that is not an array.
fn fields_match_one(fields: &Fields, value: Option<&Value>, options: Options) -> bool {
    // A scalar where the pattern expects an object has no fields below it: every field is absent.
    let object = match value {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    fields.0.iter().all(|condition| match condition {
        Condition::Field { name, node } => match node {
            Node::Object(inner) => fields_match(inner, object.and_then(|map| map.get(name)), options),
            Node::Leaf(matchers) => leaf_match(matchers, name, object.and_then(|map| map.get(name)), options),
        },
        Condition::AnyOf(alternatives) => {
            alternatives.iter().any(|alternative| fields_match_one(alternative, value, options))
        }
    })
}

/// Whether a list of allowed values accepts the field `key` holding `value`.
fn leaf_match(matchers: &[Matcher], key: &str, value: Option<&Value>, options: Options) -> bool {
    let accepts = |leaf: &Value| matchers.iter().any(|matcher| scalar_match(matcher, key, leaf, options));
    let present = match value {
        None | Some(Value::Object(_)) => false,
        Some(Value::Array(items)) => {
            let mut present = false;
            for leaf in Flatten::new(items).filter(|item| !item.is_object()) {
                if accepts(leaf) {
                    return true;
                }
                present = true;
            }
            present
        }
        Some(leaf) => return accepts(leaf),
    };
    !present && matchers.contains(&Matcher::Exists(false))
}

/// Whether one matcher accepts one leaf (a JSON scalar) of field `key`.
fn scalar_match(matcher: &Matcher, key: &str, leaf: &Value, options: Options) -> bool {
    let text = leaf.as_str();
    match matcher {
        Matcher::Exact(scalar) => scalar_eq(scalar, leaf),
        Matcher::Prefix(prefix) => text.is_some_and(|s| s.starts_with(prefix.as_str())),
        Matcher::PrefixIgnoreCase(prefix) => {
            text.is_some_and(|s| s.to_lowercase().starts_with(prefix.as_str()))
        }
        Matcher::Suffix(suffix) => text.is_some_and(|s| s.ends_with(suffix.as_str())),
        Matcher::SuffixIgnoreCase(suffix) => {
            text.is_some_and(|s| s.to_lowercase().ends_with(suffix.as_str()))
        }
        Matcher::EqualsIgnoreCase(lower) => text.is_some_and(|s| s.to_lowercase() == *lower),
        Matcher::AnythingBut(excluded) => !excluded.iter().any(|scalar| scalar_eq(scalar, leaf)),
        Matcher::Numeric(range) => number_of(key, leaf, options).is_some_and(|n| in_range(range, n)),
        Matcher::Exists(exists) => *exists,
    }
}

/// Exact equality of the same JSON type. Numbers compare by representation class, as Lambda
/// compares their text: `300` and `300.0` differ.
fn scalar_eq(scalar: &Scalar, leaf: &Value) -> bool {
    match (scalar, leaf) {
        (Scalar::Null, Value::Null) => true,
        (Scalar::Bool(a), Value::Bool(b)) => a == b,
        (Scalar::Number(a), Value::Number(b)) => a == b,
        (Scalar::String(a), Value::String(b)) => a == b,
        _ => false,
    }
}

/// The number `numeric` compares, if the leaf has one Lambda would compare.
fn number_of(key: &str, leaf: &Value, options: Options) -> Option<f64> {
    let n = match leaf {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) if options.dynamodb_numbers && matches!(key, "N" | "NS") => {
            s.parse::<f64>().ok().filter(|n| n.is_finite())?
        }
        _ => return None,
    };
    (-NUMERIC_ABS_MAX..=NUMERIC_ABS_MAX).contains(&n).then_some(n)
}

fn in_range(range: &Range, n: f64) -> bool {
    let above = range.lower.is_none_or(|b| if b.inclusive { n >= b.value } else { n > b.value });
    let below = range.upper.is_none_or(|b| if b.inclusive { n <= b.value } else { n < b.value });
    above && below
}

/// The non-array values inside an array, nested arrays opened, depth-first. Iterative so that a
/// deeply nested record cannot exhaust the stack.
struct Flatten<'a> {
    stack: Vec<std::slice::Iter<'a, Value>>,
}

impl<'a> Flatten<'a> {
    fn new(items: &'a [Value]) -> Self {
        Flatten { stack: vec![items.iter()] }
    }
}

impl<'a> Iterator for Flatten<'a> {
    type Item = &'a Value;

    fn next(&mut self) -> Option<&'a Value> {
        loop {
            let top = self.stack.last_mut()?;
            match top.next() {
                None => {
                    self.stack.pop();
                }
                Some(Value::Array(inner)) => self.stack.push(inner.iter()),
                Some(value) => return Some(value),
            }
        }
    }
}
