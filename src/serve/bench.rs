//! `labs bench serve`: the workbench as the pages use it, over HTTP on this machine: an
//! example's round trip, a sandbox reset, and a lab checked from the page against the same
//! check in the terminal, side by side in one run.

use super::Workbench;
use crate::bench::{median, write_json};
use crate::lab::Lab;
use crate::server::Server;
use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct ServeReport {
    pub machine: String,
    /// Medians, in milliseconds.
    pub example_ms: f64,
    pub examples: usize,
    pub reset_ms: f64,
    pub resets: usize,
    /// The lab checked from the page and in the terminal (`labs check N` as a process, its
    /// server already running), alternating, `checks` times each.
    pub lab: u32,
    pub checks: usize,
    pub page_check_ms: f64,
    pub terminal_check_ms: f64,
}

/// Serves the workbook of `book` (built into `site`) on a free port and measures it through
/// HTTP on lab `lab`'s reference solution.
pub fn serve(
    server: &Server,
    book: &Path,
    site: &Path,
    labs: Vec<Lab>,
    lab: u32,
    rounds: usize,
    out: &Path,
) -> Result<ServeReport> {
    let measured = labs
        .iter()
        .find(|l| l.number == lab)
        .with_context(|| format!("there is no lab {lab}"))?
        .clone();
    let workspace = out.join("serve-workspace");
    let answer = workspace.join("answers").join(format!("lab{lab}.sql"));
    std::fs::create_dir_all(answer.parent().expect("answers/"))?;
    std::fs::copy(measured.file("solution.sql"), &answer)?;
    let served = Workbench::new(
        server,
        book,
        site,
        &std::fs::canonicalize(&workspace)?,
        labs,
    )?
    .start(0)?;
    let call = |path: &str, body: Value| -> Result<(f64, Value)> {
        let start = Instant::now();
        let reply: Value = ureq::post(&format!("http://127.0.0.1:{}/api/{path}", served.port))
            .set(super::guard::TOKEN_HEADER, &served.token)
            .send_json(body)
            .with_context(|| format!("the workbench refused /api/{path}"))?
            .into_json()?;
        Ok((start.elapsed().as_secs_f64() * 1000.0, reply))
    };
    let example = json!({ "page": "/part-4.html", "block": 0, "sql": "SELECT 1 AS one" });
    call("run", example.clone())?;
    let rounds = rounds.max(1);
    let mut examples = Vec::new();
    for _ in 0..rounds * 10 {
        examples.push(call("run", example.clone())?.0);
    }
    let mut resets = Vec::new();
    for _ in 0..rounds * 2 {
        resets.push(call("reset", json!({ "page": "/part-4.html" }))?.0);
    }
    let terminal = std::env::current_exe()?;
    let (mut page, mut shell) = (Vec::new(), Vec::new());
    call("check", json!({ "lab": lab }))?;
    for _ in 0..rounds {
        page.push(call("check", json!({ "lab": lab }))?.0);
        let start = Instant::now();
        let ran = std::process::Command::new(&terminal)
            .args(["check", &lab.to_string(), "--answer"])
            .arg(&answer)
            .output()?;
        anyhow::ensure!(
            ran.status.success(),
            "labs check {lab} failed on the reference solution: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
        shell.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let report = ServeReport {
        machine: crate::bench::machine(),
        example_ms: median(&examples),
        examples: examples.len(),
        reset_ms: median(&resets),
        resets: resets.len(),
        lab,
        checks: page.len(),
        page_check_ms: median(&page),
        terminal_check_ms: median(&shell),
    };
    write_json(out, "serve.json", &report)?;
    Ok(report)
}

/// Prints the workbench's figures against their targets.
pub fn print_serve(r: &ServeReport) {
    let ratio = r.page_check_ms / r.terminal_check_ms;
    println!("labs serve over HTTP on {} (medians):\n", r.machine);
    let rows = [
        (
            format!("example round trip, SELECT ({} runs)", r.examples),
            format!("{:.1} ms", r.example_ms),
            "under 150 ms",
            r.example_ms < 150.0,
        ),
        (
            format!("sandbox reset ({} resets)", r.resets),
            format!("{:.1} ms", r.reset_ms),
            "under 300 ms",
            r.reset_ms < 300.0,
        ),
        (
            format!(
                "lab {} check: page {:.0} ms / terminal {:.0} ms",
                r.lab, r.page_check_ms, r.terminal_check_ms
            ),
            format!("{ratio:.3}"),
            "at most 1.05",
            ratio <= 1.05,
        ),
    ];
    for (what, value, target, met) in rows {
        println!(
            "{what:<52} {value:>10}  target {target:<13} {}",
            if met { "met" } else { "NOT MET" }
        );
    }
}
