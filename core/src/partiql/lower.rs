//! Lowers a parsed statement onto the store's pieces: binds `?` parameters, finds the key in
//! the WHERE clause, and turns the rest into condition and update expressions.
//!
//! SELECT with an equality on every key attribute reads one item; with an equality on the
//! partition key it is a Query (one sort key comparison becomes its key condition); otherwise
//! a Scan. A SELECT on a secondary index plans the same way with the index's key, except that
//! it never reads one item: index keys are not unique, so equalities on all of them are still a
//! Query. Every other WHERE term becomes the filter. UPDATE and DELETE must name the full key
//! with equalities; their other terms become the write's condition.

use super::PartiqlError;
use super::ast::{Expr, Returning, Statement, StatementKind, UpdateClause};
use super::bind::{Binder, is_value};
use crate::error::Error;
use crate::expr::{
    Comparator, Condition, DocumentPath, KeyCondition, Projection, SortKeyCondition, UpdateAction,
    UpdateExpression,
};
use crate::key::{KeySchema, PrimaryKey};
use crate::limits::Limits;
use crate::store::{ItemWrite, ReadOptions, WriteAction, check_item_limits};
use crate::value::{AttributeValue, Item};

/// How a SELECT reads.
#[derive(Debug)]
pub enum Access {
    /// One item by its full key.
    Get(PrimaryKey),
    /// One partition.
    Query(KeyCondition),
    /// The whole table.
    Scan,
}

/// A SELECT, ready to run; the caller adds Limit and the start key to `options`.
#[derive(Debug)]
pub struct ReadPlan {
    /// The table.
    pub table: String,
    /// The secondary index read instead of the table's items.
    pub index: Option<String>,
    /// How to read.
    pub access: Access,
    /// Filter and projection.
    pub options: ReadOptions,
}

/// Which statement a write came from (errors and results differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// INSERT: a put that fails with DuplicateItem when the item exists.
    Insert,
    /// UPDATE: an update of an existing item.
    Update,
    /// DELETE.
    Delete,
}

/// An INSERT, UPDATE or DELETE, ready to run.
#[derive(Debug)]
pub struct WritePlan {
    /// Which statement.
    pub kind: WriteKind,
    /// The item write.
    pub write: ItemWrite,
    /// The RETURNING clause.
    pub returning: Option<Returning>,
    /// The paths an UPDATE writes, for `RETURNING MODIFIED ...`.
    pub modified: Option<Projection>,
}

/// A statement lowered onto the store.
#[derive(Debug)]
pub enum Plan {
    /// SELECT.
    Read(ReadPlan),
    /// INSERT, UPDATE, DELETE.
    Write(WritePlan),
}

