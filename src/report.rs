//! Rendering a verdict for people (text) and for programs (JSON, JUnit XML, Gradescope).

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

/// The verdict as JSON.
pub fn json(verdict: &Verdict) -> String {
    serde_json::to_string_pretty(verdict).expect("a verdict serialises")
}

/// The verdicts of one student as JUnit XML test suites (one suite a lab, one test case a check
/// and dataset), for CI dashboards and LMS plug-ins that read JUnit.
pub fn junit(student: &str, verdicts: &[&Verdict]) -> String {
    let mut out = String::new();
    for verdict in verdicts {
        let failures = verdict
            .results
            .iter()
            .filter(|r| r.status != Status::Passed)
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
            xml(&format!("{student}/lab{}", verdict.lab)),
            verdict.results.len(),
            verdict.elapsed_ms as f64 / 1000.0
        );
        for r in &verdict.results {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&format!("{student}.lab{}", verdict.lab)),
                xml(&format!("{}@{}", r.id, r.dataset)),
                r.elapsed_ms as f64 / 1000.0
            );
            if r.status == Status::Passed {
                out.push_str("/>\n");
            } else {
                let _ = writeln!(
                    out,
                    ">\n      <failure type=\"{:?}\" message=\"{}\">{}</failure>\n    </testcase>",
                    r.status,
                    xml(&r.message),
                    xml(&check_output(r))
                );
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out
}

/// Wraps test suites into one JUnit XML document.
pub fn junit_document(suites: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"labs grade\">\n{suites}</testsuites>\n")
}

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

/// What a check said, as plain text: the message, what was found, the diff and the hint.
fn check_output(r: &crate::verdict::CheckResult) -> String {
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

/// Text escaped for XML content and attributes.
fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}'))
        .fold(String::new(), |mut out, c| {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                c => out.push(c),
            }
            out
        })
}
