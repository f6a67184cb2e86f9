//! `labs bench ...`: the benchmarks, each printed as a table and written as JSON.

use super::{Context, ServerArgs, Which};
use anyhow::Result;
use pgbg_labs::bench;
use pgbg_labs::server::{self, Lifetime};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Cold start to first query: native (new and existing cluster) and docker, side by side.
    Start {
        /// Rounds; backends alternate within each round, the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Folder for the JSON figures.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// The wall time of `labs check N` per lab, and the checker's own overhead in it.
    Checks {
        #[command(flatten)]
        server: ServerArgs,
        /// Runs per lab after a warm-up run; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Folder for the JSON figures.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// `labs grade` on synthetic students: submissions a minute with the default lanes, the share
    /// of wall time outside student SQL, and the speed-up of two lanes over one.
    Grade {
        #[command(flatten)]
        server: ServerArgs,
        /// Students graded with `labs grade`'s default lanes (every lab each).
        #[arg(long, default_value_t = 100)]
        students: usize,
        /// Students graded with one lane and with two, for the speed-up.
        #[arg(long, default_value_t = 12)]
        compare: usize,
        /// Instead: the students graded on this machine, then in N shards one after another
        /// (each as a machine of this size), merged; the extra cost of sharding, the merge's
        /// time for 3,000 students' records, a projection to 20 machines.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
        shards: Option<u32>,
        /// Folder for the JSON figures (and the synthetic students).
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// The workbench (`labs serve`) over HTTP: an example's round trip, a sandbox reset, and a
    /// lab checked from the page against `labs check` in the terminal.
    Serve {
        #[command(flatten)]
        server: ServerArgs,
        /// The lab checked from the page and in the terminal (its reference solution).
        #[arg(long, default_value_t = 2)]
        lab: u32,
        /// Rounds: 10 example runs, 2 resets and a check each way per round; medians reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Folder for the JSON figures.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// pg_background against dblink: per-call round trip and streaming a million rows.
    Extension {
        #[command(flatten)]
        server: ServerArgs,
        /// Calls per method and round for the round trip; the methods take turns every 20 calls.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(i32).range(1..))]
        calls: i32,
        /// Rows to stream.
        #[arg(long, default_value_t = 1_000_000)]
        rows: i32,
        /// Rounds; methods alternate within each round, the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Folder for the JSON figures.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
}

/// Runs the benchmark and prints its table.
pub fn run(context: &Context, command: BenchCommand) -> Result<ExitCode> {
    let home = &context.home;
    match command {
        BenchCommand::Start { rounds, out } => {
            bench::print_start(&bench::start(rounds.max(1), &out)?);
        }
        BenchCommand::Checks { server, runs, out } => {
            let labs = context.labs(&Which::All)?;
            let server = server::ensure_running(home, &server.options(), Lifetime::Command)?;
            bench::print_checks(&bench::checks(&server, &labs, runs, &out)?);
        }
        BenchCommand::Grade {
            server,
            students,
            compare,
            shards,
            out,
        } => {
            let labs = context.labs(&Which::All)?;
            if let Some(of) = shards {
                bench::print_shards(&bench::shards(
                    &labs,
                    &server.options(),
                    students,
                    of,
                    &out,
                )?);
            } else {
                let report = bench::grade(home, &labs, &server.options(), students, compare, &out)?;
                bench::print_grade(&report);
            }
        }
        BenchCommand::Serve {
            server,
            lab,
            rounds,
            out,
        } => {
            let labs = context.labs(&Which::All)?;
            let server = server::ensure_running(home, &server.options(), Lifetime::Command)?;
            let book = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book");
            let site = book.join("build");
            let report =
                pgbg_labs::serve::bench::serve(&server, &book, &site, labs, lab, rounds, &out)?;
            pgbg_labs::serve::bench::print_serve(&report);
        }
        BenchCommand::Extension {
            server,
            calls,
            rows,
            rounds,
            out,
        } => {
            let server = server::ensure_running(home, &server.options(), Lifetime::Command)?;
            let report = bench::extension(&server, calls, rows, rounds, &out)?;
            bench::print_extension(&report);
        }
    }
    Ok(ExitCode::SUCCESS)
}
