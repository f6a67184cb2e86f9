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
    /// Why the answer file did not run when it was loaded; the checks on its datasets did not
    /// run. Absent from the records of older versions, which said it in each check's message.
    #[serde(default)]
    pub load_error: Option<LoadError>,
    pub results: Vec<CheckResult>,
    pub score: u32,
    pub max_score: u32,
    pub elapsed_ms: u64,
    pub student_ms: u64,
}

/// Why the answer file did not run to its end when it was loaded, before any check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadError {
    /// The 1-based line and column (in characters) the server pointed at, when it did.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// That line of the file, without its line end.
    pub source_line: Option<String>,
    /// What went wrong: the server's error message, or why the file was stopped, in Russian.
    pub message: String,
    /// The SQLSTATE of the server's error.
    pub code: Option<String>,
    /// Whether the file ran past its time limit and was stopped.
    pub timeout: bool,
    /// The datasets on which it failed so (each dataset loads the file; usually all of them).
    pub datasets: Vec<String>,
}

impl LoadError {
    /// What went wrong, in Russian: «ошибка 42601: syntax error at or near "SELEC"».
    pub fn reason(&self) -> String {
        match &self.code {
            Some(code) => format!("ошибка {code}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// The whole of it in one Russian phrase, with its line and column when known.
    pub fn describe(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!(
                "ваш файл не выполнился (строка {line}, столбец {column}): {}",
                self.reason()
            ),
            _ => format!("ваш файл не выполнился: {}", self.reason()),
        }
    }

    /// Whether `other` is the same failure, wherever it happened.
    pub fn same_failure(&self, other: &LoadError) -> bool {
        LoadError {
            datasets: Vec::new(),
            ..self.clone()
        } == LoadError {
            datasets: Vec::new(),
            ..other.clone()
        }
    }
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
            load_error: None,
            score: results.iter().map(|r| r.points).sum(),
            max_score: results.iter().map(|r| r.max_points).sum(),
            student_ms: results.iter().map(|r| r.student_ms).sum(),
            results,
            elapsed_ms,
        }
    }

    /// The verdict with the failure of its answer's load.
    pub fn with_load_error(self, load_error: Option<LoadError>) -> Verdict {
        Verdict { load_error, ..self }
    }

    /// Whether result `r` did not run because the answer did not load on its dataset (as
    /// `load_error` says: the records of older versions say it in the result's message).
    pub fn not_loaded(&self, r: &CheckResult) -> bool {
        self.load_error
            .as_ref()
            .is_some_and(|e| e.datasets.contains(&r.dataset))
    }

    /// Whether the lab has checks on more than one dataset (the reports name them then).
    pub fn many_datasets(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.dataset != self.results[0].dataset)
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.problem.is_none() && self.results.iter().all(|r| r.status == Status::Passed)
    }
}
