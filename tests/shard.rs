//! A class graded in shards against real lab servers: the shards' records merged into the
//! gradebook equal the one graded on one machine, byte for byte once timings are masked; `auto`
//! takes the shard from the engines' environment or a claim; every wrong merge is refused,
//! naming what is wrong; and a gradebook or shards' folder inside the submissions is no student.

mod common;

use common::LabHome;
use pgbg_labs::grade::shard::shard_of;
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seven synthetic students: the first seven ids put two, one and four students in shards 1, 2
/// and 3 of 3, so that no shard is empty.
const STUDENTS: usize = 7;

/// A labs home, `STUDENTS` synthetic students in `work/students`, and the work folder.
fn class() -> (LabHome, PathBuf, PathBuf) {
    let home = LabHome::new();
    let work = home.path().with_file_name("work");
    let subs = work.join("students");
    home.run(&[
        "dev",
        "students",
        subs.to_str().unwrap(),
        "--count",
        &STUDENTS.to_string(),
    ])
    .expect_code(0);
    (home, work, subs)
}

/// `labs grade SUBMISSIONS ARGS` with `env` set and the engines' shard variables otherwise
/// unset.
fn grade(home: &LabHome, subs: &Path, args: &[&str], env: &[(&str, &str)]) -> common::Run {
    let mut all = vec!["grade", subs.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut command = home.command(&all);
    command
        .env_remove("LABS_SHARD")
        .env_remove("JOB_COMPLETION_INDEX");
    for (name, value) in env {
        command.env(name, value);
    }
    common::Run::from(command.output().unwrap())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join("shard.json"))).unwrap()
}

fn write_manifest(dir: &Path, manifest: &serde_json::Value) {
    std::fs::write(
        dir.join("shard.json"),
        serde_json::to_string_pretty(manifest).unwrap(),
    )
    .unwrap();
}

/// The students of the class that belong to shard `k` of `of`.
fn ids_of(k: u32, of: u32) -> Vec<String> {
    (1..=STUDENTS)
        .map(|i| format!("student_{i:03}"))
        .filter(|id| shard_of(id, of) == k)
        .collect()
}

/// A gradebook file with what differs between two gradings of the same answers masked, and
/// nothing else. What differs is time and identity of the grading, never a score or a message:
/// - the records' and grades.json's `elapsed_ms`, `student_ms` (milliseconds) and `graded_at`
///   (when), and `session` (a random id per `labs grade`, so per shard);
/// - durations in the checks' details, feedback, Gradescope output and the report (`N мс`,
///   `1.4 с`, lab 2's `total_ms = 48.139`) and JUnit's `time="…"`;
/// - the pid a lab 3 answer returned (`pid N`): another server's process;
/// - how many NOTICEs a lab 3 answer raised (`NOTICE: N`): a retry loop raises one a wait, and
///   how many waits it took is timing;
/// - in report.html, the whole chart of the slowest checks: which runs were slowest, their order
///   and their bars are timings.
fn mask(name: &str, text: &str) -> String {
    let rules = [
        (r#""(elapsed_ms|student_ms|graded_at)": \d+"#, r#""$1": 0"#),
        (r#""session": "[^"]*""#, r#""session": """#),
        (r"\d+(\.\d+)? мс", "N мс"),
        (r"(\w+_ms) = [\d.]+", "$1 = T"),
        (r"\d+(\.\d+)? с\b", "T с"),
        (r#"time="[\d.]+""#, r#"time="T""#),
        (r"pid \d+", "pid N"),
        (r"NOTICE: \d+", "NOTICE: N"),
    ];
    let mut text = text.to_string();
    if name.ends_with("report.html") {
        let slowest = Regex::new(
            r"(?s)<figure[^>]*>\s*<figcaption>Самые долгие проверки</figcaption>.*?</figure>",
        )
        .unwrap();
        assert!(slowest.is_match(&text), "no chart of the slowest checks");
        text = slowest
            .replace(&text, "<figure>slowest</figure>")
            .into_owned();
    }
    for (pattern, with) in rules {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, with)
            .into_owned();
    }
    text
}

/// `labs grade SUBMISSIONS --merge SHARD_OUT... --out OUT`.
fn merge(home: &LabHome, subs: &Path, shards: &[&Path], out: &Path) -> common::Run {
    let mut args = vec!["--merge"];
    args.extend(shards.iter().map(|s| path(s)));
    args.extend(["--out", path(out)]);
    grade(home, subs, &args, &[])
}

/// Every file under `dir`, by its path below it, masked.
fn masked_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            files.insert(name.clone(), mask(&name, &read(&p)));
        }
    }
    files
}

