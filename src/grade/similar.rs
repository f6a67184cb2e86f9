//! Similar answers: SQL tokenised (comments and whitespace dropped, dollar-quoted bodies read as
//! code, literals and identifiers normalised), compared by shared token runs, for a person to
//! look at. What the starter gives everyone is left out, and answers close to the reference
//! solution are listed once each instead of pairing them all with one another.

use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

/// Answers this alike or more are reported.
pub const THRESHOLD: f64 = 0.8;
/// Token runs compared: long enough that common idioms alone do not match.
const RUN: usize = 6;
/// Answers with fewer runs of their own (beyond the starter) are too short to judge.
const MIN_RUNS: usize = 15;
/// The pairs listed at most; the rest are counted.
const MAX_PAIRS: usize = 100;

/// Two students' answers to one lab that are suspiciously alike.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub lab: u32,
    pub a: String,
    pub b: String,
    /// Shared token runs over all their token runs (Jaccard), 0 to 1.
    pub similarity: f64,
}

/// A student's answer that is close to the lab's reference solution.
#[derive(Debug, Clone, Serialize)]
pub struct NearReference {
    pub lab: u32,
    pub student: String,
    pub similarity: f64,
}

/// Students whose answers to one lab are alike pair by pair, linked: a pair, or a group that
/// shares one answer (listing all its pairs would bury the rest).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub lab: u32,
    pub students: Vec<String>,
    /// The alike pairs inside the group, and their lowest and highest similarity.
    pub pairs: usize,
    pub min_similarity: f64,
    pub max_similarity: f64,
}

/// What the comparison found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    /// The alike pairs linked into groups, the most alike first.
    pub groups: Vec<Group>,
    pub pairs: Vec<Pair>,
    /// Pairs beyond the ones listed.
    pub more_pairs: usize,
    pub near_reference: Vec<NearReference>,
    /// Answers too short (beyond the starter) to compare.
    pub too_short: usize,
}

/// One lab's texts to compare: the reference, the starter and the students' answers.
pub struct LabAnswers<'a> {
    pub lab: u32,
    pub reference: &'a str,
    pub starter: &'a str,
    pub answers: Vec<(&'a str, &'a str)>,
}

/// Compares the answers of every lab.
pub fn find(labs: &[LabAnswers]) -> Findings {
    let mut findings = Findings::default();
    let mut pairs = Vec::new();
    for lab in labs {
        let starter = runs(lab.starter);
        let own =
            |text: &str| -> BTreeSet<u64> { runs(text).difference(&starter).copied().collect() };
        let reference = own(lab.reference);
        let mut candidates: Vec<(&str, BTreeSet<u64>)> = Vec::new();
        for (student, text) in &lab.answers {
            let set = own(text);
            if set.len() < MIN_RUNS {
                findings.too_short += 1;
                continue;
            }
            let to_reference = jaccard(&set, &reference);
            if to_reference >= THRESHOLD {
                findings.near_reference.push(NearReference {
                    lab: lab.lab,
                    student: student.to_string(),
                    similarity: round(to_reference),
                });
            } else {
                candidates.push((student, set));
            }
        }
        for (i, (a, set_a)) in candidates.iter().enumerate() {
            for (b, set_b) in &candidates[i + 1..] {
                let similarity = jaccard(set_a, set_b);
                if similarity >= THRESHOLD {
                    pairs.push(Pair {
                        lab: lab.lab,
                        a: a.to_string(),
                        b: b.to_string(),
                        similarity: round(similarity),
                    });
                }
            }
        }
    }
    pairs.sort_by(|x, y| {
        y.similarity
            .total_cmp(&x.similarity)
            .then_with(|| (x.lab, &x.a, &x.b).cmp(&(y.lab, &y.a, &y.b)))
    });
    findings.groups = groups(&pairs);
    findings.more_pairs = pairs.len().saturating_sub(MAX_PAIRS);
    pairs.truncate(MAX_PAIRS);
    findings.pairs = pairs;
    findings
}

/// Links the pairs of each lab into groups (connected components).
fn groups(pairs: &[Pair]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for pair in pairs {
        let mut hits: Vec<usize> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.lab == pair.lab && (g.students.contains(&pair.a) || g.students.contains(&pair.b))
            })
            .map(|(i, _)| i)
            .collect();
        let mut group = Group {
            lab: pair.lab,
            students: vec![pair.a.clone(), pair.b.clone()],
            pairs: 1,
            min_similarity: pair.similarity,
            max_similarity: pair.similarity,
        };
        hits.sort_unstable_by(|x, y| y.cmp(x));
        for i in hits {
            let other = groups.remove(i);
            group.students.extend(other.students);
            group.pairs += other.pairs;
            group.min_similarity = group.min_similarity.min(other.min_similarity);
            group.max_similarity = group.max_similarity.max(other.max_similarity);
        }
        group.students.sort();
        group.students.dedup();
        groups.push(group);
    }
    groups.sort_by(|x, y| {
        y.max_similarity
            .total_cmp(&x.max_similarity)
            .then_with(|| y.students.len().cmp(&x.students.len()))
            .then_with(|| (x.lab, &x.students).cmp(&(y.lab, &y.students)))
    });
    groups
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Shared over all, of two sets.
fn jaccard(a: &BTreeSet<u64>, b: &BTreeSet<u64>) -> f64 {
    let shared = a.intersection(b).count();
    let all = a.len() + b.len() - shared;
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

/// The hashed runs of `RUN` normalised tokens of a text.
fn runs(text: &str) -> BTreeSet<u64> {
    let tokens = normalise(text);
    tokens
        .windows(RUN)
        .map(|w| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            w.hash(&mut hasher);
            hasher.finish()
        })
        .collect()
}

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

