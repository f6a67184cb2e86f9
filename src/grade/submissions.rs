//! Finding the students and their answers in a submissions folder, a zip of one, or a Moodle
//! "download all submissions" export; whatever junk they hold becomes a per-answer message.

use crate::check::answer;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One student's submission: an id, their name when the export gives one, and their answers.
#[derive(Debug, Clone)]
pub struct Student {
    /// A file-name-safe id: the Moodle id, or the folder's name.
    pub id: String,
    /// The name Moodle puts before the id, when there is one.
    pub name: Option<String>,
    /// The answers found, by lab number.
    pub answers: BTreeMap<u32, Answer>,
    /// The names of the student's files that are no answer (said when an answer is missing).
    pub other_files: Vec<String>,
}

/// An answer as handed in: its name for messages, and its text or why it cannot be used.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Where it came from, relative to the submissions (`ivanov/lab1.sql`).
    pub shown: String,
    pub text: Result<String, String>,
    /// The sha256 of the file's bytes (of the refusal, when the bytes were not read).
    pub sha256: String,
}

impl Student {
    /// The answer to lab `n`, or a missing one that says what the folder held instead.
    pub fn answer(&self, n: u32) -> Answer {
        if let Some(answer) = self.answers.get(&n) {
            return answer.clone();
        }
        let file = format!("{}/lab{n}.sql", self.id);
        let problem = if self.answers.is_empty() && self.other_files.is_empty() {
            format!("ответ не сдан: папка студента пуста, файла `{file}` нет")
        } else if self.other_files.is_empty() {
            format!("ответ не сдан: файла `{file}` нет")
        } else {
            let mut seen = self.other_files.clone();
            seen.truncate(5);
            format!(
                "ответ не сдан: файла `{file}` нет (в папке есть: {}); ответ должен называться lab{n}.sql",
                seen.join(", ")
            )
        };
        Answer {
            shown: file,
            sha256: hash(problem.as_bytes()),
            text: Err(problem),
        }
    }
}

/// A file found in the submissions, before it is known whose answer it is.
struct Found {
    /// Path components below the submissions' root.
    parts: Vec<String>,
    len: u64,
    source: Source,
}

enum Source {
    Disk(PathBuf),
    Zip(usize),
}

/// Reads the students of a submissions folder or zip file, sorted by id. In a folder, the
/// grader's own output is no student: the folders `outputs` (a gradebook's, the shards') and
/// anything inside them, and any folder that is a gradebook, a shard's or holds shards'.
pub fn discover(path: &Path, outputs: &[&Path]) -> Result<Vec<Student>> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if meta.is_dir() {
        let mut found = Vec::new();
        let mut dirs = Vec::new();
        let outputs: Vec<PathBuf> = outputs
            .iter()
            .filter_map(|o| fs::canonicalize(o).ok())
            .collect();
        let walk_dir = Walk { outputs: &outputs };
        walk_dir.walk(path, &mut Vec::new(), &mut found, &mut dirs)?;
        students(found, dirs, |source, limit| match source {
            Source::Disk(p) => read_limited(fs::File::open(p)?, limit),
            Source::Zip(_) => unreachable!(),
        })
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        let file =
            fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let mut archive = zip::ZipArchive::new(file)
            .with_context(|| format!("`{}` is not a readable zip file", path.display()))?;
        let mut found = Vec::new();
        let mut dirs = Vec::new();
        for i in 0..archive.len() {
            let entry = archive.by_index(i)?;
            // `enclosed_name` refuses absolute paths and `..`: nothing is read from outside.
            let Some(name) = entry.enclosed_name() else {
                eprintln!(
                    "labs: skipping `{}` in the zip: its path leaves the archive",
                    entry.name().unwrap_or_default()
                );
                continue;
            };
            let parts: Vec<String> = name
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.iter().any(|p| p == "__MACOSX" || p.starts_with("._")) {
                continue;
            }
            if entry.is_dir() {
                dirs.push(parts);
            } else {
                found.push(Found {
                    parts,
                    len: entry.size(),
                    source: Source::Zip(i),
                });
            }
        }
        students(found, dirs, |source, limit| match source {
            Source::Zip(i) => read_limited(archive.by_index(*i)?, limit),
            Source::Disk(_) => unreachable!(),
        })
    } else {
        bail!(
            "`{}` is neither a folder of student folders nor a .zip of one",
            path.display()
        )
    }
}

/// A walk through a submissions folder, passing over the grader's output.
struct Walk<'a> {
    /// The output folders given, canonical.
    outputs: &'a [PathBuf],
}

