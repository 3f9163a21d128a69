//! A recursive-descent parser for DynamoDB's PartiQL subset. Every recursive step passes
//! through [`Parser::enter`], so nesting deeper than [`NESTING_DEPTH_MAX`] is an error, never a
//! deep stack, whatever the input.

use super::ast::{Delete, Expr, Insert, Returning, Select, Statement, StatementKind, Update, UpdateClause};
use super::lexer::{Tok, Token, tokenize};
use super::{NESTING_DEPTH_MAX, PartiqlError};
use crate::expr::{Comparator, DocumentPath, PathElement};
use crate::number::Number;
use crate::value::AttributeValue;

/// Parses one statement.
pub fn parse(text: &str) -> Result<Statement, PartiqlError> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0, depth: 0, parameters: 0 };
    let kind = p.statement()?;
    p.eat_sym(";");
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected());
    }
    Ok(Statement { kind, parameters: p.parameters })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    parameters: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Quoted(q) => format!("'\"{q}\"'"),
        Tok::Str(s) => format!("''{s}''"),
        Tok::Num(n) => format!("'{n}'"),
        Tok::Param => "'?'".to_string(),
        Tok::Sym(s) => format!("'{s}'"),
        Tok::Eof => "end of statement".to_string(),
    }
}

impl Parser {
    fn token(&self) -> &Token {
        // The token list always ends with Eof.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &Tok {
        &self.token().tok
    }