/// Binds `parameters` to `statement` and lowers it against `schema`: the table's key, or for a
/// SELECT on a secondary index the index's key ([`Statement::key_schema`] picks it).
pub fn plan(
    statement: &Statement,
    parameters: &[AttributeValue],
    schema: &KeySchema,
    limits: &Limits,
) -> Result<Plan, Error> {
    if parameters.len() != statement.parameters {
        return Err(PartiqlError::new("Number of parameters in request and statement don't match.").into());
    }
    let b = Binder { parameters, schema };
    match &statement.kind {
        StatementKind::Select(select) => {
            let projection = select.projection.as_ref().map(|paths| Projection::from_paths(paths.clone()));
            let (access, filter) = match &select.filter {
                None => (Access::Scan, None),
                Some(filter) => b.read_access(filter, select.index.is_none(), limits)?,
            };
            let options = ReadOptions { filter, projection, ..ReadOptions::default() };
            Ok(Plan::Read(ReadPlan {
                table: select.table.clone(),
                index: select.index.clone(),
                access,
                options,
            }))
        }
        StatementKind::Insert(insert) => {
            let item = match b.value(&insert.value)? {
                AttributeValue::M(map) => map,
                _ => return Err(PartiqlError::syntax("INSERT VALUE must be a map (a tuple)").into()),
            };
            if item.contains_key("") {
                return Err(Error::validation(
                    "One or more parameter values were invalid: An AttributeValue may not contain an empty attribute name",
                ));
            }
            let key = schema.key_of_item(&item, limits)?;
            check_item_limits(&item, limits, "Item size has exceeded the maximum allowed size")?;
            let write = ItemWrite {
                table: insert.table.clone(),
                key,
                action: WriteAction::Put(item),
                condition: Some(Condition::AttributeNotExists(DocumentPath::attribute(
                    &schema.partition.name,
                ))),
                return_item_on_condition_failure: false,
                hops: 0,
            };
            Ok(Plan::Write(WritePlan { kind: WriteKind::Insert, write, returning: None, modified: None }))
        }
        StatementKind::Update(update) => {
            let mut actions = Vec::with_capacity(update.actions.len());
            for clause in &update.actions {
                actions.push(match clause {
                    UpdateClause::Set(path, value) => b.set_action(path, value)?,
                    UpdateClause::Remove(path) => UpdateAction::Remove(path.clone()),
                });
            }
            let expression = UpdateExpression::from_actions(actions)?;
            let modified = Some(expression.updated_paths());
            let (key, mut conditions) = b.key_and_conditions(&update.filter, limits)?;
            // UPDATE never creates an item.
            conditions.insert(0, Condition::AttributeExists(DocumentPath::attribute(&schema.partition.name)));
            let write = ItemWrite {
                table: update.table.clone(),
                key,
                action: WriteAction::Update(Some(expression)),
                condition: all(conditions),
                return_item_on_condition_failure: false,
                hops: 0,
            };
            Ok(Plan::Write(WritePlan {
                kind: WriteKind::Update,
                write,
                returning: update.returning,
                modified,
            }))
        }
        StatementKind::Delete(delete) => {
            let (key, conditions) = b.key_and_conditions(&delete.filter, limits)?;
            let write = ItemWrite {
                table: delete.table.clone(),
                key,
                action: WriteAction::Delete,
                condition: all(conditions),
                return_item_on_condition_failure: false,
                hops: 0,
            };
            Ok(Plan::Write(WritePlan {
                kind: WriteKind::Delete,
                write,
                returning: delete.returning,
                modified: None,
            }))
        }
    }
}

/// The conjunction of `conditions`, if any.
fn all(mut conditions: Vec<Condition>) -> Option<Condition> {
    match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(Condition::And(conditions)),
    }
}

/// The terms of a top-level AND.
fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::And(items) => items.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

fn top_level(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Path(p) if p.is_top_level() => Some(p.top_level()),
        _ => None,
    }
}

fn flip(op: Comparator) -> Comparator {
    match op {
        Comparator::Lt => Comparator::Gt,
        Comparator::Le => Comparator::Ge,
        Comparator::Gt => Comparator::Lt,
        Comparator::Ge => Comparator::Le,
        other => other,
    }
}

fn type_mismatch() -> Error {
    Error::validation(
        "One or more parameter values were invalid: Condition parameter type does not match schema type",
    )
}

