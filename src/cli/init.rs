//! `labs init [DIR]`: a student's workspace.

use super::{Context, Which};
use anyhow::Result;
use pgbg_labs::workspace;
use std::path::PathBuf;
use std::process::ExitCode;

/// `labs init`'s arguments.
#[derive(clap::Args)]
pub struct InitArgs {
    /// The folder of the workspace.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Makes the workspace, keeping the answers it already has.
pub fn run(context: &Context, args: InitArgs) -> Result<ExitCode> {
    workspace::init(&args.dir, &context.labs(&Which::All)?)?;
    Ok(ExitCode::SUCCESS)
}
