//! The grader's memory between runs: one JSON file a student under `OUT/results/`, rewritten
//! atomically (a temporary file renamed into place) after every run that finishes.

use crate::lab::Lab;
use crate::verdict::Verdict;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One graded answer: the verdict and what it was graded from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// The lab, its version and the sha256 of the answer: the same key is never graded twice.
    pub key: String,
    /// The grader run that graded it (a random id per `labs grade`).
    pub session: String,
    /// When it was graded, in seconds since the Unix epoch.
    pub graded_at: u64,
    pub verdict: Verdict,
}

/// Everything graded of one student, by lab number.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub student: String,
    pub name: Option<String>,
    pub runs: BTreeMap<u32, Run>,
}

impl Record {
    /// Whether the record holds a run of `lab`, in its current version, graded from the answer
    /// whose bytes hash to `sha256`.
    pub fn holds(&self, lab: &Lab, sha256: &str) -> bool {
        let key = key(lab, sha256);
        self.runs.get(&lab.number).is_some_and(|r| r.key == key)
    }
}

/// The key of an answer to `lab` whose bytes hash to `sha256`.
pub fn key(lab: &Lab, sha256: &str) -> String {
    format!("lab{}-v{}-{sha256}", lab.number, lab.version)
}

/// The folder of the records.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The records under `out/results`, created when missing.
    pub fn open(out: &Path) -> Result<Store> {
        let dir = out.join("results");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        Ok(Store { dir })
    }

    fn path(&self, student: &str) -> PathBuf {
        self.dir.join(format!("{student}.json"))
    }

    /// The record of `student`; an empty one when none was written (or it cannot be read, which
    /// is said: its runs are graded again).
    pub fn load(&self, student: &str) -> Record {
        let path = self.path(student);
        let Ok(text) = fs::read_to_string(&path) else {
            return Record {
                student: student.to_string(),
                ..Record::default()
            };
        };
        serde_json::from_str(&text).unwrap_or_else(|err| {
            eprintln!(
                "labs: `{}` is not a grader record ({err}); grading {student} again",
                path.display()
            );
            Record {
                student: student.to_string(),
                ..Record::default()
            }
        })
    }

    /// Writes the record: to a temporary file first, flushed, then renamed over the old one, so
    /// that a grader killed at any moment leaves the old record or the new one, never half.
    pub fn save(&self, record: &Record) -> Result<()> {
        let path = self.path(&record.student);
        let tmp = self.dir.join(format!(".{}.json.tmp", record.student));
        let mut file =
            fs::File::create(&tmp).with_context(|| format!("cannot write `{}`", tmp.display()))?;
        file.write_all(serde_json::to_string_pretty(record)?.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot write `{}`", path.display()))
    }
}
