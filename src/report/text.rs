//! A verdict as a student reads it in a terminal: the lab, why the file did not run (once, with
//! its line marked), each check with its marks, what was found, the diff and the hint, and the
//! total, in Russian.

use super::load_error_text;
use crate::verdict::{CheckResult, Status, Verdict};
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
    not_loaded(&mut out, verdict, verdict.results.iter());
    let mut said: Option<&str> = None;
    for r in verdict.results.iter().filter(|r| !verdict.not_loaded(r)) {
        // A reason shared by several checks (a file that did not load, in the records of older
        // versions) is said once.
        let repeated = r.status != Status::Passed && said == Some(r.message.as_str());
        let message = verdict.problem.is_none() && !repeated;
        check(&mut out, r, heading(verdict, r), message);
        said = Some(&r.message);
    }
    let _ = writeln!(out, "\n{}", total(verdict, None));
    out
}

/// Why the file did not load, with the checks of `results` it stopped, when it did not.
pub(super) fn not_loaded<'a>(
    out: &mut String,
    verdict: &Verdict,
    results: impl Iterator<Item = &'a CheckResult>,
) {
    let Some(e) = &verdict.load_error else {
        return;
    };
    let _ = writeln!(out, "\n✘ {}", load_error_text(verdict, e));
    let stopped: Vec<&CheckResult> = results.filter(|r| verdict.not_loaded(r)).collect();
    if !stopped.is_empty() {
        let _ = writeln!(out, "\nПоэтому не проверялись:");
    }
    for r in stopped {
        let _ = writeln!(
            out,
            "  ✘ {} ({} из {})",
            name(verdict, r),
            r.points,
            r.max_points
        );
    }
}

/// A check's title, with its dataset when the lab has several.
fn name(verdict: &Verdict, r: &CheckResult) -> String {
    if verdict.many_datasets() {
        format!("{} [данные {}]", r.title, r.dataset)
    } else {
        r.title.clone()
    }
}

/// How a check ended, in a line: «✘ title [данные a]: не зачтено (0 из 3)».
pub(super) fn heading(verdict: &Verdict, r: &CheckResult) -> String {
    let mark = if r.status == Status::Passed {
        "✔"
    } else {
        "✘"
    };
    format!(
        "{mark} {}: {} ({} из {})",
        name(verdict, r),
        r.status.label(),
        r.points,
        r.max_points
    )
}

/// A check under its `heading`, then its message (when `message`), what was found, the diff and
/// the hint.
pub(super) fn check(out: &mut String, r: &CheckResult, heading: String, message: bool) {
    let _ = writeln!(out, "\n{heading}");
    if message {
        let _ = writeln!(out, "  {}", r.message);
    }
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

/// The total, and what it `was` when it changed: «Итого: 12 из 19 баллов (было 9).»
pub(super) fn total(verdict: &Verdict, was: Option<u32>) -> String {
    format!(
        "Итого: {} из {} баллов{}{}.",
        verdict.score,
        verdict.max_score,
        match was {
            Some(was) if was != verdict.score => format!(" (было {was})"),
            _ => String::new(),
        },
        if verdict.passed() {
            " — всё зачтено"
        } else {
            ""
        }
    )
}
