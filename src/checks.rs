//! Running a lab's checks on an answer: one sandbox per dataset, the answer loaded as the
//! student's role, then every check in order, each within its own time limit.

use crate::answer;
use crate::lab::{Check, Dataset, Judge, Lab};
use crate::sandbox::{Sandbox, Spares};
use crate::scenario;
use crate::server::{Admin, Server};
use crate::session::{Session, StepError};
use crate::snapshot;
use crate::verdict::{CheckResult, Status, Verdict};
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the answer file itself may take to run (it should only create functions).
const LOAD_TIMEOUT: Duration = Duration::from_secs(15);

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
    pub kept: &'a mut scenario::Kept,
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

/// Runs every check of `lab` on the answer at `path`. An error means the environment failed (the
/// server, a lab file); anything wrong with the answer is in the verdict.
pub fn run(server: &Server, lab: &Lab, path: &Path, snapshots: Snapshots) -> Result<Verdict> {
    let shown = path.display().to_string();
    run_answer(
        server,
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
    server: &Server,
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
            return Ok(Verdict::new(lab, shown, Some(problem), results, 0));
        }
    };
    let _slots = SlotLock::take(server, lab.exclusive)?;
    // The sandboxes are made side by side before any of the student's SQL runs, and dropped in
    // the background after all of it: the datasets themselves run one after another, because a
    // transaction of one (creating or dropping a database too) would hold back VACUUM in the
    // other through the student's snapshots, and lab 1 measures what VACUUM frees; for the same
    // reason a dataset that runs `alone` first waits for the earlier runs' drops.
    let prepared = side_by_side(&lab.datasets, |dataset| {
        Sandbox::ready(server, lab, dataset)
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    let mut results = Vec::new();
    let mut sandboxes = Vec::new();
    std::thread::scope(|scope| -> Result<()> {
        let mut spares = None;
        for (dataset, (sandbox, sessions)) in lab.datasets.iter().zip(prepared) {
            if dataset.alone {
                crate::sandbox::settle(server);
            }
            if spares.is_none() && !dataset.alone {
                spares =
                    Some(scope.spawn(|| crate::sandbox::make_spares(server, lab, spares_kind)));
            }
            let run = run_dataset(server, lab, dataset, &sandbox, sessions, &text, snapshots);
            sandboxes.push(sandbox);
            results.extend(run?);
        }
        // Best effort: without a spare the next run clones its database itself.
        if let Some(Ok(Err(err))) = spares.map(|h| h.join()) {
            eprintln!("labs: no spare database for the next run: {err:#}");
        }
        Ok(())
    })?;
    Sandbox::drop_later(server, sandboxes);
    let elapsed = start.elapsed().as_millis() as u64;
    Ok(Verdict::new(lab, shown, None, results, elapsed))
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

/// The checks on one dataset, in its sandbox, with its checker's and student's sessions.
fn run_dataset(
    server: &Server,
    lab: &Lab,
    dataset: &Dataset,
    sandbox: &Sandbox,
    (mut checker, mut student): (Session, Session),
    text: &str,
    snapshots: Snapshots,
) -> Result<Vec<CheckResult>> {
    let load_start = Instant::now();
    // Whatever rows the file returns are discarded as they arrive: a flood costs no memory.
    let loaded = student.execute(text, Instant::now() + LOAD_TIMEOUT);
    let load_time = load_start.elapsed();
    let load_error = loaded.err().map(|err| describe_load_error(&err, text));

    let mut results: Vec<CheckResult> = Vec::new();
    let mut kept = scenario::Kept::default();
    let mut integrity = Integrity::default();
    for (i, check) in lab
        .checks
        .iter()
        .filter(|c| c.runs_on(&dataset.name))
        .enumerate()
    {
        let start = Instant::now();
        let (outcome, student_time) = if let Some(problem) = &load_error {
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
        let student_time = student_time + if i == 0 { load_time } else { Duration::ZERO };
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

/// The server's background worker slots, as runs share them: every run holds this advisory
/// lock shared, a run whose checks hold every slot holds it exclusively. Held by a superuser
/// session in the runner's own database for the length of the run, and released when the run
/// ends: no role that runs student code may connect there, so no answer can take the lock and
/// hang the next run.
pub struct SlotLock {
    held_by: Option<Admin>,
}

/// The advisory lock's key: "pgbgslot" read as a number.
const SLOT_LOCK_KEY: i64 = 0x7067_6267_736c_6f74;

impl SlotLock {
    pub fn take(server: &Server, exclusive: bool) -> Result<SlotLock> {
        let mut client = server.runner()?;
        let (try_lock, lock) = if exclusive {
            ("pg_try_advisory_lock", "pg_advisory_lock")
        } else {
            ("pg_try_advisory_lock_shared", "pg_advisory_lock_shared")
        };
        let got: bool = client
            .query_one(&format!("SELECT {try_lock}($1)"), &[&SLOT_LOCK_KEY])?
            .get(0);
        if !got {
            eprintln!("labs: waiting for another run on this server to free its worker slots");
            client.execute(&format!("SELECT {lock}($1)"), &[&SLOT_LOCK_KEY])?;
        }
        Ok(SlotLock {
            held_by: Some(client),
        })
    }
}

impl Drop for SlotLock {
    /// Releases the lock; a session that cannot say it did is closed, which releases it too.
    fn drop(&mut self) {
        if let Some(mut client) = self.held_by.take() {
            if client
                .batch_execute("SELECT pg_advisory_unlock_all()")
                .is_err()
            {
                client.discard();
            }
        }
    }
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

/// What the structure check (`intact`) knows of a dataset's run database: whether student SQL
/// ran since it last looked, and what the answer changed, once it found a change.
struct Integrity {
    stale: bool,
    tampered: Option<String>,
}

impl Default for Integrity {
    /// The answer has just loaded: nothing is known yet.
    fn default() -> Integrity {
        Integrity {
            stale: true,
            tampered: None,
        }
    }
}

impl Integrity {
    /// Looks again when student SQL ran since the last look: `None` when the database is still
    /// as its template made it, else why the check cannot be judged.
    fn confirm(&mut self, run: &mut CheckRun) -> Option<Outcome> {
        if self.stale && self.tampered.is_none() {
            // A worker or a connection the student left could change the database after the
            // look.
            if let Err(err) = run.sandbox.end_student_backends(run.student.pid) {
                return Some(Outcome::Error(format!(
                    "сбой проверяющей программы: {err:#}"
                )));
            }
            match crate::intact::changes(run.checker, run.deadline) {
                Ok(changes) if changes.is_empty() => self.stale = false,
                Ok(changes) => self.tampered = Some(crate::intact::reason(&changes)),
                Err(err) => return Some(step_failed(err, "проверка устройства базы")),
            }
        }
        self.tampered
            .as_ref()
            .map(|reason| Outcome::NotRun(Status::Failed, reason.clone()))
    }
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
            scenario::run(name, run)
        }
    };
    if check.intact && scenario {
        if let Some(untrusted) = integrity.confirm(run) {
            return untrusted;
        }
    }
    outcome
}

/// A verify query returns one row: `ok boolean` first, then an optional `detail text`.
fn judge_verify(messages: &[postgres::SimpleQueryMessage]) -> Outcome {
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
fn judge_snapshot(
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
fn step_failed(err: StepError, step: &str) -> Outcome {
    match err {
        StepError::Timeout => Outcome::Timeout,
        other => Outcome::Error(format!("{step}: {}", other.describe())),
    }
}

/// Says which line of the answer failed to load, and how.
fn describe_load_error(err: &StepError, text: &str) -> String {
    match err {
        StepError::Db {
            position: Some(p), ..
        } => {
            let (line, col) = answer::line_col(text, *p);
            format!(
                "ваш файл не выполнился (строка {line}, позиция {col}): {}",
                err.describe()
            )
        }
        StepError::Timeout => format!(
            "ваш файл выполнялся дольше {} с и был прерван: при загрузке он должен только \
             создавать объекты",
            LOAD_TIMEOUT.as_secs()
        ),
        other => format!("ваш файл не выполнился: {}", other.describe()),
    }
}

/// One result per check and dataset, made by `make`.
fn every_check(lab: &Lab, make: impl Fn(&Check, &str) -> CheckResult) -> Vec<CheckResult> {
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
fn result(
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
