//! Rendering a verdict for people (text, and what changed since the last one) and for programs
//! (JSON, JUnit XML, Gradescope), a format a file; what they share (a check's output and a load
//! error as plain text) is here.

mod changes;
mod gradescope;
mod json;
mod junit;
mod snippet;
mod text;

pub use changes::changes;
pub use gradescope::gradescope;
pub use json::json;
pub use junit::{junit, junit_document};
pub use text::text;

use crate::verdict::{CheckResult, LoadError, Verdict};
use std::fmt::Write;

/// Why the answer did not load, as plain text: what went wrong (and on which datasets, when it
/// did not fail on all of the verdict's), then where, with the file's line marked.
pub fn load_error_text(verdict: &Verdict, e: &LoadError) -> String {
    let partial = verdict.results.iter().any(|r| !verdict.not_loaded(r));
    let on = if partial {
        format!(" на данных {}", e.datasets.join(", "))
    } else {
        String::new()
    };
    let mut out = format!("Файл не выполнился{on}: {}", e.reason());
    if let (Some(line), Some(column)) = (e.line, e.column) {
        out.push('\n');
        out.push_str(&snippet::snippet(line, column, e.source_line.as_deref()));
    }
    out
}

/// What a check said, as plain text: the message, what was found, the diff and the hint.
fn check_output(r: &CheckResult) -> String {
    let mut out = format!("{}: {}", r.status.label(), r.message);
    if let Some(detail) = &r.detail {
        let _ = write!(out, "\nПодробно: {detail}");
    }
    if let Some(diff) = &r.diff {
        let _ = write!(out, "\n{diff}");
    }
    if let Some(hint) = &r.hint {
        let _ = write!(out, "\nПодсказка: {hint}");
    }
    out
}