impl Walk<'_> {
    /// Collects the files and folders under `dir` (three levels: an export's own folder, the
    /// students', and one folder a student may have put their files in).
    fn walk(
        &self,
        dir: &Path,
        parts: &mut Vec<String>,
        found: &mut Vec<Found>,
        dirs: &mut Vec<Vec<String>>,
    ) -> Result<()> {
        let entries =
            fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let meta = fs::metadata(&path);
            if meta.as_ref().is_ok_and(|m| m.is_dir()) && self.is_output(&path) {
                continue;
            }
            parts.push(name);
            match meta {
                Ok(meta) if meta.is_dir() => {
                    dirs.push(parts.clone());
                    if parts.len() < 3 {
                        self.walk(&path, parts, found, dirs)?;
                    }
                }
                Ok(meta) => found.push(Found {
                    parts: parts.clone(),
                    len: meta.len(),
                    source: Source::Disk(path),
                }),
                Err(err) => eprintln!("labs: skipping `{}`: {err}", path.display()),
            }
            parts.pop();
        }
        Ok(())
    }

    /// Whether the folder `dir` is the grader's output: one of the folders given, a gradebook
    /// (grades.csv and results/), a shard's folder (shard.json) or a folder of shards' (a
    /// `shard-K-of-N` folder with shard.json).
    fn is_output(&self, dir: &Path) -> bool {
        if fs::canonicalize(dir).is_ok_and(|d| self.outputs.contains(&d)) {
            return true;
        }
        let has = |name: &str| dir.join(name).exists();
        let output = (has("grades.csv") && has("results"))
            || has("shard.json")
            || fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("shard-") && e.path().join("shard.json").is_file()
            });
        if output {
            eprintln!(
                "labs: skipping `{}`: a gradebook's or shards' folder, not a student's",
                dir.display()
            );
        }
        output
    }
}

