//! `labs grade`: every student's answers checked in lanes of their own servers, each result kept
//! as it finishes so that a re-run goes on where the last one stopped, then the gradebook; or one
//! shard of the class graded into its folder, and the shards' records merged into the gradebook.

mod charts;
pub mod gradebook;
pub mod lanes;
pub mod merge;
pub mod plan;
pub mod shard;
mod similar;
pub mod store;
pub mod submissions;
pub mod synthetic;

use crate::check::{self, Snapshots};
use crate::lab::Lab;
use crate::sandbox::{Sandboxes, Spares};
use crate::server::home::Home;
use crate::server::ServerOptions;
use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lanes::{Lane, Lanes};
use rand::distributions::{Alphanumeric, DistString};
use shard::{Manifest, Shard};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store::{Record, Run, Store};
use submissions::Student;

/// What to grade and how.
pub struct Options {
    /// A folder of student folders, a zip of one, or a Moodle export.
    pub submissions: PathBuf,
    pub labs: Vec<Lab>,
    /// Every lab: the gradebook shows those chosen and those graded before.
    pub known_labs: Vec<Lab>,
    /// How many lanes (lab servers) grade at once.
    pub jobs: usize,
    pub out: PathBuf,
    /// Grade only this student, again.
    pub student: Option<String>,
    /// Grade again what is already graded.
    pub force: bool,
    pub server: ServerOptions,
    /// Show an interactive progress bar (else a line per run).
    pub progress_bar: bool,
    /// Grade only this shard's students, into its folder under `out`, with no gradebook.
    pub shard: Option<Shard>,
}

impl Options {
    /// Whether stderr is a terminal, where a progress bar belongs.
    pub fn stderr_is_terminal() -> bool {
        std::io::stderr().is_terminal()
    }
}

/// What one `labs grade` did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub students: usize,
    pub lanes: usize,
    /// Runs graded now, and runs found already graded with the same answer and lab version.
    pub graded: usize,
    pub skipped: usize,
    /// Runs the environment failed (the server, not the answer): not recorded, graded next time.
    pub failed: usize,
    pub wall_ms: u64,
    /// Starting the lanes' servers.
    pub lanes_ms: u64,
    /// The runs' own time, summed over lanes, and the student's SQL in it.
    pub runs_ms: u64,
    pub student_ms: u64,
    /// Writing the gradebook.
    pub gradebook_ms: u64,
    /// A shard's: whether every due run of it is graded (its shard.json's `complete`).
    pub shard_complete: Option<bool>,
}

/// A run that is due: a student's answer to a lab (indexes into the students and the labs).
struct Job {
    student: usize,
    lab: usize,
}

