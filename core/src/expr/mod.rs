//! DynamoDB's expression languages: condition and filter expressions, update expressions,
//! projection expressions and key condition expressions, with DynamoDB's validation messages.
//!
//! Each `parse_*` function checks one expression of a request against the request's shared
//! [`Placeholders`]; once all are parsed, [`Placeholders::check_all_used`] reports unused
//! placeholders. Parsing is bounded (text length, operators, nesting), so hostile input ends in
//! an [`ExprError`] rather than deep recursion.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::value::AttributeValue;

mod condition;
mod key_condition;
pub mod legacy;
mod lexer;
mod parser;
mod path;
mod projection;
pub mod reserved;
mod resolve;
mod syntax;
mod update;

pub use condition::{Condition, Operand, parse_condition};
pub use key_condition::{KeyCondition, SortKeyCondition, parse_key_condition};
pub use path::{DocumentPath, PathElement};
pub use projection::{Projection, parse_projection};
pub use syntax::Comparator;
pub use update::{SetValue, UpdateAction, UpdateExpression, UpdateOperand, parse_update};

/// Longest expression text in bytes (DynamoDB: 4 KB, as `Limits::expression_bytes_max`).
pub const EXPRESSION_BYTES_MAX: usize = 4096;
/// Most operators and functions in one expression (DynamoDB: 300).
pub const OPERATORS_MAX: usize = 300;
/// Most operands on the right of IN (DynamoDB: 100).
pub const IN_OPERANDS_MAX: usize = 100;
/// Deepest document path, in elements (DynamoDB: 32 levels).
pub const DOCUMENT_PATH_DEPTH_MAX: usize = 32;
/// Deepest nesting of parentheses, NOT and function calls. DynamoDB states no figure; this
/// bound keeps the parser's recursion shallow whatever the input.
pub const NESTING_DEPTH_MAX: usize = 100;

/// A DynamoDB `ValidationException` raised by an expression; the message is DynamoDB's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    message: String,
}

impl ExprError {
    /// An error with exactly this message.
    pub fn new(message: impl Into<String>) -> Self {
        ExprError { message: message.into() }
    }

    /// `Invalid <Kind>Expression: <detail>`.
    pub(crate) fn invalid(kind: ExpressionKind, detail: impl fmt::Display) -> Self {
        ExprError { message: format!("Invalid {kind}: {detail}") }
    }

    /// The full message, as DynamoDB words it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Which request parameter an expression came from; it names the expression in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpressionKind {
    /// `ConditionExpression`.
    Condition,
    /// `FilterExpression`.
    Filter,
    /// `KeyConditionExpression`.
    KeyCondition,
    /// `UpdateExpression`.
    Update,
    /// `ProjectionExpression`.
    Projection,
}

impl fmt::Display for ExpressionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        })
    }
}

/// ExpressionAttributeNames/Values of one request, shared by all its expressions; records
/// which were used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Placeholders {
    /// Placeholders from a request's ExpressionAttributeNames and ExpressionAttributeValues.
    pub fn new(names: BTreeMap<String, String>, values: BTreeMap<String, AttributeValue>) -> Self {
        Placeholders { names, values, used_names: BTreeSet::new(), used_values: BTreeSet::new() }
    }

    /// The attribute name behind `#placeholder`, marking it used.
    pub(crate) fn use_name(&mut self, placeholder: &str) -> Option<String> {
        let name = self.names.get(placeholder)?.clone();
        if !self.used_names.contains(placeholder) {
            self.used_names.insert(placeholder.to_string());
        }
        Some(name)
    }

    /// The value behind `:placeholder`, marking it used.
    pub(crate) fn use_value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        let value = self.values.get(placeholder)?.clone();
        if !self.used_values.contains(placeholder) {
            self.used_values.insert(placeholder.to_string());
        }
        Some(value)
    }

    /// After all expressions of a request are parsed: DynamoDB's error for unused names,
    /// then for unused values. Keys are listed in sorted order.
    pub fn check_all_used(&self) -> Result<(), ExprError> {
        let unused_names: Vec<&str> =
            self.names.keys().filter(|k| !self.used_names.contains(*k)).map(String::as_str).collect();
        if !unused_names.is_empty() {
            return Err(ExprError::new(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused_names.join(", ")
            )));
        }
        let unused_values: Vec<&str> =
            self.values.keys().filter(|k| !self.used_values.contains(*k)).map(String::as_str).collect();
        if !unused_values.is_empty() {
            return Err(ExprError::new(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused_values.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
