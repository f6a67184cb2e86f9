//! The lab server: one model of a running PostgreSQL with pg_background, whichever backend runs it.

pub mod docker;
pub mod native;
mod pool;
pub mod url;

pub use pool::Admin;

pub use docker::Lifetime;

use crate::home::Home;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

/// The runner's own database: its advisory locks and lab 3's slot holders live there. No role
/// but the superuser may connect to it, so no student's session can take or hold those locks,
/// nor plant objects the runner's sessions would meet.
pub const RUNNER_DB: &str = "labs_runner";

/// The databases of a server the runner owns that only the superuser may connect to or make
/// temporary objects in: a run's roles that reached them could make objects there (large
/// objects, kept in template1, would be copied into every later database), which pin the role
/// past its run, and hold sessions the run does not know of.
const SUPERUSER_ONLY: &[&str] = &["postgres", "template1", RUNNER_DB];

/// Options every command that needs a server accepts.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The folder of the PostgreSQL server binaries, when not found by itself.
    pub pg_bin: Option<PathBuf>,
    /// The loopback TCP port to listen on; a free one when not given.
    pub port: Option<u16>,
    /// The backend to start; `None` is `auto`: docker when a Docker daemon answers and the lab
    /// server image is built, else native (a `server_url` means url).
    pub backend: Option<Backend>,
    /// The server of the url backend: `postgres://user:password@host:port`.
    pub server_url: Option<String>,
}

impl ServerOptions {
    /// The backend asked for: url whenever a server URL is given, else `backend`.
    fn requested(&self) -> Option<Backend> {
        match self.server_url {
            Some(_) => Some(Backend::Url),
            None => self.backend,
        }
    }
}

/// Which backend runs the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// initdb + pg_ctl from the PostgreSQL binaries on this machine.
    Native,
    /// A container of the lab server image (docker/), through testcontainers.
    Docker,
    /// A server someone already runs, named by `--server-url`.
    Url,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Native => f.write_str("native"),
            Backend::Docker => f.write_str("docker"),
            Backend::Url => f.write_str("url"),
        }
    }
}

/// A lab server: how to reach it as its superuser. Saved in the home folder when it starts, so
/// the next command can reuse it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Server {
    pub backend: Backend,
    /// The loopback address the server listens on.
    pub host: String,
    pub port: u16,
    /// The folder of the unix socket, for backends that have one on this machine.
    pub socket_dir: Option<PathBuf>,
    pub superuser: String,
    pub password: String,
    /// The data directory, for backends that keep one on this machine.
    pub data_dir: Option<PathBuf>,
    /// The folder of the PostgreSQL binaries the server runs from.
    pub pg_bin: Option<PathBuf>,
    /// The system user the server runs as.
    pub os_user: String,
    /// The container of the docker backend.
    #[serde(default)]
    pub container: Option<String>,
}

/// A server in use by this command; when it is dropped, the runs still being dropped on it are
/// waited for and a container started for this command alone is removed.
pub struct Running {
    server: Server,
    lifetime: Lifetime,
}

impl std::ops::Deref for Running {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl Drop for Running {
    /// Waits for the runs still being dropped on the server, then removes a container started
    /// for this command alone.
    fn drop(&mut self) {
        crate::sandbox::settle(&self.server);
        if self.lifetime == Lifetime::Command {
            docker::finish();
        }
    }
}

/// Whether a command found its server running or had to start it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Reused,
    Started,
}

impl Server {
    /// Connection settings for the superuser in database `dbname`: the unix socket when there is
    /// one, else TCP with the password.
    pub fn config(&self, dbname: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        match &self.socket_dir {
            Some(dir) => config.host_path(dir),
            None => config.host(&self.host).password(&self.password),
        };
        config
            .port(self.port)
            .user(&self.superuser)
            .dbname(dbname)
            .application_name("labs")
            .connect_timeout(Duration::from_secs(5));
        config
    }

    /// Connects as the superuser to `dbname`.
    pub fn connect(&self, dbname: &str) -> Result<postgres::Client> {
        self.config(dbname)
            .connect(postgres::NoTls)
            .with_context(|| format!("cannot connect to the lab server on port {}", self.port))
    }

    /// The address the server reaches itself at, for dblink inside it: in a container its own
    /// port on its loopback, not the port mapped on this machine.
    pub fn address_inside(&self) -> (&str, u16) {
        match self.backend {
            Backend::Docker => ("127.0.0.1", docker::INNER_PORT),
            Backend::Native | Backend::Url => (&self.host, self.port),
        }
    }

    /// Whether the server answers a query.
    pub fn is_alive(&self) -> bool {
        self.connect("postgres")
            .and_then(|mut c| Ok(c.simple_query("SELECT 1")?))
            .is_ok()
    }

    /// The libpq environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`) that reaches the server
    /// as its superuser, for psql and pg_regress.
    pub fn libpq_env(&self) -> Vec<(&'static str, String)> {
        let host = match &self.socket_dir {
            Some(dir) => dir.display().to_string(),
            None => self.host.clone(),
        };
        vec![
            ("PGHOST", host),
            ("PGPORT", self.port.to_string()),
            ("PGUSER", self.superuser.clone()),
            ("PGPASSWORD", self.password.clone()),
        ]
    }

    /// Reads the saved server of this home folder, if any.
    pub fn load(home: &Home) -> Result<Option<Server>> {
        let path = home.state_file();
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let server = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a saved lab server; remove it and run `labs server start`",
                path.display()
            )
        })?;
        Ok(Some(server))
    }

    /// Saves the server (readable only by its owner: it holds the superuser's password).
    pub fn save(&self, home: &Home) -> Result<()> {
        let path = home.state_file();
        let tmp = path.with_extension("json.tmp");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write `{}`", tmp.display()))?;
        file.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot write `{}`", path.display()))
    }
}

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
    // Spares are made for one start of a server: they know its port. What cannot be dropped is
    // said and left for the next start: the server itself is usable.
    if let Err(err) = crate::sandbox::drop_spares(&running) {
        eprintln!("labs: warning: {err:#}");
    }
    Ok((running, Started::Started))
}

/// Makes the runner's database when missing and takes CONNECT and TEMPORARY from PUBLIC on it
/// and, on a server the runner owns, on `postgres` and `template1` too (the superuser keeps
/// both). Idempotent and cheap when done: one query finds nothing to do. A url server's own
/// databases are its owner's to close (README, the url backend), and each run says when its
/// student could connect to one (`sandbox::warn_open_databases`).
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
pub(crate) fn ensure_runner_db(server: &Server) -> Result<()> {
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

/// Fails with advice when `port` on the loopback is taken.
fn check_port_free(port: u16) -> Result<()> {
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        anyhow::bail!(
            "port {port} on 127.0.0.1 is in use by another program. Choose another with \
             `--port N`, or leave `--port` out to take a free one."
        );
    }
    Ok(())
}

/// Where the extension is missing for a native server, and what to run.
fn native_install_advice(pg_bin: Option<&std::path::Path>) -> String {
    format!(
        "in its PostgreSQL ({}): run `make setup`, which builds and installs it from extension/, \
         or `make -C extension install PG_CONFIG=.../pg_config` for another PostgreSQL",
        pg_bin.map(|p| p.display().to_string()).unwrap_or_default()
    )
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
