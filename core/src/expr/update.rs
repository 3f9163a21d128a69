//! Update expressions: SET, REMOVE, ADD and DELETE clauses, their static checks, and applying
//! them to an item.
//!
//! As in DynamoDB, every operand reads the item as it was before the update, and list indexes
//! in REMOVE refer to positions in the original list.

use std::collections::BTreeSet;

use super::parser;
use super::path::{DocumentPath, PathElement, check_disjoint};
use super::projection::Projection;
use super::resolve::{Category, Resolver, UPDATE_OPERAND_ORDER, UPDATE_ORDER};
use super::syntax::{Clause, RawAction, RawOperand};
use super::{ExprError, ExpressionKind, Placeholders};
use crate::value::{AttributeValue, Item, ValueType};

/// A value a SET action computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOperand {
    /// The value at a path of the original item; an error when absent.
    Path(DocumentPath),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `if_not_exists(path, fallback)`.
    IfNotExists(DocumentPath, Box<UpdateOperand>),
    /// `list_append(a, b)`.
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
    /// `a + b` on numbers.
    Plus(Box<UpdateOperand>, Box<UpdateOperand>),
    /// `a - b` on numbers.
    Minus(Box<UpdateOperand>, Box<UpdateOperand>),
}

/// The right side of a SET action.
pub type SetValue = UpdateOperand;

/// One action of an update expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateAction {
    /// `SET path = value`.
    Set(DocumentPath, SetValue),
    /// `REMOVE path`.
    Remove(DocumentPath),
    /// `ADD path :value` (numbers and sets).
    Add(DocumentPath, AttributeValue),
    /// `DELETE path :value` (sets).
    Delete(DocumentPath, AttributeValue),
}

impl UpdateAction {
    /// The path the action writes.
    pub fn path(&self) -> &DocumentPath {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _) => p,
        }
    }
}

/// A checked update expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateExpression {
    actions: Vec<UpdateAction>,
}

const FUNCTIONS: &[(&str, usize)] = &[("if_not_exists", 2), ("list_append", 2)];

fn operand_type_error(function: &str, type_name: &str) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {function}, operand type: {type_name}"
    )
}

/// The type an operand is known to have before evaluation.
fn static_type(operand: &UpdateOperand) -> Option<ValueType> {
    match operand {
        UpdateOperand::Value(v) => Some(v.value_type()),
        UpdateOperand::ListAppend(..) => Some(ValueType::L),
        UpdateOperand::Plus(..) | UpdateOperand::Minus(..) => Some(ValueType::N),
        UpdateOperand::IfNotExists(_, fallback) => static_type(fallback),
        UpdateOperand::Path(_) => None,
    }
}

fn operand(raw: &RawOperand, r: &mut Resolver<'_>) -> Option<UpdateOperand> {
    match raw {
        RawOperand::Path(p) => Some(UpdateOperand::Path(r.path(p))),
        RawOperand::Value(v) => r.value(v).map(UpdateOperand::Value),
        RawOperand::Arithmetic { plus, left, right } => {
            let (a, b) = (operand(left, r), operand(right, r));
            let symbol = if *plus { "+" } else { "-" };
            for side in [&a, &b].into_iter().flatten() {
                if let UpdateOperand::Value(v) = side
                    && v.value_type() != ValueType::N
                {
                    r.record(Category::OperandType, operand_type_error(symbol, v.value_type().as_str()));
                }
            }
            let (a, b) = (Box::new(a?), Box::new(b?));
            Some(if *plus { UpdateOperand::Plus(a, b) } else { UpdateOperand::Minus(a, b) })
        }
        RawOperand::Call { name, args } => {
            let resolved: Vec<Option<UpdateOperand>> = args.iter().map(|a| operand(a, r)).collect();
            let Some((_, expected)) = FUNCTIONS.iter().find(|(n, _)| n == name) else {
                r.record(Category::UnknownFunction, format!("Invalid function name; function: {name}"));
                return None;
            };
            if args.len() != *expected {
                r.record(
                    Category::OperandCount,
                    format!(
                        "Incorrect number of operands for operator or function; operator or function: {name}, \
                         number of operands: {}",
                        args.len()
                    ),
                );
                return None;
            }
            let mut resolved = resolved.into_iter();
            let (first, second) = (resolved.next().flatten(), resolved.next().flatten());
            if name == "if_not_exists" {
                let Some(UpdateOperand::Path(path)) = first else {
                    r.record(
                        Category::OperandType,
                        format!(
                            "Operator or function requires a document path; operator or function: {name}"
                        ),
                    );
                    return None;
                };
                return Some(UpdateOperand::IfNotExists(path, Box::new(second?)));
            }
            for side in [&first, &second].into_iter().flatten() {
                if let Some(t) = static_type(side)
                    && t != ValueType::L
                {
                    r.record(Category::OperandType, operand_type_error(name, t.as_str()));
                }
            }
            Some(UpdateOperand::ListAppend(Box::new(first?), Box::new(second?)))
        }
    }
}

