//! Splits a PartiQL statement into tokens: words, quoted identifiers, string and number
//! literals, `?` parameters and punctuation, each with its column for error messages.

use super::PartiqlError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A bare word: keyword, function name or identifier (`[A-Za-z_][A-Za-z0-9_$]*`).
    Word(String),
    /// A double-quoted identifier, unescaped.
    Quoted(String),
    /// A single-quoted string literal, unescaped.
    Str(String),
    /// A number literal as written (no sign).
    Num(String),
    /// `?`.
    Param,
    /// Punctuation or an operator.
    Sym(&'static str),
    /// The end of the statement.
    Eof,
}

/// A token and the 1-based column it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub column: usize,
}

/// Symbols, longest first so `<<` wins over `<` and `<=` over `<`.
const SYMBOLS: &[&str] = &[
    "<<", ">>", "<>", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ":", ".", "*", "=", "<", ">", "+",
    "-", ";",
];

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// Reads a quoted run starting after the opening `quote`; a doubled quote stands for itself.
fn quoted(chars: &[char], mut i: usize, quote: char, column: usize) -> Result<(String, usize), PartiqlError> {
    let mut out = String::new();
    loop {
        match chars.get(i) {
            None => {
                return Err(PartiqlError::syntax(format!("Unterminated quoted text at column {column}")));
            }
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    out.push(quote);
                    i += 2;
                } else {
                    return Ok((out, i + 1));
                }
            }
            Some(&c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Tokenizes `source`; the last token is always [`Tok::Eof`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, PartiqlError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            // A line comment.
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let tok = if is_word_start(c) {
            let start = i;
            while i < chars.len() && is_word_part(chars[i]) {
                i += 1;
            }
            Tok::Word(chars[start..i].iter().collect())
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            Tok::Num(chars[start..i].iter().collect())
        } else if c == '\'' {
            let (text, next) = quoted(&chars, i + 1, '\'', column)?;
            i = next;
            Tok::Str(text)
        } else if c == '"' {
            let (text, next) = quoted(&chars, i + 1, '"', column)?;
            i = next;
            Tok::Quoted(text)
        } else if c == '?' {
            i += 1;
            Tok::Param
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let Some(symbol) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) else {
                return Err(PartiqlError::syntax(format!("Unexpected character '{c}' at column {column}")));
            };
            i += symbol.len();
            Tok::Sym(symbol)
        };
        tokens.push(Token { tok, column });
    }
    tokens.push(Token { tok: Tok::Eof, column: chars.len() + 1 });
    Ok(tokens)
}
