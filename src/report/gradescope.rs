//! A student's verdicts as Gradescope's autograder `results.json`.

use super::check_output;
use crate::verdict::{Status, Verdict};

/// One student's verdicts as Gradescope's autograder `results.json`: the score, the maximum and
/// a test a check and dataset.
pub fn gradescope(verdicts: &[&Verdict]) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = verdicts
        .iter()
        .flat_map(|v| {
            v.results.iter().map(move |r| {
                serde_json::json!({
                    "name": format!("Лабораторная {}: {} [данные {}]", v.lab, r.title, r.dataset),
                    "score": r.points,
                    "max_score": r.max_points,
                    "status": if r.status == Status::Passed { "passed" } else { "failed" },
                    "output": check_output(r),
                })
            })
        })
        .collect();
    serde_json::json!({
        "score": verdicts.iter().map(|v| v.score).sum::<u32>(),
        "max_score": verdicts.iter().map(|v| v.max_score).sum::<u32>(),
        "tests": tests,
    })
}