/// Splits SQL into tokens the way PostgreSQL's lexer does in the parts that matter here:
/// `--` and nested `/* */` comments, '' and E'\'' strings, "quoted" identifiers, and dollar
/// quotes, whose body (a function's code) is tokenised in turn.
fn tokenise(text: &str, emit: &mut dyn FnMut(Token)) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < n {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '\'' || ((c == 'e' || c == 'E') && next == Some('\'')) {
            let escapes = c != '\'';
            i += if escapes { 2 } else { 1 };
            while i < n {
                let escaped = escapes && chars[i] == '\\';
                let doubled = chars[i] == '\'' && chars.get(i + 1) == Some(&'\'');
                if escaped || doubled {
                    i += 2;
                } else if chars[i] == '\'' {
                    i += 1;
                    break;
                } else {
                    i += 1;
                }
            }
            emit(Token::String);
        } else if c == '"' {
            let start = i + 1;
            i += 1;
            while i < n && !(chars[i] == '"' && chars.get(i + 1) != Some(&'"')) {
                i += if chars[i] == '"' { 2 } else { 1 };
            }
            emit(Token::Quoted(chars[start..i.min(n)].iter().collect()));
            i += 1;
        } else if c == '$' && next.is_some_and(|d| d.is_ascii_digit()) {
            i += 1;
            while i < n && chars[i].is_ascii_digit() {
                i += 1;
            }
            emit(Token::Param);
        } else if c == '$' {
            // A dollar quote: $$ or $tag$, up to the same delimiter.
            let mut j = i + 1;
            while j < n && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j < n && chars[j] == '$' {
                let delimiter: String = chars[i..=j].iter().collect();
                let body_start = j + 1;
                let rest: String = chars[body_start..].iter().collect();
                let body_len = rest.find(&delimiter).unwrap_or(rest.len());
                let body = &rest[..body_len];
                emit(Token::Symbol("$$".into()));
                tokenise(body, emit);
                emit(Token::Symbol("$$".into()));
                i = body_start + body.chars().count() + delimiter.chars().count();
            } else {
                emit(Token::Symbol("$".into()));
                i += 1;
            }
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|d| d.is_ascii_digit())) {
            while i < n && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            emit(Token::Number);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            emit(Token::Word(
                chars[start..i].iter().collect::<String>().to_lowercase(),
            ));
        } else if "+-*/<>=~!@#%^&|`?".contains(c) {
            let start = i;
            while i < n && "+-*/<>=~!@#%^&|`?".contains(chars[i]) {
                if chars[i] == '-' && chars.get(i + 1) == Some(&'-') && i > start {
                    break;
                }
                i += 1;
            }
            emit(Token::Symbol(chars[start..i].iter().collect()));
        } else {
            emit(Token::Symbol(c.to_string()));
            i += 1;
        }
    }
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
    fn alike_pairs_are_found_and_the_reference_listed_once() {
        let body = |name: &str, extra: &str| {
            format!(
                "CREATE FUNCTION {name}(a int, b int) RETURNS int LANGUAGE plpgsql AS $$
                 DECLARE s int := 0; i int;
                 BEGIN FOR i IN 1..a LOOP s := s + i * b; IF s > 100 THEN EXIT; END IF;
                 END LOOP; {extra} RETURN s; END $$;"
            )
        };
        let reference = body("f", "");
        let copied = body(
            "g",
            "RAISE NOTICE 'x'; s := s * 2; IF s < 0 THEN s := -s; END IF; \
             WHILE s > 1000 LOOP s := s / 2; END LOOP; PERFORM pg_sleep(0);",
        );
        let other = "SELECT 1 FROM generate_series(1, 10) AS g WHERE g % 2 = 0 ORDER BY g DESC \
                     LIMIT 3 OFFSET 1; SELECT now(), clock_timestamp(), 5 * 7;";
        let lab = LabAnswers {
            lab: 1,
            reference: &reference,
            starter: "",
            answers: vec![
                ("ann", &reference),
                ("bob", &copied),
                ("cid", &copied),
                ("dan", other),
            ],
        };
        let found = find(&[lab]);
        assert_eq!(found.near_reference.len(), 1, "{found:?}");
        assert_eq!(found.near_reference[0].student, "ann");
        assert_eq!(found.pairs.len(), 1, "{found:?}");
        assert_eq!(
            (found.pairs[0].a.as_str(), found.pairs[0].b.as_str()),
            ("bob", "cid")
        );
    }
}
