//! A verdict as a student reads it in a terminal: the lab, each check with its marks, what was
//! found, the diff and the hint, and the total, in Russian.

use crate::verdict::{Status, Verdict};
use std::fmt::Write;

/// The verdict as a student reads it in a terminal, in Russian.
pub fn text(verdict: &Verdict) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Лабораторная работа {}. {}",
        verdict.lab, verdict.title
    );
    let _ = writeln!(out, "Ответ: {}", verdict.answer);
    if let Some(problem) = &verdict.problem {
        let _ = writeln!(out, "\nОтвет не удалось проверить: {problem}.");
    }
    let many_datasets = verdict
        .results
        .iter()
        .any(|r| r.dataset != verdict.results[0].dataset);
    let mut said: Option<&str> = None;
    for r in &verdict.results {
        let mark = if r.status == Status::Passed {
            "✔"
        } else {
            "✘"
        };
        let dataset = if many_datasets {
            format!(" [данные {}]", r.dataset)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\n{mark} {}{dataset}: {} ({} из {})",
            r.title,
            r.status.label(),
            r.points,
            r.max_points
        );
        // A reason shared by several checks (a file that did not load) is said once.
        let repeated = r.status != Status::Passed && said == Some(r.message.as_str());
        if verdict.problem.is_none() && !repeated {
            let _ = writeln!(out, "  {}", r.message);
        }
        said = Some(&r.message);
        if let Some(detail) = &r.detail {
            let _ = writeln!(out, "  Подробно: {detail}");
        }
        if let Some(diff) = &r.diff {
            for line in diff.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        if let Some(hint) = &r.hint {
            let _ = writeln!(out, "  Подсказка: {hint}");
        }
    }
    let _ = writeln!(
        out,
        "\nИтого: {} из {} баллов{}.",
        verdict.score,
        verdict.max_score,
        if verdict.passed() {
            " — всё зачтено"
        } else {
            ""
        }
    );
    out
}
