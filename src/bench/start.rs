//! A cold start to the first query: native (new and existing cluster) and docker, side by side.

use super::{median, write_json, Measurement, Target};
use crate::server::home::Home;
use crate::server::{self, Lifetime, Server, ServerOptions};
use anyhow::Result;
use serde::Serialize;
use std::fs;
use std::path::Path;
use std::time::Instant;

/// Cold start to first query, per backend, measured side by side in one run.
#[derive(Debug, Serialize)]
pub struct StartReport {
    pub rounds: usize,
    pub image: String,
    pub starts: Vec<Measurement>,
    /// Why the docker backend was left out, when it was.
    pub docker_unavailable: Option<String>,
    pub targets: Vec<Target>,
}

/// The docker backend's target: a container answers its first query within 3 s.
const DOCKER_START_LIMIT_MS: f64 = 3000.0;

/// Starts servers from nothing until their first query answers, `rounds` times per method, the
/// methods alternating within a round: native on a new home (initdb, then start), native on an
/// existing cluster, and a new container of the lab server image. Every server is stopped or
/// removed after its round; the stopping is not timed.
pub fn start(rounds: usize, out: &Path) -> Result<StartReport> {
    let docker_unavailable = server::docker::unavailable();
    let mut initdb = Vec::new();
    let mut existing = Vec::new();
    let mut container = Vec::new();
    let options = ServerOptions::default();
    for _ in 0..rounds {
        let root = super::temp_root("start")?;
        let home = Home::at(root.join("home"));
        let measured = (|| -> Result<()> {
            for figures in [&mut initdb, &mut existing] {
                let t0 = Instant::now();
                let server = server::native::start(&home, &options)?;
                first_query(&server)?;
                figures.push(t0.elapsed().as_secs_f64() * 1000.0);
                server::native::stop(&home, &server)?;
            }
            Ok(())
        })();
        let _ = fs::remove_dir_all(&root);
        measured?;
        if docker_unavailable.is_none() {
            let t0 = Instant::now();
            let started = server::docker::start(&options, Lifetime::Command).and_then(|server| {
                first_query(&server)?;
                Ok(t0.elapsed().as_secs_f64() * 1000.0)
            });
            server::docker::finish();
            container.push(started?);
        }
    }
    let measurement = |name, what, figures: Vec<f64>| Measurement {
        name,
        what,
        median_ms: median(&figures),
        rounds_ms: figures,
    };
    let mut starts = vec![
        measurement(
            "native_initdb",
            "initdb, pg_ctl start, first query (a new home)",
            initdb,
        ),
        measurement(
            "native_existing",
            "pg_ctl start of an existing cluster, first query",
            existing,
        ),
    ];
    let mut targets = Vec::new();
    if !container.is_empty() {
        starts.push(measurement(
            "docker",
            "docker run of the lab server image, first query through the mapped port",
            container,
        ));
        let docker_ms = starts[2].median_ms;
        targets.push(Target {
            what: "docker start / 3 s (docker under 3 s)",
            ratio: docker_ms / DOCKER_START_LIMIT_MS,
            limit: 1.0,
            met: docker_ms <= DOCKER_START_LIMIT_MS,
        });
    }
    let report = StartReport {
        rounds,
        image: server::docker::image(),
        starts,
        docker_unavailable,
        targets,
    };
    write_json(out, "start.json", &report)?;
    Ok(report)
}

/// Connects as the superuser and runs one query.
fn first_query(server: &Server) -> Result<()> {
    server.connect("postgres")?.simple_query("SELECT 1")?;
    Ok(())
}

/// Prints the start report as a table.
pub fn print_start(report: &StartReport) {
    println!(
        "Cold start to first query, {} rounds (median):",
        report.rounds
    );
    println!("\n{:<18} {:>10}  method", "backend", "ms");
    for m in &report.starts {
        println!("{:<18} {:>10.0}  {}", m.name, m.median_ms, m.what);
    }
    if let Some(why) = &report.docker_unavailable {
        println!("docker             left out: {why}");
    }
    println!();
    for t in &report.targets {
        println!(
            "{:<62} {:>6.3} (target <= {:.2}) {}",
            t.what,
            t.ratio,
            t.limit,
            if t.met { "met" } else { "NOT MET" }
        );
    }
}
