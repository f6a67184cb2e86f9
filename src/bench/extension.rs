//! pg_background against dblink: the round trip of one call and streaming a million rows.

use super::{machine, median, write_json, Measurement, Target};
use crate::server::Server;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// The database the benchmarks make for themselves and drop afterwards.
const BENCH_DB: &str = "labs_bench";

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
    let table = |title: String, unit: &str, methods: &[Measurement], decimals: usize| {
        println!("\n{title:<20} {unit:>12}  method");
        for m in methods {
            println!("{:<20} {:>12.decimals$}  {}", m.name, m.median_ms, m.what);
        }
    };
    table(
        format!("per call (x{})", report.calls_per_round),
        "ms/call",
        &report.round_trip,
        3,
    );
    table(
        format!("{} rows", report.stream_rows),
        "ms",
        &report.streaming,
        1,
    );
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

/// A SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
