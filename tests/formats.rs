//! Snapshots of every format a person or a program reads, from verdicts made by hand (no
//! server): a verdict as text, JSON, JUnit XML and Gradescope results, and the gradebook's files
//! (grades.csv, grades.json, the feedback pages, junit.xml, results.json, report.html) written
//! for the real labs and a small made-up class.

mod filters;

use pgbg_labs::grade::gradebook;
use pgbg_labs::grade::store::{self, Record, Run};
use pgbg_labs::grade::submissions::{Answer, Student};
use pgbg_labs::lab::{Check, Lab};
use pgbg_labs::report;
use pgbg_labs::verdict::{CheckResult, LoadError, Status, Verdict};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The project's labs.
fn labs() -> Vec<Lab> {
    pgbg_labs::check::load_labs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("labs")).unwrap()
}

fn lab(labs: &[Lab], number: u32) -> &Lab {
    labs.iter().find(|l| l.number == number).unwrap()
}

/// How a made-up check ended.
#[derive(Clone, Copy)]
enum Kind {
    Passed,
    /// Failed, with what was found, a diff of rows and the hint.
    Failed,
    /// The student's SQL raised an error.
    Error,
    Timeout,
    /// Not run, as a check whose prerequisite failed is.
    NotRun,
    /// Not run because the answer could not be used at all.
    Unusable,
    /// Not run because the answer's file did not run (its verdict's `load_error` says why).
    NotLoaded,
}

/// A check's result as the checker would make it, with fixed timings.
fn result(check: &Check, dataset: &str, kind: Kind, elapsed_ms: u64) -> CheckResult {
    let passed = CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        dataset: dataset.to_string(),
        status: Status::Passed,
        points: check.points,
        max_points: check.points,
        message: check.pass.clone(),
        detail: Some(format!("найдено за {elapsed_ms} мс")),
        diff: None,
        hint: None,
        elapsed_ms,
        student_ms: elapsed_ms / 2,
    };
    let failed = |status, detail: &str| CheckResult {
        status,
        points: 0,
        message: check.fail.clone(),
        detail: Some(detail.to_string()),
        hint: Some(check.hint.clone()),
        ..passed.clone()
    };
    let not_run = |status, message: &str| CheckResult {
        status,
        points: 0,
        message: message.to_string(),
        detail: None,
        ..passed.clone()
    };
    match kind {
        Kind::Passed => passed,
        Kind::Failed => CheckResult {
            diff: Some(
                "@@ -1,4 +1,4 @@\n  id | rating\n ----+--------\n- 17 |  0.333\n+ 17 |  0.334\n (1 row)"
                    .to_string(),
            ),
            ..failed(
                Status::Failed,
                "строк не совпало: 2 из 1000 (первая: id = 17)",
            )
        },
        Kind::Error => failed(
            Status::Error,
            "ошибка 42883: функция pg_sleep(text) не существует (строка 12)",
        ),
        Kind::Timeout => failed(
            Status::Timeout,
            &format!(
                "проверка не уложилась в {:.1} с и была прервана",
                check.timeout_ms as f64 / 1000.0
            ),
        ),
        Kind::NotRun => not_run(
            Status::Failed,
            "Не проверялось: не пройдена проверка «signature».",
        ),
        Kind::Unusable => not_run(
            Status::Error,
            "Не проверялось: ответ не сдан: файла `sidorov/lab1.sql` нет.",
        ),
        Kind::NotLoaded => CheckResult {
            elapsed_ms: 0,
            student_ms: 0,
            ..not_run(Status::Error, "Не проверялось: ваш файл не выполнился.")
        },
    }
}

/// A verdict of `lab` whose checks end as `kinds` says, in turn (the last kind repeats).
fn verdict(lab: &Lab, answer: &str, problem: Option<&str>, kinds: &[Kind]) -> Verdict {
    let mut results = Vec::new();
    for check in &lab.checks {
        for dataset in lab.datasets_of(check) {
            let kind = kinds[results.len().min(kinds.len() - 1)];
            let elapsed = if problem.is_some() {
                0
            } else {
                150 + 37 * results.len() as u64
            };
            results.push(result(check, dataset, kind, elapsed));
        }
    }
    let elapsed = results.iter().map(|r| r.elapsed_ms).sum::<u64>() + 42;
    Verdict::new(
        lab.number,
        &lab.title,
        answer.to_string(),
        problem.map(str::to_string),
        results,
        if problem.is_some() { 0 } else { elapsed },
    )
}