/// Reads at most `limit` bytes (a zip entry may lie about its size).
fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Groups the files into students: the top folders below the root (after stepping into a root
/// that holds one folder of folders, as a zip of a folder does).
fn students(
    mut found: Vec<Found>,
    mut dirs: Vec<Vec<String>>,
    mut read: impl FnMut(&Source, u64) -> Result<Vec<u8>>,
) -> Result<Vec<Student>> {
    // A zip need not list the folders its files are in.
    for file in &found {
        for depth in 1..file.parts.len() {
            dirs.push(file.parts[..depth].to_vec());
        }
    }
    dirs.sort();
    dirs.dedup();
    loop {
        let mut tops: Vec<&String> = dirs
            .iter()
            .filter(|d| d.len() == 1)
            .map(|d| &d[0])
            .collect();
        tops.sort();
        tops.dedup();
        let root_files = found.iter().any(|f| f.parts.len() == 1);
        let below_are_dirs = found.iter().all(|f| f.parts.len() > 2);
        if tops.len() != 1 || root_files || !below_are_dirs || found.is_empty() {
            break;
        }
        found.iter_mut().for_each(|f| {
            f.parts.remove(0);
        });
        dirs.retain(|d| d.len() > 1);
        dirs.iter_mut().for_each(|d| {
            d.remove(0);
        });
    }
    let mut by_id: BTreeMap<String, Student> = BTreeMap::new();
    for dir in dirs.iter().filter(|d| d.len() == 1) {
        let (id, name) = student_id(&dir[0]);
        by_id.entry(id.clone()).or_insert_with(|| Student {
            id,
            name,
            answers: BTreeMap::new(),
            other_files: Vec::new(),
        });
    }
    for file in &found {
        if file.parts.len() == 1 {
            eprintln!(
                "labs: skipping `{}`: files belong in a student's folder",
                file.parts[0]
            );
            continue;
        }
        let (id, _) = student_id(&file.parts[0]);
        let Some(student) = by_id.get_mut(&id) else {
            continue;
        };
        let file_name = file.parts.last().expect("a path has a name");
        let shown = format!("{id}/{}", file.parts[1..].join("/"));
        let Some(n) = lab_number(file_name) else {
            student.other_files.push(file.parts[1..].join("/"));
            continue;
        };
        if student.answers.contains_key(&n) {
            eprintln!(
                "labs: `{shown}`: {id} has another lab{n}.sql; the first one found is graded"
            );
            continue;
        }
        let answer = if file.len > answer::MAX_BYTES {
            let problem = answer::too_large(&shown, file.len);
            Answer {
                sha256: hash(problem.as_bytes()),
                text: Err(problem),
                shown,
            }
        } else {
            match read(&file.source, answer::MAX_BYTES + 1) {
                Ok(bytes) if bytes.len() as u64 > answer::MAX_BYTES => {
                    let problem = answer::too_large(&shown, bytes.len() as u64);
                    Answer {
                        sha256: hash(problem.as_bytes()),
                        text: Err(problem),
                        shown,
                    }
                }
                Ok(bytes) => Answer {
                    sha256: hash(&bytes),
                    text: answer::decode(&shown, bytes),
                    shown,
                },
                Err(err) => {
                    let problem = format!("файл ответа `{shown}` не читается: {err:#}");
                    Answer {
                        sha256: hash(problem.as_bytes()),
                        text: Err(problem),
                        shown,
                    }
                }
            }
        };
        student.answers.insert(n, answer);
    }
    for student in by_id.values_mut() {
        student.other_files.sort();
    }
    Ok(by_id.into_values().collect())
}

/// The lab a file answers: `lab1.sql`, in any letter case.
fn lab_number(file_name: &str) -> Option<u32> {
    let lower = file_name.to_lowercase();
    let n = lower.strip_prefix("lab")?.strip_suffix(".sql")?;
    n.parse().ok().filter(|n| (1..100).contains(n))
}

/// A student's id and name from their folder: Moodle's `Name_ID_assignsubmission_file_` gives
/// ID and Name; any other folder is its own id. Ids are made safe as file names.
pub fn student_id(folder: &str) -> (String, Option<String>) {
    let moodle = folder
        .find("_assignsubmission_")
        .map(|at| &folder[..at])
        .and_then(|head| head.rsplit_once('_'))
        .filter(|(name, id)| {
            !name.is_empty() && !id.is_empty() && id.chars().all(|c| c.is_ascii_digit())
        });
    match moodle {
        Some((name, id)) => (id.to_string(), Some(name.to_string())),
        None => (safe_id(folder), None),
    }
}

/// Letters, digits, `-`, `_` and `.` kept; anything else becomes `_`.
fn safe_id(text: &str) -> String {
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = id.trim_start_matches('.').to_string();
    if id.is_empty() {
        "_".into()
    } else {
        id
    }
}

/// The sha256 of `bytes`, in hex.
pub fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moodle_folders_give_the_id() {
        assert_eq!(
            student_id("Иванов Иван_12345_assignsubmission_file_"),
            ("12345".into(), Some("Иванов Иван".into()))
        );
        assert_eq!(
            student_id("Anna_Maria_Lee_77_assignsubmission_file_"),
            ("77".into(), Some("Anna_Maria_Lee".into()))
        );
        assert_eq!(student_id("petrov"), ("petrov".into(), None));
        assert_eq!(student_id("a b/c"), ("a_b_c".into(), None));
    }

    #[test]
    fn the_graders_own_output_is_no_student() {
        let dir = tempfile::tempdir().unwrap();
        let subs = dir.path();
        for student in ["ann", "bob"] {
            fs::create_dir_all(subs.join(student)).unwrap();
            fs::write(subs.join(student).join("lab1.sql"), "SELECT 1;").unwrap();
        }
        // The output folder given, as a killed first run left it (records only).
        fs::create_dir_all(subs.join("out/results")).unwrap();
        // An older gradebook, and a folder of shards.
        fs::create_dir_all(subs.join("old/results")).unwrap();
        fs::write(subs.join("old/grades.csv"), "student\n").unwrap();
        fs::create_dir_all(subs.join("records/shard-1-of-2")).unwrap();
        fs::write(subs.join("records/shard-1-of-2/shard.json"), "{}").unwrap();
        let ids = |outputs: &[&Path]| -> Vec<String> {
            discover(subs, outputs)
                .unwrap()
                .into_iter()
                .map(|s| s.id)
                .collect()
        };
        assert_eq!(ids(&[&subs.join("out")]), ["ann", "bob"]);
        assert_eq!(ids(&[]), ["ann", "bob", "out"]);
    }

    #[test]
    fn folders_zips_and_junk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("export");
        let moodle = root.join("Иванов Иван_42_assignsubmission_file_");
        fs::create_dir_all(&moodle).unwrap();
        fs::write(moodle.join("Lab1.SQL"), "SELECT 1;").unwrap();
        fs::write(moodle.join("lab2.sql"), b"%PDF-1.5\n\xff").unwrap();
        fs::write(moodle.join("notes.txt"), "hi").unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        let students = discover(dir.path(), &[]).unwrap();
        assert_eq!(students.len(), 2, "{students:?}");
        let ivanov = students.iter().find(|s| s.id == "42").unwrap();
        assert_eq!(ivanov.name.as_deref(), Some("Иванов Иван"));
        assert_eq!(ivanov.answer(1).text.as_deref(), Ok("SELECT 1;"));
        assert!(ivanov.answer(2).text.unwrap_err().contains("PDF"));
        assert!(ivanov.answer(3).text.unwrap_err().contains("notes.txt"));
        let empty = students.iter().find(|s| s.id == "empty").unwrap();
        assert!(empty.answer(1).text.unwrap_err().contains("пуста"));

        let zip_path = dir.path().join("all.zip");
        let mut zip = zip::ZipWriter::new(fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.add_directory("course/", options).unwrap();
        zip.start_file("course/petrov/lab3.sql", options).unwrap();
        std::io::Write::write_all(&mut zip, b"SELECT 3;").unwrap();
        zip.start_file("course/sidorov/lab1.sql", options).unwrap();
        std::io::Write::write_all(&mut zip, b"\xff\xfe").unwrap();
        zip.finish().unwrap();
        let students = discover(&zip_path, &[]).unwrap();
        let ids: Vec<&str> = students.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["petrov", "sidorov"]);
        assert_eq!(students[0].answer(3).text.as_deref(), Ok("SELECT 3;"));
        assert!(students[1].answer(1).text.unwrap_err().contains("UTF-8"));
    }
}