/// Panics naming every line where two trees differ.
fn assert_same_tree(merged: &Path, one: &Path) {
    let (a, b) = (masked_tree(merged), masked_tree(one));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the gradebooks hold different files"
    );
    let mut differences = Vec::new();
    for (name, text) in &a {
        for (n, (x, y)) in text.lines().zip(b[name].lines()).enumerate() {
            if x != y {
                differences.push(format!("{name}:{}:\n  merged: {x}\n  one:    {y}", n + 1));
            }
        }
        if text.lines().count() != b[name].lines().count() {
            differences.push(format!("{name}: another number of lines"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn a_class_graded_in_shards_merges_into_the_one_machine_gradebook() {
    let (home, work, subs) = class();
    let one = work.join("one");
    let graded = grade(&home, &subs, &["--out", path(&one), "--jobs", "2"], &[]);
    assert_eq!(graded.code, 0, "{}", graded.all());

    let records = work.join("records");
    for k in 1..=3u32 {
        let shard = format!("{k}/3");
        let run = grade(
            &home,
            &subs,
            &["--shard", &shard, "--out", path(&records), "--jobs", "2"],
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.all());
        let dir = records.join(format!("shard-{k}-of-3"));
        let m = manifest(&dir);
        assert_eq!(m["shard"], k);
        assert_eq!(m["of"], 3);
        assert_eq!(m["runner"], env!("CARGO_PKG_VERSION"));
        assert_eq!(m["complete"], true, "{m}");
        assert_eq!(m["labs"].as_object().unwrap().len(), 3, "{m}");
        let students: Vec<String> = serde_json::from_value(m["students"].clone()).unwrap();
        assert_eq!(students, ids_of(k, 3));
        let results: Vec<_> = std::fs::read_dir(dir.join("results")).unwrap().collect();
        assert_eq!(results.len(), students.len());
        // A shard writes no gradebook.
        assert!(!dir.join("grades.csv").exists() && !records.join("grades.csv").exists());
    }

    // `auto`: the shard from LABS_SHARD, from JOB_COMPLETION_INDEX (0-based), else the first
    // free claim; each resumes its shard, whose runs are all graded.
    for (env, k) in [
        (vec![("LABS_SHARD", "2")], 2),
        (vec![("JOB_COMPLETION_INDEX", "2")], 3),
        (vec![], 1),
    ] {
        let run = grade(
            &home,
            &subs,
            &["--shard", "auto/3", "--out", path(&records)],
            &env,
        );
        assert_eq!(run.code, 0, "{}", run.all());
        let said = format!(
            "shard {k} of 3: {} students, 0 runs to grade",
            ids_of(k, 3).len()
        );
        assert!(run.stderr.contains(&said), "{env:?}: {}", run.all());
    }
    assert!(records.join("claims/1").is_dir());

    let merged = work.join("merged");
    let run = merge(&home, &subs, &[&records], &merged);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains(&format!("Merged 3 shards' records of {STUDENTS} students")),
        "{}",
        run.all()
    );
    assert_eq!(
        read(&merged.join("grades.csv")),
        read(&one.join("grades.csv"))
    );
    assert_same_tree(&merged, &one);
}

/// Copies the folder `from` to `to`.
fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_wrong_merge_is_refused_naming_what_is_wrong() {
    let (home, work, subs) = class();
    let records = work.join("records");
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let run = grade(
            &home,
            &subs,
            &["--labs", "3", "--shard", &shard, "--out", path(&records)],
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.all());
    }
    let shard = |k: u32| records.join(format!("shard-{k}-of-3"));
    let out = work.join("out");
    let refused = |run: &common::Run, what: &[&str]| {
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(!out.join("grades.csv").exists(), "{}", run.all());
        assert!(
            run.stderr.contains("cannot merge the shards"),
            "{}",
            run.all()
        );
        for w in what {
            assert!(run.stderr.contains(w), "no `{w}` in:\n{}", run.all());
        }
    };

    // A missing shard, by number.
    let run = merge(&home, &subs, &[&shard(1), &shard(3)], &out);
    refused(&run, &["missing shard 2 of 3"]);

    // An incomplete shard, by folder: shard 3 graded for one of its students only.
    let partial = work.join("partial");
    let one_of_3 = ids_of(3, 3)[0].clone();
    let run = grade(
        &home,
        &subs,
        &[
            "--labs",
            "3",
            "--shard",
            "3/3",
            "--student",
            &one_of_3,
            "--out",
            path(&partial),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("incomplete"), "{}", run.all());
    let partial = partial.join("shard-3-of-3");
    let run = merge(&home, &subs, &[&shard(1), &shard(2), &partial], &out);
    refused(
        &run,
        &[&format!(
            "shard 3 of 3 in `{}` is incomplete",
            partial.display()
        )],
    );

    // Another runner's version and another lab version, both named with their values.
    let edited = work.join("edited");
    copy(&records, &edited);
    let mut m = manifest(&edited.join("shard-2-of-3"));
    m["runner"] = "0.0.1".into();
    let version = m["labs"]["3"].as_u64().unwrap();
    m["labs"]["3"] = (version + 1).into();
    write_manifest(&edited.join("shard-2-of-3"), &m);
    let run = merge(&home, &subs, &[&edited], &out);
    refused(
        &run,
        &[
            &format!(
                "different runner versions: 0.0.1 in `{}`",
                edited.join("shard-2-of-3").display()
            ),
            &format!(
                "lab 3 was graded in version {} in `{}`, the local labs have version {version}",
                version + 1,
                edited.join("shard-2-of-3").display()
            ),
        ],
    );

    // Overlapping shards: a student of shard 1 claimed by shard 2 too (with its record); and a
    // student dropped from shard 3 is in no shard. One message names both.
    let overlap = work.join("overlap");
    copy(&records, &overlap);
    let moved = ids_of(1, 3)[0].clone();
    let mut m = manifest(&overlap.join("shard-2-of-3"));
    m["students"]
        .as_array_mut()
        .unwrap()
        .push(moved.clone().into());
    write_manifest(&overlap.join("shard-2-of-3"), &m);
    std::fs::copy(
        overlap.join(format!("shard-1-of-3/results/{moved}.json")),
        overlap.join(format!("shard-2-of-3/results/{moved}.json")),
    )
    .unwrap();
    let mut m = manifest(&overlap.join("shard-3-of-3"));
    m["students"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s != &one_of_3);
    write_manifest(&overlap.join("shard-3-of-3"), &m);
    let run = merge(&home, &subs, &[&overlap], &out);
    refused(
        &run,
        &[
            "2 problems",
            &format!("in more than one shard: {moved} (in shards 1 and 2)"),
            &format!("in no shard: {one_of_3} (of shard 3)"),
        ],
    );

    // The untouched shards merge.
    let run = merge(&home, &subs, &[&records], &out);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(read(&out.join("grades.csv")).lines().count(), STUDENTS + 1);
}

/// `labs grade DIR --out DIR/gradebook` twice grades the same students: the gradebook inside
/// the submissions is no student, nor are the shards' folders there, nor the merged gradebook.
#[test]
fn output_inside_the_submissions_is_no_student() {
    let (home, _work, subs) = class();
    let inside = subs.join("gradebook");
    let args = ["--labs", "3", "--out", path(&inside)];
    let first = grade(&home, &subs, &args, &[]);
    assert_eq!(first.code, 0, "{}", first.all());
    let second = grade(&home, &subs, &args, &[]);
    assert_eq!(second.code, 0, "{}", second.all());
    let said = format!("labs: {STUDENTS} students, 0 runs to grade, {STUDENTS} already graded");
    assert!(second.stderr.contains(&said), "{}", second.all());
    let grades = read(&inside.join("grades.csv"));
    assert_eq!(grades.lines().count(), STUDENTS + 1, "{grades}");

    let records = subs.join("records");
    for k in ["1/2", "2/2"] {
        let run = grade(
            &home,
            &subs,
            &["--labs", "3", "--shard", k, "--out", path(&records)],
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.all());
    }
    let merged = subs.join("merged");
    let run = merge(&home, &subs, &[&records], &merged);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(read(&merged.join("grades.csv")), grades);
}
