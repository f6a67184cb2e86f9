//! `labs grade --merge`: the shards' records gathered into one gradebook, the one `labs grade`
//! would have written on one machine from the same records, once every check on the shards
//! holds (every shard there and complete, one N, one runner, the local labs' versions, each
//! student of the class in their own shard alone, graded from the answer the class holds now).

use super::shard::{self, Manifest};
use super::store::{Record, Store};
use super::submissions::{self, Student};
use crate::lab::Lab;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to merge, and where.
pub struct MergeOptions {
    /// The class: the same submissions the shards graded.
    pub submissions: PathBuf,
    /// Shard folders (with shard.json), or folders holding `shard-K-of-N` folders.
    pub shards: Vec<PathBuf>,
    /// Every local lab: the shards' lab versions must be theirs.
    pub known_labs: Vec<Lab>,
    pub out: PathBuf,
}

/// What a merge did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Merged {
    pub shards: u32,
    pub students: usize,
    pub wall_ms: u64,
}

/// A shard found: its folder and its shard.json.
struct Found {
    dir: PathBuf,
    manifest: Manifest,
}

/// The ids listed in one problem line at most; the rest are counted.
const SHOWN: usize = 20;

/// Checks the shards and writes the gradebook into `options.out`, or refuses with every problem
/// found, each naming its shards, folders, versions or students.
pub fn merge(options: &MergeOptions) -> Result<Merged> {
    let start = Instant::now();
    let mut problems = Vec::new();
    let shards = find(&options.shards, &mut problems);
    let outputs: Vec<&Path> = (options.shards.iter())
        .chain([&options.out])
        .map(PathBuf::as_path)
        .collect();
    let students = submissions::discover(&options.submissions, &outputs)?;
    let labs = check_shards(&shards, &options.known_labs, &mut problems);
    if let Some(of) = one_n(&shards, &mut problems) {
        check_students(&shards, of, &students, &mut problems);
    }
    let records = check_records(&shards, &labs, &students, &mut problems);
    if !problems.is_empty() {
        bail!(
            "cannot merge the shards: {} problem{}\n  - {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n  - ")
        );
    }
    let store = Store::open(&options.out)?;
    let results = options.out.join("results");
    for (id, from) in &records {
        // Copied as they are (no fsync for each: a merge that stops is simply run again).
        let tmp = results.join(format!(".{id}.json.tmp"));
        fs::copy(from, &tmp).with_context(|| format!("cannot copy `{}`", from.display()))?;
        let to = results.join(format!("{id}.json"));
        fs::rename(&tmp, &to).with_context(|| format!("cannot write `{}`", to.display()))?;
    }
    super::write_gradebook(&options.out, &options.known_labs, &labs, &students, &store)?;
    Ok(Merged {
        shards: shards.len() as u32,
        students: students.len(),
        wall_ms: start.elapsed().as_millis() as u64,
    })
}

/// The shards in the folders given: a folder with shard.json is one, a folder of
/// `shard-K-of-N` folders holds them. A folder given twice counts once.
fn find(given: &[PathBuf], problems: &mut Vec<String>) -> Vec<Found> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for path in given {
        if path.join(shard::MANIFEST).is_file() {
            dirs.push(path.clone());
            continue;
        }
        let mut inside: Vec<PathBuf> = fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| is_shard_name(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        if inside.is_empty() {
            problems.push(format!(
                "`{}` is neither a shard's folder (with {}) nor a folder of shard-K-of-N folders",
                path.display(),
                shard::MANIFEST
            ));
        }
        inside.sort();
        dirs.extend(inside);
    }
    let mut seen = BTreeSet::new();
    dirs.retain(|d| seen.insert(fs::canonicalize(d).unwrap_or_else(|_| d.clone())));
    dirs.into_iter()
        .filter_map(|dir| match Manifest::read(&dir) {
            Ok(manifest) => Some(Found { dir, manifest }),
            Err(err) => {
                problems.push(format!(
                    "`{}` has no readable {} (the shard never started, or this is no shard's \
                     folder): {err:#}",
                    dir.display(),
                    shard::MANIFEST
                ));
                None
            }
        })
        .collect()
}

