//! Filters for what changes from one render to the next (pids, timings, dates, LSNs, the
//! server's port and folders), so that a fresh render of the book is byte-for-byte the same.

use regex::Regex;
use std::sync::OnceLock;

/// One rule: a pattern and what replaces it.
struct Rule {
    pattern: Regex,
    with: &'static str,
}

/// The rules every captured text goes through, in order.
fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        [
            // Timestamps, with or without fractions and zone.
            (
                r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?( UTC|[+-]\d\d(:\d\d)?)?",
                "<время>",
            ),
            // EXPLAIN ANALYZE timings.
            (r"actual time=[\d.]+\.\.[\d.]+", "actual time=<t>..<t>"),
            (r"(Planning|Execution) Time: [\d.]+ ms", "$1 Time: <t> ms"),
            // trace_sort, VACUUM VERBOSE and checkpoint timings.
            (r"\b\d+\.\d+ s\b", "<t> s"),
            (r"\b\d+\.\d+ MB/s", "<n> MB/s"),
            // Process ids in messages and log prefixes.
            (r"\b(PID|pid) \d+", "$1 <pid>"),
            (r"\[\d+\]", "[<pid>]"),
            // The random cookies of pg_background's handles, in its messages.
            (r"\bcookie \d+", "cookie <cookie>"),
            // WAL positions.
            (r"\b[0-9A-F]{1,8}/[0-9A-F]{1,8}\b", "<lsn>"),
            // Dynamic shared memory segment ids.
            (r"segment with ID \d+", "segment with ID <id>"),
        ]
        .into_iter()
        .map(|(pattern, with)| Rule {
            pattern: Regex::new(pattern).expect("a valid scrub pattern"),
            with,
        })
        .collect()
    })
}

/// Replaces in `text` what changes between runs, plus the given literal strings (a socket
/// folder, a port) by their names.
pub fn scrub(text: &str, literals: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (literal, name) in literals {
        if !literal.is_empty() {
            out = out.replace(literal.as_str(), name);
        }
    }
    for rule in rules() {
        out = rule.pattern.replace_all(&out, rule.with).into_owned();
    }
    out
}

/// The numbers in a line (for the checkpoint's statistics, which vary with the cluster's
/// history), each replaced by `N`.
pub fn numbers(text: &str) -> String {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    NUMBER
        .get_or_init(|| Regex::new(r"\b\d+(\.\d+)?\b").expect("a valid pattern"))
        .replace_all(text, "N")
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_what_changes() {
        let line = "2026-11-24 00:29:50.570 UTC [15857] postmaster LOG:  background worker \
                    \"x\" (PID 15864) exited";
        assert_eq!(
            scrub(line, &[]),
            "<время> [<pid>] postmaster LOG:  background worker \"x\" (PID <pid>) exited"
        );
        assert_eq!(
            scrub(
                "Parallel Seq Scan (actual time=0.011..35.2 rows=3 loops=3)",
                &[]
            ),
            "Parallel Seq Scan (actual time=<t>..<t> rows=3 loops=3)"
        );
        assert_eq!(scrub("lsn 0/1A2B3C4", &[]), "lsn <lsn>");
        assert_eq!(
            scrub(
                "cookie 4611686018427387904 does not match the background worker with PID 812",
                &[]
            ),
            "cookie <cookie> does not match the background worker with PID <pid>"
        );
        assert_eq!(
            scrub(
                "host=/x/run port=5433",
                &[("/x/run".into(), "<сокет>".into())]
            ),
            "host=<сокет> port=5433"
        );
        assert_eq!(numbers("wrote 3 buffers (0.0%)"), "wrote N buffers (N%)");
    }
}