/// Grades the submissions and writes the gradebook; or, for a shard, grades its students and
/// writes their records and its shard.json into its folder.
pub fn grade(home: &Home, options: &Options) -> Result<Summary> {
    let start = Instant::now();
    let mut students = submissions::discover(&options.submissions, &[&options.out])?;
    if students.is_empty() {
        bail!(
            "`{}` holds no student folder",
            options.submissions.display()
        );
    }
    if let Some(id) = &options.student {
        if !students.iter().any(|s| &s.id == id) {
            let known: Vec<&str> = students.iter().take(10).map(|s| s.id.as_str()).collect();
            bail!(
                "there is no student `{id}` in `{}` (some there are: {})",
                options.submissions.display(),
                known.join(", ")
            );
        }
    }
    let out = match &options.shard {
        Some(shard) => {
            students.retain(|s| shard.holds(&s.id));
            if let Some(id) = options.student.as_deref().filter(|id| !shard.holds(id)) {
                bail!(
                    "student `{id}` belongs to shard {} of {}, not to {shard}",
                    shard::shard_of(id, shard.of),
                    shard.of
                );
            }
            shard.dir(&options.out)
        }
        None => options.out.clone(),
    };
    let store = Store::open(&out)?;
    let manifest = |complete: bool| match &options.shard {
        Some(shard) => {
            let ids = students.iter().map(|s| s.id.clone()).collect();
            Manifest::new(shard, &options.labs, ids, complete).write(&out)
        }
        None => Ok(()),
    };
    // Incomplete until the end: a shard killed meanwhile is named so by the merge.
    manifest(false)?;
    let session = Alphanumeric.sample_string(&mut rand::thread_rng(), 12);
    let mut summary = Summary {
        students: students.len(),
        ..Summary::default()
    };

    let mut jobs = Vec::new();
    for (i, student) in students.iter().enumerate() {
        let chosen = options.student.as_deref().is_none_or(|id| id == student.id);
        let record = store.load(&student.id);
        for (l, lab) in options.labs.iter().enumerate() {
            let done = record.holds(lab, &student.answer(lab.number).sha256);
            if !chosen {
                continue;
            }
            if done && !options.force && options.student.is_none() {
                summary.skipped += 1;
            } else {
                jobs.push(Job { student: i, lab: l });
            }
        }
    }
    // Runs, not students, are what the lanes take: the lanes then end within one run of each
    // other rather than one student's three runs. Student after student, so that the lanes grade
    // different labs at once: all of them in lab 1 (CPU) and then all in lab 3 (mostly waiting)
    // took 194 s against 175 s for the same students (`labs bench grade`).
    let jobs = VecDeque::from(jobs);
    let total = jobs.len();
    eprintln!(
        "labs: {}{} students, {} runs to grade, {} already graded",
        options.shard.map(|s| format!("{s}: ")).unwrap_or_default(),
        students.len(),
        total,
        summary.skipped
    );

    if total > 0 {
        let lane_count = options.jobs.max(1).min(jobs.len());
        let lanes_start = Instant::now();
        let lanes = Lanes::start(home, lane_count, &options.server)?;
        summary.lanes = lane_count;
        summary.lanes_ms = lanes_start.elapsed().as_millis() as u64;
        let bar = progress(total, options.progress_bar);
        let shared = Shared {
            jobs: Mutex::new(jobs),
            students: &students,
            labs: &options.labs,
            store: &store,
            session: &session,
            bar: &bar,
            graded: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            runs_ms: AtomicU64::new(0),
            student_ms: AtomicU64::new(0),
            saving: Mutex::new(()),
        };
        std::thread::scope(|scope| {
            for lane in &lanes.lanes {
                let shared = &shared;
                scope.spawn(move || shared.work(lane));
            }
        });
        bar.finish_and_clear();
        summary.graded = shared.graded.load(Ordering::Relaxed);
        summary.failed = shared.failed.load(Ordering::Relaxed);
        summary.runs_ms = shared.runs_ms.load(Ordering::Relaxed);
        summary.student_ms = shared.student_ms.load(Ordering::Relaxed);
        lanes.stop()?;
    }

    let book_start = Instant::now();
    if options.shard.is_some() {
        let complete = summary.failed == 0
            && students.iter().all(|student| {
                let record = store.load(&student.id);
                (options.labs.iter())
                    .all(|lab| record.holds(lab, &student.answer(lab.number).sha256))
            });
        manifest(complete)?;
        summary.shard_complete = Some(complete);
    } else {
        write_gradebook(&out, &options.known_labs, &options.labs, &students, &store)?;
    }
    summary.gradebook_ms = book_start.elapsed().as_millis() as u64;
    summary.wall_ms = start.elapsed().as_millis() as u64;
    Ok(summary)
}

/// Writes the gradebook of `students` into `out` from their records in `store`, showing the
/// labs graded now (`labs`) and every other known lab that some record holds a current run of.
/// `labs grade` and the merge of shards both write through here, so that the same students and
/// records make the same bytes.
fn write_gradebook(
    out: &Path,
    known_labs: &[Lab],
    labs: &[Lab],
    students: &[Student],
    store: &Store,
) -> Result<()> {
    let records: Vec<Record> = students.iter().map(|s| store.load(&s.id)).collect();
    let shown: Vec<Lab> = known_labs
        .iter()
        .filter(|lab| {
            labs.iter().any(|l| l.number == lab.number)
                || records.iter().any(|r| {
                    r.runs
                        .get(&lab.number)
                        .is_some_and(|run| gradebook::is_current(lab, run))
                })
        })
        .cloned()
        .collect();
    gradebook::write(out, &shown, students, &records)
}

