//! The statement tree as written: table names, paths, literals and `?` parameters, before
//! parameters are bound or anything is checked against a table's key schema.

use crate::expr::{Comparator, DocumentPath};
use crate::value::AttributeValue;

/// One parsed PartiQL statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// What the statement does.
    pub kind: StatementKind,
    /// How many `?` parameters it has.
    pub parameters: usize,
}

/// The four statements DynamoDB's PartiQL supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    /// `SELECT ... FROM ... [WHERE ...]`.
    Select(Select),
    /// `INSERT INTO ... VALUE {...}`.
    Insert(Insert),
    /// `UPDATE ... SET ... REMOVE ... WHERE ... [RETURNING ...]`.
    Update(Update),
    /// `DELETE FROM ... WHERE ... [RETURNING ALL OLD *]`.
    Delete(Delete),
}

/// `SELECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    /// The projection list; `None` for `*`.
    pub projection: Option<Vec<DocumentPath>>,
    /// The table.
    pub table: String,
    /// The secondary index read instead of the table (`FROM "table"."index"`).
    pub index: Option<String>,
    /// The WHERE clause.
    pub filter: Option<Expr>,
}

/// `INSERT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// The table.
    pub table: String,
    /// The item, a map expression.
    pub value: Expr,
}

/// One action of an `UPDATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateClause {
    /// `SET path = value`.
    Set(DocumentPath, Expr),
    /// `REMOVE path`.
    Remove(DocumentPath),
}

/// `UPDATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The table.
    pub table: String,
    /// SET and REMOVE actions in the order written.
    pub actions: Vec<UpdateClause>,
    /// The WHERE clause: the full key, plus conditions.
    pub filter: Expr,
    /// What to return.
    pub returning: Option<Returning>,
}

/// `DELETE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The table.
    pub table: String,
    /// The WHERE clause: the full key, plus conditions.
    pub filter: Expr,
    /// What to return.
    pub returning: Option<Returning>,
}

/// `RETURNING ... *`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    /// `ALL OLD *`.
    AllOld,
    /// `MODIFIED OLD *`.
    ModifiedOld,
    /// `ALL NEW *`.
    AllNew,
    /// `MODIFIED NEW *`.
    ModifiedNew,
}

/// An expression as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// An attribute or document path.
    Path(DocumentPath),
    /// A scalar literal: string, number, boolean or NULL.
    Literal(AttributeValue),
    /// `MISSING`.
    Missing,
    /// The `n`th `?` (0-based).
    Parameter(usize),
    /// `{'k': v, ...}`.
    Map(Vec<(String, Expr)>),
    /// `[a, b, ...]`.
    List(Vec<Expr>),
    /// `<<a, b, ...>>`.
    Set(Vec<Expr>),
    /// `a <op> b`.
    Compare(Comparator, Box<Expr>, Box<Expr>),
    /// `a BETWEEN low AND high`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a IN [b, c]` or `a IN (b, c)`.
    In(Box<Expr>, Vec<Expr>),
    /// `a IS [NOT] MISSING` (`missing`) or `a IS [NOT] NULL`.
    Is {
        /// The operand.
        subject: Box<Expr>,
        /// MISSING rather than NULL.
        missing: bool,
        /// `IS NOT`.
        negated: bool,
    },
    /// `a + b` (`plus`) or `a - b`.
    Arithmetic {
        /// `+` rather than `-`.
        plus: bool,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `name(args)`, the name in lower case.
    Call(String, Vec<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `a AND b AND ...`.
    And(Vec<Expr>),
    /// `a OR b OR ...`.
    Or(Vec<Expr>),
}
