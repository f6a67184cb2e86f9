//! The PostgreSQL binaries on this machine: where they are and which major version they are.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest and newest PostgreSQL majors the extension is written for.
pub const SUPPORTED_MAJORS: std::ops::RangeInclusive<u32> = 14..=17;

/// A folder of PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`, `psql`).
#[derive(Debug, Clone)]
pub struct PgBin {
    pub dir: PathBuf,
    pub major: u32,
}

impl PgBin {
    /// Finds the binaries: `--pg-bin` first, then `PG_CONFIG --bindir`, then `pg_config
    /// --bindir` from PATH, then the newest `/usr/lib/postgresql/N/bin` (Debian's layout).
    pub fn locate(explicit: Option<&Path>) -> Result<PgBin> {
        let dir = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => find_bindir().context(
                "no PostgreSQL server binaries were found: neither `--pg-bin`, `PG_CONFIG` nor \
                 `pg_config` on PATH names a folder with `initdb`, `pg_ctl` and `postgres`, and \
                 /usr/lib/postgresql/*/bin has none. Run `make setup` (Debian/Ubuntu) or install \
                 the PostgreSQL server and pass its bin folder with `--pg-bin DIR`.",
            )?,
        };
        for tool in ["initdb", "pg_ctl", "postgres"] {
            if !dir.join(tool).is_file() {
                bail!(
                    "`{}` has no `{tool}`: it is not a folder of PostgreSQL server binaries. \
                     Install the PostgreSQL server (`make setup` does it on Debian/Ubuntu) or pass \
                     the right folder with `--pg-bin DIR`.",
                    dir.display()
                );
            }
        }
        let version = run_version(&dir.join("postgres"))?;
        let major = parse_major(&version)
            .with_context(|| format!("cannot read a version from `{version}`"))?;
        if !SUPPORTED_MAJORS.contains(&major) {
            bail!(
                "`{}` is PostgreSQL {major}, but the labs need PostgreSQL {} to {}. Install a \
                 supported server (`make setup` installs Debian's) or pass its bin folder with \
                 `--pg-bin DIR`.",
                dir.display(),
                SUPPORTED_MAJORS.start(),
                SUPPORTED_MAJORS.end()
            );
        }
        Ok(PgBin { dir, major })
    }

    /// The path of one of the binaries.
    pub fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Asks `pg_config` (from `PG_CONFIG` or PATH) for its bin folder, else looks in Debian's layout.
fn find_bindir() -> Option<PathBuf> {
    let pg_config = std::env::var_os("PG_CONFIG").unwrap_or_else(|| "pg_config".into());
    if let Ok(out) = Command::new(&pg_config).arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if dir.join("postgres").is_file() {
                return Some(dir);
            }
        }
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    majors.pop().map(|(_, bin)| bin)
}

/// Runs `postgres --version` and returns what it printed.
fn run_version(postgres: &Path) -> Result<String> {
    let out = Command::new(postgres)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run `{} --version`", postgres.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Reads the major version out of `postgres (PostgreSQL) 15.18 (Debian ...)`.
pub fn parse_major(version: &str) -> Option<u32> {
    let number = version
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let digits: String = number.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_major;

    #[test]
    fn reads_major_versions() {
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_major("postgres (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(parse_major("garbage"), None);
    }
}