/// Every way a check can end, in one verdict of lab 3.
fn mixed(labs: &[Lab]) -> Verdict {
    use Kind::*;
    verdict(
        lab(labs, 3),
        "ivanov/lab3.sql",
        None,
        &[Passed, Failed, Error, Timeout, NotRun],
    )
}

/// A verdict of lab 1 (two datasets) with every check passed.
fn passed(labs: &[Lab]) -> Verdict {
    verdict(lab(labs, 1), "ivanov/lab1.sql", None, &[Kind::Passed])
}

/// A verdict of an answer that could not be used at all.
fn unusable(labs: &[Lab]) -> Verdict {
    verdict(
        lab(labs, 1),
        "sidorov/lab1.sql",
        Some("ответ не сдан: файла `sidorov/lab1.sql` нет"),
        &[Kind::Unusable],
    )
}

/// A verdict of lab 1 whose file did not run on either dataset: a syntax error on a line with a
/// tab and Cyrillic text.
fn not_loaded(labs: &[Lab], answer: &str) -> Verdict {
    verdict(lab(labs, 1), answer, None, &[Kind::NotLoaded]).with_load_error(Some(LoadError {
        line: Some(14),
        column: Some(17),
        source_line: Some("\tSELECT «рейтинг» FRM books;".to_string()),
        message: "syntax error at or near \"FRM\"".to_string(),
        code: Some("42601".to_string()),
        timeout: false,
        datasets: vec!["a".to_string(), "b".to_string()],
    }))
}

/// A verdict of lab 1 whose file ran past its time limit on dataset a and loaded on b.
fn timed_out_on_a(labs: &[Lab]) -> Verdict {
    let lab = lab(labs, 1);
    let loaded = verdict(lab, "ivanov/lab1.sql", None, &[Kind::Passed, Kind::Failed]);
    let results = loaded
        .results
        .into_iter()
        .map(|r| {
            if r.dataset != "a" {
                return r;
            }
            let check = lab.checks.iter().find(|c| c.id == r.id).unwrap();
            result(check, "a", Kind::NotLoaded, 0)
        })
        .collect();
    Verdict::new(
        lab.number,
        &lab.title,
        loaded.answer,
        None,
        results,
        loaded.elapsed_ms,
    )
    .with_load_error(Some(LoadError {
        line: None,
        column: None,
        source_line: None,
        message: "выполнение заняло больше 15 с и было прервано (при загрузке файл должен \
                  только создавать объекты)"
            .to_string(),
        code: None,
        timeout: true,
        datasets: vec!["a".to_string()],
    }))
}

/// The shared filters, and the gradebook's folder and any other temporary path.
fn settings(out: Option<&Path>) -> insta::Settings {
    let mut settings = filters::settings();
    if let Some(out) = out {
        settings.add_filter(&regex::escape(&out.display().to_string()), "[OUT]");
    }
    let tmp = regex::escape(&std::env::temp_dir().display().to_string());
    settings.add_filter(&format!(r"{tmp}[^\s`'<>]*"), "[PATH]");
    settings
}

