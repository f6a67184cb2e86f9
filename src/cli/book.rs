//! `labs book ...`: render the workbook on the lab server, and check the built HTML.

use super::{exit, Context, ServerArgs, Which};
use anyhow::{bail, Result};
use pgbg_labs::book;
use pgbg_labs::server::{self, Backend, Lifetime};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum BookCommand {
    /// Render book/src/ from templates/book/, running every example on the lab server.
    Render {
        /// Write nothing; fail (naming the files) when book/src/ differs from a fresh render.
        #[arg(long)]
        check: bool,
        /// Render only these pages (`part-1.md`, `lab-2.md`, `reference/v2.md`), leaving the
        /// others as they are: for an author working on a few pages.
        #[arg(long, value_name = "PAGE", num_args = 1..)]
        only: Vec<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Check that every internal link and #anchor of the built HTML resolves.
    Links {
        /// The folder `mdbook build` wrote.
        #[arg(default_value = "book/build")]
        html: PathBuf,
    },
    /// Screenshot every part in headless Chromium and check that it shows real outputs.
    Look {
        /// The folder `mdbook build` wrote.
        #[arg(default_value = "book/build")]
        html: PathBuf,
        /// Folder for the screenshots.
        #[arg(long, default_value = "target/book-look")]
        out: PathBuf,
        /// The Chromium program.
        #[arg(long, default_value = "chromium")]
        chromium: PathBuf,
    },
}

/// Renders or checks; exits 1 when a check found problems.
pub fn run(context: &Context, command: BookCommand) -> Result<ExitCode> {
    match command {
        BookCommand::Render {
            check,
            only,
            server,
        } => {
            let labs = context.labs(&Which::All)?;
            // The render reads the server's own log file and starts a throwaway cluster from the
            // same binaries: it needs the native backend.
            let mut options = server.options();
            if options.server_url.is_some() || options.backend.is_some_and(|b| b != Backend::Native)
            {
                bail!("`labs book render` runs on the native backend only");
            }
            options.backend = Some(Backend::Native);
            let server = server::ensure_running(&context.home, &options, Lifetime::Kept)?;
            let paths = book::Paths::of_project(Path::new(env!("CARGO_MANIFEST_DIR")));
            Ok(exit(book::render_cmd(
                &server,
                &context.home,
                &options,
                &paths,
                &labs,
                check,
                &only,
            )?))
        }
        BookCommand::Links { html } => Ok(exit(book::report(
            "broken links",
            book::links::check(&html)?,
        ))),
        BookCommand::Look {
            html,
            out,
            chromium,
        } => {
            let problems = book::look::look(&chromium, &html, &out)?;
            Ok(exit(book::report("problems", problems)))
        }
    }
}
