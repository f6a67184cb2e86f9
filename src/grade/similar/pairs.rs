//! The alike pairs of a class's answers and the groups they link into, found without comparing
//! every two answers: answers with the same token runs are one set, compared once (a copied
//! answer is common: a class of 3,000 in which many share a few answers made millions of
//! comparisons, and a merged gradebook took 6 s here); two sets whose sizes alone keep them
//! under the threshold are not compared; pairs stay indexes until the listed ones are chosen;
//! groups are linked with a union-find. What it finds is what comparing every two answers finds,
//! in the same order (`plain.rs`, the test's yardstick, does that).

use super::{jaccard, round, Group, Pair, THRESHOLD};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Two alike answers of one lab: indexes into its candidates, the earlier first.
struct Link {
    lab: usize,
    a: u32,
    b: u32,
    /// Rounded, as listed.
    similarity: f64,
}

/// One lab's candidates: their ids, and each id's rank in the ids' order (equal ids, equal
/// ranks), so that comparing ranks compares ids.
struct LabIds<'a> {
    lab: u32,
    ids: Vec<&'a str>,
    rank: Vec<u32>,
}

/// The alike pairs of every lab so far.
#[derive(Default)]
pub struct Links<'a> {
    labs: Vec<LabIds<'a>>,
    links: Vec<Link>,
}

impl<'a> Links<'a> {
    /// Links the alike answers among a lab's `candidates` (students and their sorted sets).
    pub fn add(&mut self, lab: u32, candidates: &[(&'a str, Vec<u64>)]) {
        let index = self.labs.len();
        let ids: Vec<&str> = candidates.iter().map(|(id, _)| *id).collect();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by(|&x, &y| ids[x].cmp(ids[y]));
        let mut rank = vec![0u32; ids.len()];
        for (at, &i) in order.iter().enumerate() {
            let step = u32::from(at > 0 && ids[order[at - 1]] != ids[i]);
            rank[i] = if at == 0 {
                0
            } else {
                rank[order[at - 1]] + step
            };
        }
        self.labs.push(LabIds { lab, ids, rank });

        // The same sets once, with the candidates that have them (in their order).
        let mut by_set: HashMap<&[u64], usize> = HashMap::new();
        let mut classes: Vec<(&[u64], Vec<u32>)> = Vec::new();
        for (i, (_, set)) in candidates.iter().enumerate() {
            let class = *by_set.entry(set.as_slice()).or_insert_with(|| {
                classes.push((set, Vec::new()));
                classes.len() - 1
            });
            classes[class].1.push(i as u32);
        }
        let mut link = |x: u32, y: u32, similarity: f64| {
            self.links.push(Link {
                lab: index,
                a: x.min(y),
                b: x.max(y),
                similarity,
            })
        };
        for (c, (set, members)) in classes.iter().enumerate() {
            // The same set: alike as can be (the sets are not empty).
            let same = round(jaccard(set, set));
            for (m, &x) in members.iter().enumerate() {
                for &y in &members[m + 1..] {
                    link(x, y, same);
                }
            }
            for (other, others) in &classes[c + 1..] {
                // Shared over all is at most the smaller set's size over the larger's.
                let (small, large) = (set.len().min(other.len()), set.len().max(other.len()));
                if (small as f64 / large as f64) < THRESHOLD {
                    continue;
                }
                let similarity = jaccard(set, other);
                if similarity < THRESHOLD {
                    continue;
                }
                for &x in members {
                    for &y in others {
                        link(x, y, round(similarity));
                    }
                }
            }
        }
    }

    /// The order pairs are listed in: the most alike first, then by lab and the two ids.
    fn order(&self, x: &Link, y: &Link) -> Ordering {
        let key = |l: &Link| {
            let lab = &self.labs[l.lab];
            (lab.lab, lab.rank[l.a as usize], lab.rank[l.b as usize])
        };
        y.similarity
            .total_cmp(&x.similarity)
            .then_with(|| key(x).cmp(&key(y)))
    }

    /// The first `max` pairs in that order, and how many pairs there are.
    pub fn top(&mut self, max: usize) -> (Vec<Pair>, usize) {
        let mut links = std::mem::take(&mut self.links);
        let total = links.len();
        if links.len() > max {
            links.select_nth_unstable_by(max, |x, y| self.order(x, y));
        }
        let mut first: Vec<&Link> = links.iter().take(max).collect();
        first.sort_by(|x, y| self.order(x, y));
        let pairs = first
            .iter()
            .map(|l| {
                let lab = &self.labs[l.lab];
                Pair {
                    lab: lab.lab,
                    a: lab.ids[l.a as usize].to_string(),
                    b: lab.ids[l.b as usize].to_string(),
                    similarity: l.similarity,
                }
            })
            .collect();
        self.links = links;
        (pairs, total)
    }

    /// The pairs of each lab linked into groups (connected components), in the report's order.
    pub fn groups(&self) -> Vec<Group> {
        let mut groups = Vec::new();
        for (index, lab) in self.labs.iter().enumerate() {
            let n = lab.ids.len();
            let mut parent: Vec<usize> = (0..n).collect();
            fn root(parent: &mut [usize], mut x: usize) -> usize {
                while parent[x] != x {
                    parent[x] = parent[parent[x]];
                    x = parent[x];
                }
                x
            }
            let links: Vec<&Link> = self.links.iter().filter(|l| l.lab == index).collect();
            for l in &links {
                let (a, b) = (
                    root(&mut parent, l.a as usize),
                    root(&mut parent, l.b as usize),
                );
                parent[a.max(b)] = a.min(b);
            }
            let mut by_root: HashMap<usize, Group> = HashMap::new();
            let mut linked = vec![false; n];
            for l in &links {
                linked[l.a as usize] = true;
                linked[l.b as usize] = true;
                let r = root(&mut parent, l.a as usize);
                let group = by_root.entry(r).or_insert_with(|| Group {
                    lab: lab.lab,
                    students: Vec::new(),
                    pairs: 0,
                    min_similarity: l.similarity,
                    max_similarity: l.similarity,
                });
                group.pairs += 1;
                group.min_similarity = group.min_similarity.min(l.similarity);
                group.max_similarity = group.max_similarity.max(l.similarity);
            }
            for i in (0..n).filter(|&i| linked[i]) {
                let r = root(&mut parent, i);
                let group = by_root.get_mut(&r).expect("a linked answer has its group");
                group.students.push(lab.ids[i].to_string());
            }
            for mut group in by_root.into_values() {
                group.students.sort();
                group.students.dedup();
                groups.push(group);
            }
        }
        super::sort_groups(&mut groups);
        groups
    }
}
