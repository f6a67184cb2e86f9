//! `labs bench`: benchmarks that compare ways of doing the same work side by side in one run.

use crate::home::Home;
use crate::server::{self, Lifetime, Server, ServerOptions};
use anyhow::{Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

/// The database the benchmarks make for themselves and drop afterwards.
const BENCH_DB: &str = "labs_bench";

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

/// Everything one run of the extension benchmark found.
#[derive(Debug, Serialize)]
pub struct ExtensionReport {
    pub server_version: String,
    /// The day of the run (UTC), as the server's clock says.
    pub date: String,
    /// The processor and the number of cores the run had, from /proc/cpuinfo.
    pub machine: String,
    pub calls_per_round: i32,
    pub stream_rows: i32,
    pub rounds: usize,
    pub round_trip: Vec<Measurement>,
    pub streaming: Vec<Measurement>,
    pub targets: Vec<Target>,
}

/// The SQL that each round-trip method runs once a call; `{conn}` is a dblink connection string.
const ROUND_TRIP: [(&str, &str); 3] = [
    (
        "pg_background",
        "PERFORM * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (x integer)",
    ),
    (
        "dblink_unix_trust",
        "PERFORM * FROM dblink({unix}, 'SELECT 1') AS t(x integer)",
    ),
    (
        "dblink_tcp_scram",
        "PERFORM * FROM dblink({tcp}, 'SELECT 1') AS t(x integer)",
    ),
];

/// Round-trip calls of one method in a row before the next method takes its turn.
const SLICE_CALLS: i32 = 20;

/// The streaming methods: each counts the rows of one million `(g, md5(g::text))`.
const STREAMING: [(&str, &str); 2] = [
    (
        "pg_background",
        "SELECT count(*) FROM pg_background_result(pg_background_launch({query})) \
         AS (g integer, m text)",
    ),
    (
        "dblink_unix_trust",
        "SELECT count(*) FROM dblink({unix}, {query}) AS t(g integer, m text)",
    ),
];

/// Runs the pg_background benchmark: per-call round trips against dblink's new connections (unix
/// socket with trust, TCP with scram-sha-256), and streaming a million rows; methods alternate
/// within every round so that the machine's noise falls on all of them alike.
pub fn extension(
    server: &Server,
    calls: i32,
    rows: i32,
    rounds: usize,
    out: &Path,
) -> Result<ExtensionReport> {
    let mut admin = server.connect("postgres")?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))?;
    admin.batch_execute(&format!("CREATE DATABASE {BENCH_DB}"))?;
    let mut client = server.connect(BENCH_DB)?;
    client.batch_execute(
        "CREATE EXTENSION pg_background; CREATE EXTENSION dblink;
         CREATE FUNCTION bench_ms(body text, n integer) RETURNS double precision
         LANGUAGE plpgsql AS $$
         DECLARE t0 timestamptz := clock_timestamp();
         BEGIN
             EXECUTE format('DO $b$ BEGIN FOR i IN 1..%s LOOP %s; END LOOP; END $b$', n, body);
             RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
         END $$;",
    )?;
    let socket = server
        .socket_dir
        .as_ref()
        .context("the extension benchmark needs a server with a unix socket (native backend)")?;
    let unix = quote(&format!(
        "host={} port={} user={} dbname={BENCH_DB}",
        socket.display(),
        server.port,
        server.superuser
    ));
    let tcp = quote(&format!(
        "host=127.0.0.1 port={} user={} password={} dbname={BENCH_DB}",
        server.port, server.superuser, server.password
    ));
    let query = quote(&format!(
        "SELECT g, md5(g::text) FROM generate_series(1, {rows}) AS g"
    ));
    let fill = |sql: &str| {
        sql.replace("{unix}", &unix)
            .replace("{tcp}", &tcp)
            .replace("{query}", &query)
    };

    let mut trip: Vec<Vec<f64>> = vec![Vec::new(); ROUND_TRIP.len()];
    let mut stream: Vec<Vec<f64>> = vec![Vec::new(); STREAMING.len()];
    // A warm-up call of each, so that no method pays for loading libraries.
    for (_, sql) in ROUND_TRIP {
        bench_ms(&mut client, &fill(sql), 1)?;
    }
    for round in 0..rounds {
        eprintln!("labs: benchmark round {} of {rounds}", round + 1);
        // The round's calls go in slices, the methods taking turns slice by slice, so that a
        // burst of load from elsewhere falls on all of them rather than on one.
        let mut spent = vec![0.0; ROUND_TRIP.len()];
        let mut done = 0;
        while done < calls {
            let slice = SLICE_CALLS.min(calls - done);
            for (i, (_, sql)) in ROUND_TRIP.iter().enumerate() {
                spent[i] += bench_ms(&mut client, &fill(sql), slice)?;
            }
            done += slice;
        }
        for (i, ms) in spent.into_iter().enumerate() {
            trip[i].push(ms / f64::from(calls));
        }
        for (i, (_, sql)) in STREAMING.iter().enumerate() {
            let sql = fill(sql);
            let body = format!("PERFORM ({sql})");
            stream[i].push(bench_ms(&mut client, &body, 1)?);
        }
    }
    drop(client);
    admin.batch_execute(&format!("DROP DATABASE {BENCH_DB} WITH (FORCE)"))?;

    let describe = |name: &str| match name {
        "pg_background" => "pg_background_launch + pg_background_result",
        "dblink_unix_trust" => "dblink, a new connection over the unix socket (trust)",
        _ => "dblink, a new connection over TCP (scram-sha-256)",
    };
    let measure = |names: &[(&'static str, &str)], figures: Vec<Vec<f64>>| {
        names
            .iter()
            .zip(figures)
            .map(|((name, _), rounds_ms)| Measurement {
                name,
                what: describe(name),
                median_ms: median(&rounds_ms),
                rounds_ms,
            })
            .collect::<Vec<_>>()
    };
    let round_trip = measure(&ROUND_TRIP, trip);
    let streaming = measure(&STREAMING, stream);
    let trip_ratio = round_trip[0].median_ms / round_trip[1].median_ms;
    let stream_ratio = streaming[0].median_ms / streaming[1].median_ms;
    // The targets: a round trip within 85 % and a stream within 80 % of dblink's time.
    let target = |what: &'static str, ratio: f64, limit: f64| Target {
        what,
        ratio,
        limit,
        met: ratio <= limit,
    };
    let targets = vec![
        target(
            "round trip: pg_background / dblink new unix connection",
            trip_ratio,
            0.85,
        ),
        target("streaming: pg_background / dblink", stream_ratio, 0.80),
    ];
    let report = ExtensionReport {
        server_version: admin.query_one("SHOW server_version", &[])?.get(0),
        date: admin
            .query_one("SELECT (now() AT TIME ZONE 'UTC')::date::text", &[])?
            .get(0),
        machine: machine(),
        calls_per_round: calls,
        stream_rows: rows,
        rounds,
        round_trip,
        streaming,
        targets,
    };
    write_json(out, "extension.json", &report)?;
    Ok(report)
}

