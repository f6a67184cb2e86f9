//! SQL as the similar-answers report compares it: sqlparser's PostgreSQL tokenizer, with the
//! bodies of dollar quotes read as code, and every token normalised (keywords, literals by their
//! kind, names by the order they first appear in).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token as SqlToken, Tokenizer};
use std::collections::HashMap;

/// The text's tokens with comments and whitespace gone, keywords in lower case, literals as
/// their kind, and every other identifier named by the order it first appears in (so renaming
/// a variable changes nothing).
pub fn normalise(text: &str) -> Vec<String> {
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    tokenise(text, &mut |token| {
        out.push(match token {
            Token::Word(w) => {
                if KEYWORDS.binary_search(&w.as_str()).is_ok() {
                    w
                } else {
                    let n = names.len();
                    format!("id{}", names.entry(w).or_insert(n))
                }
            }
            Token::Quoted(w) => {
                let n = names.len();
                format!("id{}", names.entry(w).or_insert(n))
            }
            Token::String => "'s'".into(),
            Token::Number => "0".into(),
            Token::Param => "$n".into(),
            Token::Symbol(s) => s,
        })
    });
    out
}

/// A SQL token.
#[derive(Debug, PartialEq)]
enum Token {
    /// A keyword or an unquoted identifier, in lower case.
    Word(String),
    /// A quoted identifier, as written.
    Quoted(String),
    String,
    Number,
    /// `$1`.
    Param,
    Symbol(String),
}

/// Splits SQL into tokens with sqlparser's tokenizer in its PostgreSQL dialect, which reads
/// comments (nested ones too), every kind of string and quoted name, and dollar quotes, whose body
/// (a function's code) is tokenised in turn. SQL it cannot read to the end is read on by hand.
fn tokenise(text: &str, emit: &mut dyn FnMut(Token)) {
    let mut tokens = Vec::new();
    let stopped = Tokenizer::new(&PostgreSqlDialect {}, text)
        .with_unescape(false)
        .tokenize_with_location_into_buf(&mut tokens)
        .is_err();
    // The tokens read hold the whitespace too: the last one ends where the tokenizer stopped.
    let stopped_at = stopped.then(|| tokens.last().map_or(0, |t| offset(text, t.span.end)));
    for token in tokens {
        match token.token {
            SqlToken::Whitespace(_) | SqlToken::EOF => {}
            SqlToken::Word(w) if w.quote_style.is_some() => emit(Token::Quoted(w.value)),
            SqlToken::Word(w) => emit(Token::Word(w.value.to_lowercase())),
            SqlToken::Number(..) => emit(Token::Number),
            SqlToken::Placeholder(p)
                if p.len() > 1 && p[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                emit(Token::Param)
            }
            SqlToken::DollarQuotedString(quoted) => dollar_quoted(&quoted.value, emit),
            SqlToken::SingleQuotedString(_)
            | SqlToken::EscapedStringLiteral(_)
            | SqlToken::NationalStringLiteral(_)
            | SqlToken::UnicodeStringLiteral(_)
            | SqlToken::HexStringLiteral(_)
            | SqlToken::SingleQuotedByteStringLiteral(_) => emit(Token::String),
            other => emit(Token::Symbol(other.to_string())),
        }
    }
    if let Some(at) = stopped_at {
        unread(&text[at..], emit);
    }
}

/// A dollar-quoted body, read as the code it usually is.
fn dollar_quoted(body: &str, emit: &mut dyn FnMut(Token)) {
    emit(Token::Symbol("$$".into()));
    tokenise(body, emit);
    emit(Token::Symbol("$$".into()));
}

/// What the tokenizer stopped at (an answer cut short or broken), read to the end all the same: an
/// unterminated dollar quote is a body still, an unterminated string or quoted name one token, an
/// unterminated comment nothing; anything else is a symbol, and the rest is read after it.
fn unread(rest: &str, emit: &mut dyn FnMut(Token)) {
    let tag = rest
        .strip_prefix('$')
        .map(|r| r.find(|c: char| !(c.is_alphanumeric() || c == '_')))
        .and_then(|end| end.filter(|&end| rest[1 + end..].starts_with('$')));
    let prefix = rest.find('\'').filter(|&quote| {
        ["", "E", "B", "X", "N", "U&"]
            .iter()
            .any(|p| rest[..quote].eq_ignore_ascii_case(p))
    });
    if let Some(end) = tag {
        dollar_quoted(&rest[end + 2..], emit);
    } else if prefix.is_some() {
        emit(Token::String);
    } else if let Some(name) = rest.strip_prefix('"') {
        emit(Token::Quoted(name.to_string()));
    } else if !rest.starts_with("/*") {
        if let Some(c) = rest.chars().next() {
            emit(Token::Symbol(c.to_string()));
            tokenise(&rest[c.len_utf8()..], emit);
        }
    }
}

