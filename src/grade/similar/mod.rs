//! Similar answers: SQL tokenised by sqlparser in its PostgreSQL dialect (comments and whitespace
//! dropped, dollar-quoted bodies read as code, literals and identifiers normalised), compared by
//! shared token runs, for a person to look at. What the starter gives everyone is left out, and
//! answers close to the reference solution are listed once each instead of pairing them all with
//! one another.

mod pairs;
#[cfg(test)]
mod plain;
mod tokens;

use serde::Serialize;
use std::hash::{Hash, Hasher};
use tokens::normalise;

/// Answers this alike or more are reported.
pub const THRESHOLD: f64 = 0.8;
/// Token runs compared: long enough that common idioms alone do not match.
const RUN: usize = 6;
/// Answers with fewer runs of their own (beyond the starter) are too short to judge.
const MIN_RUNS: usize = 15;
/// The pairs listed at most; the rest are counted.
const MAX_PAIRS: usize = 100;

/// Two students' answers to one lab that are suspiciously alike.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub lab: u32,
    pub a: String,
    pub b: String,
    /// Shared token runs over all their token runs (Jaccard), 0 to 1.
    pub similarity: f64,
}

/// A student's answer that is close to the lab's reference solution.
#[derive(Debug, Clone, Serialize)]
pub struct NearReference {
    pub lab: u32,
    pub student: String,
    pub similarity: f64,
}

/// Students whose answers to one lab are alike pair by pair, linked: a pair, or a group that
/// shares one answer (listing all its pairs would bury the rest).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub lab: u32,
    pub students: Vec<String>,
    /// The alike pairs inside the group, and their lowest and highest similarity.
    pub pairs: usize,
    pub min_similarity: f64,
    pub max_similarity: f64,
}

/// What the comparison found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    /// The alike pairs linked into groups, the most alike first.
    pub groups: Vec<Group>,
    pub pairs: Vec<Pair>,
    /// Pairs beyond the ones listed.
    pub more_pairs: usize,
    pub near_reference: Vec<NearReference>,
    /// Answers too short (beyond the starter) to compare.
    pub too_short: usize,
}

/// One lab's texts to compare: the reference, the starter and the students' answers.
pub struct LabAnswers<'a> {
    pub lab: u32,
    pub reference: &'a str,
    pub starter: &'a str,
    pub answers: Vec<(&'a str, &'a str)>,
}

/// Compares the answers of every lab.
pub fn find(labs: &[LabAnswers]) -> Findings {
    let mut findings = Findings::default();
    let mut links = pairs::Links::default();
    for lab in labs {
        links.add(lab.lab, &candidates(lab, &mut findings));
    }
    let (pairs, total) = links.top(MAX_PAIRS);
    findings.groups = links.groups();
    findings.more_pairs = total.saturating_sub(MAX_PAIRS);
    findings.pairs = pairs;
    findings
}

/// The answers of a lab to compare with one another, each with its own token runs (beyond the
/// starter's); those too short and those close to the reference go into `findings` instead.
fn candidates<'a>(lab: &LabAnswers<'a>, findings: &mut Findings) -> Vec<(&'a str, Vec<u64>)> {
    let starter = runs(lab.starter);
    let own = |text: &str| -> Vec<u64> {
        let mut set = runs(text);
        set.retain(|run| starter.binary_search(run).is_err());
        set
    };
    let reference = own(lab.reference);
    let mut candidates = Vec::new();
    for &(student, text) in &lab.answers {
        let set = own(text);
        if set.len() < MIN_RUNS {
            findings.too_short += 1;
            continue;
        }
        let to_reference = jaccard(&set, &reference);
        if to_reference >= THRESHOLD {
            findings.near_reference.push(NearReference {
                lab: lab.lab,
                student: student.to_string(),
                similarity: round(to_reference),
            });
        } else {
            candidates.push((student, set));
        }
    }
    candidates
}

