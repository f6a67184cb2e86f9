//! `labs check` on the reference solutions: its wall time and the checker's own overhead.

use super::write_json;
use crate::server::Server;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct CheckTiming {
    pub lab: u32,
    pub runs: usize,
    /// Medians over the runs, in milliseconds.
    pub wall_ms: u64,
    pub student_ms: u64,
    pub overhead_ms: u64,
    /// The checks that cost the checker the most in the median run: (check@dataset, ms).
    pub costliest: Vec<(String, u64)>,
}

/// Checks each lab's reference solution `runs` times on a running server (after one run that
/// builds the templates) and reports the checker's overhead: everything but the student's SQL
/// and the lab's intentional waits.
pub fn checks(
    server: &Server,
    labs: &[crate::lab::Lab],
    runs: usize,
    out: &Path,
) -> Result<Vec<CheckTiming>> {
    use crate::check::{run, Snapshots};
    let sandboxes = crate::sandbox::Sandboxes::new(server);
    let mut timings = Vec::new();
    for lab in labs {
        let solution = lab.file("solution.sql");
        run(&sandboxes, lab, &solution, Snapshots::Compare)?;
        let mut verdicts = Vec::new();
        for _ in 0..runs.max(1) {
            verdicts.push(run(&sandboxes, lab, &solution, Snapshots::Compare)?);
        }
        verdicts.sort_by_key(|v| v.elapsed_ms.saturating_sub(v.student_ms));
        let median = &verdicts[verdicts.len() / 2];
        let mut costliest: Vec<(String, u64)> = median
            .results
            .iter()
            .map(|r| {
                (
                    format!("{}@{}", r.id, r.dataset),
                    r.elapsed_ms.saturating_sub(r.student_ms),
                )
            })
            .collect();
        costliest.sort_by_key(|(_, ms)| std::cmp::Reverse(*ms));
        costliest.truncate(3);
        timings.push(CheckTiming {
            lab: lab.number,
            runs: verdicts.len(),
            wall_ms: median.elapsed_ms,
            student_ms: median.student_ms,
            overhead_ms: median.elapsed_ms.saturating_sub(median.student_ms),
            costliest,
        });
    }
    write_json(out, "checks.json", &timings)?;
    Ok(timings)
}

/// Prints the check timings as a table.
pub fn print_checks(timings: &[CheckTiming]) {
    println!("labs check on the reference solutions, server running (median):\n");
    println!(
        "{:<5} {:>9} {:>12} {:>12}  costliest checks for the checker",
        "lab", "wall ms", "student ms", "overhead ms"
    );
    for t in timings {
        let costliest: Vec<String> = t
            .costliest
            .iter()
            .map(|(id, ms)| format!("{id} {ms} ms"))
            .collect();
        println!(
            "{:<5} {:>9} {:>12} {:>12}  {}",
            t.lab,
            t.wall_ms,
            t.student_ms,
            t.overhead_ms,
            costliest.join(", ")
        );
    }
    println!("\ntarget: overhead under 300 ms a lab");
}
