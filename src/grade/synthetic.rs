//! Synthetic students for the grader's benchmark and tests: reference solutions, the labs'
//! wrong answers, and small rewrites of both that keep what they do.

use crate::lab::Lab;
use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fs;
use std::path::Path;

/// Writes `count` student folders `student_001`.. under `dir`, each with an answer to every lab,
/// chosen by `seed`. Returns how many answers are reference solutions, wrong answers and
/// rewrites.
pub fn write(dir: &Path, labs: &[Lab], count: usize, seed: u64) -> Result<[usize; 3]> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut kinds = [0; 3];
    let mut sources = Vec::new();
    for lab in labs {
        let solution = lab.read("solution.sql")?;
        let mut wrong = Vec::new();
        for path in lab.wrong_answers()? {
            wrong.push(
                fs::read_to_string(&path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?,
            );
        }
        sources.push((lab.number, solution, wrong));
    }
    for i in 1..=count {
        let student = dir.join(format!("student_{i:03}"));
        fs::create_dir_all(&student)
            .with_context(|| format!("cannot create `{}`", student.display()))?;
        for (number, solution, wrong) in &sources {
            let roll: f64 = rng.gen();
            let base = if roll < 0.45 || wrong.is_empty() {
                solution
            } else {
                &wrong[rng.gen_range(0..wrong.len())]
            };
            let text = if rng.gen_bool(0.3) {
                kinds[2] += 1;
                rewrite(base, i)
            } else {
                kinds[usize::from(base != solution)] += 1;
                base.clone()
            };
            fs::write(student.join(format!("lab{number}.sql")), text)?;
        }
    }
    Ok(kinds)
}

/// A rewrite a student might make of a text without changing what it does: a comment of their
/// own, tabs for leading spaces, no blank lines.
fn rewrite(text: &str, student: usize) -> String {
    let mut out = format!("-- Студент {student}: моё решение\n");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let body = line.trim_start_matches(' ');
        let indent = (line.len() - body.len()) / 4;
        out.push_str(&"\t".repeat(indent));
        out.push_str(body);
        out.push('\n');
    }
    out
}
