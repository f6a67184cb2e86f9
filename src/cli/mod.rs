//! The subcommands of `labs`, one file each (its arguments and its `run`), and what they share:
//! the top-level arguments, how to pick labs and how to reach the server.

mod bench;
mod book;
mod check;
mod dev;
mod grade;
mod init;
mod serve;
mod server;
mod watch;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use pgbg_labs::lab::Lab;
use pgbg_labs::server::home::Home;
use pgbg_labs::server::{Backend, ServerOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Self-checking labs for the chapter "Background processes in PostgreSQL".
///
/// Starts a private PostgreSQL server with the pg_background extension, runs your SQL answers
/// against it as an unprivileged role and tells you what is right and what is not.
#[derive(Parser)]
#[command(name = "labs", version, propagate_version = true)]
pub struct Cli {
    /// The folder of the labs (default: `LABS_DIR`, else the labs/ this binary was built with).
    #[arg(long, global = true, value_name = "DIR", env = "LABS_DIR")]
    pub labs_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check your answer to lab N (or `all`) and print what passed, what did not, and hints.
    ///
    /// Exit code 0 when every check passed, 1 when some failed, 2 when the answer or the
    /// environment could not be used.
    Check(check::CheckArgs),
    /// Check your answer to lab N, then again each time you save the file, printing what changed.
    ///
    /// Runs until Ctrl-C.
    Watch(watch::WatchArgs),
    /// Grade a folder of students' answers (or a zip of one, or a Moodle export) into a gradebook.
    ///
    /// Every answer runs in a fresh database as a fresh unprivileged role, in lanes that each
    /// have a lab server of their own. Results are kept as they finish: a re-run grades only
    /// what is new or changed. Exit code 0 when everything was graded, 2 when some run could not
    /// be (it is graded on the next run).
    Grade(grade::GradeArgs),
    /// Create a workspace: an answer file a lab from its starter, and a README.
    Init(init::InitArgs),
    /// Tools for the labs' authors.
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Start, inspect and stop the lab server.
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Run a benchmark and print its table (figures also go to `--out` as JSON).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The workbook: render its pages on the lab server, check the built HTML.
    #[command(subcommand)]
    Book(book::BookCommand),
    /// Serve the built workbook on 127.0.0.1: run its examples and check your answers from the
    /// pages (the URL to open, with its access token, is printed).
    Serve(serve::ServeArgs),
}

/// Runs the subcommand: exit code 0 on success, 1 when something checked was found wanting, 2
/// (from `main`, on an error) when the command could not do its job.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let context = Context {
        home: Home::resolve()?,
        labs_dir: cli
            .labs_dir
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs")),
    };
    match cli.command {
        Command::Check(args) => check::run(&context, args),
        Command::Watch(args) => watch::run(&context, args),
        Command::Grade(args) => grade::run(&context, args),
        Command::Init(args) => init::run(&context, args),
        Command::Dev(command) => dev::run(&context, command),
        Command::Server(command) => server::run(&context, command),
        Command::Bench(command) => bench::run(&context, command),
        Command::Book(command) => book::run(&context, command),
        Command::Serve(args) => serve::run(&context, args),
    }
}

/// What every subcommand may need: the home folder and the labs' folder.
pub struct Context {
    pub home: Home,
    pub labs_dir: PathBuf,
}

impl Context {
    /// The labs `which` names.
    pub fn labs(&self, which: &Which) -> Result<Vec<Lab>> {
        match which {
            Which::All => pgbg_labs::check::load_labs(&self.labs_dir),
            Which::One(n) => Ok(vec![pgbg_labs::check::find_lab(&self.labs_dir, *n)?]),
        }
    }
}

/// Exit code 0 when `ok`, else 1.
pub fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Which labs a command works on: a number or `all`.
#[derive(Clone, Debug)]
pub enum Which {
    All,
    One(u32),
}

impl std::str::FromStr for Which {
    type Err = String;
    fn from_str(s: &str) -> Result<Which, String> {
        match s {
            "all" => Ok(Which::All),
            n => n
                .parse()
                .map(Which::One)
                .map_err(|_| format!("`{n}` is neither a lab number nor `all`")),
        }
    }
}

/// How to find or start the server.
#[derive(Args, Clone, Default)]
pub struct ServerArgs {
    /// Folder of the PostgreSQL server binaries (default: `PG_CONFIG`, `pg_config` on PATH, or
    /// the newest /usr/lib/postgresql/N/bin).
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
    /// Loopback TCP port for a server being started (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Which server to start when none runs: `native` (PostgreSQL on this machine), `docker`
    /// (a container of the image `make image` builds), `url` (`--server-url`), or `auto`:
    /// docker when a Docker daemon answers and the image is built, else native.
    #[arg(long, value_enum, env = "LABS_BACKEND", default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// The server of the url backend: `postgres://user:password@host:port` (a superuser, or a
    /// role that may create databases and roles; the server must have pg_background).
    #[arg(long, value_name = "URL", env = "LABS_SERVER_URL")]
    pub server_url: Option<String>,
}

/// The `--backend` values: a backend, or `auto`.
#[derive(Clone, Copy, Default, clap::ValueEnum)]
pub enum BackendArg {
    #[default]
    Auto,
    Native,
    Docker,
    Url,
}

impl ServerArgs {
    pub fn options(&self) -> ServerOptions {
        ServerOptions {
            pg_bin: self.pg_bin.clone(),
            port: self.port,
            backend: match self.backend {
                BackendArg::Auto => None,
                BackendArg::Native => Some(Backend::Native),
                BackendArg::Docker => Some(Backend::Docker),
                BackendArg::Url => Some(Backend::Url),
            },
            server_url: self.server_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own checks of every subcommand's arguments (unique names among flattened groups,
    /// say), which debug builds otherwise make only when that subcommand is run.
    #[test]
    fn the_arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
