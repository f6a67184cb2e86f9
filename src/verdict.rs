//! The verdict of a run: one typed result per check, and the whole lab's score.

use serde::{Deserialize, Serialize};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    /// The check could not run its SQL (the student's or its own) to the end.
    Error,
    /// The check ran past its time limit.
    Timeout,
}

impl Status {
    /// The Russian word a student sees.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "зачтено",
            Status::Failed => "не зачтено",
            Status::Error => "ошибка",
            Status::Timeout => "превышено время",
        }
    }
}

/// The result of one check on one dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub dataset: String,
    pub status: Status,
    pub points: u32,
    pub max_points: u32,
    /// The check's pass or fail message, in Russian.
    pub message: String,
    /// What was found, in Russian: numbers, the error raised, the time limit.
    pub detail: Option<String>,
    /// A have/want diff of rendered rows (snapshot checks).
    pub diff: Option<String>,
    /// Shown when the check did not pass.
    pub hint: Option<String>,
    /// Milliseconds the whole check took, and of them the student's SQL and the lab's own waits.
    pub elapsed_ms: u64,
    pub student_ms: u64,
}

/// The verdict of one answer to one lab.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub lab: u32,
    pub title: String,
    /// The answer file, as given.
    pub answer: String,
    /// Why the answer could not be used at all (missing, not UTF-8, empty...), in Russian.
    pub problem: Option<String>,
    pub results: Vec<CheckResult>,
    pub score: u32,
    pub max_score: u32,
    pub elapsed_ms: u64,
    pub student_ms: u64,
}

impl Verdict {
    /// Sums the results of lab `lab` (titled `title`) into a verdict: a result a check and
    /// dataset, so their maxima add up to the lab's.
    pub fn new(
        lab: u32,
        title: &str,
        answer: String,
        problem: Option<String>,
        results: Vec<CheckResult>,
        elapsed_ms: u64,
    ) -> Verdict {
        Verdict {
            lab,
            title: title.to_string(),
            answer,
            problem,
            score: results.iter().map(|r| r.points).sum(),
            max_score: results.iter().map(|r| r.max_points).sum(),
            student_ms: results.iter().map(|r| r.student_ms).sum(),
            results,
            elapsed_ms,
        }
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.problem.is_none() && self.results.iter().all(|r| r.status == Status::Passed)
    }
}
