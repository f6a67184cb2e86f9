//! Running a lab's checks on an answer: one sandbox per dataset, the answer loaded as the
//! student's role, then every check in order, each within its own time limit.

pub mod answer;
mod integrity;
mod judges;
pub mod scenarios;
pub mod snapshot;

use integrity::Integrity;
use judges::{every_check, judge_snapshot, judge_verify, result, step_failed};

use crate::lab::{Check, Dataset, Judge, Lab};
use crate::sandbox::{Sandbox, Sandboxes, Spares};
use crate::server::session::{Session, StepError};
use crate::server::{Server, SlotLock};
use crate::verdict::{CheckResult, Status, Verdict};
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a check found.
pub enum Outcome {
    Pass(Option<String>),
    Fail {
        detail: Option<String>,
        diff: Option<String>,
    },
    Error(String),
    Timeout,
    /// The check did not run: the answer did not load (`Error`) or a check it needs did not
    /// pass (`Failed`); its own message and hint would mislead, so only the reason is said.
    NotRun(Status, String),
}

impl Outcome {
    /// A failure with a Russian detail.
    pub fn fail(detail: impl Into<String>) -> Outcome {
        Outcome::Fail {
            detail: Some(detail.into()),
            diff: None,
        }
    }
}

/// A check's state while it runs: the sessions, the deadline and the student's time so far.
pub struct CheckRun<'a> {
    pub server: &'a Server,
    pub sandbox: &'a Sandbox,
    pub student: &'a mut Session,
    pub checker: &'a mut Session,
    pub deadline: Instant,
    /// Time spent in the student's SQL and in the lab's intentional waits.
    pub student_time: Duration,
    /// What the scenarios on this dataset leave to the next ones.
    pub kept: &'a mut scenarios::Kept,
}

impl CheckRun<'_> {
    /// Runs SQL as the student's role; its time counts as the student's.
    pub fn student_sql(
        &mut self,
        sql: &str,
    ) -> Result<Vec<postgres::SimpleQueryMessage>, StepError> {
        let start = Instant::now();
        let result = self.student.run(sql, self.deadline);
        self.student_time += start.elapsed();
        result
    }

    /// Runs SQL as the checker's role.
    pub fn checker_sql(
        &mut self,
        sql: &str,
    ) -> Result<Vec<postgres::SimpleQueryMessage>, StepError> {
        self.checker.run(sql, self.deadline)
    }
}

/// Whether snapshots are compared (a student's run) or written (`labs dev bless`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshots {
    Compare,
    Bless,
}

/// Every lab under `root`, ordered by number, each check's scenario one the registry knows.
pub fn load_labs(root: &Path) -> Result<Vec<Lab>> {
    Lab::load_all(root, &scenarios::names())
}

/// Lab `number` under `root`, as `load_labs` reads it.
pub fn find_lab(root: &Path, number: u32) -> Result<Lab> {
    Lab::find(root, number, &scenarios::names())
}

/// Runs every check of `lab` on the answer at `path`. An error means the environment failed (the
/// server, a lab file); anything wrong with the answer is in the verdict.
pub fn run(sandboxes: &Sandboxes, lab: &Lab, path: &Path, snapshots: Snapshots) -> Result<Verdict> {
    let shown = path.display().to_string();
    run_answer(
        sandboxes,
        lab,
        shown,
        answer::read(path),
        snapshots,
        Spares::Cold,
    )
}