impl Binder<'_> {
    fn key_equality(&self, expr: &Expr) -> Result<Option<(String, AttributeValue)>, PartiqlError> {
        let Expr::Compare(Comparator::Eq, a, b) = expr else { return Ok(None) };
        let (name, value) = match (top_level(a), top_level(b)) {
            (Some(name), _) if is_value(b) => (name, b),
            (_, Some(name)) if is_value(a) => (name, a),
            _ => return Ok(None),
        };
        if !self.schema.is_key_attribute(name) {
            return Ok(None);
        }
        Ok(Some((name.to_string(), self.value(value)?)))
    }

    /// The full key named by equalities in `filter`, and the other terms as conditions.
    fn key_and_conditions(
        &self,
        filter: &Expr,
        limits: &Limits,
    ) -> Result<(PrimaryKey, Vec<Condition>), Error> {
        let mut key = Item::new();
        let mut conditions = Vec::new();
        for term in conjuncts(filter) {
            match self.key_equality(term)? {
                Some((name, value)) if !key.contains_key(&name) => {
                    key.insert(name, value);
                }
                _ => conditions.push(self.condition(term)?),
            }
        }
        if self.schema.attribute_names().any(|name| !key.contains_key(name)) {
            return Err(Error::validation(
                "Where clause does not contain a mandatory equality on all key attributes",
            ));
        }
        Ok((self.schema.key_from_request(&key, limits)?, conditions))
    }

    /// A sort key condition from one WHERE term, if it is one.
    fn sort_condition(&self, expr: &Expr, sort_key: &str) -> Result<Option<SortKeyCondition>, PartiqlError> {
        let is_sort = |e: &Expr| top_level(e) == Some(sort_key);
        Ok(match expr {
            Expr::Compare(op, a, b) if *op != Comparator::Ne => {
                let (op, value) = if is_sort(a) && is_value(b) {
                    (*op, self.value(b)?)
                } else if is_sort(b) && is_value(a) {
                    (flip(*op), self.value(a)?)
                } else {
                    return Ok(None);
                };
                Some(match op {
                    Comparator::Eq => SortKeyCondition::Eq(value),
                    Comparator::Lt => SortKeyCondition::Lt(value),
                    Comparator::Le => SortKeyCondition::Le(value),
                    Comparator::Gt => SortKeyCondition::Gt(value),
                    _ => SortKeyCondition::Ge(value),
                })
            }
            Expr::Between(s, low, high) if is_sort(s) && is_value(low) && is_value(high) => {
                Some(SortKeyCondition::Between(self.value(low)?, self.value(high)?))
            }
            Expr::Call(name, args)
                if name == "begins_with" && args.len() == 2 && is_sort(&args[0]) && is_value(&args[1]) =>
            {
                Some(SortKeyCondition::BeginsWith(self.value(&args[1])?))
            }
            _ => None,
        })
    }

    /// How a SELECT with this WHERE clause reads, and the filter left over. `unique_key` is
    /// false for an index: equalities on its whole key are a Query, not a point read.
    fn read_access(
        &self,
        filter: &Expr,
        unique_key: bool,
        limits: &Limits,
    ) -> Result<(Access, Option<Condition>), Error> {
        let terms = conjuncts(filter);
        let partition_name = self.schema.partition.name.as_str();
        let mut partition: Option<(usize, AttributeValue)> = None;
        for (i, term) in terms.iter().enumerate() {
            if let Some((name, value)) = self.key_equality(term)?
                && name == partition_name
            {
                partition = Some((i, value));
                break;
            }
        }
        let Some((partition_at, partition)) = partition else {
            return Ok((Access::Scan, Some(self.condition(filter)?)));
        };
        if !self.schema.partition.scalar_type.matches(&partition) {
            return Err(type_mismatch());
        }
        let mut used = vec![partition_at];
        let mut sort = None;
        if let Some(sort_attr) = &self.schema.sort {
            // An equality on the sort key wins over a range; the first range is used otherwise.
            let mut found: Option<(usize, SortKeyCondition)> = None;
            for (i, term) in terms.iter().enumerate() {
                if i == partition_at {
                    continue;
                }
                let Some(condition) = self.sort_condition(term, &sort_attr.name)? else { continue };
                let values_match = match &condition {
                    SortKeyCondition::Between(a, b) => {
                        sort_attr.scalar_type.matches(a) && sort_attr.scalar_type.matches(b)
                    }
                    SortKeyCondition::BeginsWith(v) => {
                        sort_attr.scalar_type != crate::key::ScalarType::N && sort_attr.scalar_type.matches(v)
                    }
                    SortKeyCondition::Eq(v)
                    | SortKeyCondition::Lt(v)
                    | SortKeyCondition::Le(v)
                    | SortKeyCondition::Gt(v)
                    | SortKeyCondition::Ge(v) => sort_attr.scalar_type.matches(v),
                };
                // A term of another type matches no item; it stays in the filter.
                if !values_match {
                    continue;
                }
                let is_eq = matches!(condition, SortKeyCondition::Eq(_));
                if found.is_none() || is_eq {
                    found = Some((i, condition));
                }
                if is_eq {
                    break;
                }
            }
            if let Some((i, condition)) = found {
                used.push(i);
                sort = Some(condition);
            }
        }
        let rest: Vec<Condition> = terms
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(_, t)| self.condition(t))
            .collect::<Result<_, _>>()?;
        let filter = all(rest);
        let full_key = match (&self.schema.sort, &sort) {
            _ if !unique_key => None,
            (None, _) => Some(None),
            (Some(_), Some(SortKeyCondition::Eq(v))) => Some(Some(v.clone())),
            _ => None,
        };
        if let Some(sort_value) = full_key {
            let mut key = Item::new();
            key.insert(partition_name.to_string(), partition.clone());
            if let (Some(attr), Some(v)) = (&self.schema.sort, sort_value) {
                key.insert(attr.name.clone(), v);
            }
            return Ok((Access::Get(self.schema.key_from_request(&key, limits)?), filter));
        }
        Ok((Access::Query(KeyCondition { partition, sort }), filter))
    }
}
