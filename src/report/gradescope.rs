//! A student's verdicts as Gradescope's autograder `results.json`.

use super::{check_output, load_error_text};
use crate::verdict::{Status, Verdict};

/// One student's verdicts as Gradescope's autograder `results.json`: the score, the maximum, a
/// test a check and dataset, and above them (`output`) why an answer could not be used or did
/// not run, once a lab rather than in every test it stopped.
pub fn gradescope(verdicts: &[&Verdict]) -> serde_json::Value {
    let said: Vec<String> = verdicts
        .iter()
        .flat_map(|v| {
            let problem = v
                .problem
                .as_ref()
                .map(|p| format!("Ответ не удалось проверить: {p}."));
            let load_error = v.load_error.as_ref().map(|e| load_error_text(v, e));
            problem
                .into_iter()
                .chain(load_error)
                .map(move |text| format!("Лабораторная {}. {text}", v.lab))
        })
        .collect();
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
    let mut results = serde_json::json!({
        "score": verdicts.iter().map(|v| v.score).sum::<u32>(),
        "max_score": verdicts.iter().map(|v| v.max_score).sum::<u32>(),
        "tests": tests,
    });
    if !said.is_empty() {
        results["output"] = said.join("\n\n").into();
        // Plain text, as written: the caret under a failing line needs its spaces kept.
        results["output_format"] = "text".into();
    }
    results
}
