//! DynamoDB's PartiQL subset: SELECT, INSERT, UPDATE and DELETE on one table, parsed into a
//! statement tree and lowered onto the store's own pieces (key conditions, condition and update
//! expressions, item writes), so PartiQL runs through the same read and write paths as the
//! rest of the API.
//!
//! [`parse`] turns text into a [`Statement`]; [`plan`] binds its `?` parameters and checks it
//! against a table's key schema, giving a [`Plan`]. Parsing is bounded by
//! [`NESTING_DEPTH_MAX`]; the caller bounds the text by [`STATEMENT_BYTES_MAX`].

mod ast;
mod bind;
mod lexer;
mod lower;
mod parser;

pub use ast::{Delete, Expr, Insert, Returning, Select, Statement, StatementKind, Update, UpdateClause};
pub use lower::{Access, Plan, ReadPlan, WriteKind, WritePlan, plan};
pub use parser::parse;

/// Longest statement text (DynamoDB: 8192 characters).
pub const STATEMENT_BYTES_MAX: usize = 8192;
/// Most statements in one BatchExecuteStatement (DynamoDB: 25).
pub const BATCH_STATEMENTS_MAX: usize = 25;
/// Most statements in one ExecuteTransaction (DynamoDB: 100).
pub const TRANSACTION_STATEMENTS_MAX: usize = 100;
/// Deepest nesting of parentheses, NOT, function calls and collection literals. DynamoDB
/// states no figure; this bound keeps the parser's recursion shallow whatever the input.
pub const NESTING_DEPTH_MAX: usize = 100;

/// A statement DynamoDB would reject with a ValidationException; the message is DynamoDB's
/// wording where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PartiqlError {
    message: String,
}

impl PartiqlError {
    /// `Statement wasn't well formed, can't be processed: <detail>`.
    pub fn syntax(detail: impl std::fmt::Display) -> Self {
        PartiqlError { message: format!("Statement wasn't well formed, can't be processed: {detail}") }
    }

    /// `Unsupported operation: <detail>`.
    pub fn unsupported(detail: impl std::fmt::Display) -> Self {
        PartiqlError { message: format!("Unsupported operation: {detail}") }
    }

    /// An error with exactly this message.
    pub fn new(message: impl Into<String>) -> Self {
        PartiqlError { message: message.into() }
    }

    /// The full message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<PartiqlError> for crate::Error {
    fn from(e: PartiqlError) -> Self {
        crate::Error::validation(e.message)
    }
}

impl Statement {
    /// The table the statement names.
    pub fn table(&self) -> &str {
        match &self.kind {
            StatementKind::Select(s) => &s.table,
            StatementKind::Insert(i) => &i.table,
            StatementKind::Update(u) => &u.table,
            StatementKind::Delete(d) => &d.table,
        }
    }

    /// The secondary index a SELECT reads (`FROM "table"."index"`); `None` for the table.
    pub fn index(&self) -> Option<&str> {
        match &self.kind {
            StatementKind::Select(s) => s.index.as_deref(),
            _ => None,
        }
    }

    /// True for SELECT.
    pub fn is_read(&self) -> bool {
        matches!(self.kind, StatementKind::Select(_))
    }

    /// The key schema [`plan`] lowers the statement against: the table's, or the index's a
    /// SELECT names, which must exist on `table`.
    pub fn key_schema<'m>(
        &self,
        table: &'m crate::schema::TableMeta,
    ) -> Result<&'m crate::key::KeySchema, crate::Error> {
        match self.index() {
            None => Ok(&table.spec.key_schema),
            Some(name) => table.index(name).map(|index| &index.spec.key_schema).ok_or_else(|| {
                crate::Error::validation(format!("The table does not have the specified index: {name}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests;