/// Prints the report as a table.
pub fn print_extension(report: &ExtensionReport) {
    println!(
        "pg_background against dblink, PostgreSQL {}, {} rounds (median):",
        report.server_version, report.rounds
    );
    println!(
        "\n{:<20} {:>12}  method",
        format!("per call (x{})", report.calls_per_round),
        "ms/call"
    );
    for m in &report.round_trip {
        println!("{:<20} {:>12.3}  {}", m.name, m.median_ms, m.what);
    }
    println!(
        "\n{:<20} {:>12}  method",
        format!("{} rows", report.stream_rows),
        "ms"
    );
    for m in &report.streaming {
        println!("{:<20} {:>12.1}  {}", m.name, m.median_ms, m.what);
    }
    println!();
    for t in &report.targets {
        println!(
            "{:<58} {:>6.3} (target <= {:.2}) {}",
            t.what,
            t.ratio,
            t.limit,
            if t.met { "met" } else { "NOT MET" }
        );
    }
}

/// Runs `bench_ms(body, n)` in the server: the milliseconds `n` runs of `body` took there.
fn bench_ms(client: &mut postgres::Client, body: &str, n: i32) -> Result<f64> {
    Ok(client
        .query_one("SELECT bench_ms($1, $2)", &[&body, &n])
        .with_context(|| format!("benchmark step failed: {body}"))?
        .get(0))
}

