//! `labs grade SUBMISSIONS`: every student's answers graded into a gradebook; `--shard K/N` one
//! shard of them, `--merge` the shards' records into the gradebook, `labs grade plan` the
//! Kubernetes Job that grades the shards.

use super::{Context, ServerArgs, Which};
use anyhow::Result;
use pgbg_labs::grade::{self, merge, plan, shard::ShardArg};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `labs grade` grades, and how.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GradeArgs {
    #[command(subcommand)]
    command: Option<GradeCommand>,
    /// A folder with a folder per student holding lab1.sql..lab3.sql, a .zip of such a folder,
    /// or a Moodle "download all submissions" export.
    #[arg(required = true)]
    submissions: Option<PathBuf>,
    /// The labs to grade, e.g. `1,3` (default: every lab in the labs folder).
    #[arg(long, value_delimiter = ',')]
    labs: Vec<u32>,
    /// Lanes (lab servers) grading at once (default: one more than the machine's CPUs: a lane
    /// waits now and then, in lab 3's pauses and lab 2's connections, and the extra lane keeps
    /// the CPUs busy meanwhile).
    #[arg(long)]
    jobs: Option<usize>,
    /// The gradebook's folder (with `--shard`, the folder of the shards' folders).
    #[arg(long, default_value = "gradebook")]
    out: PathBuf,
    /// Grade only this student (again, even if graded).
    #[arg(long, value_name = "ID")]
    student: Option<String>,
    /// Grade again what is already graded.
    #[arg(long)]
    force: bool,
    /// Grade only shard K of N (the students whose id hashes to it) into OUT/shard-K-of-N/:
    /// records and shard.json, no gradebook. K `auto`: LABS_SHARD (1 to N) when set, else
    /// JOB_COMPLETION_INDEX (0 to N-1, a Kubernetes Indexed Job's) plus one, else the first K
    /// free to claim in OUT/claims/.
    #[arg(long, value_name = "K/N")]
    shard: Option<ShardArg>,
    /// Merge the shards' records into the gradebook in OUT, as one machine would have graded
    /// it: each a shard's folder (with shard.json) or a folder of shard-K-of-N folders. Refuses,
    /// naming them, missing or incomplete shards, different runners or lab versions, and
    /// students in no shard, the wrong one or two.
    #[arg(
        long,
        value_name = "SHARD_OUT",
        num_args = 1..,
        conflicts_with_all = ["labs", "jobs", "student", "force", "shard"]
    )]
    merge: Vec<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(clap::Subcommand)]
enum GradeCommand {
    /// Print the Kubernetes Indexed Job that grades a class in N shards, one pod a shard
    /// (`kubectl apply -f -`), then merge with `labs grade SUBMISSIONS --merge RECORDS`.
    Plan(PlanArgs),
}

#[derive(clap::Args)]
struct PlanArgs {
    /// Shards, one pod each, all at once.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// The grader image, e.g. `pgbg-labs/grader:<version>` as your cluster pulls it.
    #[arg(long)]
    image: String,
    /// The PersistentVolumeClaim holding the submissions (mounted read-only at /submissions).
    #[arg(long, value_name = "NAME", default_value = "pgbg-submissions")]
    submissions_claim: String,
    /// The PersistentVolumeClaim the shards write their records into (mounted at /out).
    #[arg(long, value_name = "NAME", default_value = "pgbg-records")]
    out_claim: String,
}

/// Grades the class (or a shard of it, or merges the shards) and prints the summary; exits 2
/// when some run could not be graded.
pub fn run(context: &Context, args: GradeArgs) -> Result<ExitCode> {
    if let Some(GradeCommand::Plan(plan)) = args.command {
        print!(
            "{}",
            plan::render(&plan::Plan {
                shards: plan.shards,
                image: plan.image,
                submissions_claim: plan.submissions_claim,
                out_claim: plan.out_claim,
            })?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let submissions = args
        .submissions
        .expect("clap requires it without a subcommand");
    let known_labs = context.labs(&Which::All)?;
    if !args.merge.is_empty() {
        let merged = merge::merge(&merge::MergeOptions {
            submissions,
            shards: args.merge,
            known_labs,
            out: args.out.clone(),
        })?;
        println!(
            "Merged {} shards' records of {} students in {:.1} s.",
            merged.shards,
            merged.students,
            merged.wall_ms as f64 / 1000.0
        );
        print_gradebook(&args.out);
        return Ok(ExitCode::SUCCESS);
    }
    let labs = if args.labs.is_empty() {
        known_labs.clone()
    } else {
        args.labs
            .iter()
            .map(|n| context.labs(&Which::One(*n)).map(|mut one| one.remove(0)))
            .collect::<Result<Vec<_>>>()?
    };
    let shard = args
        .shard
        .map(|s| s.resolve(&args.out, |name| std::env::var(name).ok()))
        .transpose()?;
    let options = grade::Options {
        server: args.server.options(),
        submissions,
        labs,
        known_labs,
        jobs: args.jobs.unwrap_or_else(grade::default_lanes),
        out: args.out,
        student: args.student,
        force: args.force,
        progress_bar: grade::Options::stderr_is_terminal(),
        shard,
    };
    let summary = grade::grade(&context.home, &options)?;
    println!(
        "Graded {} runs ({} already graded and skipped, {} failed by the environment) of {} \
         students{} in {:.1} s with {} lane{}.",
        summary.graded,
        summary.skipped,
        summary.failed,
        summary.students,
        shard.map(|s| format!(" of {s}")).unwrap_or_default(),
        summary.wall_ms as f64 / 1000.0,
        summary.lanes,
        if summary.lanes == 1 { "" } else { "s" }
    );
    match shard {
        Some(shard) => {
            let dir = shard.dir(&options.out);
            println!(
                "Shard: {0}/results/, {0}/shard.json ({1}); merge the shards with \
                 `labs grade SUBMISSIONS --merge {2}`.",
                dir.display(),
                if summary.shard_complete == Some(true) {
                    "complete"
                } else {
                    "incomplete: run it again to go on"
                },
                options.out.display()
            );
        }
        None => print_gradebook(&options.out),
    }
    Ok(ExitCode::from(if summary.failed > 0 { 2 } else { 0 }))
}

/// Where the gradebook's files are.
fn print_gradebook(out: &Path) {
    println!(
        "Gradebook: {0}/grades.csv, {0}/grades.json, {0}/report.html, {0}/junit.xml, \
         {0}/feedback/, {0}/gradescope/",
        out.display()
    );
}
