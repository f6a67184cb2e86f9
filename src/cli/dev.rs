//! `labs dev ...`: the labs' authors' tools.

use super::{exit, Context, ServerArgs, Which};
use anyhow::Result;
use pgbg_labs::server::{self, Lifetime};
use pgbg_labs::{browser, dev, grade};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum DevCommand {
    /// Print the DOM of an HTML page as headless Chromium renders it (what the book's and the
    /// gradebook's checks look at).
    Dom {
        /// The HTML file.
        page: PathBuf,
        /// The Chromium program.
        #[arg(long, default_value = "chromium")]
        chromium: PathBuf,
    },
    /// Prove the checker: every solution passes, every starter fails, every wrong answer fails
    /// exactly the checks its header names.
    Check {
        /// The lab's number, or `all`.
        #[arg(default_value = "all")]
        lab: Which,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Write synthetic students (reference solutions, wrong answers and rewrites of them) into a
    /// folder, to try `labs grade` on.
    Students {
        /// The folder to write `student_001`.. into.
        dir: PathBuf,
        /// How many students.
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// The seed that chooses each student's answers.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write the snapshots of lab N from its reference solution.
    Bless {
        /// The lab's number, or `all`.
        lab: Which,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs the authors' tool; `check` and `bless` exit 1 when something did not hold.
pub fn run(context: &Context, command: DevCommand) -> Result<ExitCode> {
    match command {
        DevCommand::Dom { page, chromium } => {
            print!("{}", browser::dom(&chromium, &page)?);
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::Students { dir, count, seed } => {
            let kinds = grade::synthetic::write(&dir, &context.labs(&Which::All)?, count, seed)?;
            println!(
                "Wrote {count} students into `{}`: {} reference solutions, {} wrong answers, {} \
                 rewrites.",
                dir.display(),
                kinds[0],
                kinds[1],
                kinds[2]
            );
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::Check { lab, server } => {
            let labs = context.labs(&lab)?;
            let server =
                server::ensure_running(&context.home, &server.options(), Lifetime::Command)?;
            Ok(exit(dev::check(&server, &labs)?))
        }
        DevCommand::Bless { lab, server } => {
            let labs = context.labs(&lab)?;
            let server =
                server::ensure_running(&context.home, &server.options(), Lifetime::Command)?;
            let mut ok = true;
            for lab in &labs {
                ok &= dev::bless(&server, lab)?;
            }
            Ok(exit(ok))
        }
    }
}