/// DynamoDB's type names in ADD and DELETE messages.
fn long_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::S => "STRING",
        ValueType::N => "NUMBER",
        ValueType::B => "BINARY",
        ValueType::Bool => "BOOLEAN",
        ValueType::Null => "NULL",
        ValueType::M => "MAP",
        ValueType::L => "LIST",
        ValueType::Ss => "STRING SET",
        ValueType::Ns => "NUMBER SET",
        ValueType::Bs => "BINARY SET",
    }
}

fn check_add_delete_operand(clause: Clause, value: &AttributeValue, r: &mut Resolver<'_>) {
    let t = value.value_type();
    let is_set = matches!(t, ValueType::Ss | ValueType::Ns | ValueType::Bs);
    if !(is_set || (clause == Clause::Add && t == ValueType::N)) {
        r.record(
            Category::OperandType,
            format!(
                "Incorrect operand type for operator or function; operator: {}, operand type: {}",
                clause.keyword(),
                long_type_name(t)
            ),
        );
    }
}

/// Parses and checks an update expression.
pub fn parse_update(text: &str, ph: &mut Placeholders) -> Result<UpdateExpression, ExprError> {
    let raw = parser::parse_update(text)?;
    let mut r = Resolver::new(ExpressionKind::Update, ph);
    if let Some(clause) = raw.repeated_clause {
        r.record(
            Category::Section,
            format!("The \"{}\" section can only be used once in an update expression;", clause.keyword()),
        );
    }
    let mut actions = Vec::with_capacity(raw.actions.len());
    let mut complete = true;
    for action in &raw.actions {
        let built = match action {
            RawAction::Set(path, value) => {
                let path = r.path(path);
                operand(value, &mut r).map(|v| UpdateAction::Set(path, v))
            }
            RawAction::Remove(path) => Some(UpdateAction::Remove(r.path(path))),
            RawAction::Add(path, value) | RawAction::Delete(path, value) => {
                let path = r.path(path);
                let clause = if matches!(action, RawAction::Add(..)) { Clause::Add } else { Clause::Delete };
                r.value(value).map(|v| {
                    check_add_delete_operand(clause, &v, &mut r);
                    if clause == Clause::Add {
                        UpdateAction::Add(path, v)
                    } else {
                        UpdateAction::Delete(path, v)
                    }
                })
            }
        };
        match built {
            Some(a) => actions.push(a),
            None => complete = false,
        }
    }
    if let Some(error) = r.first_error(UPDATE_ORDER) {
        return Err(error);
    }
    if complete {
        let paths: Vec<&DocumentPath> = actions.iter().map(UpdateAction::path).collect();
        check_disjoint(&paths, ExpressionKind::Update)?;
    }
    if let Some(error) = r.first_error(UPDATE_OPERAND_ORDER) {
        return Err(error);
    }
    if !complete {
        return Err(ExprError::invalid(ExpressionKind::Update, "Syntax error; the expression is incomplete"));
    }
    Ok(UpdateExpression { actions })
}

fn invalid_path() -> ExprError {
    ExprError::new("The document path provided in the update expression is invalid for update")
}

fn wrong_type() -> ExprError {
    ExprError::new("An operand in the update expression has an incorrect data type")
}

fn missing_attribute() -> ExprError {
    ExprError::new("The provided expression refers to an attribute that does not exist in the item")
}

fn number_error(e: crate::number::NumberError) -> ExprError {
    ExprError::new(e.to_string())
}