    fn peek_at(&self, offset: usize) -> &Tok {
        let i = (self.at + offset).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn advance(&mut self) -> Tok {
        // Moving past Eof is harmless: every read clamps to it, and callers that step back
        // after a mismatch land on it again.
        let tok = self.peek().clone();
        self.at += 1;
        tok
    }

    fn unexpected(&self) -> PartiqlError {
        let t = self.token();
        PartiqlError::syntax(format!("Unexpected {} at column {}", describe(&t.tok), t.column))
    }

    fn expected(&self, what: &str) -> PartiqlError {
        let t = self.token();
        PartiqlError::syntax(format!("Expected {what} but found {} at column {}", describe(&t.tok), t.column))
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn is_word_at(&self, offset: usize, word: &str) -> bool {
        matches!(self.peek_at(offset), Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.is_word(word);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_word(&mut self, word: &str) -> Result<(), PartiqlError> {
        if self.eat_word(word) { Ok(()) } else { Err(self.expected(&format!("'{word}'"))) }
    }

    fn is_sym(&self, symbol: &str) -> bool {
        matches!(self.peek(), Tok::Sym(s) if *s == symbol)
    }

    fn eat_sym(&mut self, symbol: &str) -> bool {
        let found = self.is_sym(symbol);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_sym(&mut self, symbol: &str) -> Result<(), PartiqlError> {
        if self.eat_sym(symbol) { Ok(()) } else { Err(self.expected(&format!("'{symbol}'"))) }
    }

    /// One level deeper; fails past the nesting bound.
    fn enter(&mut self) -> Result<(), PartiqlError> {
        self.depth += 1;
        if self.depth > NESTING_DEPTH_MAX {
            return Err(PartiqlError::syntax(format!(
                "Expression nesting exceeds the maximum depth of {NESTING_DEPTH_MAX} at column {}",
                self.token().column
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn statement(&mut self) -> Result<StatementKind, PartiqlError> {
        match self.peek().clone() {
            Tok::Word(w) => match w.to_ascii_uppercase().as_str() {
                "SELECT" => self.select().map(StatementKind::Select),
                "INSERT" => self.insert().map(StatementKind::Insert),
                "UPDATE" => self.update().map(StatementKind::Update),
                "DELETE" => self.delete().map(StatementKind::Delete),
                "EXISTS" => Err(PartiqlError::unsupported("EXISTS is only supported in ExecuteTransaction")),
                other @ ("CREATE" | "DROP" | "ALTER" | "REPLACE" | "UPSERT" | "MERGE" | "WITH" | "EXEC"
                | "EXECUTE" | "REMOVE" | "SET" | "FROM") => {
                    Err(PartiqlError::unsupported(format!("{other} statements are not supported")))
                }
                _ => Err(self.expected("SELECT, INSERT, UPDATE or DELETE")),
            },
            _ => Err(self.expected("SELECT, INSERT, UPDATE or DELETE")),
        }
    }

    /// A table name: a bare word or a double-quoted identifier.
    fn identifier(&mut self, what: &str) -> Result<String, PartiqlError> {
        match self.peek().clone() {
            Tok::Word(w) => {
                self.at += 1;
                Ok(w)
            }
            Tok::Quoted(q) => {
                self.at += 1;
                Ok(q)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// The table an INSERT, UPDATE or DELETE writes: writes go to a table, never to an index.
    fn table(&mut self, statement: &str) -> Result<String, PartiqlError> {
        let table = self.identifier("a table name")?;
        if self.is_sym(".") {
            return Err(PartiqlError::unsupported(format!(
                "{statement} on a secondary index; write to the table instead"
            )));
        }
        Ok(table)
    }

    /// The table a SELECT reads, and the secondary index after a `.` (`"table"."index"`).
    fn table_or_index(&mut self) -> Result<(String, Option<String>), PartiqlError> {
        let table = self.identifier("a table name")?;
        if !self.eat_sym(".") {
            return Ok((table, None));
        }
        let index = self.identifier("an index name")?;
        if self.is_sym(".") {
            return Err(self.unexpected());
        }
        Ok((table, Some(index)))
    }

    fn select(&mut self) -> Result<Select, PartiqlError> {
        self.expect_word("SELECT")?;
        if self.is_word("DISTINCT") || self.is_word("VALUE") {
            return Err(PartiqlError::unsupported(format!("SELECT {}", describe(self.peek()))));
        }
        let projection = if self.eat_sym("*") {
            None
        } else {
            let mut paths = vec![self.path()?];
            while self.eat_sym(",") {
                paths.push(self.path()?);
            }
            Some(paths)
        };
        self.expect_word("FROM")?;
        let (table, index) = self.table_or_index()?;
        let filter = if self.eat_word("WHERE") { Some(self.expr()?) } else { None };
        if self.is_word("ORDER") {
            return Err(PartiqlError::unsupported("ORDER BY is not supported"));
        }
        for clause in ["GROUP", "HAVING", "LIMIT", "OFFSET", "UNION", "JOIN"] {
            if self.is_word(clause) {
                return Err(PartiqlError::unsupported(format!("{clause} is not supported")));
            }
        }
        Ok(Select { projection, table, index, filter })
    }

    fn insert(&mut self) -> Result<Insert, PartiqlError> {
        self.expect_word("INSERT")?;
        self.expect_word("INTO")?;
        let table = self.table("INSERT")?;
        if self.is_word("VALUES") {
            return Err(PartiqlError::unsupported("INSERT with VALUES; use VALUE with a single item"));
        }
        self.expect_word("VALUE")?;
        let value = self.expr()?;
        if self.is_sym(",") {
            return Err(PartiqlError::unsupported("Inserting more than one item in one statement"));
        }
        Ok(Insert { table, value })
    }

    fn update(&mut self) -> Result<Update, PartiqlError> {
        self.expect_word("UPDATE")?;
        let table = self.table("UPDATE")?;
        let mut actions = Vec::new();
        loop {
            if self.eat_word("SET") {
                loop {
                    let path = self.path()?;
                    self.expect_sym("=")?;
                    let value = self.additive()?;
                    actions.push(UpdateClause::Set(path, value));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
            } else if self.eat_word("REMOVE") {
                loop {
                    actions.push(UpdateClause::Remove(self.path()?));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if actions.is_empty() {
            return Err(self.expected("SET or REMOVE"));
        }
        self.expect_word("WHERE")?;
        let filter = self.expr()?;
        let returning = self.returning()?;
        Ok(Update { table, actions, filter, returning })
    }

    fn delete(&mut self) -> Result<Delete, PartiqlError> {
        self.expect_word("DELETE")?;
        self.expect_word("FROM")?;
        let table = self.table("DELETE")?;
        self.expect_word("WHERE")?;
        let filter = self.expr()?;
        let returning = self.returning()?;
        if returning.is_some_and(|r| r != Returning::AllOld) {
            return Err(PartiqlError::unsupported("DELETE can only return ALL OLD *"));
        }
        Ok(Delete { table, filter, returning })
    }

    fn returning(&mut self) -> Result<Option<Returning>, PartiqlError> {
        if !self.eat_word("RETURNING") {
            return Ok(None);
        }
        let returning = if self.eat_word("ALL") {
            if self.eat_word("OLD") {
                Returning::AllOld
            } else {
                self.expect_word("NEW")?;
                Returning::AllNew
            }
        } else if self.eat_word("MODIFIED") {
            if self.eat_word("OLD") {
                Returning::ModifiedOld
            } else {
                self.expect_word("NEW")?;
                Returning::ModifiedNew
            }
        } else {
            return Err(self.expected("ALL or MODIFIED"));
        };
        self.expect_sym("*")?;
        Ok(Some(returning))
    }

    /// `name`, `"name"`, then `.name`, `."name"`, `[n]` or `['name']` steps.
    fn path(&mut self) -> Result<DocumentPath, PartiqlError> {
        let first = self.identifier("an attribute name")?;
        self.path_rest(first)
    }

    fn path_rest(&mut self, first: String) -> Result<DocumentPath, PartiqlError> {
        let mut elements = vec![PathElement::Attribute(first)];
        loop {
            if self.eat_sym(".") {
                elements.push(PathElement::Attribute(self.identifier("an attribute name")?));
            } else if self.eat_sym("[") {
                match self.advance() {
                    Tok::Num(n) => {
                        let index = n
                            .parse::<usize>()
                            .map_err(|_| PartiqlError::syntax(format!("Invalid list index '{n}'")))?;
                        elements.push(PathElement::Index(index));
                    }
                    Tok::Str(key) => elements.push(PathElement::Attribute(key)),
                    _ => {
                        self.at -= 1;
                        return Err(self.expected("a list index"));
                    }
                }
                self.expect_sym("]")?;
            } else {
                break;
            }
        }
        if elements.len() > crate::expr::DOCUMENT_PATH_DEPTH_MAX {
            return Err(PartiqlError::syntax(format!(
                "A document path has more than {} elements",
                crate::expr::DOCUMENT_PATH_DEPTH_MAX
            )));
        }
        // The first element is an attribute name by construction.
        DocumentPath::from_elements(elements).ok_or_else(|| self.expected("an attribute name"))
    }

    fn expr(&mut self) -> Result<Expr, PartiqlError> {
        self.enter()?;
        let result = self.or();
        self.leave();
        result
    }

    fn or(&mut self) -> Result<Expr, PartiqlError> {
        let mut items = vec![self.and()?];
        while self.eat_word("OR") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, PartiqlError> {
        let mut items = vec![self.not()?];
        while self.eat_word("AND") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn not(&mut self) -> Result<Expr, PartiqlError> {
        if self.eat_word("NOT") {
            self.enter()?;
            let inner = self.not();
            self.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, PartiqlError> {
        let left = self.additive()?;
        let comparator = match self.peek() {
            Tok::Sym("=") => Some(Comparator::Eq),
            Tok::Sym("<>" | "!=") => Some(Comparator::Ne),
            Tok::Sym("<") => Some(Comparator::Lt),
            Tok::Sym("<=") => Some(Comparator::Le),
            Tok::Sym(">") => Some(Comparator::Gt),
            Tok::Sym(">=") => Some(Comparator::Ge),
            _ => None,
        };
        if let Some(op) = comparator {
            self.at += 1;
            let right = self.additive()?;
            return Ok(Expr::Compare(op, Box::new(left), Box::new(right)));
        }
        let negated = self.is_word("NOT") && (self.is_word_at(1, "BETWEEN") || self.is_word_at(1, "IN"));
        if negated {
            self.at += 1;
        }
        let wrap = |e: Expr| if negated { Expr::Not(Box::new(e)) } else { e };
        if self.eat_word("BETWEEN") {
            let low = self.additive()?;
            self.expect_word("AND")?;
            let high = self.additive()?;
            return Ok(wrap(Expr::Between(Box::new(left), Box::new(low), Box::new(high))));
        }
        if self.eat_word("IN") {
            let close = if self.eat_sym("[") {
                "]"
            } else if self.eat_sym("(") {
                ")"
            } else {
                return Err(self.expected("'[' or '('"));
            };
            let list = self.items(close)?;
            if list.is_empty() {
                return Err(PartiqlError::syntax("IN requires at least one value"));
            }
            return Ok(wrap(Expr::In(Box::new(left), list)));
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            let missing = if self.eat_word("MISSING") {
                true
            } else if self.eat_word("NULL") {
                false
            } else {
                return Err(self.expected("MISSING or NULL"));
            };
            return Ok(Expr::Is { subject: Box::new(left), missing, negated });
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, PartiqlError> {
        let mut left = self.primary()?;
        loop {
            let plus = if self.is_sym("+") {
                true
            } else if self.is_sym("-") {
                false
            } else {
                return Ok(left);
            };
            self.at += 1;
            let right = self.primary()?;
            left = Expr::Arithmetic { plus, left: Box::new(left), right: Box::new(right) };
        }
    }

    /// Comma-separated expressions up to `close` (consumed).
    fn items(&mut self, close: &str) -> Result<Vec<Expr>, PartiqlError> {
        let mut items = Vec::new();
        if self.eat_sym(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat_sym(close) {
                return Ok(items);
            }
            self.expect_sym(",")?;
        }
    }

    fn number(&self, text: &str, negative: bool) -> Result<Expr, PartiqlError> {
        let number =
            Number::parse(text).map_err(|e| PartiqlError::syntax(format!("Invalid number '{text}': {e}")))?;
        Ok(Expr::Literal(AttributeValue::N(if negative { number.negated() } else { number })))
    }

    fn primary(&mut self) -> Result<Expr, PartiqlError> {
        self.enter()?;
        let result = self.primary_inner();
        self.leave();
        result
    }

    fn primary_inner(&mut self) -> Result<Expr, PartiqlError> {
        match self.advance() {
            Tok::Str(s) => Ok(Expr::Literal(AttributeValue::S(s))),
            Tok::Num(n) => self.number(&n, false),
            Tok::Sym("-") => match self.advance() {
                Tok::Num(n) => self.number(&n, true),
                _ => {
                    self.at -= 1;
                    Err(self.expected("a number"))
                }
            },
            Tok::Param => {
                self.parameters += 1;
                Ok(Expr::Parameter(self.parameters - 1))
            }
            Tok::Sym("(") => {
                let inner = self.expr()?;
                self.expect_sym(")")?;
                Ok(inner)
            }
            Tok::Sym("[") => Ok(Expr::List(self.items("]")?)),
            Tok::Sym("<<") => Ok(Expr::Set(self.items(">>")?)),
            Tok::Sym("{") => self.map(),
            Tok::Quoted(q) => self.path_rest(q).map(Expr::Path),
            Tok::Word(w) => {
                if self.is_sym("(") {
                    self.at += 1;
                    let args = self.items(")")?;
                    return Ok(Expr::Call(w.to_ascii_lowercase(), args));
                }
                match w.to_ascii_uppercase().as_str() {
                    "TRUE" => Ok(Expr::Literal(AttributeValue::Bool(true))),
                    "FALSE" => Ok(Expr::Literal(AttributeValue::Bool(false))),
                    "NULL" => Ok(Expr::Literal(AttributeValue::Null)),
                    "MISSING" => Ok(Expr::Missing),
                    "SELECT" | "FROM" | "WHERE" | "AND" | "OR" | "NOT" | "BETWEEN" | "IN" | "IS" | "SET"
                    | "REMOVE" | "VALUE" | "RETURNING" => {
                        self.at -= 1;
                        Err(self.unexpected())
                    }
                    _ => self.path_rest(w).map(Expr::Path),
                }
            }
            _ => {
                self.at -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn map(&mut self) -> Result<Expr, PartiqlError> {
        let mut entries: Vec<(String, Expr)> = Vec::new();
        if self.eat_sym("}") {
            return Ok(Expr::Map(entries));
        }
        loop {
            let key = match self.advance() {
                Tok::Str(s) => s,
                _ => {
                    self.at -= 1;
                    return Err(self.expected("a string literal as a map key"));
                }
            };
            self.expect_sym(":")?;
            let value = self.expr()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(PartiqlError::syntax(format!("Duplicate map key '{key}'")));
            }
            entries.push((key, value));
            if self.eat_sym("}") {
                return Ok(Expr::Map(entries));
            }
            self.expect_sym(",")?;
        }
    }
}