/// The byte offset of a tokenizer location (a line and a column of characters, from 1).
fn offset(text: &str, at: Location) -> usize {
    let line: usize = text
        .split_inclusive('\n')
        .take(at.line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    line + text[line..]
        .chars()
        .take(at.column.saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum::<usize>()
}

/// SQL and PL/pgSQL keywords (sorted): kept as they are, unlike the names a student chooses.
const KEYWORDS: [&str; 124] = [
    "all",
    "alter",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "begin",
    "between",
    "bigint",
    "boolean",
    "by",
    "call",
    "case",
    "cast",
    "close",
    "coalesce",
    "commit",
    "constant",
    "continue",
    "create",
    "cross",
    "cursor",
    "declare",
    "default",
    "delete",
    "desc",
    "diagnostics",
    "distinct",
    "do",
    "double",
    "drop",
    "else",
    "elsif",
    "end",
    "errcode",
    "exception",
    "execute",
    "exists",
    "exit",
    "false",
    "fetch",
    "filter",
    "for",
    "foreach",
    "format",
    "from",
    "full",
    "function",
    "get",
    "group",
    "having",
    "if",
    "ilike",
    "immutable",
    "in",
    "inner",
    "inout",
    "insert",
    "integer",
    "interval",
    "into",
    "is",
    "join",
    "language",
    "left",
    "like",
    "limit",
    "loop",
    "message",
    "not",
    "notice",
    "null",
    "numeric",
    "of",
    "offset",
    "on",
    "open",
    "or",
    "order",
    "out",
    "outer",
    "over",
    "perform",
    "plpgsql",
    "precision",
    "procedure",
    "raise",
    "record",
    "replace",
    "return",
    "returning",
    "returns",
    "right",
    "rollback",
    "row",
    "rows",
    "select",
    "set",
    "setof",
    "smallint",
    "sql",
    "sqlerrm",
    "sqlstate",
    "stable",
    "strict",
    "table",
    "text",
    "then",
    "timestamptz",
    "true",
    "union",
    "update",
    "using",
    "vacuum",
    "values",
    "varchar",
    "void",
    "volatile",
    "when",
    "where",
    "while",
    "window",
    "with",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_sorted() {
        let mut sorted = KEYWORDS;
        sorted.sort();
        assert_eq!(sorted, KEYWORDS);
    }

    #[test]
    fn comments_names_and_literals_do_not_count() {
        let a = "CREATE FUNCTION f(n int) RETURNS int LANGUAGE plpgsql AS $$
            BEGIN -- count up
                RETURN n + 1; /* a /* nested */ comment */
            END $$;";
        let b = "create function g(m int) returns int language plpgsql as $body$
            begin return m + 2; end
            $body$;";
        assert_eq!(normalise(a), normalise(b));
        let strings = normalise("SELECT 'it''s', E'a\\'b', \"Col\" FROM t WHERE x = $1");
        assert_eq!(
            strings,
            ["select", "'s'", ",", "'s'", ",", "id0", "from", "id1", "where", "id2", "=", "$n"]
        );
    }

    #[test]
    fn what_does_not_end_is_read_to_the_end() {
        // An answer cut short still counts: a dollar quote's body as code, a string or a name
        // as one token, a comment as nothing.
        let body = "CREATE FUNCTION f() RETURNS int AS $f$ BEGIN RETURN x; END";
        assert_eq!(
            normalise(body)[7..],
            ["as", "$$", "begin", "return", "id2", ";", "end", "$$"]
        );
        assert_eq!(normalise("SELECT 1, E'it"), ["select", "0", ",", "'s'"]);
        assert_eq!(normalise("SELECT \"Col"), ["select", "id0"]);
        assert_eq!(normalise("SELECT 1 /* open"), ["select", "0"]);
    }
}
