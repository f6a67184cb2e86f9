//! Scenario checks written in Rust, where timing, concurrency or the server's own counters
//! decide; each lab's scenarios live in a file of their own (lab 2 proves the work was done, lab
//! 3 holds and frees worker slots from other sessions), and this registry is the one list from
//! which the names a lab.toml may use are derived. What each one does is specified above its
//! check in the lab's lab.toml and above its function here.

mod holders;
mod lab2;
mod lab3;

use crate::check::judges::checker_fault;
use crate::check::{CheckRun, Outcome};
use crate::server::session::StepError;
use anyhow::Result;
use postgres::SimpleQueryMessage;
use std::any::Any;
use std::time::Duration;

/// A check's judge written in Rust, by the name its lab.toml gives it.
pub struct Scenario {
    pub name: &'static str,
    judge: fn(&mut CheckRun) -> Result<Outcome>,
}

/// Every lab's scenarios, each list from the lab's own file.
const REGISTRY: &[&[Scenario]] = &[lab2::SCENARIOS, lab3::SCENARIOS];

/// The names of every scenario, the ones a lab.toml may name.
pub fn names() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .flat_map(|lab| lab.iter().map(|s| s.name))
        .collect()
}

/// What a scenario leaves to the next one on the same dataset, of a type its lab's file alone
/// knows (lab 3's slot holders); dropped with the dataset.
#[derive(Default)]
pub struct Kept(Option<Box<dyn Any>>);

impl Kept {
    /// Keeps `value` for the next scenario, in place of whatever was kept.
    pub fn put<T: Any>(&mut self, value: T) {
        self.0 = Some(Box::new(value));
    }

    /// Takes what was kept, when it is a `T`.
    pub fn take<T: Any>(&mut self) -> Option<T> {
        match self.0.take()?.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                self.0 = Some(other);
                None
            }
        }
    }
}

/// Runs scenario `name`; a name no lab file registers (Lab::load refuses them) is an error of
/// the checker's.
pub fn run(name: &str, run: &mut CheckRun) -> Outcome {
    let scenario = REGISTRY
        .iter()
        .flat_map(|lab| lab.iter())
        .find(|s| s.name == name);
    let outcome = match scenario {
        Some(scenario) => (scenario.judge)(run),
        None => Err(anyhow::anyhow!("no scenario is named `{name}`")),
    };
    outcome.unwrap_or_else(|err| checker_fault(&err))
}

/// Every row's text values, NULL as an empty string.
fn rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<String>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The first value of the first row.
fn scalar(messages: &[SimpleQueryMessage]) -> Option<String> {
    rows(messages).into_iter().next()?.into_iter().next()
}

/// A student call that had to succeed but did not.
fn call_failed(err: StepError, what: &str) -> Outcome {
    match err {
        StepError::Timeout => Outcome::Timeout,
        err => Outcome::fail(format!("{what}: {}", err.describe())),
    }
}

/// A student call that had to raise an error: its SQLSTATE and message, or the failure to say
/// (`why` explains why an error was due when the call returned a value).
fn raised(
    result: Result<Vec<SimpleQueryMessage>, StepError>,
    why: &str,
) -> Result<(String, String), Outcome> {
    match result {
        Ok(messages) => Err(Outcome::fail(format!(
            "{why}, но функция вернула «{}» вместо ошибки",
            scalar(&messages).unwrap_or_default()
        ))),
        Err(StepError::Timeout) => Err(Outcome::Timeout),
        Err(StepError::Db { code, message, .. }) => Ok((code, message)),
        Err(err) => Err(Outcome::fail(err.describe())),
    }
}

/// The student's background workers still running after up to 2 s for them to exit.
fn wait_student_workers(run: &mut CheckRun) -> Result<i64> {
    run.sandbox.student_workers(Duration::from_secs(2))
}
