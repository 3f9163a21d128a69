//! Condition and filter expressions: the checked tree, its static validation and its
//! evaluation against an item.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::parser;
use super::path::DocumentPath;
use super::resolve::{CONDITION_ORDER, Category, Resolver, describe_literal};
use super::syntax::{Comparator, RawCondition, RawOperand};
use super::{ExprError, ExpressionKind, IN_OPERANDS_MAX, Placeholders};
use crate::number::Number;
use crate::value::{AttributeValue, Item, ValueType};

/// An operand of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// The value at a document path (absent when the path does not exist).
    Path(DocumentPath),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `size(operand)`: length of a string or binary, member count of a set, list or map.
    Size(Box<Operand>),
}

/// A checked condition expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `a <op> b`.
    Compare(Comparator, Operand, Operand),
    /// `a BETWEEN low AND high`.
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, ...)`.
    In(Operand, Vec<Operand>),
    /// `attribute_exists(path)`.
    AttributeExists(DocumentPath),
    /// `attribute_not_exists(path)`.
    AttributeNotExists(DocumentPath),
    /// `attribute_type(path, :type)`.
    AttributeType(Operand, ValueType),
    /// `begins_with(a, prefix)`.
    BeginsWith(Operand, Operand),
    /// `contains(a, b)`.
    Contains(Operand, Operand),
    /// `NOT c`.
    Not(Box<Condition>),
    /// `c AND d AND ...`.
    And(Vec<Condition>),
    /// `c OR d OR ...`.
    Or(Vec<Condition>),
}

/// Functions of the condition language and their operand counts.
const FUNCTIONS: &[(&str, usize)] = &[
    ("attribute_exists", 1),
    ("attribute_not_exists", 1),
    ("attribute_type", 2),
    ("begins_with", 2),
    ("contains", 2),
    ("size", 1),
];

fn arity(name: &str) -> Option<usize> {
    FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// Parses and checks a condition or filter expression.
pub fn parse_condition(
    text: &str,
    kind: ExpressionKind,
    ph: &mut Placeholders,
) -> Result<Condition, ExprError> {
    let (raw, notes) = parser::parse_condition(text, kind)?;
    let mut resolver = Resolver::new(kind, ph);
    if notes.redundant_parentheses {
        resolver.record(Category::Parentheses, "The expression has redundant parentheses;".to_string());
    }
    let built = build(&raw, &mut resolver);
    finish(built, &resolver)
}

/// The checked tree of an already parsed condition (shared with key conditions).
pub(crate) fn build_checked(
    raw: &RawCondition,
    notes_redundant: bool,
    resolver: &mut Resolver<'_>,
) -> Result<Condition, ExprError> {
    if notes_redundant {
        resolver.record(Category::Parentheses, "The expression has redundant parentheses;".to_string());
    }
    let built = build(raw, resolver);
    finish(built, resolver)
}

fn finish(built: Option<Condition>, resolver: &Resolver<'_>) -> Result<Condition, ExprError> {
    if let Some(error) = resolver.first_error(CONDITION_ORDER) {
        return Err(error);
    }
    built.ok_or_else(|| ExprError::invalid(resolver.kind, "Syntax error; the expression is not a condition"))
}

fn misused(name: &str) -> String {
    format!("The function is not allowed to be used this way in an expression; function: {name}")
}

/// Records a function other than `size` used as an operand.
fn check_misused(operands: &[&RawOperand], r: &mut Resolver<'_>) {
    for operand in operands {
        if let RawOperand::Call { name, .. } = operand
            && name != "size"
            && arity(name).is_some()
        {
            r.record(Category::MisusedFunction, misused(name));
        }
    }
}

fn operand_type_error(function: &str, type_name: &str) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {function}, operand type: {type_name}"
    )
}

/// The type an operand is known to have before evaluation (literals and `size`).
fn static_type(operand: &Option<Operand>) -> Option<ValueType> {
    match operand {
        Some(Operand::Value(v)) => Some(v.value_type()),
        Some(Operand::Size(_)) => Some(ValueType::N),
        _ => None,
    }
}

fn check_distinct(operator: &str, a: &Option<Operand>, b: &Option<Operand>, r: &mut Resolver<'_>) {
    if let (Some(Operand::Path(x)), Some(Operand::Path(y))) = (a, b)
        && x == y
    {
        r.record(
            Category::Distinct,
            format!(
                "The first operand must be distinct from the remaining operands for this operator or \
                 function; operator: {operator}, first operand: {x}"
            ),
        );
    }
}

fn operand(raw: &RawOperand, r: &mut Resolver<'_>) -> Option<Operand> {
    match raw {
        RawOperand::Path(p) => Some(Operand::Path(r.path(p))),
        RawOperand::Value(v) => r.value(v).map(Operand::Value),
        RawOperand::Call { name, args } => {
            let resolved: Vec<Option<Operand>> = args.iter().map(|a| operand(a, r)).collect();
            let Some(expected) = arity(name) else {
                r.record(Category::UnknownFunction, format!("Invalid function name; function: {name}"));
                return None;
            };
            if name != "size" {
                // Reported by the caller's misuse check.
                return None;
            }
            check_misused(&args.iter().collect::<Vec<_>>(), r);
            if args.len() != expected {
                r.record(Category::OperandCount, operand_count_error(name, args.len()));
                return None;
            }
            let inner = resolved.into_iter().next().flatten();
            if let Some(t) = static_type(&inner)
                && matches!(t, ValueType::N | ValueType::Bool | ValueType::Null)
            {
                r.record(Category::OperandType, operand_type_error(name, t.as_str()));
            }
            inner.map(|i| Operand::Size(Box::new(i)))
        }
        RawOperand::Arithmetic { left, right, plus } => {
            operand(left, r);
            operand(right, r);
            r.record(
                Category::UnknownFunction,
                format!("Invalid function name; function: {}", if *plus { "+" } else { "-" }),
            );
            None
        }
    }
}

fn operand_count_error(name: &str, count: usize) -> String {
    format!(
        "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {count}"
    )
}

fn build(raw: &RawCondition, r: &mut Resolver<'_>) -> Option<Condition> {
    match raw {
        RawCondition::Compare { op, left, right } => {
            check_misused(&[left, right], r);
            let (a, b) = (operand(left, r), operand(right, r));
            check_distinct(op.symbol(), &a, &b, r);
            Some(Condition::Compare(*op, a?, b?))
        }
        RawCondition::Between { subject, low, high } => {
            check_misused(&[subject, low, high], r);
            let (s, l, h) = (operand(subject, r), operand(low, r), operand(high, r));
            if let (Some(Operand::Value(lv)), Some(Operand::Value(hv))) = (&l, &h) {
                check_between_bounds(lv, hv, r);
            }
            Some(Condition::Between(s?, l?, h?))
        }
        RawCondition::In { subject, list } => {
            let mut all: Vec<&RawOperand> = vec![subject];
            all.extend(list.iter());
            check_misused(&all, r);
            if list.len() > IN_OPERANDS_MAX {
                r.record(
                    Category::OperandCount,
                    format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        list.len()
                    ),
                );
            }
            let s = operand(subject, r);
            let resolved: Vec<Option<Operand>> = list.iter().map(|o| operand(o, r)).collect();
            let list: Option<Vec<Operand>> = resolved.into_iter().collect();
            Some(Condition::In(s?, list?))
        }
        RawCondition::Call { name, args } => function(name, args, r),
        RawCondition::Not(inner) => Some(Condition::Not(Box::new(build(inner, r)?))),
        RawCondition::And(items) => {
            let built: Vec<Option<Condition>> = items.iter().map(|c| build(c, r)).collect();
            Some(Condition::And(built.into_iter().collect::<Option<_>>()?))
        }
        RawCondition::Or(items) => {
            let built: Vec<Option<Condition>> = items.iter().map(|c| build(c, r)).collect();
            Some(Condition::Or(built.into_iter().collect::<Option<_>>()?))
        }
    }
}

fn check_between_bounds(low: &AttributeValue, high: &AttributeValue, r: &mut Resolver<'_>) {
    let bounds = format!(
        "lower bound operand: {}, upper bound operand: {}",
        describe_literal(low),
        describe_literal(high)
    );
    if low.value_type() != high.value_type() {
        r.record(
            Category::OperandType,
            format!("The BETWEEN operator requires same data type for lower and upper bounds; {bounds}"),
        );
    } else if order(low, high) == Some(Ordering::Greater) {
        r.record(
            Category::OperandType,
            format!("The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {bounds}"),
        );
    }
}

/// A function used as a whole condition.
fn function(name: &str, args: &[RawOperand], r: &mut Resolver<'_>) -> Option<Condition> {
    check_misused(&args.iter().collect::<Vec<_>>(), r);
    let resolved: Vec<Option<Operand>> = args.iter().map(|a| operand(a, r)).collect();
    let Some(expected) = arity(name) else {
        r.record(Category::UnknownFunction, format!("Invalid function name; function: {name}"));
        return None;
    };
    if name == "size" {
        r.record(Category::MisusedFunction, misused(name));
        return None;
    }
    if args.len() != expected {
        r.record(Category::OperandCount, operand_count_error(name, args.len()));
        return None;
    }
    let mut resolved = resolved.into_iter();
    let first = resolved.next().flatten();
    let second = resolved.next().flatten();
    if expected == 2 {
        check_distinct(name, &first, &second, r);
    }
    match name {
        "attribute_exists" | "attribute_not_exists" => {
            let path = match (&args[0], first) {
                (RawOperand::Path(_), Some(Operand::Path(p))) => p,
                _ => {
                    r.record(
                        Category::OperandType,
                        format!(
                            "Operator or function requires a document path; operator or function: {name}"
                        ),
                    );
                    return None;
                }
            };
            Some(if name == "attribute_exists" {
                Condition::AttributeExists(path)
            } else {
                Condition::AttributeNotExists(path)
            })
        }
        "attribute_type" => {
            let type_name = match &second {
                Some(Operand::Value(AttributeValue::S(s))) => s.clone(),
                Some(other) => {
                    let shown = static_type(&Some(other.clone()))
                        .map_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}", ValueType::as_str);
                    r.record(Category::OperandType, operand_type_error(name, shown));
                    return None;
                }
                None => return None,
            };
            let Some(value_type) = ValueType::parse(&type_name) else {
                r.record(
                    Category::OperandType,
                    format!("Invalid attribute type name found; type: {type_name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"),
                );
                return None;
            };
            Some(Condition::AttributeType(first?, value_type))
        }
        "begins_with" => {
            for operand in [&first, &second] {
                if let Some(t) = static_type(operand)
                    && t != ValueType::S
                    && t != ValueType::B
                {
                    r.record(Category::OperandType, operand_type_error(name, t.as_str()));
                }
            }
            Some(Condition::BeginsWith(first?, second?))
        }
        _ => Some(Condition::Contains(first?, second?)),
    }
}

/// Orders two values of the same scalar type: numbers numerically, strings and binaries
/// bytewise. `None` when the types differ or are not ordered.
pub(crate) fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn size_of(value: &AttributeValue) -> Option<usize> {
    Some(match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    })
}

impl Operand {
    /// The operand's value for `item`; `None` when a path is absent or `size` does not apply.
    pub fn evaluate<'a>(&'a self, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
        match self {
            Operand::Path(path) => path.get(item).map(Cow::Borrowed),
            Operand::Value(value) => Some(Cow::Borrowed(value)),
            Operand::Size(inner) => {
                let size = size_of(inner.evaluate(item)?.as_ref())?;
                let number = Number::parse(&size.to_string()).ok()?;
                Some(Cow::Owned(AttributeValue::N(number)))
            }
        }
    }
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

impl Condition {
    /// The top-level attribute names the condition reads (for DynamoDB's rule that a Query
    /// filter may not name key attributes).
    pub fn top_level_attributes(&self) -> Vec<&str> {
        fn operand<'a>(o: &'a Operand, out: &mut Vec<&'a str>) {
            match o {
                Operand::Path(p) => out.push(p.top_level()),
                Operand::Value(_) => {}
                Operand::Size(inner) => operand(inner, out),
            }
        }
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(c) = stack.pop() {
            match c {
                Condition::Compare(_, a, b) | Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
                    operand(a, &mut out);
                    operand(b, &mut out);
                }
                Condition::Between(a, b, d) => {
                    for o in [a, b, d] {
                        operand(o, &mut out);
                    }
                }
                Condition::In(a, list) => {
                    operand(a, &mut out);
                    for o in list {
                        operand(o, &mut out);
                    }
                }
                Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => out.push(p.top_level()),
                Condition::AttributeType(a, _) => operand(a, &mut out),
                Condition::Not(inner) => stack.push(inner),
                Condition::And(list) | Condition::Or(list) => stack.extend(list.iter()),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether `item` satisfies the condition (a missing item is an empty [`Item`]).
    /// Comparing values of different types is false, except `<>`, which is true.
    pub fn evaluate(&self, item: &Item) -> bool {
        match self {
            Condition::Compare(op, a, b) => {
                let (a, b) = (a.evaluate(item), b.evaluate(item));
                match op {
                    Comparator::Eq => matches!((&a, &b), (Some(x), Some(y)) if x == y),
                    Comparator::Ne => !matches!((&a, &b), (Some(x), Some(y)) if x == y),
                    _ => {
                        let (Some(a), Some(b)) = (a, b) else { return false };
                        let Some(ordering) = order(&a, &b) else { return false };
                        match op {
                            Comparator::Lt => ordering == Ordering::Less,
                            Comparator::Le => ordering != Ordering::Greater,
                            Comparator::Gt => ordering == Ordering::Greater,
                            _ => ordering != Ordering::Less,
                        }
                    }
                }
            }
            Condition::Between(subject, low, high) => {
                let (Some(s), Some(l), Some(h)) =
                    (subject.evaluate(item), low.evaluate(item), high.evaluate(item))
                else {
                    return false;
                };
                matches!(order(&s, &l), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(order(&s, &h), Some(Ordering::Less | Ordering::Equal))
            }
            Condition::In(subject, list) => {
                let Some(s) = subject.evaluate(item) else { return false };
                list.iter().any(|candidate| candidate.evaluate(item).is_some_and(|c| c == s))
            }
            Condition::AttributeExists(path) => path.get(item).is_some(),
            Condition::AttributeNotExists(path) => path.get(item).is_none(),
            Condition::AttributeType(subject, value_type) => {
                subject.evaluate(item).is_some_and(|v| v.value_type() == *value_type)
            }
            Condition::BeginsWith(subject, prefix) => {
                let (Some(s), Some(p)) = (subject.evaluate(item), prefix.evaluate(item)) else {
                    return false;
                };
                match (s.as_ref(), p.as_ref()) {
                    (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
                    (AttributeValue::B(s), AttributeValue::B(p)) => s.starts_with(p),
                    _ => false,
                }
            }
            Condition::Contains(subject, member) => {
                let (Some(s), Some(m)) = (subject.evaluate(item), member.evaluate(item)) else {
                    return false;
                };
                match (s.as_ref(), m.as_ref()) {
                    (AttributeValue::S(s), AttributeValue::S(m)) => s.contains(m.as_str()),
                    (AttributeValue::B(s), AttributeValue::B(m)) => contains_bytes(s, m),
                    (AttributeValue::Ss(set), AttributeValue::S(m)) => set.contains(m),
                    (AttributeValue::Ns(set), AttributeValue::N(m)) => set.contains(m),
                    (AttributeValue::Bs(set), AttributeValue::B(m)) => set.contains(m),
                    (AttributeValue::L(list), m) => list.contains(m),
                    _ => false,
                }
            }
            Condition::Not(inner) => !inner.evaluate(item),
            Condition::And(items) => items.iter().all(|c| c.evaluate(item)),
            Condition::Or(items) => items.iter().any(|c| c.evaluate(item)),
        }
    }
}
