//! `labs dev`: the authoring checks that prove the checker itself right, and blessing snapshots.

use crate::check::{self, Snapshots};
use crate::lab::Lab;
use crate::report;
use crate::sandbox::Sandboxes;
use crate::server::Server;
use crate::verdict::{Status, Verdict};
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// The ids of the checks that did not pass on some dataset.
fn failed_ids(verdict: &Verdict) -> BTreeSet<String> {
    verdict
        .results
        .iter()
        .filter(|r| r.status != Status::Passed)
        .map(|r| r.id.clone())
        .collect()
}

/// The checks a wrong answer's header says it fails: `-- fails: a, b`.
pub fn declared_failures(path: &Path) -> Result<BTreeSet<String>> {
    header_list(path, "fails")
}

/// The checks a forged answer's header says it must not gain: `-- must-not-pass: a, b`.
pub fn declared_forgeries(path: &Path) -> Result<BTreeSet<String>> {
    header_list(path, "must-not-pass")
}

/// The check ids of the header line `-- KEY: a, b` of an answer file.
fn header_list(path: &Path, key: &str) -> Result<BTreeSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let prefix = format!("-- {key}:");
    let line = text
        .lines()
        .take_while(|l| l.starts_with("--"))
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .with_context(|| {
            format!(
                "`{}` has no `-- {key}: check, check` line in its header",
                path.display()
            )
        })?;
    Ok(line
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// The names in `declared` that are no check of `lab`: an error naming the file.
fn known_checks(lab: &Lab, path: &Path, declared: &BTreeSet<String>) -> Result<()> {
    let unknown: Vec<&String> = declared
        .iter()
        .filter(|id| !lab.checks.iter().any(|c| &c.id == *id))
        .collect();
    if !unknown.is_empty() {
        anyhow::bail!("`{}` names unknown checks: {unknown:?}", path.display());
    }
    Ok(())
}

/// The file's name under the lab's folder, as `labs dev check` prints it.
fn shown(folder: &str, path: &Path) -> String {
    format!(
        "{folder}/{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    )
}

/// `labs dev check`: every reference solution passes every check, every starter fails, every
/// wrong answer fails exactly the checks its header names, and every forged answer gains none
/// of the checks it tries to steal. Returns whether all held.
pub fn check(server: &Server, labs: &[Lab]) -> Result<bool> {
    let sandboxes = Sandboxes::new(server);
    let mut ok = true;
    for lab in labs {
        println!("lab {} ({}):", lab.number, lab.dir_name());
        let solution = check::run(
            &sandboxes,
            lab,
            &lab.file("solution.sql"),
            Snapshots::Compare,
        )?;
        ok &= expect(
            "solution.sql",
            &solution,
            solution.passed(),
            "must pass every check",
        );
        let starter = check::run(
            &sandboxes,
            lab,
            &lab.file("starter.sql"),
            Snapshots::Compare,
        )?;
        ok &= expect(
            "starter.sql",
            &starter,
            starter.score < starter.max_score,
            "must not pass every check",
        );
        for path in lab.wrong_answers()? {
            let name = shown("wrong", &path);
            let declared = declared_failures(&path)?;
            known_checks(lab, &path, &declared)?;
            let verdict = check::run(&sandboxes, lab, &path, Snapshots::Compare)?;
            let failed = failed_ids(&verdict);
            let why = format!(
                "must fail exactly {{{}}}, failed {{{}}}",
                declared.iter().cloned().collect::<Vec<_>>().join(", "),
                failed.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            ok &= expect(&name, &verdict, failed == declared, &why);
        }
        for path in lab.forged_answers()? {
            let name = shown("forged", &path);
            let targets = declared_forgeries(&path)?;
            known_checks(lab, &path, &targets)?;
            let verdict = check::run(&sandboxes, lab, &path, Snapshots::Compare)?;
            let gained: BTreeSet<String> = verdict
                .results
                .iter()
                .filter(|r| r.status == Status::Passed && targets.contains(&r.id))
                .map(|r| r.id.clone())
                .collect();
            let why = format!(
                "must gain none of {{{}}}, gained {{{}}}",
                targets.iter().cloned().collect::<Vec<_>>().join(", "),
                gained.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            ok &= expect(&name, &verdict, gained.is_empty(), &why);
        }
    }
    println!(
        "{}",
        if ok {
            "labs dev check: every lab holds"
        } else {
            "labs dev check: FAILED"
        }
    );
    Ok(ok)
}

/// Prints one line for an authoring expectation, and the verdict when it does not hold.
fn expect(name: &str, verdict: &Verdict, held: bool, rule: &str) -> bool {
    println!(
        "  {} {name:<32} {:>3}/{:<3} {} ms ({} ms student) {}",
        if held { "ok  " } else { "FAIL" },
        verdict.score,
        verdict.max_score,
        verdict.elapsed_ms,
        verdict.student_ms,
        if held {
            String::new()
        } else {
            rule.to_string()
        }
    );
    if !held {
        for line in report::text(verdict).lines() {
            println!("        {line}");
        }
    }
    held
}

/// `labs dev bless N`: writes the snapshots of lab N from its reference solution.
pub fn bless(server: &Server, lab: &Lab) -> Result<bool> {
    let sandboxes = Sandboxes::new(server);
    let verdict = check::run(&sandboxes, lab, &lab.file("solution.sql"), Snapshots::Bless)?;
    print!("{}", report::text(&verdict));
    Ok(verdict.passed())
}
