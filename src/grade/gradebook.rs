//! The gradebook: grades.csv, grades.json, a feedback page per student, the report page with its
//! charts and similar answers, JUnit XML and Gradescope results, all from the stored verdicts.

use super::charts::{self, Bar};
use super::similar;
use super::store::{self, Record, Run};
use super::submissions::Student;
use crate::lab::Lab;
use crate::report;
use crate::verdict::{Status, Verdict};
use anyhow::{Context, Result};
use minijinja::{context, Environment, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

const FEEDBACK: &str = include_str!("../../templates/grade/feedback.md.j2");
const REPORT: &str = include_str!("../../templates/grade/report.html.j2");

/// A lab as the gradebook names it.
#[derive(Serialize)]
struct LabColumn {
    number: u32,
    title: String,
    version: u32,
    max_score: u32,
}

/// A student's line: their score a lab (None: not graded) and total.
#[derive(Serialize)]
struct Line<'a> {
    student: &'a str,
    name: Option<&'a str>,
    scores: Vec<Option<u32>>,
    total: u32,
    max_total: u32,
}

/// A check as a feedback page shows it.
#[derive(Serialize)]
struct CheckView<'a> {
    title: &'a str,
    dataset: &'a str,
    passed: bool,
    status: &'static str,
    points: u32,
    max_points: u32,
    message: &'a str,
    detail: Option<&'a str>,
    diff: Option<&'a str>,
    hint: Option<&'a str>,
    /// It did not run because the answer did not load on its dataset.
    not_loaded: bool,
}

/// Writes every part of the gradebook into `out`.
pub fn write(out: &Path, labs: &[Lab], students: &[Student], records: &[Record]) -> Result<()> {
    let records: BTreeMap<&str, &Record> =
        records.iter().map(|r| (r.student.as_str(), r)).collect();
    let empty = Record::default();
    let columns: Vec<LabColumn> = labs
        .iter()
        .map(|l| LabColumn {
            number: l.number,
            title: l.title.clone(),
            version: l.version,
            max_score: l.max_points(),
        })
        .collect();
    let max_total: u32 = columns.iter().map(|c| c.max_score).sum();
    // The verdicts of the chosen labs that are current (graded from this lab version).
    let verdicts_of = |student: &Student| -> Vec<Option<&Verdict>> {
        let record = records.get(student.id.as_str()).copied().unwrap_or(&empty);
        labs.iter()
            .map(|lab| {
                record
                    .runs
                    .get(&lab.number)
                    .filter(|run| is_current(lab, run))
                    .map(|run| &run.verdict)
            })
            .collect()
    };
    let lines: Vec<Line> = students
        .iter()
        .map(|s| {
            let scores: Vec<Option<u32>> =
                verdicts_of(s).iter().map(|v| v.map(|v| v.score)).collect();
            Line {
                student: &s.id,
                name: s.name.as_deref(),
                total: scores.iter().flatten().sum(),
                scores,
                max_total,
            }
        })
        .collect();

    fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    write_file(&out.join("grades.csv"), &csv(&columns, &lines))?;

    let json_students: Vec<serde_json::Value> = students
        .iter()
        .zip(&lines)
        .map(|(s, line)| {
            let record = records.get(s.id.as_str()).copied().unwrap_or(&empty);
            serde_json::json!({
                "student": s.id,
                "name": s.name,
                "total": line.total,
                "max_total": max_total,
                "runs": labs.iter().filter_map(|l| record.runs.get(&l.number)).collect::<Vec<_>>(),
            })
        })
        .collect();
    write_file(
        &out.join("grades.json"),
        &serde_json::to_string_pretty(&serde_json::json!({
            "labs": columns,
            "students": json_students,
        }))?,
    )?;

    let mut env = Environment::new();
    env.add_template("feedback.md", FEEDBACK)?;
    env.add_template("report.html", REPORT)?;
    let feedback = env.get_template("feedback.md")?;
    let feedback_dir = out.join("feedback");
    let gradescope_dir = out.join("gradescope");
    let mut junit = Vec::new();
    for (student, line) in students.iter().zip(&lines) {
        let verdicts = verdicts_of(student);
        let runs: Vec<Value> = labs
            .iter()
            .zip(&verdicts)
            .map(|(lab, verdict)| run_view(lab, *verdict))
            .collect();
        let page = feedback.render(context! {
            student => v(&student.id),
            name => v(&student.name),
            total => line.total,
            max_total => max_total,
            runs => runs,
        })?;
        write_file(&feedback_dir.join(format!("{}.md", student.id)), &page)?;
        let graded: Vec<&Verdict> = verdicts.iter().flatten().copied().collect();
        junit.extend(report::junit(&student.id, &graded));
        write_file(
            &gradescope_dir.join(&student.id).join("results.json"),
            &serde_json::to_string_pretty(&report::gradescope(&graded))?,
        )?;
    }
    write_file(&out.join("junit.xml"), &report::junit_document(junit))?;

    let all: Vec<(&Student, Vec<Option<&Verdict>>)> =
        students.iter().map(|s| (s, verdicts_of(s))).collect();
    let page = env.get_template("report.html")?.render(context! {
        labs => v(&columns),
        lines => v(&lines),
        max_total => max_total,
        charts => chart_views(labs, &all),
        problems => problems(&all),
        similar => v(similar_answers(labs, students)?),
    })?;
    write_file(&out.join("report.html"), &page)
}

