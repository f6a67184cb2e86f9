//! `labs watch N`: checks lab N's answer, then again each time the file is saved, printing what
//! changed, until Ctrl-C.

use super::check::default_answer;
use super::{Context, ServerArgs};
use anyhow::{Context as _, Result};
use pgbg_labs::sandbox::Sandboxes;
use pgbg_labs::server::{self, Lifetime};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// `labs watch`'s arguments.
#[derive(clap::Args)]
pub struct WatchArgs {
    /// The lab's number.
    lab: u32,
    /// The answer file (default: answers/labN.sql in the current folder).
    #[arg(long, value_name = "FILE")]
    answer: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// Watches the answer on one server and one `Sandboxes` (each check after the first takes the
/// spare database the one before it left); exits 0 on Ctrl-C or SIGTERM.
pub fn run(context: &Context, args: WatchArgs) -> Result<ExitCode> {
    let lab = pgbg_labs::check::find_lab(&context.labs_dir, args.lab)?;
    let path = args.answer.unwrap_or_else(|| default_answer(lab.number));
    let server = server::ensure_running(&context.home, &args.server.options(), Lifetime::Command)?;
    let sandboxes = Sandboxes::new(&server);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // The first one ends the watch once a check under way is done (its databases dropped);
        // a second one ends it at once.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .context("cannot watch for Ctrl-C")?;
    }
    pgbg_labs::watch::watch(&sandboxes, &lab, &path, &stop)?;
    Ok(ExitCode::SUCCESS)
}
