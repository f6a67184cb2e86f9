//! `labs`: the command-line runner of the pgbg-labs course; parses arguments and dispatches.

mod bench;
mod home;
mod pgbin;
mod server;
mod server_cmd;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Self-checking labs for the chapter "Background processes in PostgreSQL".
///
/// Starts a private PostgreSQL server with the pg_background extension, runs your SQL answers
/// against it as an unprivileged role and tells you what is right and what is not.
#[derive(Parser)]
#[command(name = "labs", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start, inspect and stop the lab server.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Run a benchmark and print its table (figures also go to `--out` as JSON).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// pg_background against dblink: per-call round trip and streaming a million rows.
    Extension {
        #[command(flatten)]
        server: ServerArgs,
        /// Calls per method and round for the round trip.
        #[arg(long, default_value_t = 200)]
        calls: i32,
        /// Rows to stream.
        #[arg(long, default_value_t = 1_000_000)]
        rows: i32,
        /// Rounds; methods alternate within each round, the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Folder for the JSON figures.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Start the lab server (creating it the first time), or reuse the running one.
    Start(ServerArgs),
    /// Show the backend, version, port, data directory, extension and uptime.
    Status,
    /// Stop the lab server (its data is kept for the next start).
    Stop,
    /// Open psql on the lab server as its superuser; arguments after `--` go to psql.
    Psql {
        #[command(flatten)]
        server: ServerArgs,
        /// Arguments for psql, for example `-- -c 'SELECT 1'`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Print the end of the server's log.
    Logs {
        /// How many lines to print.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
    /// Print shell `export` lines (PGHOST, PGPORT, PGUSER, PGPASSWORD) for libpq tools.
    Env(ServerArgs),
}

/// How to find or start the server.
#[derive(Args, Clone, Default)]
struct ServerArgs {
    /// Folder of the PostgreSQL server binaries (default: `PG_CONFIG`, `pg_config` on PATH, or
    /// the newest /usr/lib/postgresql/N/bin).
    #[arg(long, value_name = "DIR")]
    pg_bin: Option<PathBuf>,
    /// Loopback TCP port for a server being started (default: a free one).
    #[arg(long)]
    port: Option<u16>,
}

impl ServerArgs {
    fn options(&self) -> server::ServerOptions {
        server::ServerOptions {
            pg_bin: self.pg_bin.clone(),
            port: self.port,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Dispatches to the module of the subcommand; exit code 0 on success, 1 when something checked
/// was found wanting, 2 (from `main`) when the command could not do its job.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let home = home::Home::resolve()?;
    match cli.command {
        Command::Server(command) => match command {
            ServerCommand::Start(args) => server_cmd::start(&home, &args.options())?,
            ServerCommand::Status => {
                if !server_cmd::status(&home)? {
                    return Ok(ExitCode::from(1));
                }
            }
            ServerCommand::Stop => server_cmd::stop(&home)?,
            ServerCommand::Psql { server, args } => {
                server_cmd::psql(&home, &server.options(), &args)?
            }
            ServerCommand::Logs { lines } => server_cmd::logs(&home, lines)?,
            ServerCommand::Env(args) => server_cmd::env(&home, &args.options())?,
        },
        Command::Bench(BenchCommand::Extension {
            server,
            calls,
            rows,
            rounds,
            out,
        }) => {
            let server = server::ensure_running(&home, &server.options())?;
            let report = bench::extension(&server, calls, rows, rounds, &out)?;
            bench::print_extension(&report);
        }
    }
    Ok(ExitCode::SUCCESS)
}
