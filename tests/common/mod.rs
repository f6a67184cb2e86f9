//! Shared helpers of the integration tests: a private labs home and the real `labs` binary.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private labs home in a temporary folder; stops its server when dropped.
pub struct LabHome {
    dir: tempfile::TempDir,
}

impl LabHome {
    pub fn new() -> LabHome {
        let dir = tempfile::Builder::new()
            .prefix("labs-test-")
            .tempdir()
            .unwrap();
        // The server may run as another user (when the tests run as root): let it in.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        LabHome { dir }
    }

    /// The LABS_HOME folder.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A `labs` command with this home.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_labs"));
        command
            .env("LABS_HOME", self.path())
            .env("LABS_BACKEND", backend())
            .env_remove("LABS_SERVER_URL")
            .args(args);
        command
    }

    /// Runs `labs ARGS` and returns what it did.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("cannot run labs"))
    }

    /// Runs `sql` on the lab server as its superuser (`labs server psql -- -X -At -c SQL`),
    /// which must succeed; returns what it printed, unaligned.
    pub fn psql(&self, sql: &str) -> String {
        self.run(&["server", "psql", "--", "-X", "-At", "-c", sql])
            .expect_code(0)
            .stdout
    }
}

impl Drop for LabHome {
    fn drop(&mut self) {
        let _ = self.command(&["server", "stop"]).output();
    }
}

/// What one run of `labs` printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with everything printed unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The backend the tests run against: `LABS_TEST_BACKEND` (`native` or `docker`), native when
/// unset.
pub fn backend() -> String {
    match std::env::var("LABS_TEST_BACKEND") {
        Ok(b) if !b.is_empty() => b,
        _ => "native".into(),
    }
}

/// Whether the tests run against the native backend; tests of what only it has (a data
/// directory, a server user, PostgreSQL binaries of this machine) say they are skipped otherwise.
pub fn native_only(test: &str) -> bool {
    let native = backend() == "native";
    if !native {
        eprintln!("skipped `{test}`: a test of the native backend");
    }
    native
}

/// Whether the lab server of the tests' backend speaks Russian (docker/labs.conf, then
/// `lc_messages`): the image has the locale, the native backend uses this machine's.
pub fn server_speaks_russian() -> bool {
    if backend() == "docker" {
        return true;
    }
    let out = Command::new("locale").arg("-a").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.eq_ignore_ascii_case("ru_RU.utf8") || l.eq_ignore_ascii_case("ru_RU.UTF-8"))
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The uid owning a path.
pub fn owner(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().uid()
}

/// What a JSON verdict said: why its file did not run (the line, the SQLSTATE and the message,
/// when it did not), then every result's message and detail, a line each.
pub fn details(verdict: &serde_json::Value) -> String {
    let load_error = &verdict["load_error"];
    let load_error = load_error.is_object().then(|| {
        format!(
            "строка {}: {} {}",
            load_error["line"],
            load_error["code"].as_str().unwrap_or("-"),
            load_error["message"].as_str().unwrap_or_default()
        )
    });
    let results = verdict["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| [r["message"].as_str(), r["detail"].as_str()])
        .flatten()
        .map(str::to_string);
    load_error
        .into_iter()
        .chain(results)
        .collect::<Vec<_>>()
        .join("\n")
}
