//! The labs home folder: where the lab server's data, socket, log and state live.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The folder that holds everything the runner keeps between commands.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The last `lines` lines of the server's log, for error messages and `labs server logs`.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.log_file()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Resolves the home folder: `LABS_HOME` when set; otherwise the XDG cache folder of the
    /// user, except for root, whose `/root` is private and so cannot hold a cluster that runs as
    /// an unprivileged user: root gets `/var/cache/pgbg-labs`.
    pub fn resolve() -> Result<Home> {
        let root = match std::env::var_os("LABS_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ if nix::unistd::geteuid().is_root() => PathBuf::from("/var/cache/pgbg-labs"),
            _ => dirs::cache_dir()
                .context("cannot find a cache folder for this user; set LABS_HOME to a folder")?
                .join("pgbg-labs"),
        };
        let root = if root.is_relative() {
            std::env::current_dir()?.join(root)
        } else {
            root
        };
        Ok(Home { root })
    }

    /// A home folder at `root`, for a server of the runner's own (the book's throwaway server,
    /// the benchmarks).
    pub fn at(root: PathBuf) -> Home {
        Home { root }
    }

    /// Creates the folder (readable and traversable by the server's user) when missing.
    pub fn create(&self) -> Result<()> {
        if !self.root.exists() {
            fs::create_dir_all(&self.root)
                .with_context(|| format!("cannot create `{}`", self.root.display()))?;
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot set permissions of `{}`", self.root.display()))?;
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The PostgreSQL data directory of the native backend.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The folder of the server's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// The folder of the server's log, writable by the server's user.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("server.log")
    }

    /// The folder of the grader's lanes on disk, each a home of its own (`lanes/N`).
    pub fn lanes_dir(&self) -> PathBuf {
        self.root.join("lanes")
    }

    /// The folder of the grader's lanes in RAM: on the tmpfs at /dev/shm, named after this
    /// home and the user, so that two homes or two users never share it.
    pub fn ram_lanes_dir(&self) -> PathBuf {
        let digest = Sha256::digest(self.root.as_os_str().as_encoded_bytes());
        let tag: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        PathBuf::from(format!(
            "/dev/shm/pgbg-labs-{}-{tag}",
            nix::unistd::geteuid()
        ))
    }

    /// The superuser's password of the native backend's cluster.
    pub fn password_file(&self) -> PathBuf {
        self.root.join("native.password")
    }

    /// The state of the running server, written when it starts and removed when it stops.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("server.json")
    }
}