/// Writes a benchmark's figures as `out/name`.
fn write_json(out: &Path, name: &str, figures: &impl Serialize) -> Result<()> {
    fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let path = out.join(name);
    fs::write(&path, serde_json::to_string_pretty(figures)?)
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// The processor model and the number of cores this process may use.
fn machine() -> String {
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

/// A SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The median of a non-empty list.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// The wall time of checking one lab, and how much of it is the checker's own.
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
    use crate::checks::{run, Snapshots};
    let mut timings = Vec::new();
    for lab in labs {
        let solution = lab.file("solution.sql");
        run(server, lab, &solution, Snapshots::Compare)?;
        let mut verdicts = Vec::new();
        for _ in 0..runs.max(1) {
            verdicts.push(run(server, lab, &solution, Snapshots::Compare)?);
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

/// What one run of the grading benchmark found.
#[derive(Debug, Serialize)]
pub struct GradeReport {
    pub students: usize,
    pub labs: usize,
    /// Reference solutions, wrong answers and rewrites among the answers.
    pub answers: [usize; 3],
    /// Every student graded with `labs grade`'s default lanes.
    pub all: crate::grade::Summary,
    pub submissions_per_minute: f64,
    /// Of the lanes' wall time: outside the student's SQL, and of that the checker's own SQL.
    pub outside_student_share: f64,
    pub checker_share: f64,
    /// The first `compare` students with one lane and with two.
    pub compare_students: usize,
    pub one_lane_ms: u64,
    pub two_lanes_ms: u64,
    pub speed_up: f64,
    pub targets: Vec<Target>,
}

/// Grades synthetic students: all of them with `labs grade`'s default lanes, then the first
/// `compare` with one lane and with two, side by side; the lanes are warmed first (servers and
/// templates).
pub fn grade(
    home: &crate::home::Home,
    labs: &[crate::lab::Lab],
    server: &crate::server::ServerOptions,
    students: usize,
    compare: usize,
    out: &Path,
) -> Result<GradeReport> {
    use crate::grade::{self, synthetic, Options};
    let work = out.join("grade");
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("cannot remove `{}`", work.display()))?;
    }
    let all = work.join("students");
    let answers = synthetic::write(&all, labs, students, 1)?;
    let some = work.join("compare");
    synthetic::write(&some, labs, compare.min(students), 1)?;
    let run = |submissions: &Path, jobs: usize, name: &str| -> Result<grade::Summary> {
        eprintln!(
            "labs: benchmark: grading `{}` with {jobs} lane(s)",
            submissions.display()
        );
        grade::grade(
            home,
            &Options {
                submissions: submissions.to_path_buf(),
                labs: labs.to_vec(),
                known_labs: labs.to_vec(),
                jobs,
                out: work.join(name),
                student: None,
                force: true,
                server: server.clone(),
                progress_bar: false,
            },
        )
    };
    // Warm-up: every lane starts and builds its templates (a student a lane).
    let lanes = grade::default_lanes();
    let warm = work.join("warm");
    synthetic::write(&warm, labs, lanes, 2)?;
    run(&warm, lanes, "out-warm")?;
    let all_lanes = run(&all, lanes, "out-all")?;
    let one = run(&some, 1, "out-one")?;
    let two = run(&some, 2, "out-two")?;
    let lane_ms = (all_lanes.wall_ms * all_lanes.lanes.max(1) as u64).max(1) as f64;
    let outside = 1.0 - all_lanes.student_ms as f64 / lane_ms;
    let checker = (all_lanes.runs_ms.saturating_sub(all_lanes.student_ms)) as f64 / lane_ms;
    let minutes = all_lanes.wall_ms as f64 / 60_000.0;
    let speed_up = one.wall_ms as f64 / two.wall_ms.max(1) as f64;
    let scaled_100 = all_lanes.wall_ms as f64 / students.max(1) as f64 * 100.0 / 1000.0;
    let report = GradeReport {
        students,
        labs: labs.len(),
        answers,
        submissions_per_minute: (all_lanes.graded as f64) / minutes.max(f64::EPSILON),
        outside_student_share: outside,
        checker_share: checker,
        all: all_lanes,
        compare_students: compare.min(students),
        one_lane_ms: one.wall_ms,
        two_lanes_ms: two.wall_ms,
        speed_up,
        targets: vec![
            Target {
                what: "seconds for 100 students x 3 labs (scaled), under 180",
                ratio: scaled_100,
                limit: 180.0,
                met: scaled_100 <= 180.0,
            },
            Target {
                what: "share of wall time outside student SQL, under 0.15",
                ratio: outside,
                limit: 0.15,
                met: outside <= 0.15,
            },
        ],
    };
    write_json(out, "grade.json", &report)?;
    Ok(report)
}

/// Prints the grading benchmark.
pub fn print_grade(r: &GradeReport) {
    println!(
        "labs grade on {} synthetic students x {} labs ({} reference, {} wrong, {} rewritten answers):\n",
        r.students, r.labs, r.answers[0], r.answers[1], r.answers[2]
    );
    let s = &r.all;
    println!(
        "{} lanes (the default): {} runs in {:.1} s = {:.1} submissions (runs) a minute",
        s.lanes,
        s.graded,
        s.wall_ms as f64 / 1000.0,
        r.submissions_per_minute
    );
    println!(
        "  of the lanes' wall time: student SQL {:.1}%, checker SQL {:.1}%, grader {:.1}% \
         (lanes start {} ms, gradebook {} ms)",
        (1.0 - r.outside_student_share) * 100.0,
        r.checker_share * 100.0,
        (r.outside_student_share - r.checker_share) * 100.0,
        s.lanes_ms,
        s.gradebook_ms
    );
    println!(
        "speed-up of 2 lanes over 1 on {} students: {:.1} s / {:.1} s = x{:.2}\n",
        r.compare_students,
        r.one_lane_ms as f64 / 1000.0,
        r.two_lanes_ms as f64 / 1000.0,
        r.speed_up
    );
    for t in &r.targets {
        println!(
            "{:<70} {:>8.3} (target <= {}) {}",
            t.what,
            t.ratio,
            t.limit,
            if t.met { "met" } else { "NOT MET" }
        );
    }
}

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
        let root = std::env::temp_dir().join(format!(
            "labs-bench-start-{}-{}",
            std::process::id(),
            Alphanumeric
                .sample_string(&mut rand::thread_rng(), 8)
                .to_lowercase()
        ));
        fs::create_dir_all(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
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