#[test]
fn a_verdict_reads_well_in_every_format() {
    let labs = labs();
    let (mixed, passed, unusable) = (mixed(&labs), passed(&labs), unusable(&labs));
    let (not_loaded, timed_out) = (not_loaded(&labs, "petrov/lab1.sql"), timed_out_on_a(&labs));
    settings(None).bind(|| {
        insta::assert_snapshot!("text_mixed", report::text(&mixed));
        insta::assert_snapshot!("text_passed", report::text(&passed));
        insta::assert_snapshot!("text_unusable", report::text(&unusable));
        insta::assert_snapshot!("text_not_loaded", report::text(&not_loaded));
        insta::assert_snapshot!("text_timed_out_on_a", report::text(&timed_out));
        insta::assert_snapshot!("json_mixed", report::json(&mixed));
        insta::assert_snapshot!("json_unusable", report::json(&unusable));
        insta::assert_snapshot!("json_not_loaded", report::json(&not_loaded));
        insta::assert_snapshot!(
            "junit",
            report::junit_document(report::junit("ivanov", &[&passed, &mixed]))
        );
        insta::assert_snapshot!(
            "junit_not_loaded",
            report::junit_document(report::junit("petrov", &[&not_loaded, &timed_out]))
        );
        insta::assert_snapshot!(
            "gradescope",
            serde_json::to_string_pretty(&report::gradescope(&[&passed, &mixed, &unusable]))
                .unwrap()
        );
        insta::assert_snapshot!(
            "gradescope_not_loaded",
            serde_json::to_string_pretty(&report::gradescope(&[&not_loaded, &mixed])).unwrap()
        );
    });
}

/// A verdict stored before `load_error` existed reads back without it, and says what it said.
#[test]
fn old_records_read_back() {
    let labs = labs();
    let mut old = serde_json::to_value(mixed(&labs)).unwrap();
    old.as_object_mut().unwrap().remove("load_error");
    let verdict: Verdict = serde_json::from_value(old).unwrap();
    assert!(verdict.load_error.is_none());
    assert_eq!(report::text(&verdict), report::text(&mixed(&labs)));
}

/// An answer handed in, as the submissions reader makes it.
fn answer(shown: &str, text: Result<String, String>) -> Answer {
    Answer {
        shown: shown.to_string(),
        sha256: format!("{:064x}", shown.len()),
        text,
    }
}

fn read(lab: &Lab, file: &str) -> String {
    lab.read(file).unwrap()
}

/// A stored run of `verdict`, graded from `lab` at `version`.
fn run(lab: &Lab, version: u32, verdict: Verdict) -> Run {
    let mut old = lab.clone();
    old.version = version;
    Run {
        key: store::key(&old, "0f"),
        session: "test".to_string(),
        graded_at: 1_700_000_000,
        verdict,
    }
}