/// Whether a stored run was graded from this version of its lab.
pub fn is_current(lab: &Lab, run: &Run) -> bool {
    run.key.starts_with(&store::key(lab, ""))
}

/// A lab's part of a feedback page.
fn run_view(lab: &Lab, verdict: Option<&Verdict>) -> Value {
    let Some(verdict) = verdict else {
        return context! { lab => lab.number, title => v(&lab.title), graded => false };
    };
    let checks: Vec<CheckView> = verdict
        .results
        .iter()
        .map(|r| CheckView {
            title: &r.title,
            dataset: &r.dataset,
            passed: r.status == Status::Passed,
            status: r.status.label(),
            points: r.points,
            max_points: r.max_points,
            message: &r.message,
            detail: r.detail.as_deref(),
            diff: r.diff.as_deref(),
            hint: r.hint.as_deref(),
            not_loaded: verdict.not_loaded(r),
        })
        .collect();
    let load_error = verdict
        .load_error
        .as_ref()
        .map(|e| report::load_error_text(verdict, e));
    context! {
        lab => lab.number,
        title => v(&lab.title),
        graded => true,
        score => verdict.score,
        max_score => verdict.max_score,
        problem => v(&verdict.problem),
        load_error => load_error,
        many_datasets => verdict.many_datasets(),
        checks => v(&checks),
    }
}

