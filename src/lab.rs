//! A lab: the contents of `labs/NN_slug/` parsed from lab.toml into one typed model.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One lab, as `lab.toml` describes it, with the folder it came from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// The lab's number, as in `labs check N`.
    pub number: u32,
    /// A short ASCII name, as in the folder `NN_slug`.
    pub slug: String,
    /// The title, in Russian.
    pub title: String,
    /// Bumped whenever the data or the checks change: part of the template database's name
    /// and of every grade's key.
    pub version: u32,
    /// Whether the checks hold every background worker slot of the server (lab 3): such a run
    /// has the server's workers to itself, other runs wait for it and it waits for them.
    #[serde(default)]
    pub exclusive: bool,
    /// Superuser SQL run once in each template after setup.sql: what the checks need that the
    /// student must not see (expected results), in a schema the student's role cannot use.
    pub prepare: Option<String>,
    /// The datasets; every data-dependent check runs on each.
    pub datasets: Vec<Dataset>,
    /// The checks, in the order they run.
    pub checks: Vec<Check>,
    /// The folder of the lab.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// A dataset: a name and the parameters the setup reads as settings `lab.<name>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub name: String,
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    /// Whether the checks on this dataset measure what VACUUM frees: then no transaction of the
    /// runner's may run meanwhile (it would hold back VACUUM's horizon through the student's
    /// snapshots), so the spare databases for the next run are cloned during another dataset.
    #[serde(default)]
    pub alone: bool,
}

/// One check: what it runs, how it decides, and what it tells the student.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// A snake_case name, unique in the lab.
    pub id: String,
    /// What it checks, in Russian.
    pub title: String,
    pub points: u32,
    /// The wall-clock limit of the whole check, in milliseconds.
    pub timeout_ms: u64,
    /// Earlier checks that must have passed (on the same dataset) for this one to run.
    #[serde(default)]
    pub needs: Vec<String>,
    /// SQL run first, as the student's role (not timed as the student's): puts the lab's tables
    /// back into the state the check starts from, so that the judge never writes them.
    pub reset: Option<String>,
    /// Judge SQL run before the student step: records what the check compares with, in the
    /// lab's own schema `lab_check`.
    pub before: Option<String>,
    /// SQL run as the run's unprivileged role; its time is the student's.
    pub student: Option<String>,
    /// Judge SQL returning one row `(ok boolean, detail text)`.
    pub verify: Option<String>,
    /// Judge SQL whose rendered rows must equal the blessed snapshot.
    pub snapshot: Option<String>,
    /// The name of a check written in Rust.
    pub scenario: Option<String>,
    /// The datasets this check runs on; all when empty.
    #[serde(default)]
    pub datasets: Vec<String>,
    /// Whether the verdict relies on the run database being as its template made it (the
    /// structure check, `intact`): such a check does not run when the answer changed the lab's
    /// tables or put its own objects in place of built-in ones. Only a check that reads the
    /// catalog alone (a signature) does without.
    #[serde(default = "yes")]
    pub intact: bool,
    /// Said when it passes, in Russian.
    pub pass: String,
    /// Said when it fails, in Russian.
    pub fail: String,
    /// What to look at next, in Russian; never the answer.
    pub hint: String,
}

fn yes() -> bool {
    true
}

