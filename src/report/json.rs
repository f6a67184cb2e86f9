//! A verdict as JSON, for programs: the verdict's own fields, serialised as they are.

use crate::verdict::Verdict;

/// The verdict as JSON.
pub fn json(verdict: &Verdict) -> String {
    serde_json::to_string_pretty(verdict).expect("a verdict serialises")
}
