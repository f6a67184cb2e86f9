//! `labs bench`: benchmarks that compare ways of doing the same work side by side in one run,
//! one file each, and what they share: their figures' shapes, medians and JSON output.

mod checks;
mod extension;
mod grade;
mod shards;
mod start;

pub use checks::{checks, print_checks, CheckTiming};
pub use extension::{extension, print_extension, ExtensionReport};
pub use grade::{grade, print_grade, GradeReport};
pub use shards::{print_shards, shards, ShardsReport};
pub use start::{print_start, start, StartReport};

use anyhow::{Context, Result};
use serde::Serialize;
use std::fs;
use std::path::Path;

/// One measured method: its name, what it does, and its figures over the rounds.
#[derive(Debug, Serialize)]
pub struct Measurement {
    pub name: &'static str,
    pub what: &'static str,
    /// Milliseconds per unit (per call, or per whole stream), one figure a round.
    pub rounds_ms: Vec<f64>,
    pub median_ms: f64,
}

/// A target stated as a ratio of two measurements of the same run.
#[derive(Debug, Serialize)]
pub struct Target {
    pub what: &'static str,
    pub ratio: f64,
    pub limit: f64,
    pub met: bool,
}

/// A new folder under the system's temporary folder, `labs-bench-NAME-<pid>-<random>`, that a
/// server running as another user (when the benchmark runs as root) may enter.
pub(crate) fn temp_root(name: &str) -> Result<std::path::PathBuf> {
    use rand::distributions::{Alphanumeric, DistString};
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!(
        "labs-bench-{name}-{}-{}",
        std::process::id(),
        Alphanumeric
            .sample_string(&mut rand::thread_rng(), 8)
            .to_lowercase()
    ));
    fs::create_dir_all(&root).with_context(|| format!("cannot create `{}`", root.display()))?;
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
    Ok(root)
}

/// Prints the targets, a line each: what, the ratio measured, the limit, met or not.
pub(crate) fn print_targets(targets: &[Target]) {
    let width = targets
        .iter()
        .map(|t| t.what.chars().count())
        .max()
        .unwrap_or(0);
    for t in targets {
        println!(
            "{:<width$} {:>8.3} (target <= {}) {}",
            t.what,
            t.ratio,
            t.limit,
            if t.met { "met" } else { "NOT MET" }
        );
    }
}

/// Writes a benchmark's figures as `out/name`.
pub(crate) fn write_json(out: &Path, name: &str, figures: &impl Serialize) -> Result<()> {
    fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let path = out.join(name);
    fs::write(&path, serde_json::to_string_pretty(figures)?)
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// The processor model and the number of cores this process may use.
pub(crate) fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} cores")
}

/// The median of a non-empty list.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}
