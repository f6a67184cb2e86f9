//! `labs grade` on synthetic students: submissions a minute, the share outside student SQL, and
//! the speed-up of lanes.

use super::{write_json, Target};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

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
    home: &crate::server::home::Home,
    labs: &[crate::lab::Lab],
    server: &crate::server::ServerOptions,
    students: usize,
    compare: usize,
    out: &Path,
) -> Result<GradeReport> {
    use crate::grade::{self, synthetic};
    let (work, all, answers) = class(out, "grade", labs, students)?;
    let some = work.join("compare");
    synthetic::write(&some, labs, compare.min(students), 1)?;
    let run = |submissions: &Path, jobs: usize, name: &str| -> Result<grade::Summary> {
        eprintln!(
            "labs: benchmark: grading `{}` with {jobs} lane(s)",
            submissions.display()
        );
        let options = options(labs, server, submissions, jobs, work.join(name), None);
        grade::grade(home, &options)
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

/// A benchmark's work folder `out/name`, made anew, with `students` synthetic students in its
/// `students/`: the folder, the students' folder and the kinds of their answers.
pub(super) fn class(
    out: &Path,
    name: &str,
    labs: &[crate::lab::Lab],
    students: usize,
) -> Result<(PathBuf, PathBuf, [usize; 3])> {
    let work = out.join(name);
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("cannot remove `{}`", work.display()))?;
    }
    let class = work.join("students");
    let answers = crate::grade::synthetic::write(&class, labs, students, 1)?;
    Ok((work, class, answers))
}

/// What a benchmark's grading is told: every lab of `submissions`, all again, no progress bar.
pub(super) fn options(
    labs: &[crate::lab::Lab],
    server: &crate::server::ServerOptions,
    submissions: &Path,
    jobs: usize,
    out: PathBuf,
    shard: Option<crate::grade::shard::Shard>,
) -> crate::grade::Options {
    crate::grade::Options {
        submissions: submissions.to_path_buf(),
        labs: labs.to_vec(),
        known_labs: labs.to_vec(),
        jobs,
        out,
        student: None,
        force: true,
        server: server.clone(),
        progress_bar: false,
        shard,
    }
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
    super::print_targets(&r.targets);
}
