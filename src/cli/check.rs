//! `labs check N`: runs a lab on a student's answer and prints the verdict.

use super::{Context, ServerArgs, Which};
use anyhow::{bail, Result};
use pgbg_labs::check::{self, Snapshots};
use pgbg_labs::lab::Lab;
use pgbg_labs::report;
use pgbg_labs::sandbox::Sandboxes;
use pgbg_labs::server::{self, Lifetime, Server};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `labs check`'s arguments.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The lab's number, or `all`.
    lab: Which,
    /// The answer file (default: answers/labN.sql in the current folder).
    #[arg(long, value_name = "FILE")]
    answer: Option<PathBuf>,
    /// How to print the verdict.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    server: ServerArgs,
}

/// Checks the answers and exits 0, 1 or 2 (`Overall`).
pub fn run(context: &Context, args: CheckArgs) -> Result<ExitCode> {
    let labs = context.labs(&args.lab)?;
    if args.answer.is_some() && labs.len() > 1 {
        bail!("`--answer` names one file: use it with one lab, not `all`");
    }
    let server = server::ensure_running(&context.home, &args.server.options(), Lifetime::Command)?;
    let overall = check(&server, &labs, args.answer.as_deref(), args.format)?;
    Ok(ExitCode::from(overall.code()))
}

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
    let sandboxes = Sandboxes::new(server);
    let mut overall = Overall::Passed;
    let mut verdicts = Vec::new();
    for lab in labs {
        let path = answer
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_answer(lab.number));
        let verdict = check::run(&sandboxes, lab, &path, Snapshots::Compare)?;
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
