//! `labs server ...`: start, inspect, open and stop the lab server.

use crate::home::Home;
use crate::server::{self, docker, native, Backend, Lifetime, Server, ServerOptions, Started};
use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// `labs server start`: reuses a running server or starts one, and says which.
pub fn start(home: &Home, options: &ServerOptions) -> Result<()> {
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
pub fn status(home: &Home) -> Result<bool> {
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
pub fn stop(home: &Home) -> Result<()> {
    if server::stop(home)? {
        println!("The lab server stopped.");
    } else {
        println!("No lab server was running.");
    }
    let lanes = crate::grade::lanes::stop_all(home)?;
    if lanes > 0 {
        println!("The servers of {lanes} grading lanes stopped.");
    }
    Ok(())
}

/// `labs server psql [ARGS]`: replaces this process with psql connected as the superuser.
pub fn psql(home: &Home, options: &ServerOptions, args: &[String]) -> Result<()> {
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
pub fn logs(home: &Home, lines: usize) -> Result<()> {
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
    println!("{}", native::tail(&log, lines));
    Ok(())
}

/// `labs server env`: shell assignments that point libpq tools at the server.
pub fn env(home: &Home, options: &ServerOptions) -> Result<()> {
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
