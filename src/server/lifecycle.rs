//! A server's lifecycle: reuse the running one or start one with the chosen backend, close the
//! databases no run may enter, check the extension, and stop.

use super::home::Home;
use super::{
    docker, native, native_install_advice, url, Backend, Lifetime, Running, Server, ServerOptions,
    Started, RUNNER_DB,
};
use anyhow::{Context, Result};

/// The databases of a server the runner owns that only the superuser may connect to or make
/// temporary objects in: a run's roles that reached them could make objects there (large
/// objects, kept in template1, would be copied into every later database), which pin the role
/// past its run, and hold sessions the run does not know of.
const SUPERUSER_ONLY: &[&str] = &["postgres", "template1", RUNNER_DB];

/// Returns the running lab server of this home folder, starting one when none answers, and says
/// on stderr which of the two it did. A container started here lives as long as `lifetime`
/// says.
pub fn ensure_running(home: &Home, options: &ServerOptions, lifetime: Lifetime) -> Result<Running> {
    let (running, how) = start(home, options, lifetime)?;
    let server = &running.server;
    match how {
        Started::Reused => eprintln!(
            "labs: using the {} lab server on port {} (already running)",
            server.backend, server.port
        ),
        Started::Started => eprintln!(
            "labs: started a {} lab server on port {}{}",
            server.backend,
            server.port,
            match (server.backend, lifetime) {
                (Backend::Docker, Lifetime::Command) =>
                    " (its container is removed when this command ends)",
                _ => "",
            }
        ),
    }
    Ok(running)
}

/// Reuses the saved server when it answers, else starts one with the chosen backend. Kept
/// servers are saved for the next commands; a container for this command alone is not.
pub fn start(
    home: &Home,
    options: &ServerOptions,
    lifetime: Lifetime,
) -> Result<(Running, Started)> {
    if let Some(server) = Server::load(home)? {
        if server.is_alive() {
            if let Some(port) = options.port.filter(|p| *p != server.port) {
                anyhow::bail!(
                    "the lab server already runs on port {}, not {port}; run `labs server stop` \
                     first to move it",
                    server.port
                );
            }
            if let Some(wanted) = options.requested().filter(|b| *b != server.backend) {
                anyhow::bail!(
                    "a {} lab server already runs for this home folder; run `labs server stop` \
                     first to use the {wanted} backend",
                    server.backend
                );
            }
            check_extension(&server)?;
            close_databases(&server)?;
            let running = Running {
                server,
                lifetime: Lifetime::Kept,
            };
            return Ok((running, Started::Reused));
        }
    }
    let backend = choose(options);
    let server = match backend {
        Backend::Native => native::start(home, options)?,
        Backend::Docker => {
            let server = docker::start(options, lifetime)?;
            if lifetime == Lifetime::Kept {
                home.create()?;
                server.save(home)?;
            }
            server
        }
        Backend::Url => {
            let url = options.server_url.as_deref().context(
                "the url backend needs `--server-url postgres://user:password@host:port`",
            )?;
            let server = url::connect(url)?;
            if lifetime == Lifetime::Kept {
                home.create()?;
                server.save(home)?;
            }
            server
        }
    };
    let lifetime = match backend {
        Backend::Docker => lifetime,
        Backend::Native | Backend::Url => Lifetime::Kept,
    };
    let running = Running { server, lifetime };
    check_extension(&running)?;
    close_databases(&running)?;
    Ok((running, Started::Started))
}

/// Makes the runner's database when missing and takes CONNECT and TEMPORARY from PUBLIC on it
/// and, on a server the runner owns, on `postgres` and `template1` too (the superuser keeps
/// both). Idempotent and cheap when done: one query finds nothing to do. A url server's own
/// databases are its owner's to close (README, the url backend), and each run says when its
/// student could connect to one (`Sandboxes::warn_open_databases`).
fn close_databases(server: &Server) -> Result<()> {
    ensure_runner_db(server)?;
    let closed: &[&str] = match server.backend {
        Backend::Url => &[RUNNER_DB],
        Backend::Native | Backend::Docker => SUPERUSER_ONLY,
    };
    let mut admin = server.admin()?;
    let open: Vec<String> = admin
        .query(
            "SELECT DISTINCT d.datname FROM pg_database d,
                 aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS a
             WHERE d.datname = ANY($1) AND a.grantee = 0
               AND a.privilege_type IN ('CONNECT', 'TEMPORARY')",
            &[&closed],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for db in open {
        admin
            .batch_execute(&format!(
                "REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC"
            ))
            .with_context(|| format!("cannot close the database `{db}` to PUBLIC"))?;
    }
    Ok(())
}

/// Creates the runner's database (`RUNNER_DB`) when it is missing; two commands that race to
/// create it both succeed.
pub fn ensure_runner_db(server: &Server) -> Result<()> {
    let mut admin = server.admin()?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&RUNNER_DB],
        )?
        .is_some();
    if !exists {
        match admin.batch_execute(&format!("CREATE DATABASE {RUNNER_DB}")) {
            Err(err) if err.code() != Some(&postgres::error::SqlState::DUPLICATE_DATABASE) => {
                return Err(err).context("cannot create the runner's database");
            }
            _ => {}
        }
        admin.batch_execute(&format!(
            "REVOKE CONNECT, TEMPORARY ON DATABASE {RUNNER_DB} FROM PUBLIC"
        ))?;
    }
    Ok(())
}

/// The backend to start: the one asked for, else url when a server URL is given, else docker
/// when a daemon answers and the image is built, else native; `auto` says which and why.
fn choose(options: &ServerOptions) -> Backend {
    if let Some(backend) = options.requested() {
        return backend;
    }
    match docker::unavailable() {
        None => {
            eprintln!(
                "labs: backend auto: docker (a Docker daemon answers and `{}` is built)",
                docker::image()
            );
            Backend::Docker
        }
        Some(why) => {
            eprintln!("labs: backend auto: native ({why})");
            Backend::Native
        }
    }
}

/// Stops the saved server; says so when none runs. A docker server's container is removed; a
/// url server is only forgotten: it is not the runner's to stop.
pub fn stop(home: &Home) -> Result<bool> {
    match Server::load(home)? {
        Some(server) => match server.backend {
            Backend::Native => native::stop(home, &server),
            Backend::Docker => {
                let removed = docker::stop(&server)?;
                forget(home)?;
                Ok(removed)
            }
            Backend::Url => {
                forget(home)?;
                Ok(true)
            }
        },
        None => Ok(false),
    }
}

/// Removes the saved server of a backend that keeps nothing else in the home folder.
fn forget(home: &Home) -> Result<()> {
    let path = home.state_file();
    std::fs::remove_file(&path).with_context(|| format!("cannot remove `{}`", path.display()))
}

/// Fails with what to run when the server has no pg_background extension to create.
fn check_extension(server: &Server) -> Result<()> {
    let mut client = server.connect("postgres")?;
    let found = client.query_opt(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_background'",
        &[],
    )?;
    if found.is_none() {
        let what_to_do = match server.backend {
            Backend::Native => native_install_advice(server.pg_bin.as_deref()),
            Backend::Docker => format!(
                "in the image `{}`: rebuild it with `make image`",
                docker::image()
            ),
            Backend::Url => format!(
                "on {}:{}: install it there (`make -C extension install \
                 PG_CONFIG=.../pg_config` on that machine)",
                server.host, server.port
            ),
        };
        anyhow::bail!(
            "the lab server runs, but the pg_background extension is not installed {what_to_do}"
        );
    }
    Ok(())
}
