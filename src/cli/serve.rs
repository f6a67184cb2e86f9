//! `labs serve`: the workbook in the browser, its examples runnable and its labs checkable from
//! the page, for the workspace the command is started in.

use super::{Context, ServerArgs, Which};
use anyhow::Result;
use pgbg_labs::serve::Workbench;
use pgbg_labs::server::{self, Lifetime};
use std::path::PathBuf;
use std::process::ExitCode;

/// `labs serve`'s arguments.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The workbook's HTTP port on 127.0.0.1 (0: a free one); `--port` is the lab server's.
    #[arg(long, default_value_t = 3001)]
    http_port: u16,
    /// The workbook's folder (its sandbox's description, `00_workbook/`).
    #[arg(long, value_name = "DIR")]
    book: Option<PathBuf>,
    /// The built workbook (default: the workbook's `build/`, which `make book` makes).
    #[arg(long, value_name = "DIR")]
    site: Option<PathBuf>,
    /// The workspace whose `answers/labN.sql` the lab pages edit and check (`labs init`).
    #[arg(long, value_name = "DIR", default_value = ".")]
    workspace: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
}

/// Serves until interrupted.
pub fn run(context: &Context, args: ServeArgs) -> Result<ExitCode> {
    let book = args
        .book
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book"));
    let running = server::ensure_running(&context.home, &args.server.options(), Lifetime::Command)?;
    let labs = context.labs(&Which::All)?;
    let workspace = std::fs::canonicalize(&args.workspace)?;
    let site = args.site.unwrap_or_else(|| book.join("build"));
    let bench = Workbench::new(&running, &book, &site, &workspace, labs)?;
    let served = bench.start(args.http_port)?;
    eprintln!(
        "labs: the workbook of `{}` is served; open it (Ctrl-C stops):",
        workspace.display()
    );
    println!("{}", served.url());
    served.wait();
    Ok(ExitCode::SUCCESS)
}
