//! `labs server ...`: start, inspect, open and stop the lab server.

use super::{Context as Cli, ServerArgs};
use anyhow::{bail, Context, Result};
use pgbg_labs::server::home::Home;
use pgbg_labs::server::{self, docker, Backend, Lifetime, Server, ServerOptions, Started};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

#[derive(clap::Subcommand)]
pub enum ServerCommand {
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

/// Runs the server subcommand; `status` exits 1 when no server runs.
pub fn run(context: &Cli, command: ServerCommand) -> Result<ExitCode> {
    let home = &context.home;
    match command {
        ServerCommand::Start(args) => start(home, &args.options())?,
        ServerCommand::Status => {
            if !status(home)? {
                return Ok(ExitCode::from(1));
            }
        }
        ServerCommand::Stop => stop(home)?,
        ServerCommand::Psql { server, args } => psql(home, &server.options(), &args)?,
        ServerCommand::Logs { lines } => logs(home, lines)?,
        ServerCommand::Env(args) => env(home, &args.options())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `labs server start`: reuses a running server or starts one, and says which.
fn start(home: &Home, options: &ServerOptions) -> Result<()> {
    let (server, how) = server::start(home, options, Lifetime::Kept)?;
    let verb = match how {
        Started::Reused => "is already running",
        Started::Started => "started",
    };
    let place = match server.backend {
        Backend::Native => format!(
            "socket folder {}, data {}",
            display_opt(&server.socket_dir),
            display_opt(&server.data_dir)
        ),
        Backend::Docker => format!(
            "container {} of {}",
            docker::short(server.container.as_deref().unwrap_or_default()),
            docker::image()
        ),
        Backend::Url => format!("host {}, user {}", server.host, server.superuser),
    };
    println!(
        "The {} lab server {verb}: port {}, {place}.",
        server.backend, server.port
    );
    Ok(())
}

/// `labs server status`: what runs, and where.
fn status(home: &Home) -> Result<bool> {
    let Some(server) = Server::load(home)?.filter(Server::is_alive) else {
        println!("No lab server is running. `labs server start` starts one.");
        return Ok(false);
    };
    let mut client = server.connect("postgres")?;
    let row = client.query_one(
        "SELECT current_setting('server_version'),
                (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_background'),
                date_trunc('second', now() - pg_postmaster_start_time())::text,
                current_setting('max_worker_processes')",
        &[],
    )?;
    let extension: Option<String> = row.get(1);
    println!("backend:        {}", server.backend);
    println!("version:        PostgreSQL {}", row.get::<_, String>(0));
    println!("port:           {} ({})", server.port, server.host);
    if let Some(id) = &server.container {
        println!("container:      {}", docker::short(id));
    }
    println!("socket folder:  {}", display_opt(&server.socket_dir));
    println!("data directory: {}", display_opt(&server.data_dir));
    println!("runs as:        {}", server.os_user);
    println!(
        "pg_background:  {}",
        extension.as_deref().unwrap_or("not installed")
    );
    println!("worker slots:   {}", row.get::<_, String>(3));
    println!("uptime:         {}", row.get::<_, String>(2));
    Ok(true)
}

/// `labs server stop`: the lab server, and the servers of `labs grade`'s lanes if any run.
fn stop(home: &Home) -> Result<()> {
    if server::stop(home)? {
        println!("The lab server stopped.");
    } else {
        println!("No lab server was running.");
    }
    let lanes = pgbg_labs::grade::lanes::stop_all(home)?;
    if lanes > 0 {
        println!("The servers of {lanes} grading lanes stopped.");
    }
    Ok(())
}

/// `labs server psql [ARGS]`: replaces this process with psql connected as the superuser.
fn psql(home: &Home, options: &ServerOptions, args: &[String]) -> Result<()> {
    let server = server::ensure_running(home, options, Lifetime::Kept)?;
    let psql = server
        .pg_bin
        .as_ref()
        .map(|dir| dir.join("psql"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "psql".into());
    let err = Command::new(&psql)
        .envs(server.libpq_env())
        .args(args)
        .exec();
    Err(err).with_context(|| {
        format!(
            "cannot run `{}`; install PostgreSQL's client (`psql`, Debian's postgresql-client){}",
            psql.display(),
            match &server.container {
                Some(id) => format!(
                    ", or use the container's own: `docker exec -it {} psql -U postgres`",
                    docker::short(id)
                ),
                None => String::new(),
            }
        )
    })
}

/// `labs server logs`: the end of the server's log.
fn logs(home: &Home, lines: usize) -> Result<()> {
    if let Some(server) = Server::load(home)? {
        match server.backend {
            Backend::Native => {}
            Backend::Docker => {
                print!("{}", docker::logs(&server, lines)?);
                return Ok(());
            }
            Backend::Url => bail!(
                "the lab server is someone else's ({}:{}, url backend): its log is on that \
                 server",
                server.host,
                server.port
            ),
        }
    }
    let log = home.log_file();
    if !log.exists() {
        bail!(
            "there is no server log at `{}` yet: `labs server start` starts a server",
            log.display()
        );
    }
    println!("{}", home.log_tail(lines));
    Ok(())
}

/// `labs server env`: shell assignments that point libpq tools at the server.
fn env(home: &Home, options: &ServerOptions) -> Result<()> {
    let server = server::ensure_running(home, options, Lifetime::Kept)?;
    for (name, value) in server.libpq_env() {
        println!("export {name}='{value}'");
    }
    Ok(())
}

fn display_opt(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "-".into())
}