impl UpdateOperand {
    fn evaluate(&self, item: &Item) -> Result<AttributeValue, ExprError> {
        match self {
            UpdateOperand::Path(path) => path.get(item).cloned().ok_or_else(missing_attribute),
            UpdateOperand::Value(value) => Ok(value.clone()),
            UpdateOperand::IfNotExists(path, fallback) => match path.get(item) {
                Some(existing) => Ok(existing.clone()),
                None => fallback.evaluate(item),
            },
            UpdateOperand::ListAppend(a, b) => match (a.evaluate(item)?, b.evaluate(item)?) {
                (AttributeValue::L(mut first), AttributeValue::L(second)) => {
                    first.extend(second);
                    Ok(AttributeValue::L(first))
                }
                _ => Err(wrong_type()),
            },
            UpdateOperand::Plus(a, b) | UpdateOperand::Minus(a, b) => {
                match (a.evaluate(item)?, b.evaluate(item)?) {
                    (AttributeValue::N(x), AttributeValue::N(y)) => {
                        let result =
                            if matches!(self, UpdateOperand::Plus(..)) { x.add(&y) } else { x.sub(&y) };
                        result.map(AttributeValue::N).map_err(number_error)
                    }
                    _ => Err(wrong_type()),
                }
            }
        }
    }
}

/// ADD: numbers add (an absent attribute counts as 0), sets take the union.
fn add(existing: Option<&AttributeValue>, operand: &AttributeValue) -> Result<AttributeValue, ExprError> {
    use AttributeValue as V;
    Ok(match (existing, operand) {
        (None, v @ (V::N(_) | V::Ss(_) | V::Ns(_) | V::Bs(_))) => v.clone(),
        (Some(V::N(a)), V::N(b)) => V::N(a.add(b).map_err(number_error)?),
        (Some(V::Ss(a)), V::Ss(b)) => V::Ss(a.union(b).cloned().collect()),
        (Some(V::Ns(a)), V::Ns(b)) => V::Ns(a.union(b).cloned().collect()),
        (Some(V::Bs(a)), V::Bs(b)) => V::Bs(a.union(b).cloned().collect()),
        _ => return Err(wrong_type()),
    })
}

/// DELETE: set difference; `None` when nothing is left (the attribute goes away) or there
/// was nothing to delete from.
fn delete(
    existing: Option<&AttributeValue>,
    operand: &AttributeValue,
) -> Result<Option<AttributeValue>, ExprError> {
    use AttributeValue as V;
    fn left<T: Ord + Clone>(a: &BTreeSet<T>, b: &BTreeSet<T>, wrap: fn(BTreeSet<T>) -> V) -> Option<V> {
        let rest: BTreeSet<T> = a.difference(b).cloned().collect();
        if rest.is_empty() { None } else { Some(wrap(rest)) }
    }
    Ok(match (existing, operand) {
        (None, V::Ss(_) | V::Ns(_) | V::Bs(_)) => None,
        (Some(V::Ss(a)), V::Ss(b)) => left(a, b, V::Ss),
        (Some(V::Ns(a)), V::Ns(b)) => left(a, b, V::Ns),
        (Some(V::Bs(a)), V::Bs(b)) => left(a, b, V::Bs),
        _ => return Err(wrong_type()),
    })
}

