//! The similar answers found the plain way, as the report found them before `pairs.rs`: every
//! two candidates compared, every pair kept and sorted, the groups grown pair by pair. The
//! yardstick its test holds the faster way to.

use super::{candidates, jaccard, round, Findings, Group, LabAnswers, Pair, MAX_PAIRS, THRESHOLD};

/// Compares the answers of every lab, every two answers.
pub fn find(labs: &[LabAnswers]) -> Findings {
    let mut findings = Findings::default();
    let mut pairs = Vec::new();
    for lab in labs {
        let candidates = candidates(lab, &mut findings);
        for (i, (a, set_a)) in candidates.iter().enumerate() {
            for (b, set_b) in &candidates[i + 1..] {
                let similarity = jaccard(set_a, set_b);
                if similarity >= THRESHOLD {
                    pairs.push(Pair {
                        lab: lab.lab,
                        a: a.to_string(),
                        b: b.to_string(),
                        similarity: round(similarity),
                    });
                }
            }
        }
    }
    pairs.sort_by(|x, y| {
        y.similarity
            .total_cmp(&x.similarity)
            .then_with(|| (x.lab, &x.a, &x.b).cmp(&(y.lab, &y.a, &y.b)))
    });
    let mut groups: Vec<Group> = Vec::new();
    for pair in &pairs {
        let (linked, mut rest): (Vec<Group>, Vec<Group>) = groups.into_iter().partition(|g| {
            g.lab == pair.lab && (g.students.contains(&pair.a) || g.students.contains(&pair.b))
        });
        let mut group = Group {
            lab: pair.lab,
            students: vec![pair.a.clone(), pair.b.clone()],
            pairs: 1,
            min_similarity: pair.similarity,
            max_similarity: pair.similarity,
        };
        for other in linked {
            group.students.extend(other.students);
            group.pairs += other.pairs;
            group.min_similarity = group.min_similarity.min(other.min_similarity);
            group.max_similarity = group.max_similarity.max(other.max_similarity);
        }
        group.students.sort();
        group.students.dedup();
        rest.push(group);
        groups = rest;
    }
    super::sort_groups(&mut groups);
    findings.groups = groups;
    findings.more_pairs = pairs.len().saturating_sub(MAX_PAIRS);
    pairs.truncate(MAX_PAIRS);
    findings.pairs = pairs;
    findings
}