/// The groups in the order the report lists them: the most alike first, then the larger, then
/// by lab and students.
fn sort_groups(groups: &mut [Group]) {
    groups.sort_by(|x, y| {
        y.max_similarity
            .total_cmp(&x.max_similarity)
            .then_with(|| y.students.len().cmp(&x.students.len()))
            .then_with(|| (x.lab, &x.students).cmp(&(y.lab, &y.students)))
    });
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Shared over all, of two sorted sets without repeats.
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let all = a.len() + b.len() - shared;
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

/// The hashed runs of `RUN` normalised tokens of a text, sorted, without repeats.
fn runs(text: &str) -> Vec<u64> {
    let tokens = normalise(text);
    let mut runs: Vec<u64> = tokens
        .windows(RUN)
        .map(|w| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            w.hash(&mut hasher);
            hasher.finish()
        })
        .collect();
    runs.sort_unstable();
    runs.dedup();
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Students' ids and answers.
    type Answers = Vec<(String, String)>;

    /// A made-up answer: statements of a few shapes, as a family of answers shares them.
    fn answer(rng: &mut StdRng, family: &[usize]) -> String {
        const SHAPES: [&str; 10] = [
            "SELECT a, b FROM t WHERE a > 1 ORDER BY b;",
            "INSERT INTO t(a) SELECT x FROM generate_series(1, 10) AS x;",
            "UPDATE t SET a = a + 1 WHERE b IS NULL RETURNING a;",
            "DELETE FROM t WHERE a IN (SELECT a FROM u GROUP BY a HAVING count(*) > 2);",
            "CREATE TABLE t (a int PRIMARY KEY, b text NOT NULL DEFAULT 'x');",
            "PERFORM pg_sleep(0.1); RAISE NOTICE 'step %', i;",
            "IF s > 100 THEN EXIT; ELSIF s < 0 THEN s := -s; END IF;",
            "FOR i IN 1..n LOOP s := s + i * b; END LOOP;",
            "SELECT coalesce(max(a), 0) INTO m FROM t FOR UPDATE SKIP LOCKED;",
            "WITH r AS (SELECT * FROM t LIMIT 5) SELECT count(*) FROM r JOIN u USING (a);",
        ];
        let mut text = String::new();
        for &shape in family {
            // Now and then a statement of the family left out or another put in.
            if rng.gen_bool(0.08) {
                continue;
            }
            text.push_str(SHAPES[shape]);
            if rng.gen_bool(0.08) {
                text.push_str(SHAPES[rng.gen_range(0..SHAPES.len())]);
            }
        }
        text
    }

    /// Classes with exact copies, near copies and answers of their own, in an order that is
    /// not the ids' order: the faster way finds what comparing every two answers finds.
    #[test]
    fn the_fast_way_finds_what_comparing_every_two_finds() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut texts: Vec<(u32, String, Answers)> = Vec::new();
        for lab in 1..=3 {
            let families: Vec<Vec<usize>> = (0..6)
                .map(|_| (0..12).map(|_| rng.gen_range(0..10)).collect())
                .collect();
            let reference = answer(&mut rng, &families[0]);
            let mut answers = Vec::new();
            for i in 0..160 {
                let family = &families[rng.gen_range(0..families.len())];
                let text = match rng.gen_range(0..3) {
                    0 => answers
                        .last()
                        .map(|(_, t): &(String, String)| t.clone())
                        .unwrap_or_else(|| answer(&mut rng, family)),
                    _ => answer(&mut rng, family),
                };
                answers.push((format!("s{:03}", (i * 37) % 160), text));
            }
            answers.push(("short".into(), "SELECT 1;".into()));
            texts.push((lab, reference, answers));
        }
        let labs: Vec<LabAnswers> = texts
            .iter()
            .map(|(lab, reference, answers)| LabAnswers {
                lab: *lab,
                reference,
                starter: "",
                answers: answers
                    .iter()
                    .map(|(s, t)| (s.as_str(), t.as_str()))
                    .collect(),
            })
            .collect();
        let fast = find(&labs);
        assert!(fast.more_pairs > 0 && fast.groups.len() > 3, "{fast:?}");
        assert!(
            !fast.near_reference.is_empty() && fast.too_short == 3,
            "{fast:?}"
        );
        let json = |f: &Findings| serde_json::to_string_pretty(f).unwrap();
        assert_eq!(json(&fast), json(&plain::find(&labs)));
    }

    #[test]
    fn alike_pairs_are_found_and_the_reference_listed_once() {
        let body = |name: &str, extra: &str| {
            format!(
                "CREATE FUNCTION {name}(a int, b int) RETURNS int LANGUAGE plpgsql AS $$
                 DECLARE s int := 0; i int;
                 BEGIN FOR i IN 1..a LOOP s := s + i * b; IF s > 100 THEN EXIT; END IF;
                 END LOOP; {extra} RETURN s; END $$;"
            )
        };
        let reference = body("f", "");
        let copied = body(
            "g",
            "RAISE NOTICE 'x'; s := s * 2; IF s < 0 THEN s := -s; END IF; \
             WHILE s > 1000 LOOP s := s / 2; END LOOP; PERFORM pg_sleep(0);",
        );
        let other = "SELECT 1 FROM generate_series(1, 10) AS g WHERE g % 2 = 0 ORDER BY g DESC \
                     LIMIT 3 OFFSET 1; SELECT now(), clock_timestamp(), 5 * 7;";
        let lab = LabAnswers {
            lab: 1,
            reference: &reference,
            starter: "",
            answers: vec![
                ("ann", &reference),
                ("bob", &copied),
                ("cid", &copied),
                ("dan", other),
            ],
        };
        let found = find(&[lab]);
        assert_eq!(found.near_reference.len(), 1, "{found:?}");
        assert_eq!(found.near_reference[0].student, "ann");
        assert_eq!(found.pairs.len(), 1, "{found:?}");
        assert_eq!(
            (found.pairs[0].a.as_str(), found.pairs[0].b.as_str()),
            ("bob", "cid")
        );
    }
}