/// A progress bar with an ETA on a terminal; hidden otherwise (a line a run is printed then).
fn progress(total: usize, interactive: bool) -> ProgressBar {
    if !interactive {
        return ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} runs, ETA {eta} {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// The lanes `labs grade` uses unless told: one more than the CPUs. A lane is idle now and then
/// (lab 3 waits on purpose, lab 2 waits for connections): on this 2-core machine three lanes
/// grade 100 students in 189 s where two take 222 s (`labs grade --jobs N` on the benchmark's
/// students).
pub fn default_lanes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) + 1
}

/// What the lanes share while they grade.
struct Shared<'a> {
    jobs: Mutex<VecDeque<Job>>,
    students: &'a [Student],
    labs: &'a [Lab],
    store: &'a Store,
    session: &'a str,
    bar: &'a ProgressBar,
    graded: AtomicUsize,
    failed: AtomicUsize,
    runs_ms: AtomicU64,
    student_ms: AtomicU64,
    /// Held while a record is read, changed and written.
    saving: Mutex<()>,
}

impl Shared<'_> {
    /// One lane's loop: takes the next run, grades it and saves it in its student's record.
    fn work(&self, lane: &Lane) {
        let mut sandboxes = Sandboxes::new(&lane.server);
        loop {
            let Some(job) = self.jobs.lock().expect("not poisoned").pop_front() else {
                return;
            };
            let student = &self.students[job.student];
            let lab = &self.labs[job.lab];
            let answer = student.answer(lab.number);
            let run = |sandboxes: &Sandboxes| {
                check::run_answer(
                    sandboxes,
                    lab,
                    answer.shown.clone(),
                    answer.text.clone(),
                    Snapshots::Compare,
                    Spares::Warm,
                )
            };
            let mut outcome = run(&sandboxes);
            if outcome.is_err() {
                // The environment failed, not the answer: bring the lane back and try once more.
                let revived = lane.revive(sandboxes);
                sandboxes = Sandboxes::new(revived.as_ref().unwrap_or(&lane.server));
                if revived.is_ok() {
                    outcome = run(&sandboxes);
                }
            }
            self.bar.inc(1);
            let verdict = match outcome {
                Ok(verdict) => verdict,
                Err(err) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    self.say(format!(
                        "labs: lane {}: {} lab {} could not be graded (it will be next time): \
                         {err:#}",
                        lane.number, student.id, lab.number
                    ));
                    continue;
                }
            };
            self.runs_ms
                .fetch_add(verdict.elapsed_ms, Ordering::Relaxed);
            self.student_ms
                .fetch_add(verdict.student_ms, Ordering::Relaxed);
            let done = self.graded.fetch_add(1, Ordering::Relaxed) + 1;
            let line = format!(
                "{} lab {}: {}/{} ({:.1} s)",
                student.id,
                lab.number,
                verdict.score,
                verdict.max_score,
                verdict.elapsed_ms as f64 / 1000.0
            );
            if self.bar.is_hidden() {
                eprintln!(
                    "labs: [{done}/{}] lane {}: {line}",
                    self.bar.length().unwrap_or(0),
                    lane.number
                );
            } else {
                self.bar.set_message(line);
            }
            let run = Run {
                key: store::key(lab, &answer.sha256),
                session: self.session.to_string(),
                graded_at: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                verdict,
            };
            if let Err(err) = self.save(student, lab.number, run) {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.say(format!("labs: {err:#}"));
            }
        }
    }

    /// Adds a run to its student's record and writes the record, one lane at a time: two lanes
    /// may grade two labs of one student at once.
    fn save(&self, student: &Student, lab: u32, run: Run) -> Result<()> {
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut record = self.store.load(&student.id);
        record.name = student.name.clone();
        record.runs.insert(lab, run);
        self.store.save(&record)
    }

    /// Prints a line above the progress bar, or as is without one.
    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}
