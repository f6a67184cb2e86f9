//! The lab server: one model of a running PostgreSQL with pg_background, whichever backend runs it.

pub mod native;

use crate::home::Home;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

/// Options every command that needs a server accepts.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The folder of the PostgreSQL server binaries, when not found by itself.
    pub pg_bin: Option<PathBuf>,
    /// The loopback TCP port to listen on; a free one when not given.
    pub port: Option<u16>,
}

/// Which backend runs the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// initdb + pg_ctl from the PostgreSQL binaries on this machine.
    Native,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Native => f.write_str("native"),
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
/// on stderr which of the two it did.
pub fn ensure_running(home: &Home, options: &ServerOptions) -> Result<Server> {
    let (server, how) = start(home, options)?;
    match how {
        Started::Reused => eprintln!(
            "labs: using the {} lab server on port {} (already running)",
            server.backend, server.port
        ),
        Started::Started => eprintln!(
            "labs: started a {} lab server on port {}",
            server.backend, server.port
        ),
    }
    Ok(server)
}

/// Reuses the saved server when it answers, else starts one.
pub fn start(home: &Home, options: &ServerOptions) -> Result<(Server, Started)> {
    if let Some(server) = Server::load(home)? {
        if server.is_alive() {
            if let Some(port) = options.port.filter(|p| *p != server.port) {
                anyhow::bail!(
                    "the lab server already runs on port {}, not {port}; run `labs server stop` \
                     first to move it",
                    server.port
                );
            }
            check_extension(&server)?;
            return Ok((server, Started::Reused));
        }
    }
    let server = native::start(home, options)?;
    check_extension(&server)?;
    Ok((server, Started::Started))
}

/// Stops the saved server; says so when none runs.
pub fn stop(home: &Home) -> Result<bool> {
    match Server::load(home)? {
        Some(server) => match server.backend {
            Backend::Native => native::stop(home, &server),
        },
        None => Ok(false),
    }
}

/// Fails with what to run when the server has no pg_background extension to create.
fn check_extension(server: &Server) -> Result<()> {
    let mut client = server.connect("postgres")?;
    let found = client.query_opt(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_background'",
        &[],
    )?;
    if found.is_none() {
        anyhow::bail!(
            "the lab server runs, but the pg_background extension is not installed in its \
             PostgreSQL ({}): run `make setup`, which builds and installs it from extension/, or \
             `make -C extension install PG_CONFIG=.../pg_config` for another PostgreSQL",
            server
                .pg_bin
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "its image".into())
        );
    }
    Ok(())
}