/// `shard-K-of-N`, K and N numbers.
fn is_shard_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("shard-") else {
        return false;
    };
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    rest.split_once("-of-")
        .is_some_and(|(k, n)| number(k) && number(n))
}

/// The folders of some shards, for a message.
fn folders<'a>(shards: impl IntoIterator<Item = &'a Found>) -> String {
    let names: Vec<String> = shards
        .into_iter()
        .map(|s| format!("`{}`", s.dir.display()))
        .collect();
    names.join(", ")
}

/// When the shards fall into more than one group (by N, runner, labs), the problem `what`
/// naming each group (`name`) and its folders; returns whether they did.
fn split<K>(
    groups: &BTreeMap<K, Vec<&Found>>,
    what: &str,
    name: impl Fn(&K) -> String,
    problems: &mut Vec<String>,
) -> bool {
    if groups.len() < 2 {
        return false;
    }
    let each: Vec<String> = groups
        .iter()
        .map(|(key, found)| format!("{} in {}", name(key), folders(found.iter().copied())))
        .collect();
    problems.push(format!("{what}: {}", each.join("; ")));
    true
}

/// Ids for a message: the first `SHOWN`, then how many more.
fn listed(ids: &[String]) -> String {
    let mut text = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

/// The N every shard has, or the problem that they differ; then the shards of that N missing,
/// given twice or incomplete.
fn one_n(shards: &[Found], problems: &mut Vec<String>) -> Option<u32> {
    let mut by_n: BTreeMap<u32, Vec<&Found>> = BTreeMap::new();
    for s in shards {
        by_n.entry(s.manifest.of).or_default().push(s);
    }
    let what = "the shards split the class differently";
    if split(&by_n, what, |n| format!("of {n}"), problems) {
        return None;
    }
    let (&of, found) = by_n.iter().next()?;
    let mut missing = Vec::new();
    for k in 1..=of {
        let of_k: Vec<&Found> = found
            .iter()
            .copied()
            .filter(|s| s.manifest.shard == k)
            .collect();
        match of_k.len() {
            0 => missing.push(k.to_string()),
            1 => {}
            _ => problems.push(format!(
                "shard {k} of {of} is given twice: {}",
                folders(of_k)
            )),
        }
    }
    if !missing.is_empty() {
        problems.push(format!(
            "missing shard{} {} of {of}: no folder given holds {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    for s in found.iter().filter(|s| !s.manifest.complete) {
        problems.push(format!(
            "shard {} of {of} in `{}` is incomplete: some run of it failed or it has not \
             finished (run it again: it goes on where it stopped)",
            s.manifest.shard,
            s.dir.display()
        ));
    }
    Some(of)
}

/// The same runner and the same labs in every shard, in the local labs' versions; returns those
/// labs (the local ones, in their order).
fn check_shards(shards: &[Found], known: &[Lab], problems: &mut Vec<String>) -> Vec<Lab> {
    let mut runners: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    let mut lab_sets: BTreeMap<Vec<u32>, Vec<&Found>> = BTreeMap::new();
    let mut versions: BTreeMap<(u32, u32), Vec<&Found>> = BTreeMap::new();
    for s in shards {
        runners.entry(&s.manifest.runner).or_default().push(s);
        lab_sets
            .entry(s.manifest.labs.keys().copied().collect())
            .or_default()
            .push(s);
        for (&lab, &version) in &s.manifest.labs {
            versions.entry((lab, version)).or_default().push(s);
        }
    }
    let what = "the shards were graded by different runner versions";
    split(&runners, what, |v| v.to_string(), problems);
    split(
        &lab_sets,
        "the shards graded different labs",
        |labs| {
            let labs: Vec<String> = labs.iter().map(u32::to_string).collect();
            format!("labs {}", labs.join(","))
        },
        problems,
    );
    for ((lab, version), found) in &versions {
        match known.iter().find(|l| l.number == *lab) {
            None => problems.push(format!(
                "lab {lab}, graded in {}, is not among the local labs",
                folders(found.iter().copied())
            )),
            Some(local) if local.version != *version => problems.push(format!(
                "lab {lab} was graded in version {version} in {}, the local labs have version {}",
                folders(found.iter().copied()),
                local.version
            )),
            Some(_) => {}
        }
    }
    let graded: BTreeSet<u32> = versions.keys().map(|(lab, _)| *lab).collect();
    known
        .iter()
        .filter(|l| graded.contains(&l.number))
        .cloned()
        .collect()
}

/// Each student of the class in exactly one shard, the one their id belongs to; no shard
/// student who is not in the class.
fn check_students(shards: &[Found], of: u32, students: &[Student], problems: &mut Vec<String>) {
    let mut holders: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for s in shards {
        for id in &s.manifest.students {
            holders.entry(id).or_default().push(s);
        }
    }
    let class: BTreeSet<&str> = students.iter().map(|s| s.id.as_str()).collect();
    let (mut nowhere, mut twice, mut wrong, mut strangers) = (vec![], vec![], vec![], vec![]);
    for id in &class {
        let belongs = shard::shard_of(id, of);
        match holders.get(id).map(Vec::as_slice) {
            None | Some([]) => nowhere.push(format!("{id} (of shard {belongs})")),
            Some([one]) if one.manifest.shard != belongs => wrong.push(format!(
                "{id} (in shard {}, of shard {belongs})",
                one.manifest.shard
            )),
            Some([_]) => {}
            Some(many) => {
                let ks: Vec<String> = many.iter().map(|s| s.manifest.shard.to_string()).collect();
                twice.push(format!("{id} (in shards {})", ks.join(" and ")));
            }
        }
    }
    for (id, found) in &holders {
        if !class.contains(id) {
            strangers.push(format!("{id} (shard {})", found[0].manifest.shard));
        }
    }
    let mut say = |ids: Vec<String>, what: &str| {
        if !ids.is_empty() {
            problems.push(format!("{} {what}: {}", ids.len(), listed(&ids)));
        }
    };
    say(nowhere, "student(s) of the class in no shard");
    say(twice, "student(s) in more than one shard");
    say(wrong, "student(s) in a shard they do not belong to");
    say(
        strangers,
        "student(s) of the shards not in the class (the shards graded other submissions)",
    );
}

/// The record of every student of the shards, read from its shard's folder: each must hold a
/// run of every lab graded, from the answer the class holds now. Returns the students' ids and
/// their records' files.
fn check_records(
    shards: &[Found],
    labs: &[Lab],
    students: &[Student],
    problems: &mut Vec<String>,
) -> Vec<(String, PathBuf)> {
    let class: BTreeMap<&str, &Student> = students.iter().map(|s| (s.id.as_str(), s)).collect();
    let (mut records, mut unreadable, mut stale) = (Vec::new(), Vec::new(), Vec::new());
    for s in shards.iter().filter(|s| s.manifest.complete) {
        for id in &s.manifest.students {
            let path = s.dir.join("results").join(format!("{id}.json"));
            let record: Record = match fs::read_to_string(&path)
                .with_context(|| format!("cannot read `{}`", path.display()))
                .and_then(|text| Ok(serde_json::from_str(&text)?))
            {
                Ok(record) => record,
                Err(err) => {
                    unreadable.push(format!("{id} ({err:#})"));
                    continue;
                }
            };
            if let Some(student) = class.get(id.as_str()) {
                let changed: Vec<String> = labs
                    .iter()
                    .filter(|lab| !record.holds(lab, &student.answer(lab.number).sha256))
                    .map(|lab| lab.number.to_string())
                    .collect();
                if !changed.is_empty() {
                    stale.push(format!(
                        "{id} (lab {}, shard {})",
                        changed.join(","),
                        s.manifest.shard
                    ));
                }
            }
            records.push((id.clone(), path));
        }
    }
    if !unreadable.is_empty() {
        problems.push(format!(
            "{} record(s) of the shards cannot be read: {}",
            unreadable.len(),
            listed(&unreadable)
        ));
    }
    if !stale.is_empty() {
        problems.push(format!(
            "{} student(s) whose answers differ from those their shard graded (the submissions \
             changed since: grade those shards again): {}",
            stale.len(),
            listed(&stale)
        ));
    }
    records
}
