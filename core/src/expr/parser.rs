//! The grammar of all expression languages, producing the syntax tree of [`super::syntax`],
//! whose names and values are still unresolved placeholders. Only syntax errors and hard bounds fail here; every
//! other check runs on the tree afterwards, in the order DynamoDB reports them.
//!
//! The parser is recursive descent with an explicit depth counter, so hostile nesting ends in
//! an error long before the stack is at risk.

use super::lexer::{Token, TokenKind, tokenize};
use super::syntax::{
    Clause, Comparator, ParseNotes, RawAction, RawCondition, RawElement, RawOperand, RawPath, RawUpdate,
};
use super::{
    DOCUMENT_PATH_DEPTH_MAX, EXPRESSION_BYTES_MAX, ExprError, ExpressionKind, NESTING_DEPTH_MAX,
    OPERATORS_MAX,
};

/// Something inside parentheses: a condition, or an operand that a comparison continues.
enum Unit {
    Condition(RawCondition),
    Operand(RawOperand),
}

type Parsed<T> = Result<T, ExprError>;

/// Checks the bounds every expression shares, before any parsing.
fn check_text(text: &str, kind: ExpressionKind) -> Parsed<()> {
    if text.len() > EXPRESSION_BYTES_MAX {
        return Err(ExprError::invalid(
            kind,
            format!("Expression size has exceeded the maximum allowed size; expression size: {}", text.len()),
        ));
    }
    if text.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
        return Err(ExprError::invalid(kind, "The expression can not be empty;"));
    }
    Ok(())
}

pub(crate) struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    kind: ExpressionKind,
    depth: usize,
    operators: usize,
    /// Token positions of the `(` and `)` of the last parenthesized group closed.
    last_group: Option<(usize, usize)>,
    notes: ParseNotes,
}

impl<'s> Parser<'s> {
    fn new(source: &'s str, kind: ExpressionKind) -> Parsed<Self> {
        check_text(source, kind)?;
        Ok(Parser {
            source,
            tokens: tokenize(source),
            pos: 0,
            kind,
            depth: 0,
            operators: 0,
            last_group: None,
            notes: ParseNotes::default(),
        })
    }

    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn peek_symbol(&self, symbol: &str) -> bool {
        self.peek().is_symbol(self.source, symbol)
    }

    fn peek_word(&self, word: &str) -> bool {
        self.peek().is_word(self.source, word)
    }

    fn peek_next_symbol(&self, symbol: &str) -> bool {
        self.tokens.get(self.pos + 1).is_some_and(|t| t.is_symbol(self.source, symbol))
    }

