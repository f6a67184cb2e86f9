//! Shards: a class split by a stable hash of the student's id into N parts graded on N machines,
//! the shard's number from the command line, the engine's environment or a claim on a shared
//! folder, and `shard.json`, what a shard says it graded.

use crate::lab::Lab;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// This runner's version, written into every shard.json: shards graded by different runners are
/// not merged.
pub const RUNNER: &str = env!("CARGO_PKG_VERSION");

/// The shard a student belongs to, 1 to `of`: the first 8 bytes of the sha256 of their id, big
/// endian, modulo `of`, plus one. It depends on the id alone, so a student added later moves no
/// one else.
pub fn shard_of(student: &str, of: u32) -> u32 {
    let digest = Sha256::digest(student.as_bytes());
    let head: [u8; 8] = digest[..8].try_into().expect("a sha256 has 32 bytes");
    (u64::from_be_bytes(head) % u64::from(of)) as u32 + 1
}

/// Shard `k` of `of`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub of: u32,
}

impl Shard {
    /// Whether the student `id` belongs to this shard.
    pub fn holds(&self, id: &str) -> bool {
        shard_of(id, self.of) == self.k
    }

    /// The shard's folder under the output folder: `OUT/shard-K-of-N`.
    pub fn dir(&self, out: &Path) -> PathBuf {
        out.join(format!("shard-{}-of-{}", self.k, self.of))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} of {}", self.k, self.of)
    }
}

/// K of `--shard K/N`: a number, or `auto` (from the environment, else a claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Number(u32),
    Auto,
}

/// `--shard K/N` as given, before `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardArg {
    pub index: Index,
    pub of: u32,
}

impl FromStr for ShardArg {
    type Err = String;

    fn from_str(text: &str) -> Result<ShardArg, String> {
        let Some((k, n)) = text.split_once('/') else {
            return Err(format!("`{text}` is not K/N (as in `2/3` or `auto/3`)"));
        };
        let of: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("`{text}`: N must be a number of shards, 1 or more"))?;
        let index = match k.trim() {
            "auto" => Index::Auto,
            k => {
                let k: u32 = k.parse().map_err(|_| {
                    format!("`{text}`: K must be a number from 1 to {of}, or `auto`")
                })?;
                if !(1..=of).contains(&k) {
                    return Err(format!(
                        "`{text}`: there is no shard {k} of {of} (K runs from 1 to {of}, or is \
                         `auto`)"
                    ));
                }
                Index::Number(k)
            }
        };
        Ok(ShardArg { index, of })
    }
}

impl ShardArg {
    /// The shard to grade. K `auto` is, in this order: `LABS_SHARD` (1-based) when set,
    /// `JOB_COMPLETION_INDEX` (0-based, a Kubernetes Indexed Job's) plus one when set, else the
    /// first K whose folder `OUT/claims/K` this call creates (a `mkdir` is atomic on a shared
    /// folder too: two graders never claim one K). `env` reads the environment.
    pub fn resolve(&self, out: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let of = self.of;
        let shard = |k: u32| Shard { k, of };
        if let Index::Number(k) = self.index {
            return Ok(shard(k));
        }
        let from_env = |name: &str, base: u32| -> Result<Option<Shard>> {
            let Some(value) = env(name).filter(|v| !v.trim().is_empty()) else {
                return Ok(None);
            };
            let k = value
                .trim()
                .parse::<u32>()
                .ok()
                .and_then(|v| v.checked_add(1 - base))
                .filter(|k| (1..=of).contains(k));
            match k {
                Some(k) => Ok(Some(shard(k))),
                None => bail!(
                    "{name}={value} names no shard of {of} (it counts from {base} to {})",
                    of - 1 + base
                ),
            }
        };
        if let Some(found) = from_env("LABS_SHARD", 1)? {
            return Ok(found);
        }
        if let Some(found) = from_env("JOB_COMPLETION_INDEX", 0)? {
            return Ok(found);
        }
        let claims = out.join("claims");
        fs::create_dir_all(&claims)
            .with_context(|| format!("cannot create `{}`", claims.display()))?;
        for k in 1..=of {
            let claim = claims.join(k.to_string());
            match fs::create_dir(&claim) {
                Ok(()) => return Ok(shard(k)),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => {
                    return Err(err).with_context(|| format!("cannot create `{}`", claim.display()))
                }
            }
        }
        bail!(
            "every shard of {of} is claimed already: `{}` holds 1 to {of} (with `--shard auto/{of}` \
             and neither LABS_SHARD nor JOB_COMPLETION_INDEX set, each grader claims the first \
             free K there; remove the folder to claim them again)",
            claims.display()
        )
    }
}

/// `shard.json`: what a shard graded, read by the merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub shard: u32,
    pub of: u32,
    /// The version of the runner that graded it.
    pub runner: String,
    /// The labs graded: number to version.
    pub labs: BTreeMap<u32, u32>,
    /// The ids of the shard's students, sorted.
    pub students: Vec<String>,
    /// Every due run of the shard is graded and none failed.
    pub complete: bool,
}

