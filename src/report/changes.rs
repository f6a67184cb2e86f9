//! What changed since the last verdict of the same answer file, as `labs watch` prints it after a
//! save: the checks whose status or points changed, why the file stopped running (or that it runs
//! again), and the new total; in Russian.

use super::text::{check, heading, not_loaded, total};
use crate::verdict::{CheckResult, Verdict};
use std::fmt::Write;

/// What changed from `old` to `new`, ending with the new total; «Ничего не изменилось.» when no
/// check's status or points did.
pub fn changes(old: &Verdict, new: &Verdict) -> String {
    let mut out = String::new();
    let was = |r: &CheckResult| {
        old.results
            .iter()
            .find(|o| o.id == r.id && o.dataset == r.dataset)
    };
    let changed: Vec<&CheckResult> = new
        .results
        .iter()
        .filter(|r| was(r).is_none_or(|o| (o.status, o.points) != (r.status, r.points)))
        .collect();
    if new.problem.is_some() {
        if new.problem != old.problem {
            let problem = new.problem.as_deref().unwrap_or_default();
            let _ = writeln!(out, "\nОтвет не удалось проверить: {problem}.");
        }
    } else {
        let load_changed = match (&old.load_error, &new.load_error) {
            (Some(old), Some(new)) => !old.same_failure(new) || old.datasets != new.datasets,
            (old, new) => old.is_some() != new.is_some(),
        };
        if load_changed && new.load_error.is_none() {
            let _ = writeln!(out, "\n✔ Файл снова выполняется.");
        }
        if load_changed || changed.iter().any(|r| new.not_loaded(r)) {
            not_loaded(&mut out, new, changed.iter().copied());
        }
        for r in changed.iter().filter(|r| !new.not_loaded(r)) {
            let mut heading = heading(new, r);
            if let Some(o) = was(r) {
                let _ = write!(
                    heading,
                    " — было: {} ({} из {})",
                    o.status.label(),
                    o.points,
                    o.max_points
                );
            }
            check(&mut out, r, heading, true);
        }
    }
    if out.is_empty() {
        out.push_str("\nНичего не изменилось.\n");
    }
    let _ = writeln!(out, "\n{}", total(new, Some(old.score)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{LoadError, Status};

    fn result(id: &str, status: Status) -> CheckResult {
        let passed = status == Status::Passed;
        CheckResult {
            id: id.into(),
            title: format!("Проверка {id}"),
            dataset: "a".into(),
            status,
            points: if passed { 2 } else { 0 },
            max_points: 2,
            message: format!("{id}: {}", if passed { "да" } else { "нет" }),
            detail: (!passed).then(|| "найдено 3".into()),
            diff: None,
            hint: (!passed).then(|| format!("подсказка {id}")),
            elapsed_ms: 1,
            student_ms: 0,
        }
    }

    fn verdict(statuses: &[Status]) -> Verdict {
        let results = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| result(&format!("c{i}"), *s))
            .collect();
        Verdict::new(1, "Лаба", "lab1.sql".into(), None, results, 5)
    }

    fn not_loaded(checks: usize) -> Verdict {
        let mut verdict = verdict(&vec![Status::Error; checks]);
        for r in &mut verdict.results {
            r.message = "Не проверялось: ваш файл не выполнился.".into();
            (r.detail, r.hint) = (None, None);
        }
        verdict.with_load_error(Some(LoadError {
            line: Some(2),
            column: Some(1),
            source_line: Some("SELEC 1;".into()),
            message: "syntax error at or near \"SELEC\"".into(),
            code: Some("42601".into()),
            timeout: false,
            datasets: vec!["a".into()],
        }))
    }

    #[test]
    fn only_the_checks_that_changed_are_shown() {
        use Status::*;
        let old = verdict(&[Passed, Failed, Failed]);
        let new = verdict(&[Passed, Passed, Failed]);
        let said = changes(&old, &new);
        assert_eq!(
            said,
            "\n✔ Проверка c1: зачтено (2 из 2) — было: не зачтено (0 из 2)\n  c1: да\n\n\
             Итого: 4 из 6 баллов (было 2).\n"
        );
        assert_eq!(
            changes(&new, &new),
            "\nНичего не изменилось.\n\nИтого: 4 из 6 баллов.\n"
        );
        let all = verdict(&[Passed, Passed, Passed]);
        assert!(changes(&new, &all).ends_with("Итого: 6 из 6 баллов (было 4) — всё зачтено.\n"));
        let worse = changes(&all, &verdict(&[Passed, Passed, Timeout]));
        assert!(worse.contains("✘ Проверка c2: превышено время (0 из 2) — было: зачтено (2 из 2)"));
        assert!(worse.contains("Подсказка: подсказка c2"), "{worse}");
    }

    #[test]
    fn a_file_that_stops_or_starts_running_is_said_once() {
        use Status::*;
        let running = verdict(&[Passed, Failed]);
        let stopped = changes(&running, &not_loaded(2));
        assert!(
            stopped.starts_with("\n✘ Файл не выполнился: ошибка 42601"),
            "{stopped}"
        );
        assert!(stopped.contains("2 | SELEC 1;\n  | ^"), "{stopped}");
        assert!(
            stopped.contains(
                "Поэтому не проверялись:\n  ✘ Проверка c0 (0 из 2)\n  ✘ Проверка c1 (0 из 2)\n\n"
            ),
            "{stopped}"
        );
        assert!(!stopped.contains("подсказка"), "{stopped}");
        // The same error again is no news; another one is.
        let same = changes(&not_loaded(2), &not_loaded(2));
        assert!(same.starts_with("\nНичего не изменилось."), "{same}");
        let mut elsewhere = not_loaded(2);
        elsewhere.load_error.as_mut().unwrap().line = Some(7);
        assert!(changes(&not_loaded(2), &elsewhere).contains("--> строка 7, столбец 1"));
        let back = changes(&not_loaded(2), &running);
        assert!(back.starts_with("\n✔ Файл снова выполняется.\n"), "{back}");
        assert!(back.contains("✔ Проверка c0: зачтено (2 из 2) — было: ошибка (0 из 2)"));
    }
}
