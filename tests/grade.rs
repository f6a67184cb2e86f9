//! `labs grade` against real lab servers: the same grades twice, also with every CPU busy, a
//! killed grader that resumes without losing or regrading anything, junk that gets its own
//! messages, and a report page that a browser shows with its charts. The point being the
//! mechanics, most tests grade lab 3 alone (lab 1 costs seconds a run).

mod common;

use common::LabHome;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Writes `count` synthetic students into `dir` with the real binary.
fn students(home: &LabHome, dir: &Path, count: usize) {
    home.run(&[
        "dev",
        "students",
        dir.to_str().unwrap(),
        "--count",
        &count.to_string(),
    ])
    .expect_code(0);
}

/// `labs grade SUBMISSIONS --out OUT ARGS`.
fn grade(home: &LabHome, submissions: &Path, out: &Path, args: &[&str]) -> common::Run {
    let mut all = vec![
        "grade",
        submissions.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    home.run(&all)
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every stored run: (student, lab) -> (session, graded_at).
fn stored_runs(out: &Path) -> BTreeMap<(String, String), (String, u64)> {
    let mut runs = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(out.join("results")) else {
        return runs;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let record: serde_json::Value = serde_json::from_str(&read(path)).unwrap();
        for (lab, run) in record["runs"].as_object().unwrap() {
            runs.insert(
                (record["student"].as_str().unwrap().to_string(), lab.clone()),
                (
                    run["session"].as_str().unwrap().to_string(),
                    run["graded_at"].as_u64().unwrap(),
                ),
            );
        }
    }
    runs
}

/// A labs home, its work folder, `count` synthetic students in `work/students` and the
/// gradebook folder `work/out`.
fn with_students(count: usize) -> (LabHome, PathBuf, PathBuf, PathBuf) {
    let home = LabHome::new();
    let work = home.path().with_file_name("work");
    let subs = work.join("students");
    students(&home, &subs, count);
    let out = work.join("out");
    (home, work, subs, out)
}

/// `labs grade SUBMISSIONS --out OUT --labs 3 ARGS` started in the background; its output on a
/// pipe, its messages to `stderr`.
fn spawn_grade(
    home: &LabHome,
    subs: &Path,
    out: &Path,
    args: &[&str],
    stderr: Stdio,
) -> std::process::Child {
    let mut all = vec![
        "grade",
        subs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--labs",
        "3",
    ];
    all.extend_from_slice(args);
    home.command(&all)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Waits (at most 240 s) until the grader `child` has stored `runs` runs in `out`.
fn wait_for_runs(child: &mut std::process::Child, out: &Path, runs: usize) {
    let until = Instant::now() + Duration::from_secs(240);
    while stored_runs(out).len() < runs {
        assert!(Instant::now() < until, "no results after 240 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the grader ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The number after `word` in the summary line ("Graded 12 runs (3 already graded...").
fn count_after(text: &str, word: &str) -> usize {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("no `{word}` in:\n{text}"));
    text[at + word.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The lanes of a finished `labs grade` keep no run's database or role: the warm spares made
/// for runs that never came are dropped too. Starts each lane's server to look (the test home's
/// `labs server stop` stops them again).
fn assert_nothing_left(graded: &common::Run, lanes: &[&str]) {
    let line = graded
        .stderr
        .lines()
        .find(|l| l.contains("grading lane(s)"))
        .unwrap_or_else(|| panic!("no lanes line in:\n{}", graded.all()));
    let dir = PathBuf::from(line.rsplit('`').nth(1).unwrap());
    for lane in lanes {
        let left = common::Run::from(
            std::process::Command::new(env!("CARGO_BIN_EXE_labs"))
                .env("LABS_HOME", dir.join(lane))
                .env("LABS_BACKEND", common::backend())
                .args(["server", "psql", "--", "-X", "-At", "-c"])
                .arg(
                    "SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE 'run\\_%') \
                     + (SELECT count(*) FROM pg_roles WHERE rolname ~ '^(student|checker)_')",
                )
                .output()
                .unwrap(),
        );
        assert_eq!(left.code, 0, "{}", left.all());
        assert_eq!(
            left.stdout.trim(),
            "0",
            "lane {lane}: {}\n--- the grader\n{}",
            left.all(),
            graded.all()
        );
    }
}

#[test]
fn grading_twice_gives_identical_grades_and_a_rerun_skips() {
    let (home, work, subs, _) = with_students(20);
    let first = grade(
        &home,
        &subs,
        &work.join("a"),
        &["--labs", "3", "--jobs", "2"],
    );
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(count_after(&first.stdout, "Graded "), 20, "{}", first.all());
    assert_nothing_left(&first, &["1", "2"]);
    let grades = read(work.join("a/grades.csv"));
    // `--force` grades every answer again, from scratch: the same grades.
    copy_dir(&work.join("a"), &work.join("a-first"));
    let second = grade(&home, &subs, &work.join("a"), &["--labs", "3", "--force"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(
        count_after(&second.stdout, "Graded "),
        20,
        "{}",
        second.all()
    );
    assert_same_grades(&work.join("a-first"), &work.join("a"));
    assert_eq!(grades.lines().count(), 21, "{grades}");
    // The reference solutions are among them and get every point; the wrong answers do not.
    assert!(grades.lines().any(|l| l.ends_with(",11,11,11")), "{grades}");
    assert!(
        grades
            .lines()
            .any(|l| l.ends_with(",11") && !l.ends_with(",11,11,11")),
        "{grades}"
    );

    // A re-run grades nothing; `--student` grades one student again.
    let again = grade(&home, &subs, &work.join("a"), &["--labs", "3"]);
    assert_eq!(count_after(&again.stdout, "Graded "), 0, "{}", again.all());
    assert_eq!(count_after(&again.stdout, "("), 20, "{}", again.all());
    let before = stored_runs(&work.join("a"));
    let one = grade(
        &home,
        &subs,
        &work.join("a"),
        &["--labs", "3", "--student", "student_007"],
    );
    assert_eq!(count_after(&one.stdout, "Graded "), 1, "{}", one.all());
    let after = stored_runs(&work.join("a"));
    for (key, run) in &before {
        let regraded = key == &("student_007".to_string(), "3".to_string());
        assert_eq!(&after[key] != run, regraded, "{key:?}");
    }
    assert_eq!(grades, read(work.join("a/grades.csv")));
}

#[test]
fn a_killed_grader_resumes_without_losing_or_regrading() {
    let (home, work, subs, out) = with_students(20);
    // Lab 3 alone: 20 runs of about a second and a half.
    let mut child = spawn_grade(&home, &subs, &out, &[], Stdio::null());
    wait_for_runs(&mut child, &out, 6);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    let before = stored_runs(&out);
    assert!(before.len() < 20, "killed too late: {}", before.len());

    let rerun = grade(&home, &subs, &out, &["--labs", "3"]);
    assert_eq!(rerun.code, 0, "{}", rerun.all());
    // Nothing graded twice: the re-run grades exactly what was missing, and every run stored
    // before the kill is untouched.
    assert_eq!(
        count_after(&rerun.stdout, "Graded "),
        20 - before.len(),
        "{}",
        rerun.all()
    );
    let after = stored_runs(&out);
    assert_eq!(after.len(), 20);
    for (key, run) in &before {
        assert_eq!(&after[key], run, "{key:?} was graded again");
    }
    // Nothing lost: the gradebook equals one graded in a single run.
    let whole = grade(&home, &subs, &work.join("whole"), &["--labs", "3"]);
    assert_eq!(whole.code, 0, "{}", whole.all());
    assert_eq!(
        read(out.join("grades.csv")),
        read(work.join("whole/grades.csv"))
    );
}

/// A process of the lane's server (the background writer) killed with SIGKILL makes the
/// postmaster end every backend and restart them; the run in flight fails with its sessions and
/// is graded again, the runs after it get new sessions, and nothing is left over.
#[test]
fn a_lane_whose_server_crashes_grades_on() {
    if !common::native_only("a_lane_whose_server_crashes_grades_on") {
        return;
    }
    let (home, work, subs, out) = with_students(10);
    let log = work.join("grade.log");
    let stderr = Stdio::from(std::fs::File::create(&log).unwrap());
    let mut child = spawn_grade(&home, &subs, &out, &["--jobs", "1"], stderr);
    wait_for_runs(&mut child, &out, 3);
    let line = read(log.clone())
        .lines()
        .find(|l| l.contains("grading lane(s)"))
        .map(str::to_string)
        .expect("the grader names its lanes");
    let lane: serde_json::Value = serde_json::from_str(&read(
        PathBuf::from(line.rsplit('`').nth(1).unwrap()).join("1/server.json"),
    ))
    .unwrap();
    let data = PathBuf::from(lane["data_dir"].as_str().unwrap());
    let postmaster = read(data.join("postmaster.pid"))
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    let writer = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(postmaster.as_str())
                && String::from_utf8_lossy(&cmdline).contains("background writer")
        })
        .expect("the lane's server has a background writer");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(writer),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let done = child.wait_with_output().unwrap();
    let crashed = common::Run {
        code: done.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&done.stdout).into_owned(),
        stderr: read(log),
    };
    assert_eq!(crashed.code, 0, "{}", crashed.all());
    assert_eq!(
        count_after(&crashed.stdout, "Graded "),
        10,
        "{}",
        crashed.all()
    );
    assert!(
        crashed.stdout.contains("0 failed by the environment"),
        "{}",
        crashed.all()
    );
    assert_nothing_left(&crashed, &["1"]);
    // The same grades as without the crash.
    let whole = grade(
        &home,
        &subs,
        &work.join("whole"),
        &["--labs", "3", "--jobs", "1"],
    );
    assert_eq!(whole.code, 0, "{}", whole.all());
    assert_eq!(
        read(out.join("grades.csv")),
        read(work.join("whole/grades.csv"))
    );
}

#[test]
fn junk_gets_clear_messages_and_the_report_shows_its_charts() {
    let home = LabHome::new();
    let work = home.path().with_file_name("work");
    let subs = work.join("junk");
    let moodle = subs.join("Иванов Иван_4242_assignsubmission_file_");
    std::fs::create_dir_all(&moodle).unwrap();
    std::fs::write(
        moodle.join("lab1.sql"),
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
    )
    .unwrap();
    std::fs::write(moodle.join("lab3.sql"), vec![b'-'; 50 * 1024 * 1024]).unwrap();
    std::fs::create_dir_all(subs.join("empty_student")).unwrap();
    let latin1 = subs.join("latin1");
    std::fs::create_dir_all(&latin1).unwrap();
    std::fs::write(latin1.join("lab3.sql"), b"-- \xe9t\xe9\nSELECT 1;\n").unwrap();
    let good = subs.join("good");
    std::fs::create_dir_all(&good).unwrap();
    let solution = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/03_retry/solution.sql");
    std::fs::copy(&solution, good.join("lab3.sql")).unwrap();
    std::fs::copy(&solution, latin1.join("notes.sql")).unwrap();

    let out = work.join("out");
    let run = grade(&home, &subs, &out, &["--labs", "1,3", "--jobs", "1"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let grades = read(out.join("grades.csv"));
    assert!(grades.contains("4242,Иванов Иван,0,0,0,30"), "{grades}");
    assert!(grades.contains("good,,0,11,11,30"), "{grades}");
    let ivanov = read(out.join("feedback/4242.md"));
    assert!(ivanov.contains("PDF-документ"), "{ivanov}");
    assert!(ivanov.contains("слишком велик: 52428800 байт"), "{ivanov}");
    let empty = read(out.join("feedback/empty_student.md"));
    assert!(empty.contains("папка студента пуста"), "{empty}");
    let latin = read(out.join("feedback/latin1.md"));
    assert!(
        latin.contains("не в кодировке UTF-8 (первый неверный байт в строке 1)"),
        "{latin}"
    );
    assert!(latin.contains("в папке есть: notes.sql"), "{latin}");
    let feedback = read(out.join("feedback/good.md"));
    assert!(feedback.contains("**11 из 11**"), "{feedback}");

    let gradescope: serde_json::Value =
        serde_json::from_str(&read(out.join("gradescope/good/results.json"))).unwrap();
    assert_eq!(gradescope["score"], 11);
    assert_eq!(gradescope["max_score"], 30);
    assert_eq!(gradescope["tests"][0]["status"], "failed");
    let junit = read(out.join("junit.xml"));
    assert!(junit.contains("<testsuite name=\"good/lab3\""), "{junit}");

    // A zip of a Moodle export: the id and name come from the folder's name.
    let zip_path = work.join("export.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file(
        "course/Петров Пётр_77_assignsubmission_file_/lab3.sql",
        options,
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, &std::fs::read(&solution).unwrap()).unwrap();
    zip.start_file("course/Сидоров_78_assignsubmission_file_/lab3.sql", options)
        .unwrap();
    std::io::Write::write_all(&mut zip, b"SELEC 1;").unwrap();
    zip.finish().unwrap();
    let zipped = grade(&home, &zip_path, &work.join("zipped"), &["--labs", "3"]);
    assert_eq!(zipped.code, 0, "{}", zipped.all());
    let grades = read(work.join("zipped/grades.csv"));
    assert!(grades.contains("77,Петров Пётр,11,11,11"), "{grades}");
    assert!(grades.contains("78,Сидоров,0,0,11"), "{grades}");
    let sidorov = read(work.join("zipped/feedback/78.md"));
    assert!(
        sidorov.contains("строка 1") && sidorov.contains("42601"),
        "{sidorov}"
    );

    // The report needs nothing from outside and shows its charts in a real browser.
    let html = read(out.join("report.html"));
    for outside in ["<script", "<link", "http:", "https:", "@import", "url("] {
        assert!(!html.contains(outside), "the report loads `{outside}`");
    }
    let dom = std::process::Command::new(env!("CARGO_BIN_EXE_labs"))
        .args(["dev", "dom"])
        .arg(out.join("report.html"))
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "labs dev dom failed (is chromium installed? `make browser`): {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    // Two labs' score histograms, the pass rate per check, the slowest submissions.
    assert_eq!(dom.matches("<svg").count(), 4, "{dom}");
    assert!(dom.matches("class=\"bar\"").count() >= 10, "{dom}");
    assert!(dom.contains("Доля зачтённых проверок"), "{dom}");
    assert!(
        dom.contains("Ответы, которые не удалось проверить"),
        "{dom}"
    );
}

/// Busy loops on every CPU until dropped: the machine under load.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cpus)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x: u64 = 1;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        for _ in 0..100_000 {
                            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        }
                        std::hint::black_box(x);
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The verdicts do not depend on the machine's load: one class graded twice with as many lanes
/// as CPUs and one more, every CPU kept busy meanwhile, gets the same grades both times, lab 2
/// (whose checks once compared timings) among them.
#[test]
fn grading_under_load_gives_identical_grades() {
    let (home, work, subs, _) = with_students(10);
    let lanes = (std::thread::available_parallelism().map_or(2, |n| n.get()) + 1).to_string();
    let args = ["--labs", "2,3", "--jobs", lanes.as_str()];
    let load = Load::start();
    let first = grade(&home, &subs, &work.join("a"), &args);
    assert_eq!(first.code, 0, "{}", first.all());
    let second = grade(&home, &subs, &work.join("b"), &args);
    assert_eq!(second.code, 0, "{}", second.all());
    drop(load);
    let grades = read(work.join("a/grades.csv"));
    assert_eq!(grades.lines().count(), 11, "{grades}");
    assert_same_grades(&work.join("a"), &work.join("b"));
}

/// The gradebooks in `first` and `second` give the same grades; on a difference, the feedback of
/// the students graded differently says which check moved.
fn assert_same_grades(first: &Path, second: &Path) {
    let grades = read(first.join("grades.csv"));
    let again = read(second.join("grades.csv"));
    let moved: String = grades
        .lines()
        .zip(again.lines())
        .filter(|(a, b)| a != b)
        .filter_map(|(a, _)| a.split(',').next())
        .map(|student| {
            let feedback = |dir: &Path| read(dir.join(format!("feedback/{student}.md")));
            format!(
                "--- {student}, first:\n{}\n--- second:\n{}\n",
                feedback(first),
                feedback(second)
            )
        })
        .collect();
    assert_eq!(grades, again, "{moved}");
}

/// Copies the files of the folder `from` (and its folders) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