/// The name of the file a shard's folder says what it graded in.
pub const MANIFEST: &str = "shard.json";

impl Manifest {
    /// What `shard` says it graded: `labs` of the students `ids` (sorted), completely or not
    /// (yet).
    pub fn new(shard: &Shard, labs: &[Lab], ids: Vec<String>, complete: bool) -> Manifest {
        Manifest {
            shard: shard.k,
            of: shard.of,
            runner: RUNNER.to_string(),
            labs: labs.iter().map(|l| (l.number, l.version)).collect(),
            students: ids,
            complete,
        }
    }

    /// The shard.json of the shard folder `dir`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("`{}` is no shard.json", path.display()))
    }

    /// Writes it into the shard folder `dir` (a temporary file renamed into place).
    pub fn write(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        let path = dir.join(MANIFEST);
        let tmp = dir.join(format!(".{MANIFEST}.tmp"));
        fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("cannot write `{}`", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot write `{}`", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("student_{i:04}")).collect()
    }

    #[test]
    fn the_partition_is_the_contracts_hash() {
        for id in ["student_001", "4242", "Иванов", ""] {
            let digest = Sha256::digest(id.as_bytes());
            let mut head = [0u8; 8];
            head.copy_from_slice(&digest[..8]);
            for of in 1..=20 {
                let want = (u64::from_be_bytes(head) % of as u64) as u32 + 1;
                assert_eq!(shard_of(id, of), want, "{id} of {of}");
            }
        }
        // Pinned: a change of the hash would send a re-run's students to other shards than the
        // ones that hold their records.
        let pinned: Vec<u32> = ["student_001", "student_002", "student_003", "4242"]
            .iter()
            .map(|id| shard_of(id, 7))
            .collect();
        assert_eq!(pinned, [4, 4, 5, 7]);
    }

    #[test]
    fn adding_students_moves_no_one_and_the_shards_are_even() {
        let before = ids(0..3000);
        let after = ids(0..3300);
        for of in [2, 3, 20] {
            let placed: Vec<u32> = before.iter().map(|id| shard_of(id, of)).collect();
            let again: Vec<u32> = after[..3000].iter().map(|id| shard_of(id, of)).collect();
            assert_eq!(placed, again);
            let mut counts = vec![0usize; of as usize];
            for k in placed {
                counts[k as usize - 1] += 1;
            }
            // Even as chance makes it: within 4 standard deviations of a fair split.
            let even = 3000 / of as usize;
            for (k, n) in counts.iter().enumerate() {
                assert!(
                    (n.abs_diff(even) as f64) <= 4.0 * (even as f64).sqrt(),
                    "shard {} of {of}: {n} students, {even} expected",
                    k + 1
                );
            }
        }
    }

    #[test]
    fn the_argument_names_what_is_wrong() {
        assert_eq!(
            "2/3".parse(),
            Ok(ShardArg {
                index: Index::Number(2),
                of: 3
            })
        );
        assert_eq!(
            "auto/4".parse(),
            Ok(ShardArg {
                index: Index::Auto,
                of: 4
            })
        );
        let err = |text: &str| text.parse::<ShardArg>().unwrap_err();
        assert!(
            err("4/3").contains("there is no shard 4 of 3"),
            "{}",
            err("4/3")
        );
        assert!(err("0/3").contains("there is no shard 0 of 3"));
        assert!(err("x/3").contains("K must be a number from 1 to 3, or `auto`"));
        assert!(err("1/0").contains("N must be a number of shards"));
        assert!(err("3").contains("is not K/N"));
    }

    #[test]
    fn auto_takes_the_environment_then_a_claim() {
        let dir = tempfile::tempdir().unwrap();
        let auto = ShardArg {
            index: Index::Auto,
            of: 3,
        };
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let k = |pairs| auto.resolve(dir.path(), env(pairs)).map(|s| s.k);
        assert_eq!(k(&[("LABS_SHARD", "2")]).unwrap(), 2);
        assert_eq!(k(&[("JOB_COMPLETION_INDEX", "0")]).unwrap(), 1);
        assert_eq!(
            k(&[("LABS_SHARD", "3"), ("JOB_COMPLETION_INDEX", "0")]).unwrap(),
            3
        );
        let wrong = k(&[("JOB_COMPLETION_INDEX", "3")]).unwrap_err().to_string();
        assert!(
            wrong.contains("JOB_COMPLETION_INDEX=3 names no shard of 3"),
            "{wrong}"
        );
        assert!(k(&[("LABS_SHARD", "0")]).is_err());
        assert!(!dir.path().join("claims").exists());
        let claimed: Vec<u32> = (0..3).map(|_| k(&[]).unwrap()).collect();
        assert_eq!(claimed, [1, 2, 3]);
        let none = k(&[]).unwrap_err().to_string();
        assert!(
            none.contains("every shard of 3 is claimed already"),
            "{none}"
        );
        assert!(none.contains(&dir.path().join("claims").display().to_string()));
    }
}