/// The charts: score distribution per lab, pass rate per check, the slowest submissions.
fn chart_views(labs: &[Lab], all: &[(&Student, Vec<Option<&Verdict>>)]) -> Vec<Value> {
    let mut charts = Vec::new();
    for (l, lab) in labs.iter().enumerate() {
        let mut counts = vec![0usize; lab.max_points() as usize + 1];
        for (_, verdicts) in all {
            if let Some(v) = verdicts[l] {
                let top = counts.len() - 1;
                counts[(v.score as usize).min(top)] += 1;
            }
        }
        let bars: Vec<Bar> = counts
            .iter()
            .enumerate()
            .map(|(score, n)| Bar {
                label: score.to_string(),
                value: *n as f64,
                text: n.to_string(),
            })
            .collect();
        let title = format!(
            "Лабораторная {}: сколько студентов набрали сколько баллов",
            lab.number
        );
        charts.push(chart(&title, charts::columns(&title, &bars)));
    }
    let mut rates = Vec::new();
    for (l, lab) in labs.iter().enumerate() {
        for check in &lab.checks {
            let (mut passed, mut ran) = (0, 0);
            for (_, verdicts) in all {
                let usable = verdicts[l].iter().filter(|v| v.problem.is_none());
                for r in usable.flat_map(|v| &v.results).filter(|r| r.id == check.id) {
                    ran += 1;
                    passed += usize::from(r.status == Status::Passed);
                }
            }
            if ran > 0 {
                let rate = passed as f64 / ran as f64;
                rates.push(Bar {
                    label: format!("{}: {}", lab.number, check.title),
                    value: rate,
                    text: format!("{:.0}% ({passed} из {ran})", rate * 100.0),
                });
            }
        }
    }
    let title = "Доля зачтённых проверок";
    charts.push(chart(title, charts::rows(title, &rates, Some(1.0))));
    let mut slowest: Vec<(&str, u32, u64)> = all
        .iter()
        .flat_map(|(s, verdicts)| {
            verdicts
                .iter()
                .flatten()
                .filter(|v| v.problem.is_none())
                .map(|v| (s.id.as_str(), v.lab, v.elapsed_ms))
        })
        .collect();
    slowest.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    slowest.truncate(10);
    let bars: Vec<Bar> = slowest
        .iter()
        .map(|(id, lab, ms)| Bar {
            label: format!("{id}, лабораторная {lab}"),
            value: *ms as f64,
            text: format!("{:.1} с", *ms as f64 / 1000.0),
        })
        .collect();
    let title = "Самые долгие проверки";
    charts.push(chart(title, charts::rows(title, &bars, None)));
    charts
}

fn chart(title: &str, svg: String) -> Value {
    context! { title => title, svg => Value::from_safe_string(svg) }
}

/// Any serialisable value for a template.
fn v(value: impl Serialize) -> Value {
    Value::from_serialize(value)
}

/// The answers that could not be used at all, with why.
fn problems(all: &[(&Student, Vec<Option<&Verdict>>)]) -> Vec<Value> {
    all.iter()
        .flat_map(|(s, verdicts)| {
            verdicts.iter().flatten().filter_map(|verdict| {
                verdict.problem.as_ref().map(|p| {
                    context! { student => v(&s.id), lab => verdict.lab, problem => v(p) }
                })
            })
        })
        .collect()
}

/// The similar-answers section, over the students' usable answers.
fn similar_answers(labs: &[Lab], students: &[Student]) -> Result<similar::Findings> {
    let texts: Vec<(String, String)> = labs
        .iter()
        .map(|lab| Ok((lab.read("solution.sql")?, lab.read("starter.sql")?)))
        .collect::<Result<_>>()?;
    let lab_answers: Vec<similar::LabAnswers> = labs
        .iter()
        .zip(&texts)
        .map(|(lab, (reference, starter))| similar::LabAnswers {
            lab: lab.number,
            reference,
            starter,
            answers: students
                .iter()
                .filter_map(|s| {
                    s.answers
                        .get(&lab.number)
                        .and_then(|a| a.text.as_deref().ok())
                        .map(|t| (s.id.as_str(), t))
                })
                .collect(),
        })
        .collect();
    Ok(similar::find(&lab_answers))
}

/// grades.csv: a row a student, a column a lab, the total.
fn csv(columns: &[LabColumn], lines: &[Line]) -> String {
    let mut out = String::from("student,name");
    for c in columns {
        out.push_str(&format!(",lab{}", c.number));
    }
    out.push_str(",total,max_total\n");
    for line in lines {
        out.push_str(&field(line.student));
        out.push(',');
        out.push_str(&field(line.name.unwrap_or("")));
        for score in &line.scores {
            out.push(',');
            if let Some(score) = score {
                out.push_str(&score.to_string());
            }
        }
        out.push_str(&format!(",{},{}\n", line.total, line.max_total));
    }
    out
}

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes a file atomically (temporary file, then rename), creating its folder.
fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().expect("a file has a folder");
    fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))
}