/// Runs every check of `lab` on an answer already read: its text, or why it cannot be used.
/// `shown` names the answer in the verdict; `spares_kind` says what the run leaves for the next.
pub fn run_answer(
    sandboxes: &Sandboxes,
    lab: &Lab,
    shown: String,
    answer: Result<String, String>,
    snapshots: Snapshots,
    spares_kind: Spares,
) -> Result<Verdict> {
    let start = Instant::now();
    let text = match answer {
        Ok(text) => text,
        Err(problem) => {
            let results = every_check(lab, |check, dataset| {
                let outcome = Outcome::NotRun(Status::Error, problem.clone());
                result(check, dataset, outcome, Duration::ZERO, Duration::ZERO)
            });
            return Ok(Verdict::new(
                lab.number,
                &lab.title,
                shown,
                Some(problem),
                results,
                0,
            ));
        }
    };
    let server = sandboxes.server();
    let _slots = SlotLock::take(server, lab.exclusive)?;
    // The sandboxes are made side by side before any of the student's SQL runs, and dropped in
    // the background after all of it: the datasets themselves run one after another, because a
    // transaction of one (creating or dropping a database too) would hold back VACUUM in the
    // other through the student's snapshots, and lab 1 measures what VACUUM frees; for the same
    // reason a dataset that runs `alone` first waits for the earlier runs' drops.
    let prepared = side_by_side(&lab.datasets, |dataset| sandboxes.ready(lab, dataset))
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let mut results = Vec::new();
    let mut load_error = None;
    let mut dropped = Vec::new();
    std::thread::scope(|scope| -> Result<()> {
        let mut spares = None;
        for (dataset, (sandbox, sessions)) in lab.datasets.iter().zip(prepared) {
            if dataset.alone {
                sandboxes.settle();
            }
            if spares.is_none() && !dataset.alone {
                spares = Some(scope.spawn(|| sandboxes.make_spares(lab, spares_kind)));
            }
            let (checker, mut student) = sessions;
            let load = answer::load(&mut student, &text, &dataset.name, &mut load_error);
            let run = run_dataset(
                server,
                lab,
                dataset,
                &sandbox,
                (checker, student),
                load,
                snapshots,
            );
            dropped.push(sandbox);
            results.extend(run?);
        }
        // Best effort: without a spare the next run clones its database itself.
        if let Some(Ok(Err(err))) = spares.map(|h| h.join()) {
            eprintln!("labs: no spare database for the next run: {err:#}");
        }
        Ok(())
    })?;
    sandboxes.drop_later(dropped);
    let elapsed = start.elapsed().as_millis() as u64;
    Ok(
        Verdict::new(lab.number, &lab.title, shown, None, results, elapsed)
            .with_load_error(load_error),
    )
}