/// How a check decides, exactly one of three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge<'a> {
    Verify(&'a str),
    Snapshot(&'a str),
    Scenario(&'a str),
}

impl Check {
    /// The one way this check decides (validated when the lab is loaded).
    pub fn judge(&self) -> Judge<'_> {
        match (&self.verify, &self.snapshot, &self.scenario) {
            (Some(sql), None, None) => Judge::Verify(sql),
            (None, Some(sql), None) => Judge::Snapshot(sql),
            (None, None, Some(name)) => Judge::Scenario(name),
            _ => unreachable!("validated in Lab::load"),
        }
    }

    /// Whether the check runs on `dataset`.
    pub fn runs_on(&self, dataset: &str) -> bool {
        self.datasets.is_empty() || self.datasets.iter().any(|d| d == dataset)
    }
}

impl Lab {
    /// Reads and validates `dir/lab.toml`; `scenarios` are the names a check may give its judge
    /// (the check layer's registry: `check::load_labs` passes them).
    pub fn load(dir: &Path, scenarios: &[&str]) -> Result<Lab> {
        let path = dir.join("lab.toml");
        let text = fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let mut lab: Lab =
            toml::from_str(&text).with_context(|| format!("`{}` is not valid", path.display()))?;
        lab.dir = dir.to_path_buf();
        lab.validate(scenarios)
            .with_context(|| format!("`{}` is not valid", path.display()))?;
        Ok(lab)
    }

    /// Loads every lab under `root`, ordered by number.
    pub fn load_all(root: &Path, scenarios: &[&str]) -> Result<Vec<Lab>> {
        let mut labs = Vec::new();
        let entries =
            fs::read_dir(root).with_context(|| format!("cannot read `{}`", root.display()))?;
        for entry in entries {
            let dir = entry?.path();
            if dir.join("lab.toml").is_file() {
                labs.push(Lab::load(&dir, scenarios)?);
            }
        }
        labs.sort_by_key(|l| l.number);
        Ok(labs)
    }

    /// Finds lab `number` under `root`.
    pub fn find(root: &Path, number: u32, scenarios: &[&str]) -> Result<Lab> {
        let labs = Lab::load_all(root, scenarios)?;
        let known: Vec<String> = labs.iter().map(|l| l.number.to_string()).collect();
        labs.into_iter()
            .find(|l| l.number == number)
            .with_context(|| {
                format!(
                    "there is no lab {number} in `{}` (there are: {})",
                    root.display(),
                    known.join(", ")
                )
            })
    }

    /// The points of all checks on one dataset, summed over the datasets they run on.
    pub fn max_points(&self) -> u32 {
        self.checks.iter().map(|c| self.points_of(c)).sum()
    }

    /// The points of one check, summed over the datasets it runs on.
    pub fn points_of(&self, check: &Check) -> u32 {
        check.points * self.datasets_of(check).len() as u32
    }

    /// The names of the datasets a check runs on, in the lab's order.
    pub fn datasets_of(&self, check: &Check) -> Vec<&str> {
        self.datasets
            .iter()
            .filter(|d| check.runs_on(&d.name))
            .map(|d| d.name.as_str())
            .collect()
    }

    /// The name of the lab's folder, `NN_slug`.
    pub fn dir_name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// A file of the lab folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a file of the lab folder.
    pub fn read(&self, name: &str) -> Result<String> {
        let path = self.file(name);
        fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))
    }

    /// The wrong answers, `wrong/*.sql`, sorted by name.
    pub fn wrong_answers(&self) -> Result<Vec<PathBuf>> {
        self.answers_in("wrong")
    }

    /// The forged answers, `forged/*.sql`: answers written to fool the checker, sorted by name.
    pub fn forged_answers(&self) -> Result<Vec<PathBuf>> {
        self.answers_in("forged")
    }

    /// The `.sql` files of the lab's folder `folder`, sorted by name.
    fn answers_in(&self, folder: &str) -> Result<Vec<PathBuf>> {
        let dir = self.file(folder);
        let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "sql"))
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        Ok(files)
    }

    fn validate(&self, scenarios: &[&str]) -> Result<()> {
        let expected = format!("{:02}_{}", self.number, self.slug);
        if self.dir_name() != expected {
            bail!(
                "lab {} `{}` must live in a folder named `{expected}`",
                self.number,
                self.slug
            );
        }
        if self.datasets.is_empty() {
            bail!("lab {} has no dataset", self.number);
        }
        let datasets: Vec<&str> = self.datasets.iter().map(|d| d.name.as_str()).collect();
        let mut seen: Vec<&str> = Vec::new();
        for check in &self.checks {
            let judges = [&check.verify, &check.snapshot, &check.scenario]
                .iter()
                .filter(|j| j.is_some())
                .count();
            if judges != 1 {
                bail!(
                    "check `{}` must have exactly one of verify, snapshot, scenario",
                    check.id
                );
            }
            if let Some(name) = &check.scenario {
                if !scenarios.contains(&name.as_str()) {
                    bail!(
                        "check `{}` names an unknown scenario `{name}` (known: {})",
                        check.id,
                        scenarios.join(", ")
                    );
                }
            }
            if seen.contains(&check.id.as_str()) {
                bail!("check `{}` appears twice", check.id);
            }
            for need in &check.needs {
                if !seen.contains(&need.as_str()) {
                    bail!(
                        "check `{}` needs `{need}`, which is not an earlier check",
                        check.id
                    );
                }
            }
            for dataset in &check.datasets {
                if !datasets.contains(&dataset.as_str()) {
                    bail!("check `{}` names an unknown dataset `{dataset}`", check.id);
                }
            }
            seen.push(&check.id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &str = r#"
[[checks]]
id = "first"
title = "т"
points = 1
timeout_ms = 1000
verify = "SELECT true AS ok, '' AS detail"
pass = "да"
fail = "нет"
hint = "смотри"
"#;

    fn lab_with(extra: &str) -> Result<Lab> {
        let dir = tempfile::tempdir().unwrap();
        let lab_dir = dir.path().join("07_demo");
        fs::create_dir(&lab_dir).unwrap();
        let text = format!(
            "number = 7\nslug = \"demo\"\ntitle = \"Демо\"\nversion = 1\n\
             [[datasets]]\nname = \"a\"\nparams = {{ seed = 1 }}\n{CHECK}{extra}"
        );
        fs::write(lab_dir.join("lab.toml"), text).unwrap();
        Lab::load(&lab_dir, &["lab7_known"])
    }

    #[test]
    fn a_valid_lab_loads() {
        let lab = lab_with("").unwrap();
        assert_eq!(lab.max_points(), 1);
        assert_eq!(
            lab.checks[0].judge(),
            Judge::Verify("SELECT true AS ok, '' AS detail")
        );
    }

    #[test]
    fn authoring_mistakes_are_named() {
        let cases = [
            ("needs = [\"later\"]", "which is not an earlier check"),
            ("scenario = \"lab9_magic\"", "exactly one of verify"),
            ("datasets = [\"zz\"]", "unknown dataset `zz`"),
        ];
        for (field, said) in cases {
            let extra = CHECK.replace("id = \"first\"", &format!("id = \"second\"\n{field}"));
            let err = format!("{:#}", lab_with(&extra).unwrap_err());
            assert!(err.contains(said), "{field}: {err}");
        }
        let err = format!("{:#}", lab_with(CHECK).unwrap_err());
        assert!(err.contains("appears twice"), "{err}");
        let unknown = CHECK.replace("id = \"first\"", "id = \"third\"").replace(
            "verify = \"SELECT true AS ok, '' AS detail\"",
            "scenario = \"lab9_magic\"",
        );
        let err = format!("{:#}", lab_with(&unknown).unwrap_err());
        assert!(err.contains("unknown scenario `lab9_magic`"), "{err}");
    }

    #[test]
    fn the_shipped_labs_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
        let labs = crate::check::load_labs(&root).unwrap();
        let numbers: Vec<u32> = labs.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 2, 3]);
        assert!(
            labs[0].datasets.len() >= 2,
            "lab 1's data comes from a generator"
        );
        for lab in &labs {
            // A lab with generated data runs on at least two different seeds.
            let seeds: std::collections::BTreeSet<String> = lab
                .datasets
                .iter()
                .filter_map(|d| d.params.get("seed").map(|s| s.to_string()))
                .collect();
            assert!(seeds.is_empty() || seeds.len() >= 2, "lab {}", lab.number);
            assert!(
                lab.wrong_answers().unwrap().len() >= 6,
                "lab {}",
                lab.number
            );
        }
    }
}
