//! The judges written in SQL (a verify query, a snapshot compared with its blessed rows), and an
//! outcome made into a check's result with its messages and points.

use super::{snapshot, Outcome, Snapshots};
use crate::lab::{Check, Dataset, Lab};
use crate::server::session::StepError;
use crate::verdict::{CheckResult, Status};
use std::time::Duration;

/// A verify query returns one row: `ok boolean` first, then an optional `detail text`.
pub fn judge_verify(messages: &[postgres::SimpleQueryMessage]) -> Outcome {
    let row = messages.iter().find_map(|m| match m {
        postgres::SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    });
    let Some(row) = row else {
        return Outcome::Error(
            "проверочный запрос не вернул строки (ошибка в лабораторной)".into(),
        );
    };
    let detail = row.try_get(1).ok().flatten().map(str::to_string);
    match row.try_get(0).ok().flatten() {
        Some("t") => Outcome::Pass(detail),
        _ => Outcome::Fail { detail, diff: None },
    }
}

/// Compares the rendered rows with the blessed snapshot, or blesses them.
pub fn judge_snapshot(
    lab: &Lab,
    dataset: &Dataset,
    check: &Check,
    messages: &[postgres::SimpleQueryMessage],
    type_oids: Vec<u32>,
    snapshots: Snapshots,
) -> Outcome {
    let have = snapshot::render(messages, type_oids);
    let path = snapshot::path(&lab.dir, &check.id, &dataset.name);
    if snapshots == Snapshots::Bless {
        let source = format!("labs/{}/lab.toml", lab.dir_name());
        let expression = format!("{}@{}", check.id, dataset.name);
        return match snapshot::write(&path, &source, &expression, &have) {
            Ok(()) => Outcome::Pass(Some("эталон записан".into())),
            Err(err) => Outcome::Error(format!("{err:#}")),
        };
    }
    match snapshot::read(&path) {
        Ok(Some(want)) => match snapshot::diff(&want, &have) {
            None => Outcome::Pass(None),
            Some(diff) => Outcome::Fail {
                detail: Some("результат отличается от ожидаемого".into()),
                diff: Some(diff),
            },
        },
        Ok(None) => Outcome::Error(format!(
            "нет эталона `{}` (ошибка в лабораторной: выполните `labs dev bless {}`)",
            path.display(),
            lab.number
        )),
        Err(err) => Outcome::Error(format!("{err:#}")),
    }
}

/// A step that did not finish: a timeout, or an error naming the step.
pub fn step_failed(err: StepError, step: &str) -> Outcome {
    match err {
        StepError::Timeout => Outcome::Timeout,
        other => Outcome::Error(format!("{step}: {}", other.describe())),
    }
}

/// A fault of the checker's own (its SQL, its sessions), with the SQLSTATE when the server raised
/// it: the server's words may be Russian or English, the code is the same.
pub fn checker_fault(err: &anyhow::Error) -> Outcome {
    let code = err
        .chain()
        .find_map(|e| e.downcast_ref::<postgres::Error>()?.code())
        .map(|code| format!(" (SQLSTATE {})", code.code()))
        .unwrap_or_default();
    Outcome::Error(format!("сбой проверяющей программы: {err:#}{code}"))
}

/// One result per check and dataset, made by `make`.
pub fn every_check(lab: &Lab, make: impl Fn(&Check, &str) -> CheckResult) -> Vec<CheckResult> {
    lab.datasets
        .iter()
        .flat_map(|d| {
            lab.checks
                .iter()
                .filter(|c| c.runs_on(&d.name))
                .map(|c| make(c, &d.name))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Turns an outcome into the check's result with its messages and points.
pub fn result(
    check: &Check,
    dataset: &str,
    outcome: Outcome,
    elapsed: Duration,
    student_time: Duration,
) -> CheckResult {
    // Rounded, not truncated: a run's many short calls of student SQL must not vanish from its
    // sum (the grading benchmark adds these up).
    let student_ms = (student_time.as_micros() as u64 + 500) / 1000;
    let (status, detail, diff) = match outcome {
        Outcome::NotRun(status, reason) => {
            return CheckResult {
                id: check.id.clone(),
                title: check.title.clone(),
                dataset: dataset.to_string(),
                status,
                points: 0,
                max_points: check.points,
                message: format!("Не проверялось: {reason}."),
                detail: None,
                diff: None,
                hint: None,
                elapsed_ms: elapsed.as_millis() as u64,
                student_ms,
            }
        }
        Outcome::Pass(detail) => (Status::Passed, detail, None),
        Outcome::Fail { detail, diff } => (Status::Failed, detail, diff),
        Outcome::Error(detail) => (Status::Error, Some(detail), None),
        Outcome::Timeout => (
            Status::Timeout,
            Some(format!(
                "проверка не уложилась в {:.1} с и была прервана",
                check.timeout_ms as f64 / 1000.0
            )),
            None,
        ),
    };
    let passed = status == Status::Passed;
    CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        dataset: dataset.to_string(),
        status,
        points: if passed { check.points } else { 0 },
        max_points: check.points,
        message: if passed {
            check.pass.clone()
        } else {
            check.fail.clone()
        },
        detail,
        diff,
        hint: (!passed).then(|| check.hint.clone()),
        elapsed_ms: elapsed.as_millis() as u64,
        student_ms,
    }
}