/// The container a path's last element lives in, or the path's error.
fn parent_mut<'a>(
    item: &'a mut Item,
    path: &DocumentPath,
) -> Result<Option<&'a mut AttributeValue>, ExprError> {
    let elements = path.elements();
    if elements.len() == 1 {
        return Ok(None);
    }
    let mut current = item.get_mut(path.top_level()).ok_or_else(invalid_path)?;
    for element in &elements[1..elements.len() - 1] {
        current = match (element, current) {
            (PathElement::Attribute(key), AttributeValue::M(map)) => {
                map.get_mut(key).ok_or_else(invalid_path)?
            }
            (PathElement::Index(i), AttributeValue::L(list)) => list.get_mut(*i).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    Ok(Some(current))
}

/// Fails when the container `path` would live in is absent or of the wrong type.
fn check_parent(item: &Item, path: &DocumentPath) -> Result<(), ExprError> {
    let elements = path.elements();
    if elements.len() == 1 {
        return Ok(());
    }
    let parent =
        DocumentPath::from_elements(elements[..elements.len() - 1].to_vec()).and_then(|p| p.get(item));
    match (parent, last(path)) {
        (Some(AttributeValue::M(_)), PathElement::Attribute(_))
        | (Some(AttributeValue::L(_)), PathElement::Index(_)) => Ok(()),
        _ => Err(invalid_path()),
    }
}

fn last(path: &DocumentPath) -> &PathElement {
    // Paths are never empty.
    &path.elements()[path.elements().len() - 1]
}

/// Writes `value` at `path`; an index past the end of a list appends.
fn write(item: &mut Item, path: &DocumentPath, value: AttributeValue) -> Result<(), ExprError> {
    match (parent_mut(item, path)?, last(path)) {
        (None, _) => {
            item.insert(path.top_level().to_string(), value);
        }
        (Some(AttributeValue::M(map)), PathElement::Attribute(key)) => {
            map.insert(key.clone(), value);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(i)) => {
            if let Some(slot) = list.get_mut(*i) {
                *slot = value;
            } else {
                list.push(value);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

/// Removes what is at `path`; an absent leaf is not an error, an absent parent is.
fn remove(item: &mut Item, path: &DocumentPath) -> Result<(), ExprError> {
    match (parent_mut(item, path)?, last(path)) {
        (None, _) => {
            item.remove(path.top_level());
        }
        (Some(AttributeValue::M(map)), PathElement::Attribute(key)) => {
            map.remove(key);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(i)) => {
            if *i < list.len() {
                list.remove(*i);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

impl UpdateExpression {
    /// An update expression built from actions (PartiQL's SET and REMOVE), with the same
    /// overlap and conflict checks as a parsed one.
    pub fn from_actions(actions: Vec<UpdateAction>) -> Result<UpdateExpression, ExprError> {
        let paths: Vec<&DocumentPath> = actions.iter().map(UpdateAction::path).collect();
        check_disjoint(&paths, ExpressionKind::Update)?;
        Ok(UpdateExpression { actions })
    }

    /// The actions in the order written.
    pub fn actions(&self) -> &[UpdateAction] {
        &self.actions
    }

    /// Applies to a copy of `item` (empty Item when absent) and returns the new item.
    pub fn apply(&self, item: &Item) -> Result<Item, ExprError> {
        // Every operand reads the original item; compute all values first.
        let mut writes: Vec<(&DocumentPath, AttributeValue)> = Vec::new();
        let mut removes: Vec<&DocumentPath> = Vec::new();
        for action in &self.actions {
            match action {
                UpdateAction::Set(path, value) => writes.push((path, value.evaluate(item)?)),
                UpdateAction::Remove(path) => removes.push(path),
                UpdateAction::Add(path, value) => writes.push((path, add(path.get(item), value)?)),
                UpdateAction::Delete(path, value) => {
                    // An absent parent is the same error as for any other write.
                    let existing = path.get(item);
                    match delete(existing, value)? {
                        Some(rest) => writes.push((path, rest)),
                        None if existing.is_some() => removes.push(path),
                        None => check_parent(item, path)?,
                    }
                }
            }
        }
        let mut result = item.clone();
        // Ascending paths: appends past the end of one list land in index order.
        writes.sort_by(|a, b| a.0.cmp(b.0));
        for (path, value) in writes {
            write(&mut result, path, value)?;
        }
        // Descending paths: removing a later index first keeps earlier indexes valid.
        removes.sort_by(|a, b| b.cmp(a));
        for path in removes {
            match remove(&mut result, path) {
                // DynamoDB ignores REMOVE of any path when the item does not exist (an existing
                // item always has its key attributes, so it is never empty).
                Err(_) if item.is_empty() => {}
                other => other?,
            }
        }
        Ok(result)
    }

    /// Top-level attribute names the expression writes (so the caller can reject key updates).
    pub fn top_level_attributes(&self) -> impl Iterator<Item = &str> {
        let mut seen = BTreeSet::new();
        self.actions.iter().map(|a| a.path().top_level()).filter(move |name| seen.insert(*name))
    }

    /// The document paths it writes, as a projection, for ReturnValues UPDATED_OLD / UPDATED_NEW.
    pub fn updated_paths(&self) -> Projection {
        Projection::from_paths(self.actions.iter().map(|a| a.path().clone()).collect())
    }
}
