//! Rendering a verdict for people (text) and for programs (JSON).

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
    let mut last_problem: Option<&str> = None;
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
        let _ = writeln!(out, "  {}", r.message);
        if let Some(detail) = &r.detail {
            // The same load error on every check is said once.
            if verdict.problem.as_deref() != Some(detail.as_str())
                && last_problem != Some(detail.as_str())
            {
                let _ = writeln!(out, "  Найдено: {detail}");
            }
            if r.status == Status::Error {
                last_problem = Some(detail);
            }
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

/// The verdict as JSON.
pub fn json(verdict: &Verdict) -> String {
    serde_json::to_string_pretty(verdict).expect("a verdict serialises")
}
