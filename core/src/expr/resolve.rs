//! Turns written paths and placeholders into document paths and values, collecting the
//! semantic errors of one expression so that the one DynamoDB would report first wins.

use std::collections::BTreeMap;

use super::path::{DocumentPath, PathElement};
use super::reserved::is_reserved;
use super::syntax::{RawElement, RawPath};
use super::{ExprError, ExpressionKind, Placeholders};
use crate::value::AttributeValue;

/// Kinds of semantic error, each keeping the first one found in text order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Category {
    /// `((...))`.
    Parentheses,
    /// A function the language does not have.
    UnknownFunction,
    /// A function used where it cannot stand.
    MisusedFunction,
    /// A reserved word used as a name.
    Reserved,
    /// An update clause written twice.
    Section,
    /// An undefined `#name`.
    UndefinedName,
    /// An undefined `:value`.
    UndefinedValue,
    /// A function given the wrong number of operands.
    OperandCount,
    /// An operator whose operands are the same path.
    Distinct,
    /// A literal operand of the wrong type.
    OperandType,
}

/// The order condition expressions report errors in (undefined names and values share a rank:
/// whichever comes first in the text).
pub(crate) const CONDITION_ORDER: &[&[Category]] = &[
    &[Category::Parentheses],
    &[Category::UnknownFunction],
    &[Category::MisusedFunction],
    &[Category::Reserved],
    &[Category::UndefinedName, Category::UndefinedValue],
    &[Category::OperandCount],
    &[Category::Distinct],
    &[Category::OperandType],
];

/// The order update expressions report errors in (overlapping paths are checked after these
/// placeholder errors, by the caller).
pub(crate) const UPDATE_ORDER: &[&[Category]] = &[
    &[Category::Reserved],
    &[Category::UnknownFunction],
    &[Category::Section],
    &[Category::UndefinedName],
    &[Category::UndefinedValue],
];

/// The order for operand errors of update expressions, reported after overlaps.
pub(crate) const UPDATE_OPERAND_ORDER: &[&[Category]] = &[&[Category::OperandCount, Category::OperandType]];

/// The order projection expressions report errors in.
pub(crate) const PROJECTION_ORDER: &[&[Category]] = &[&[Category::Reserved], &[Category::UndefinedName]];

pub(crate) struct Resolver<'p> {
    pub kind: ExpressionKind,
    placeholders: &'p mut Placeholders,
    /// The first error per category, with its sequence number for ties within a rank.
    errors: BTreeMap<Category, (usize, String)>,
    sequence: usize,
}

impl<'p> Resolver<'p> {
    pub fn new(kind: ExpressionKind, placeholders: &'p mut Placeholders) -> Self {
        Resolver { kind, placeholders, errors: BTreeMap::new(), sequence: 0 }
    }

    /// Records an error unless one of the same category came earlier.
    pub fn record(&mut self, category: Category, message: String) {
        self.sequence += 1;
        let sequence = self.sequence;
        self.errors.entry(category).or_insert((sequence, message));
    }

    /// The error to report, if any, following `order`.
    pub fn first_error(&self, order: &[&[Category]]) -> Option<ExprError> {
        for rank in order {
            let found = rank.iter().filter_map(|c| self.errors.get(c)).min_by_key(|(sequence, _)| *sequence);
            if let Some((_, message)) = found {
                return Some(ExprError::invalid(self.kind, message.clone()));
            }
        }
        None
    }

    /// Resolves a written path. Undefined names are recorded and kept as written, so later
    /// checks still run.
    pub fn path(&mut self, raw: &RawPath) -> DocumentPath {
        let mut elements = Vec::with_capacity(raw.elements.len());
        for element in &raw.elements {
            elements.push(match element {
                RawElement::Word(word) => {
                    if is_reserved(word) {
                        self.record(
                            Category::Reserved,
                            format!("Attribute name is a reserved keyword; reserved keyword: {word}"),
                        );
                    }
                    PathElement::Attribute(word.clone())
                }
                RawElement::Name(placeholder) => match self.placeholders.use_name(placeholder) {
                    Some(name) => PathElement::Attribute(name),
                    None => {
                        self.record(
                            Category::UndefinedName,
                            format!(
                                "An expression attribute name used in the document path is not defined; \
                                 attribute name: {placeholder}"
                            ),
                        );
                        PathElement::Attribute(placeholder.clone())
                    }
                },
                RawElement::Index(index) => PathElement::Index(*index),
            });
        }
        DocumentPath::from_elements(elements).unwrap_or_else(|| DocumentPath::attribute(""))
    }

    /// Resolves a value placeholder; `None` (with the error recorded) when undefined.
    pub fn value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        let value = self.placeholders.use_value(placeholder);
        if value.is_none() {
            self.record(
                Category::UndefinedValue,
                format!("An expression attribute value used in expression is not defined; attribute value: {placeholder}"),
            );
        }
        value
    }
}

/// DynamoDB's rendering of a literal in BETWEEN messages: `AttributeValue: {N:5}`.
pub(crate) fn describe_literal(value: &AttributeValue) -> String {
    let body = match value {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.to_string(),
        AttributeValue::B(b) => String::from_utf8_lossy(b).into_owned(),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null => "true".to_string(),
        other => format!("{other:?}"),
    };
    format!("AttributeValue: {{{}:{body}}}", value.value_type())
}
