//! Splits expression text into tokens with their byte spans, so that syntax errors can quote
//! the source around the offending token the way DynamoDB does.

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: `[A-Za-z][A-Za-z0-9_]*` (attribute names, keywords, function names).
    Word,
    /// An expression attribute name, `#` followed by `[A-Za-z0-9_]+`.
    Name,
    /// An expression attribute value, `:` followed by `[A-Za-z0-9_]+`.
    Value,
    /// A run of decimal digits (list indexes).
    Digits,
    /// Punctuation or an operator: `( ) [ ] , . = <> < <= > >= + -`.
    Symbol,
    /// A character the language does not know; always a syntax error.
    Unknown,
    /// The end of the text.
    Eof,
}

/// One token: its kind and where it sits in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's text as DynamoDB quotes it in a syntax error.
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        match self.kind {
            TokenKind::Eof => "<EOF>",
            _ => source.get(self.start..self.end).unwrap_or(""),
        }
    }

    /// True when the token is the word `word`, in any case.
    pub fn is_word(&self, source: &str, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text(source).eq_ignore_ascii_case(word)
    }

    /// True when the token is the symbol `symbol`.
    pub fn is_symbol(&self, source: &str, symbol: &str) -> bool {
        self.kind == TokenKind::Symbol && self.text(source) == symbol
    }
}

fn is_word_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Tokenizes `source`; the last token is always [`TokenKind::Eof`].
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                while i < bytes.len() && is_word_part(bytes[i]) {
                    i += 1;
                }
                TokenKind::Word
            }
            b'0'..=b'9' => {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                TokenKind::Digits
            }
            b'#' | b':' => {
                i += 1;
                while i < bytes.len() && is_word_part(bytes[i]) {
                    i += 1;
                }
                if i == start + 1 {
                    TokenKind::Unknown
                } else if c == b'#' {
                    TokenKind::Name
                } else {
                    TokenKind::Value
                }
            }
            b'<' => {
                i += 1;
                if i < bytes.len() && (bytes[i] == b'=' || bytes[i] == b'>') {
                    i += 1;
                }
                TokenKind::Symbol
            }
            b'>' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'=' {
                    i += 1;
                }
                TokenKind::Symbol
            }
            b'(' | b')' | b'[' | b']' | b',' | b'.' | b'=' | b'+' | b'-' => {
                i += 1;
                TokenKind::Symbol
            }
            _ => {
                // One whole character, so the quoted token is valid UTF-8.
                let width = source[i..].chars().next().map_or(1, char::len_utf8);
                i += width;
                TokenKind::Unknown
            }
        };
        tokens.push(Token { kind, start, end: i });
    }
    tokens.push(Token { kind: TokenKind::Eof, start: source.len(), end: source.len() });
    tokens
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kinds_and_texts(source: &str) -> Vec<(TokenKind, String)> {
        tokenize(source).iter().map(|t| (t.kind.clone(), t.text(source).to_string())).collect()
    }

    #[test]
    fn tokenizer_splits_words_placeholders_and_symbols() {
        let got = kinds_and_texts("a.b[3] <> :v AND #n>=size(x)");
        let want = [
            (TokenKind::Word, "a"),
            (TokenKind::Symbol, "."),
            (TokenKind::Word, "b"),
            (TokenKind::Symbol, "["),
            (TokenKind::Digits, "3"),
            (TokenKind::Symbol, "]"),
            (TokenKind::Symbol, "<>"),
            (TokenKind::Value, ":v"),
            (TokenKind::Word, "AND"),
            (TokenKind::Name, "#n"),
            (TokenKind::Symbol, ">="),
            (TokenKind::Word, "size"),
            (TokenKind::Symbol, "("),
            (TokenKind::Word, "x"),
            (TokenKind::Symbol, ")"),
            (TokenKind::Eof, "<EOF>"),
        ];
        assert_eq!(got.len(), want.len());
        for ((gk, gt), (wk, wt)) in got.iter().zip(want) {
            assert_eq!((gk, gt.as_str()), (&wk, wt));
        }
    }

    #[test]
    fn tokenizer_marks_unknown_characters_and_bare_sigils() {
        let got = kinds_and_texts("_a # : é!");
        assert_eq!(got[0], (TokenKind::Unknown, "_".to_string()));
        assert_eq!(got[1], (TokenKind::Word, "a".to_string()));
        assert_eq!(got[2], (TokenKind::Unknown, "#".to_string()));
        assert_eq!(got[3], (TokenKind::Unknown, ":".to_string()));
        assert_eq!(got[4], (TokenKind::Unknown, "é".to_string()));
        assert_eq!(got[5], (TokenKind::Unknown, "!".to_string()));
    }
}
