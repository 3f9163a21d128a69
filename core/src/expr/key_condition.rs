//! Key condition expressions of Query: an equality on the partition key, optionally ANDed with
//! one condition on the sort key.

use super::condition::{Condition, Operand, build_checked};
use super::parser;
use super::resolve::Resolver;
use super::syntax::Comparator;
use super::{ExprError, ExpressionKind, Placeholders};
use crate::value::{AttributeValue, ValueType};

/// The condition on the sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyCondition {
    /// `sk = v`.
    Eq(AttributeValue),
    /// `sk < v`.
    Lt(AttributeValue),
    /// `sk <= v`.
    Le(AttributeValue),
    /// `sk > v`.
    Gt(AttributeValue),
    /// `sk >= v`.
    Ge(AttributeValue),
    /// `sk BETWEEN low AND high`.
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, prefix)`.
    BeginsWith(AttributeValue),
}

/// A checked key condition: the partition key value and the optional sort key condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCondition {
    /// The partition key value.
    pub partition: AttributeValue,
    /// The sort key condition, if any.
    pub sort: Option<SortKeyCondition>,
}

fn plain(message: impl Into<String>) -> ExprError {
    ExprError::new(message)
}

fn invalid_operator(name: &str) -> ExprError {
    plain(format!("Invalid operator used in KeyConditionExpression: {name}"))
}

/// One `attribute <op> value` part of a key condition.
struct Part {
    attribute: String,
    condition: SortKeyCondition,
}

/// The attribute name of a top-level path operand; errors for nested paths.
fn key_attribute(operand: &Operand) -> Result<Option<String>, ExprError> {
    match operand {
        Operand::Path(p) if p.is_top_level() => Ok(Some(p.top_level().to_string())),
        Operand::Path(_) => Err(plain("KeyConditionExpressions cannot have conditions on nested attributes")),
        Operand::Size(_) => Err(plain("KeyConditionExpressions cannot contain nested operations")),
        Operand::Value(_) => Ok(None),
    }
}

fn value_of(operand: &Operand) -> Option<AttributeValue> {
    match operand {
        Operand::Value(v) => Some(v.clone()),
        _ => None,
    }
}

/// The single key attribute among `operands`, which must come first where `first_only`.
fn single_attribute(operands: &[&Operand]) -> Result<(String, usize), ExprError> {
    let mut found: Option<(String, usize)> = None;
    for (i, operand) in operands.iter().enumerate() {
        if let Some(name) = key_attribute(operand)? {
            if found.is_some() {
                return Err(plain(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                ));
            }
            found = Some((name, i));
        }
    }
    found.ok_or_else(|| plain("Invalid condition in KeyConditionExpression: No key attribute specified"))
}

fn part(condition: &Condition) -> Result<Part, ExprError> {
    let no_value = || plain("Invalid condition in KeyConditionExpression: No key attribute specified");
    match condition {
        Condition::Compare(Comparator::Ne, ..) => Err(invalid_operator("<>")),
        Condition::Compare(op, a, b) => {
            let (attribute, at) = single_attribute(&[a, b])?;
            let value = value_of(if at == 0 { b } else { a }).ok_or_else(no_value)?;
            // `:v < sk` is `sk > :v`.
            let op = match (at, op) {
                (0, op) => *op,
                (_, Comparator::Lt) => Comparator::Gt,
                (_, Comparator::Le) => Comparator::Ge,
                (_, Comparator::Gt) => Comparator::Lt,
                (_, Comparator::Ge) => Comparator::Le,
                (_, op) => *op,
            };
            let condition = match op {
                Comparator::Eq => SortKeyCondition::Eq(value),
                Comparator::Lt => SortKeyCondition::Lt(value),
                Comparator::Le => SortKeyCondition::Le(value),
                Comparator::Gt => SortKeyCondition::Gt(value),
                _ => SortKeyCondition::Ge(value),
            };
            Ok(Part { attribute, condition })
        }
        Condition::Between(subject, low, high) => {
            let (attribute, at) = single_attribute(&[subject, low, high])?;
            if at != 0 {
                return Err(plain(
                    "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
                ));
            }
            let (low, high) = (value_of(low).ok_or_else(no_value)?, value_of(high).ok_or_else(no_value)?);
            Ok(Part { attribute, condition: SortKeyCondition::Between(low, high) })
        }
        Condition::BeginsWith(subject, prefix) => {
            let (attribute, at) = single_attribute(&[subject, prefix])?;
            if at != 0 {
                return Err(plain(
                    "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
                ));
            }
            let prefix = value_of(prefix).ok_or_else(no_value)?;
            Ok(Part { attribute, condition: SortKeyCondition::BeginsWith(prefix) })
        }
        Condition::In(..) => Err(invalid_operator("IN")),
        Condition::Not(_) => Err(invalid_operator("NOT")),
        Condition::Or(_) => Err(invalid_operator("OR")),
        Condition::AttributeExists(_) => Err(invalid_operator("attribute_exists")),
        Condition::AttributeNotExists(_) => Err(invalid_operator("attribute_not_exists")),
        Condition::AttributeType(..) => Err(invalid_operator("attribute_type")),
        Condition::Contains(..) => Err(invalid_operator("contains")),
        Condition::And(_) => Err(plain("Query key condition not supported")),
    }
}

fn collect<'c>(condition: &'c Condition, out: &mut Vec<&'c Condition>) {
    match condition {
        Condition::And(items) => {
            for item in items {
                collect(item, out);
            }
        }
        other => out.push(other),
    }
}

/// Rejects operators a key condition cannot use, wherever they sit, before any other check.
fn check_operators(condition: &Condition) -> Result<(), ExprError> {
    match condition {
        Condition::And(items) => items.iter().try_for_each(check_operators),
        Condition::Compare(_, a, b) | Condition::BeginsWith(a, b) if has_size(a) || has_size(b) => {
            Err(plain("KeyConditionExpressions cannot contain nested operations"))
        }
        Condition::Between(a, b, c) if has_size(a) || has_size(b) || has_size(c) => {
            Err(plain("KeyConditionExpressions cannot contain nested operations"))
        }
        other => part(other).map(|_| ()),
    }
}

fn has_size(operand: &Operand) -> bool {
    matches!(operand, Operand::Size(_))
}

/// Parses and checks a key condition expression against the table's (or index's) key schema.
pub fn parse_key_condition(
    text: &str,
    ph: &mut Placeholders,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<KeyCondition, ExprError> {
    let (raw, notes) = parser::parse_condition(text, ExpressionKind::KeyCondition)?;
    let mut resolver = Resolver::new(ExpressionKind::KeyCondition, ph);
    let condition = build_checked(&raw, notes.redundant_parentheses, &mut resolver)?;
    check_operators(&condition)?;
    let mut leaves = Vec::new();
    collect(&condition, &mut leaves);
    let mut parts: Vec<Part> = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        let p = part(leaf)?;
        if parts.iter().any(|q| q.attribute == p.attribute) {
            return Err(plain("KeyConditionExpressions must only contain one condition per key"));
        }
        parts.push(p);
    }
    let missed = |name: &str| plain(format!("Query condition missed key schema element: {name}"));
    let names_partition = parts.iter().any(|p| p.attribute == partition_key);
    let mut partition = None;
    let mut sort = None;
    for p in parts {
        if p.attribute == partition_key {
            match p.condition {
                SortKeyCondition::Eq(value) => partition = Some(value),
                _ => return Err(plain("Query key condition not supported")),
            }
        } else if Some(p.attribute.as_str()) == sort_key {
            if let SortKeyCondition::BeginsWith(prefix) = &p.condition {
                let t = prefix.value_type();
                if t != ValueType::S && t != ValueType::B {
                    return Err(ExprError::invalid(
                        ExpressionKind::KeyCondition,
                        format!(
                            "Incorrect operand type for operator or function; operator or function: begins_with, \
                             operand type: {t}"
                        ),
                    ));
                }
            }
            sort = Some(p.condition);
        } else {
            return Err(match sort_key {
                Some(sk) => missed(sk),
                None if !names_partition => missed(partition_key),
                None => plain("Query key condition not supported"),
            });
        }
    }
    let partition = partition.ok_or_else(|| missed(partition_key))?;
    Ok(KeyCondition { partition, sort })
}