/// Runs `work` on every item, each in a thread of its own, and returns the results in order.
fn side_by_side<T: Send, R: Send>(
    items: impl IntoIterator<Item = T>,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(|| work(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The checks on one dataset, in its sandbox, with its checker's and student's sessions, after
/// the answer's `load` there: none runs when it failed.
fn run_dataset(
    server: &Server,
    lab: &Lab,
    dataset: &Dataset,
    sandbox: &Sandbox,
    (mut checker, mut student): (Session, Session),
    load: answer::Load,
    snapshots: Snapshots,
) -> Result<Vec<CheckResult>> {
    let mut results: Vec<CheckResult> = Vec::new();
    let mut kept = scenarios::Kept::default();
    let mut integrity = Integrity::default();
    for (i, check) in lab
        .checks
        .iter()
        .filter(|c| c.runs_on(&dataset.name))
        .enumerate()
    {
        let start = Instant::now();
        let (outcome, student_time) = if let Some(problem) = &load.failure {
            (
                Outcome::NotRun(Status::Error, problem.clone()),
                Duration::ZERO,
            )
        } else if let Some(need) = unmet_need(lab, check, &results) {
            let reason = format!("сначала должна пройти проверка «{need}»");
            (Outcome::NotRun(Status::Failed, reason), Duration::ZERO)
        } else if let (true, Some(reason)) = (check.intact, &integrity.tampered) {
            (
                Outcome::NotRun(Status::Failed, reason.clone()),
                Duration::ZERO,
            )
        } else {
            if student.is_closed() {
                student = sandbox.student_session()?;
            }
            if checker.is_closed() {
                checker = sandbox.checker_session()?;
            }
            let mut run = CheckRun {
                server,
                sandbox,
                student: &mut student,
                checker: &mut checker,
                deadline: start + Duration::from_millis(check.timeout_ms),
                student_time: Duration::ZERO,
                kept: &mut kept,
            };
            let outcome = run_check(&mut run, lab, dataset, check, snapshots, &mut integrity);
            (outcome, run.student_time)
        };
        // The answer's load counts as the student's time of the first check.
        let student_time = student_time + if i == 0 { load.time } else { Duration::ZERO };
        results.push(result(
            check,
            &dataset.name,
            outcome,
            start.elapsed(),
            student_time,
        ));
        // A check that ran none of the student's SQL left no worker of theirs; the first one
        // follows the answer's load, which may have.
        if i == 0 || check.student.is_some() || check.scenario.is_some() {
            sandbox.end_student_backends(student.pid)?;
        }
    }
    Ok(results)
}

/// The title of the first check this one needs that did not pass on this dataset.
fn unmet_need<'a>(lab: &'a Lab, check: &'a Check, done: &[CheckResult]) -> Option<&'a str> {
    check.needs.iter().find_map(|need| {
        let passed = done
            .iter()
            .any(|r| &r.id == need && r.status == Status::Passed);
        (!passed).then(|| {
            lab.checks
                .iter()
                .find(|c| &c.id == need)
                .map_or(need.as_str(), |c| c.title.as_str())
        })
    })
}

/// Runs one check's steps and judges it; a check that relies on the run database's structure
/// is judged only once the structure check found it as the template made it.
fn run_check(
    run: &mut CheckRun,
    lab: &Lab,
    dataset: &Dataset,
    check: &Check,
    snapshots: Snapshots,
    integrity: &mut Integrity,
) -> Outcome {
    if let Some(sql) = &check.reset {
        integrity.stale = true;
        if let Err(err) = run.student.run(sql, run.deadline) {
            return step_failed(err, "подготовка таблиц к проверке");
        }
    }
    // What the judge records before the student step it reads from an intact database too.
    if check.intact && check.before.is_some() {
        if let Some(untrusted) = integrity.confirm(run) {
            return untrusted;
        }
    }
    if let Some(sql) = &check.before {
        if let Err(err) = run.checker_sql(sql) {
            return step_failed(err, "подготовка проверки");
        }
    }
    if let Some(sql) = &check.student {
        integrity.stale = true;
        if let Err(err) = run.student_sql(sql) {
            return step_failed(err, &format!("выполнение `{}`", sql.trim()));
        }
    }
    // A verify or snapshot query reads the database, which must be intact first; a scenario
    // runs student SQL while it judges, so the database is looked at after it.
    let scenario = matches!(check.judge(), Judge::Scenario(_));
    if check.intact && !scenario {
        if let Some(untrusted) = integrity.confirm(run) {
            return untrusted;
        }
    }
    let outcome = match check.judge() {
        Judge::Verify(sql) => match run.checker_sql(sql) {
            Ok(messages) => judge_verify(&messages),
            Err(err) => step_failed(err, "проверочный запрос"),
        },
        Judge::Snapshot(sql) => match run.checker_sql(sql) {
            Ok(messages) => {
                let types = run
                    .checker
                    .client
                    .prepare(sql)
                    .map(|s| s.columns().iter().map(|c| c.type_().oid()).collect())
                    .unwrap_or_default();
                judge_snapshot(lab, dataset, check, &messages, types, snapshots)
            }
            Err(err) => step_failed(err, "запрос снимка"),
        },
        Judge::Scenario(name) => {
            integrity.stale = true;
            scenarios::run(name, run)
        }
    };
    if check.intact && scenario {
        if let Some(untrusted) = integrity.confirm(run) {
            return untrusted;
        }
    }
    outcome
}
