//! The lab server: one model of a running PostgreSQL with pg_background, whichever backend runs it.

pub mod docker;
pub mod home;
mod lifecycle;
mod locale;
pub mod native;
pub mod pgbin;
mod pool;
pub mod session;
mod slots;
pub mod url;

pub use lifecycle::{ensure_runner_db, ensure_running, start, stop};
pub use pool::Admin;
pub use slots::SlotLock;

pub use docker::Lifetime;

use crate::server::home::Home;
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

/// A server in use by this command; when it is dropped, a container started for this command
/// alone is removed (declare the command's `sandbox::Sandboxes` after it: they are dropped first).
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
    /// Removes a container started for this command alone.
    fn drop(&mut self) {
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

/// Fails with advice when `port` on the loopback is taken.
pub(crate) fn check_port_free(port: u16) -> Result<()> {
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        anyhow::bail!(
            "port {port} on 127.0.0.1 is in use by another program. Choose another with \
             `--port N`, or leave `--port` out to take a free one."
        );
    }
    Ok(())
}

/// Where the extension is missing for a native server, and what to run.
pub(crate) fn native_install_advice(pg_bin: Option<&std::path::Path>) -> String {
    format!(
        "in its PostgreSQL ({}): run `make setup`, which builds and installs it from extension/, \
         or `make -C extension install PG_CONFIG=.../pg_config` for another PostgreSQL",
        pg_bin.map(|p| p.display().to_string()).unwrap_or_default()
    )
}
