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

/// Checks the answers of `labs` and prints each verdict; true when every check of every lab
/// passed.
pub fn check(server: &Server, labs: &[Lab], answer: Option<&Path>, format: Format) -> Result<bool> {
    let mut all_passed = true;
    let mut verdicts = Vec::new();
    for lab in labs {
        let path = answer
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_answer(lab.number));
        let verdict = checks::run(server, lab, &path, Snapshots::Compare)?;
        all_passed &= verdict.passed();
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
    Ok(all_passed)
}

/// `answers/labN.sql` in the current workspace.
pub fn default_answer(number: u32) -> PathBuf {
    PathBuf::from("answers").join(format!("lab{number}.sql"))
}
