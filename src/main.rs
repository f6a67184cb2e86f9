//! `labs`: the command-line runner of the pgbg-labs course; parses arguments and dispatches.

mod answer;
mod bench;
mod book;
mod browser;
mod check_cmd;
mod checks;
mod dev;
mod grade;
mod home;
mod init;
mod intact;
mod lab;
mod pgbin;
mod report;
mod sandbox;
mod scenario;
mod server;
mod server_cmd;
mod session;
mod snapshot;
mod table;
mod verdict;

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
    /// The folder of the labs (default: `LABS_DIR`, else the labs/ this binary was built with).
    #[arg(long, global = true, value_name = "DIR", env = "LABS_DIR")]
    labs_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Which labs a command works on: a number or `all`.
#[derive(Clone, Debug)]
enum Which {
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

#[derive(Subcommand)]
enum Command {
    /// Check your answer to lab N (or `all`) and print what passed, what did not, and hints.
    ///
    /// Exit code 0 when every check passed, 1 when some failed, 2 when the answer or the
    /// environment could not be used.
    Check {
        /// The lab's number, or `all`.
        lab: Which,
        /// The answer file (default: answers/labN.sql in the current folder).
        #[arg(long, value_name = "FILE")]
        answer: Option<PathBuf>,
        /// How to print the verdict.
        #[arg(long, value_enum, default_value_t = check_cmd::Format::Text)]
        format: check_cmd::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Grade a folder of students' answers (or a zip of one, or a Moodle export) into a gradebook.
    ///
    /// Every answer runs in a fresh database as a fresh unprivileged role, in lanes that each
    /// have a lab server of their own. Results are kept as they finish: a re-run grades only
    /// what is new or changed. Exit code 0 when everything was graded, 2 when some run could not
    /// be (it is graded on the next run).
    Grade(GradeArgs),
    /// Create a workspace: answers/lab1.sql..lab3.sql from the starters, and a README.
    Init {
        /// The folder of the workspace.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Tools for the labs' authors.
    #[command(subcommand)]
    Dev(DevCommand),
    /// Start, inspect and stop the lab server.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Run a benchmark and print its table (figures also go to `--out` as JSON).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The workbook: render its pages on the lab server, check the built HTML.
    #[command(subcommand)]
    Book(BookCommand),
}

#[derive(Subcommand)]
enum BookCommand {
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

#[derive(Subcommand)]
enum DevCommand {
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

#[derive(Subcommand)]
enum BenchCommand {
    /// Cold start to first query: native (new and existing cluster) and docker, side by side.
    Start {
        /// Rounds; backends alternate within each round, the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Folder for the JSON figures.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// The wall time of `labs check N` per lab, and the checker's own overhead in it.
    Checks {
        #[command(flatten)]
        server: ServerArgs,
        /// Runs per lab after a warm-up run; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Folder for the JSON figures.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// `labs grade` on synthetic students: submissions a minute with the default lanes, the share
    /// of wall time outside student SQL, and the speed-up of two lanes over one.
    Grade {
        #[command(flatten)]
        server: ServerArgs,
        /// Students graded with `labs grade`'s default lanes (every lab each).
        #[arg(long, default_value_t = 100)]
        students: usize,
        /// Students graded with one lane and with two, for the speed-up.
        #[arg(long, default_value_t = 12)]
        compare: usize,
        /// Folder for the JSON figures (and the synthetic students).
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// pg_background against dblink: per-call round trip and streaming a million rows.
    Extension {
        #[command(flatten)]
        server: ServerArgs,
        /// Calls per method and round for the round trip; the methods take turns every 20 calls.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(i32).range(1..))]
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

/// What `labs grade` grades, and how.
#[derive(Args)]
struct GradeArgs {
    /// A folder with a folder per student holding lab1.sql..lab3.sql, a .zip of such a folder,
    /// or a Moodle "download all submissions" export.
    submissions: PathBuf,
    /// The labs to grade, e.g. `1,2,3`.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    labs: Vec<u32>,
    /// Lanes (lab servers) grading at once (default: one more than the machine's CPUs: a lane
    /// waits now and then, in lab 3's pauses and lab 2's connections, and the extra lane keeps
    /// the CPUs busy meanwhile).
    #[arg(long)]
    jobs: Option<usize>,
    /// The gradebook's folder.
    #[arg(long, default_value = "gradebook")]
    out: PathBuf,
    /// Grade only this student (again, even if graded).
    #[arg(long, value_name = "ID")]
    student: Option<String>,
    /// Grade again what is already graded.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    server: ServerArgs,
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
    /// Which server to start when none runs: `native` (PostgreSQL on this machine), `docker`
    /// (a container of the image `make image` builds), `url` (`--server-url`), or `auto`:
    /// docker when a Docker daemon answers and the image is built, else native.
    #[arg(long, value_enum, env = "LABS_BACKEND", default_value_t = BackendArg::Auto)]
    backend: BackendArg,
    /// The server of the url backend: `postgres://user:password@host:port` (a superuser, or a
    /// role that may create databases and roles; the server must have pg_background).
    #[arg(long, value_name = "URL", env = "LABS_SERVER_URL")]
    server_url: Option<String>,
}

/// The `--backend` values: a backend, or `auto`.
#[derive(Clone, Copy, Default, clap::ValueEnum)]
enum BackendArg {
    #[default]
    Auto,
    Native,
    Docker,
    Url,
}

impl ServerArgs {
    fn options(&self) -> server::ServerOptions {
        server::ServerOptions {
            pg_bin: self.pg_bin.clone(),
            port: self.port,
            backend: match self.backend {
                BackendArg::Auto => None,
                BackendArg::Native => Some(server::Backend::Native),
                BackendArg::Docker => Some(server::Backend::Docker),
                BackendArg::Url => Some(server::Backend::Url),
            },
            server_url: self.server_url.clone(),
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
    let labs_dir = cli
        .labs_dir
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs"));
    let select = |which: &Which| -> anyhow::Result<Vec<lab::Lab>> {
        match which {
            Which::All => lab::Lab::load_all(&labs_dir),
            Which::One(n) => Ok(vec![lab::Lab::find(&labs_dir, *n)?]),
        }
    };
    let verdict = |ok: bool| {
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    };
    match cli.command {
        Command::Check {
            lab,
            answer,
            format,
            server,
        } => {
            let labs = select(&lab)?;
            if answer.is_some() && labs.len() > 1 {
                anyhow::bail!("`--answer` names one file: use it with one lab, not `all`");
            }
            let server =
                server::ensure_running(&home, &server.options(), server::Lifetime::Command)?;
            let overall = check_cmd::check(&server, &labs, answer.as_deref(), format)?;
            return Ok(ExitCode::from(overall.code()));
        }
        Command::Grade(args) => {
            let labs = args
                .labs
                .iter()
                .map(|n| lab::Lab::find(&labs_dir, *n))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let options = grade::Options {
                server: args.server.options(),
                submissions: args.submissions,
                labs,
                known_labs: select(&Which::All)?,
                jobs: args.jobs.unwrap_or_else(grade::default_lanes),
                out: args.out,
                student: args.student,
                force: args.force,
                progress_bar: grade::Options::stderr_is_terminal(),
            };
            let summary = grade::grade(&home, &options)?;
            grade::print_summary(&summary, &options.out);
            return Ok(ExitCode::from(if summary.failed > 0 { 2 } else { 0 }));
        }
        Command::Init { dir } => init::init(&dir, &select(&Which::All)?)?,
        Command::Dev(DevCommand::Dom { page, chromium }) => {
            print!("{}", browser::dom(&chromium, &page)?);
        }
        Command::Dev(DevCommand::Students { dir, count, seed }) => {
            let kinds = grade::synthetic::write(&dir, &select(&Which::All)?, count, seed)?;
            println!(
                "Wrote {count} students into `{}`: {} reference solutions, {} wrong answers, {} \
                 rewrites.",
                dir.display(),
                kinds[0],
                kinds[1],
                kinds[2]
            );
        }
        Command::Dev(DevCommand::Check { lab, server }) => {
            let labs = select(&lab)?;
            let server =
                server::ensure_running(&home, &server.options(), server::Lifetime::Command)?;
            return Ok(verdict(dev::check(&server, &labs)?));
        }
        Command::Dev(DevCommand::Bless { lab, server }) => {
            let labs = select(&lab)?;
            let server =
                server::ensure_running(&home, &server.options(), server::Lifetime::Command)?;
            let mut ok = true;
            for lab in &labs {
                ok &= dev::bless(&server, lab)?;
            }
            return Ok(verdict(ok));
        }
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
        Command::Bench(BenchCommand::Start { rounds, out }) => {
            bench::print_start(&bench::start(rounds.max(1), &out)?);
        }
        Command::Bench(BenchCommand::Checks { server, runs, out }) => {
            let labs = select(&Which::All)?;
            let server =
                server::ensure_running(&home, &server.options(), server::Lifetime::Command)?;
            bench::print_checks(&bench::checks(&server, &labs, runs, &out)?);
        }
        Command::Bench(BenchCommand::Grade {
            server,
            students,
            compare,
            out,
        }) => {
            let labs = select(&Which::All)?;
            let report = bench::grade(&home, &labs, &server.options(), students, compare, &out)?;
            bench::print_grade(&report);
        }
        Command::Bench(BenchCommand::Extension {
            server,
            calls,
            rows,
            rounds,
            out,
        }) => {
            let server =
                server::ensure_running(&home, &server.options(), server::Lifetime::Command)?;
            let report = bench::extension(&server, calls, rows, rounds, &out)?;
            bench::print_extension(&report);
        }
        Command::Book(BookCommand::Render {
            check,
            only,
            server,
        }) => {
            let labs = select(&Which::All)?;
            // The render reads the server's own log file and starts a throwaway cluster from the
            // same binaries: it needs the native backend.
            let mut options = server.options();
            if options.server_url.is_some()
                || options
                    .backend
                    .is_some_and(|b| b != server::Backend::Native)
            {
                anyhow::bail!("`labs book render` runs on the native backend only");
            }
            options.backend = Some(server::Backend::Native);
            let server = server::ensure_running(&home, &options, server::Lifetime::Kept)?;
            let paths = book::Paths::of_project(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
            return Ok(verdict(book::render_cmd(
                &server, &home, &options, &paths, &labs, check, &only,
            )?));
        }
        Command::Book(BookCommand::Links { html }) => {
            return Ok(verdict(book::report(
                "broken links",
                book::links::check(&html)?,
            )));
        }
        Command::Book(BookCommand::Look {
            html,
            out,
            chromium,
        }) => {
            let problems = book::look::look(&chromium, &html, &out)?;
            return Ok(verdict(book::report("problems", problems)));
        }
    }
    Ok(ExitCode::SUCCESS)
}