    fn text(&self) -> &'s str {
        self.peek().text(self.source)
    }

    /// DynamoDB's syntax error at the current token, quoting the source from the previous
    /// token to the next one.
    fn syntax_error(&self) -> ExprError {
        let here = self.peek();
        let start = if self.pos > 0 { self.tokens[self.pos - 1].start } else { here.start };
        let end = match self.tokens.get(self.pos + 1) {
            Some(next) if next.kind != TokenKind::Eof => next.end,
            _ => here.end,
        };
        let near = self.source.get(start..end).unwrap_or("");
        ExprError::invalid(
            self.kind,
            format!("Syntax error; token: \"{}\", near: \"{near}\"", here.text(self.source)),
        )
    }

    fn expect_symbol(&mut self, symbol: &str) -> Parsed<()> {
        if self.peek_symbol(symbol) {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn expect_eof(&self) -> Parsed<()> {
        if self.peek().kind == TokenKind::Eof { Ok(()) } else { Err(self.syntax_error()) }
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > NESTING_DEPTH_MAX {
            return Err(ExprError::invalid(
                self.kind,
                format!(
                    "The expression has too many nested parentheses or function calls; \
                     nesting depth limit: {NESTING_DEPTH_MAX}"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn count_operator(&mut self) -> Parsed<()> {
        self.operators += 1;
        if self.operators > OPERATORS_MAX {
            return Err(ExprError::invalid(
                self.kind,
                format!(
                    "The expression contains too many operators; operator count: {}, maximum: {OPERATORS_MAX}",
                    self.operators
                ),
            ));
        }
        Ok(())
    }

    /// Words that end a path or operand instead of naming an attribute in this language.
    fn is_keyword(&self, token: &Token) -> bool {
        let words: &[&str] = match self.kind {
            ExpressionKind::Update => &["SET", "REMOVE", "ADD", "DELETE"],
            ExpressionKind::Projection => &[],
            _ => &["AND", "OR", "NOT", "BETWEEN", "IN"],
        };
        words.iter().any(|w| token.is_word(self.source, w))
    }

    // ---- paths and operands ----

    fn path_element_name(&mut self) -> Parsed<RawElement> {
        let token = self.peek().clone();
        let element = match token.kind {
            TokenKind::Word if !self.is_keyword(&token) => RawElement::Word(self.text().to_string()),
            TokenKind::Name => RawElement::Name(self.text().to_string()),
            _ => return Err(self.syntax_error()),
        };
        self.advance();
        Ok(element)
    }

    fn path(&mut self) -> Parsed<RawPath> {
        let mut elements = vec![self.path_element_name()?];
        loop {
            if self.peek_symbol(".") {
                self.advance();
                elements.push(self.path_element_name()?);
            } else if self.peek_symbol("[") {
                self.advance();
                if self.peek().kind != TokenKind::Digits {
                    return Err(self.syntax_error());
                }
                let index: usize = self.text().parse().map_err(|_| self.syntax_error())?;
                self.advance();
                self.expect_symbol("]")?;
                elements.push(RawElement::Index(index));
            } else {
                break;
            }
            if elements.len() > DOCUMENT_PATH_DEPTH_MAX {
                return Err(ExprError::invalid(
                    self.kind,
                    format!(
                        "The document path has too many nesting levels; nesting levels: {}",
                        elements.len()
                    ),
                ));
            }
        }
        Ok(RawPath { elements })
    }

    /// A path, a value placeholder, a function call or (in update expressions) a
    /// parenthesized operand.
    fn operand(&mut self) -> Parsed<RawOperand> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Value => {
                let name = self.text().to_string();
                self.advance();
                Ok(RawOperand::Value(name))
            }
            TokenKind::Word if self.peek_next_symbol("(") && !self.is_keyword(&token) => {
                let name = self.text().to_string();
                self.advance();
                self.advance();
                self.count_operator()?;
                self.enter()?;
                let mut args = vec![self.operand()?];
                while self.peek_symbol(",") {
                    self.advance();
                    args.push(self.operand()?);
                }
                self.expect_symbol(")")?;
                self.leave();
                Ok(RawOperand::Call { name, args })
            }
            TokenKind::Word | TokenKind::Name => Ok(RawOperand::Path(self.path()?)),
            TokenKind::Symbol if self.peek_symbol("(") => {
                let open = self.pos;
                self.advance();
                self.enter()?;
                let inner =
                    if self.kind == ExpressionKind::Update { self.set_value()? } else { self.operand()? };
                self.expect_symbol(")")?;
                self.leave();
                self.close_group(open);
                Ok(inner)
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// Records a closed group and notes a pair directly around another pair.
    fn close_group(&mut self, open: usize) {
        let close = self.pos.saturating_sub(1);
        if open + 1 < close && self.last_group == Some((open + 1, close - 1)) {
            self.notes.redundant_parentheses = true;
        }
        self.last_group = Some((open, close));
    }

    // ---- conditions ----

    fn or(&mut self) -> Parsed<Unit> {
        let first = self.and()?;
        if !self.peek_word("OR") {
            return Ok(first);
        }
        let mut items = vec![self.condition_of(first)?];
        while self.peek_word("OR") {
            self.advance();
            self.count_operator()?;
            let next = self.and()?;
            items.push(self.condition_of(next)?);
        }
        Ok(Unit::Condition(RawCondition::Or(items)))
    }

    fn and(&mut self) -> Parsed<Unit> {
        let first = self.not()?;
        if !self.peek_word("AND") {
            return Ok(first);
        }
        let mut items = vec![self.condition_of(first)?];
        while self.peek_word("AND") {
            self.advance();
            self.count_operator()?;
            let next = self.not()?;
            items.push(self.condition_of(next)?);
        }
        Ok(Unit::Condition(RawCondition::And(items)))
    }

    fn not(&mut self) -> Parsed<Unit> {
        if self.peek_word("NOT") {
            self.advance();
            self.count_operator()?;
            self.enter()?;
            let inner = self.not()?;
            let inner = self.condition_of(inner)?;
            self.leave();
            return Ok(Unit::Condition(RawCondition::Not(Box::new(inner))));
        }
        self.primary()
    }

    /// A unit where a condition must stand: a bare operand there is a syntax error at the
    /// token after it.
    fn condition_of(&self, unit: Unit) -> Parsed<RawCondition> {
        match unit {
            Unit::Condition(c) => Ok(c),
            Unit::Operand(RawOperand::Call { name, args }) => Ok(RawCondition::Call { name, args }),
            Unit::Operand(_) => Err(self.syntax_error()),
        }
    }

    fn primary(&mut self) -> Parsed<Unit> {
        if self.peek_symbol("(") {
            let open = self.pos;
            self.advance();
            self.enter()?;
            let inner = self.or()?;
            self.expect_symbol(")")?;
            self.leave();
            self.close_group(open);
            return match inner {
                Unit::Condition(c) => Ok(Unit::Condition(c)),
                Unit::Operand(o) => self.comparison_after(o),
            };
        }
        let left = self.operand()?;
        self.comparison_after(left)
    }

    /// Continues after a left operand: a comparison, BETWEEN, IN, or nothing (a function
    /// used as a condition, or an operand closing a parenthesized group).
    fn comparison_after(&mut self, left: RawOperand) -> Parsed<Unit> {
        if self.peek().kind == TokenKind::Symbol
            && let Some(op) = Comparator::parse(self.text())
        {
            self.advance();
            self.count_operator()?;
            let right = self.operand()?;
            return Ok(Unit::Condition(RawCondition::Compare { op, left, right }));
        }
        if self.peek_word("BETWEEN") {
            self.advance();
            self.count_operator()?;
            let low = self.operand()?;
            if !self.peek_word("AND") {
                return Err(self.syntax_error());
            }
            self.advance();
            let high = self.operand()?;
            return Ok(Unit::Condition(RawCondition::Between { subject: left, low, high }));
        }
        if self.peek_word("IN") {
            self.advance();
            self.count_operator()?;
            self.expect_symbol("(")?;
            let mut list = vec![self.operand()?];
            while self.peek_symbol(",") {
                self.advance();
                list.push(self.operand()?);
            }
            self.expect_symbol(")")?;
            return Ok(Unit::Condition(RawCondition::In { subject: left, list }));
        }
        match left {
            // Inside parentheses a comparison may still follow: `(size(a)) > :v`.
            other if self.peek_symbol(")") && self.depth > 0 => Ok(Unit::Operand(other)),
            RawOperand::Call { name, args } => Ok(Unit::Condition(RawCondition::Call { name, args })),
            _ => Err(self.syntax_error()),
        }
    }

    // ---- update ----

    /// The right side of a SET action: an operand, or two joined by `+` or `-`.
    fn set_value(&mut self) -> Parsed<RawOperand> {
        let left = self.operand()?;
        let plus = if self.peek_symbol("+") {
            true
        } else if self.peek_symbol("-") {
            false
        } else {
            return Ok(left);
        };
        self.advance();
        self.count_operator()?;
        let right = self.operand()?;
        Ok(RawOperand::Arithmetic { plus, left: Box::new(left), right: Box::new(right) })
    }

    fn clause_keyword(&self) -> Option<Clause> {
        [Clause::Set, Clause::Remove, Clause::Add, Clause::Delete]
            .into_iter()
            .find(|c| self.peek_word(c.keyword()))
    }

    fn value_placeholder(&mut self) -> Parsed<String> {
        if self.peek().kind != TokenKind::Value {
            return Err(self.syntax_error());
        }
        let name = self.text().to_string();
        self.advance();
        Ok(name)
    }

    fn update(&mut self) -> Parsed<RawUpdate> {
        let mut update = RawUpdate { actions: Vec::new(), repeated_clause: None };
        let mut seen: Vec<Clause> = Vec::new();
        loop {
            let Some(clause) = self.clause_keyword() else {
                return Err(self.syntax_error());
            };
            self.advance();
            if seen.contains(&clause) {
                update.repeated_clause.get_or_insert(clause);
            }
            seen.push(clause);
            loop {
                let path = self.path()?;
                let action = match clause {
                    Clause::Set => {
                        self.expect_symbol("=")?;
                        RawAction::Set(path, self.set_value()?)
                    }
                    Clause::Remove => RawAction::Remove(path),
                    Clause::Add => RawAction::Add(path, self.value_placeholder()?),
                    Clause::Delete => RawAction::Delete(path, self.value_placeholder()?),
                };
                update.actions.push(action);
                if !self.peek_symbol(",") {
                    break;
                }
                self.advance();
            }
            if self.peek().kind == TokenKind::Eof {
                return Ok(update);
            }
        }
    }
}

/// Parses a condition (condition, filter or key condition expression).
pub(crate) fn parse_condition(text: &str, kind: ExpressionKind) -> Parsed<(RawCondition, ParseNotes)> {
    let mut parser = Parser::new(text, kind)?;
    let unit = parser.or()?;
    let condition = parser.condition_of(unit)?;
    parser.expect_eof()?;
    Ok((condition, parser.notes))
}

/// Parses an update expression.
pub(crate) fn parse_update(text: &str) -> Parsed<RawUpdate> {
    let mut parser = Parser::new(text, ExpressionKind::Update)?;
    let update = parser.update()?;
    parser.expect_eof()?;
    Ok(update)
}

/// Parses a projection expression.
pub(crate) fn parse_projection(text: &str) -> Parsed<Vec<RawPath>> {
    let mut parser = Parser::new(text, ExpressionKind::Projection)?;
    let mut paths = vec![parser.path()?];
    while parser.peek_symbol(",") {
        parser.advance();
        paths.push(parser.path()?);
    }
    parser.expect_eof()?;
    Ok(paths)
}