/// A small class: a student with every lab graded, one with a run of an older lab version and a
/// name CSV must quote, one with answers that could not be used, and one who handed in nothing.
/// Three of them hand in one wrong answer, two of them rewritten and one of those extended, for
/// the similar answers.
fn class(labs: &[Lab]) -> (Vec<Student>, Vec<Record>) {
    let (lab1, lab2, lab3) = (lab(labs, 1), lab(labs, 2), lab(labs, 3));
    let shared = read(lab3, "wrong/04_probe_launch.sql");
    let rewritten = format!("-- моё решение\n{}", shared.replace("    ", "\t"));
    let extended = format!(
        "{rewritten}\n/* проверка */\nSELECT pg_background_launch_retry($q$SELECT 'x'$q$) AS pid;\n"
    );
    let student = |id: &str, name: Option<&str>, answers: Vec<(u32, Answer)>| Student {
        id: id.to_string(),
        name: name.map(str::to_string),
        answers: answers.into_iter().collect(),
        other_files: Vec::new(),
    };
    let students = vec![
        student(
            "ivanov",
            Some("Иванов Иван"),
            vec![
                (1, answer("ivanov/lab1.sql", Ok(read(lab1, "solution.sql")))),
                (2, answer("ivanov/lab2.sql", Ok(read(lab2, "solution.sql")))),
                (3, answer("ivanov/lab3.sql", Ok(shared.clone()))),
            ],
        ),
        student(
            "petrov",
            Some("Петров, Пётр \"Петя\""),
            vec![
                (
                    1,
                    answer(
                        "petrov/lab1.sql",
                        Ok(read(lab1, "wrong/07_integer_division.sql")),
                    ),
                ),
                (2, answer("petrov/lab2.sql", Ok("SELEC 1;\n".to_string()))),
                (3, answer("petrov/lab3.sql", Ok(rewritten.clone()))),
            ],
        ),
        student(
            "sidorov",
            None,
            vec![
                (
                    2,
                    answer(
                        "sidorov/lab2.sql",
                        Err("файл `sidorov/lab2.sql` не в кодировке UTF-8".to_string()),
                    ),
                ),
                (3, answer("sidorov/lab3.sql", Ok(extended))),
            ],
        ),
        student("smirnova", Some("Смирнова Анна"), Vec::new()),
    ];
    use Kind::*;
    let record = |id: &str, runs: Vec<(u32, Run)>| Record {
        student: id.to_string(),
        name: None,
        runs: runs.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let records = vec![
        record(
            "ivanov",
            vec![
                (1, run(lab1, lab1.version, passed(labs))),
                (
                    2,
                    run(
                        lab2,
                        lab2.version,
                        verdict(lab2, "ivanov/lab2.sql", None, &[Passed]),
                    ),
                ),
                (3, run(lab3, lab3.version, mixed(labs))),
            ],
        ),
        record(
            "petrov",
            vec![
                (
                    1,
                    run(
                        lab1,
                        lab1.version,
                        verdict(
                            lab1,
                            "petrov/lab1.sql",
                            None,
                            &[Passed, Passed, Failed, Failed, Failed, Failed, Passed],
                        ),
                    ),
                ),
                (2, run(lab2, lab2.version, not_loaded_lab2(lab2))),
                (
                    3,
                    run(
                        lab3,
                        lab3.version - 1,
                        verdict(lab3, "petrov/lab3.sql", None, &[Passed]),
                    ),
                ),
            ],
        ),
        record(
            "sidorov",
            vec![
                (1, run(lab1, lab1.version, unusable(labs))),
                (
                    2,
                    run(
                        lab2,
                        lab2.version,
                        verdict(
                            lab2,
                            "sidorov/lab2.sql",
                            Some("файл `sidorov/lab2.sql` не в кодировке UTF-8"),
                            &[Unusable],
                        ),
                    ),
                ),
                (
                    3,
                    run(
                        lab3,
                        lab3.version,
                        verdict(lab3, "sidorov/lab3.sql", None, &[Passed, Timeout]),
                    ),
                ),
            ],
        ),
    ];
    (students, records)
}

/// Lab 2's verdict of an answer `SELEC 1;`, which did not run.
fn not_loaded_lab2(lab2: &Lab) -> Verdict {
    verdict(lab2, "petrov/lab2.sql", None, &[Kind::NotLoaded]).with_load_error(Some(LoadError {
        line: Some(1),
        column: Some(1),
        source_line: Some("SELEC 1;".to_string()),
        message: "syntax error at or near \"SELEC\"".to_string(),
        code: Some("42601".to_string()),
        timeout: false,
        datasets: lab2.datasets.iter().map(|d| d.name.clone()).collect(),
    }))
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_gradebook_reads_well_in_every_format() {
    let labs = labs();
    let (students, records) = class(&labs);
    let out = tempfile::tempdir().unwrap();
    gradebook::write(out.path(), &labs, &students, &records).unwrap();
    let names: Vec<String> = files(out.path())
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "feedback/ivanov.md",
            "feedback/petrov.md",
            "feedback/sidorov.md",
            "feedback/smirnova.md",
            "grades.csv",
            "grades.json",
            "gradescope/ivanov/results.json",
            "gradescope/petrov/results.json",
            "gradescope/sidorov/results.json",
            "gradescope/smirnova/results.json",
            "junit.xml",
            "report.html",
        ]
    );
    let read = |name: &str| fs::read_to_string(out.path().join(name)).unwrap();
    settings(Some(out.path())).bind(|| {
        insta::assert_snapshot!("grades_csv", read("grades.csv"));
        insta::assert_snapshot!("grades_json", read("grades.json"));
        for student in ["ivanov", "petrov", "sidorov", "smirnova"] {
            insta::assert_snapshot!(
                format!("feedback_{student}"),
                read(&format!("feedback/{student}.md"))
            );
        }
        insta::assert_snapshot!(
            "gradebook_gradescope_ivanov",
            read("gradescope/ivanov/results.json")
        );
        insta::assert_snapshot!(
            "gradebook_gradescope_smirnova",
            read("gradescope/smirnova/results.json")
        );
        insta::assert_snapshot!("gradebook_junit", read("junit.xml"));
        insta::assert_snapshot!("report_html", read("report.html"));
    });
}
