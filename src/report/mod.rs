//! Rendering a verdict for people (text) and for programs (JSON, JUnit XML, Gradescope), a format
//! a file; what they share (a check's output as plain text) is here.

mod gradescope;
mod json;
mod junit;
mod text;

pub use gradescope::gradescope;
pub use json::json;
pub use junit::{junit, junit_document};
pub use text::text;

use crate::verdict::CheckResult;
use std::fmt::Write;

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
