//! `labs check N`: runs a lab on a student's answer and prints the verdict.

use crate::checks::{self, Snapshots};
use crate::lab::Lab;
use crate::report;
use crate::server::Server;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// How to print verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// What the checked answers came to; the worst wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Overall {
    Passed,
    Failed,
    /// Some answer could not be used at all (missing, empty, not UTF-8, too large).
    Unusable,
}

impl Overall {
    /// The exit code: 0, 1 or 2.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Checks the answers of `labs` and prints each verdict.
pub fn check(
    server: &Server,
    labs: &[Lab],
    answer: Option<&Path>,
    format: Format,
) -> Result<Overall> {
    let mut overall = Overall::Passed;
    let mut verdicts = Vec::new();
    for lab in labs {
        let path = answer
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_answer(lab.number));
        let verdict = checks::run(server, lab, &path, Snapshots::Compare)?;
        overall = overall.max(if verdict.problem.is_some() {
            Overall::Unusable
        } else if verdict.passed() {
            Overall::Passed
        } else {
            Overall::Failed
        });
        match format {
            Format::Text => println!("{}", report::text(&verdict)),
            Format::Json => verdicts.push(verdict),
        }
    }
    if format == Format::Json {
        match verdicts.as_slice() {
            [one] => println!("{}", report::json(one)),
            _ => println!("{}", serde_json::to_string_pretty(&verdicts)?),
        }
    }
    Ok(overall)
}

/// `answers/labN.sql` in the current workspace.
pub fn default_answer(number: u32) -> PathBuf {
    PathBuf::from("answers").join(format!("lab{number}.sql"))
}
