//! `labs book`: the workbook's pages rendered from the minijinja templates in templates/book/,
//! with every example run on a live server, written to book/src/ or compared with it.

mod diagram;
mod fresh;
mod functions;
mod labrun;
pub mod links;
mod live;
pub mod look;
mod messages;
mod output;
mod quiz;
pub mod reader;
mod scrub;
mod usage;

use crate::lab::Lab;
use crate::server::{Server, ServerOptions};
use anyhow::{bail, Context, Result};
use functions::{environment, lock};
use live::Live;
use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where the book's sources and outputs live.
pub struct Paths {
    /// templates/book/: one `*.md.j2` per page, `lab.md.j2` for every lab, `_*` partials.
    pub templates: PathBuf,
    /// book/: book.toml, the generated src/, and data/ (the benchmark figures).
    pub book: PathBuf,
    /// labs/: the labs whose statements and solutions say what the course uses.
    pub labs: PathBuf,
}

impl Paths {
    /// The folders of this source tree.
    pub fn of_project(root: &Path) -> Paths {
        Paths {
            templates: root.join("templates").join("book"),
            book: root.join("book"),
            labs: root.join("labs"),
        }
    }

    fn src(&self) -> PathBuf {
        self.book.join("src")
    }
}

/// Renders every page on the live server; the pages by their path under book/src/.
pub fn render(
    server: &Server,
    log: Option<PathBuf>,
    options: &ServerOptions,
    paths: &Paths,
    labs: &[Lab],
    only: &[String],
) -> Result<BTreeMap<PathBuf, String>> {
    let wanted = |page: &str| only.is_empty() || only.iter().any(|o| o == page);
    // The book fills every worker slot on page 2: no lab run may share the server meanwhile.
    // The lab pages run `labs check` themselves, which takes the lock too: it is released
    // before them.
    let mut slots = Some(crate::server::SlotLock::take(server, true)?);
    let workbook = reader::workbook_lab(&paths.book)?;
    let live = Arc::new(Mutex::new(Live::new(server, log, options, workbook)?));
    let env = environment(paths, &live, server, labs)?;
    let labs_value = labs
        .iter()
        .map(lab_context)
        .collect::<Result<Vec<serde_json::Value>>>()?;
    let bench_path = paths.book.join("data").join("extension.json");
    let bench: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(&bench_path)
            .with_context(|| format!("cannot read `{}`", bench_path.display()))?,
    )
    .with_context(|| format!("`{}` is not the benchmark's JSON", bench_path.display()))?;
    let context = Value::from_serialize(serde_json::json!({
        "labs": labs_value,
        "bench": bench,
    }));
    let mut pages = BTreeMap::new();
    let result = (|| -> Result<()> {
        for name in page_templates(&paths.templates)? {
            if !wanted(name.trim_end_matches(".j2")) {
                continue;
            }
            lock(&live).new_page();
            let text = env
                .get_template(&name)
                .and_then(|t| t.render(&context))
                .map_err(|e| template_error(&name, e))?;
            let text = lock(&live).finish_page(tidy(&text))?;
            pages.insert(PathBuf::from(name.trim_end_matches(".j2")), text);
        }
        for lab in &labs_value {
            if !wanted(&format!("lab-{}.md", lab["number"])) {
                continue;
            }
            drop(slots.take());
            lock(&live).new_page();
            let text = env
                .get_template("lab.md.j2")
                .and_then(|t| {
                    t.render(minijinja::context! {
                        lab => Value::from_serialize(lab),
                        bench => Value::from_serialize(&bench),
                    })
                })
                .map_err(|e| template_error("lab.md.j2", e))?;
            pages.insert(
                PathBuf::from(format!("lab-{}.md", lab["number"])),
                tidy(&text),
            );
        }
        Ok(())
    })();
    drop(env);
    let live = Arc::try_unwrap(live)
        .map_err(|_| anyhow::anyhow!("the book's templates still hold the live server"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a template function panicked"))?;
    let finished = live.finish();
    result?;
    finished?;
    Ok(pages)
}

/// `labs book render [--check]`: renders, then writes book/src/ or compares it; false when
/// `--check` found differences.
pub fn render_cmd(
    server: &Server,
    home: &crate::server::home::Home,
    options: &ServerOptions,
    paths: &Paths,
    labs: &[Lab],
    check: bool,
    only: &[String],
) -> Result<bool> {
    let started = std::time::Instant::now();
    let log = Some(home.log_file()).filter(|p| p.exists());
    let pages = render(server, log, options, paths, labs, only)?;
    if let Some(unknown) = only
        .iter()
        .find(|o| !pages.contains_key(Path::new(o.as_str())))
    {
        bail!("no template makes the page `{unknown}` (pages are named as in book/src/)");
    }
    let partial = !only.is_empty();
    let took = started.elapsed().as_secs_f64();
    if check {
        let differ = differences(paths, &pages, partial)?;
        if !differ.is_empty() {
            eprintln!(
                "labs: the committed book differs from a fresh render (run `labs book render`):"
            );
        }
        eprintln!("labs: rendered {} pages in {took:.1} s", pages.len());
        return Ok(report("differences", differ));
    }
    write(paths, &pages, partial)?;
    eprintln!(
        "labs: rendered {} pages into `{}` in {took:.1} s",
        pages.len(),
        paths.src().display()
    );
    Ok(true)
}

/// Prints each problem on a line; true when there is none.
pub fn report(what: &str, problems: Vec<String>) -> bool {
    for problem in &problems {
        println!("{problem}");
    }
    if problems.is_empty() {
        eprintln!("labs: no {what}");
    } else {
        eprintln!("labs: {} {what}", problems.len());
    }
    problems.is_empty()
}

/// Writes the pages into book/src/, removing pages no template makes any more (unless only some
/// pages were rendered).
pub fn write(paths: &Paths, pages: &BTreeMap<PathBuf, String>, partial: bool) -> Result<()> {
    let src = paths.src();
    for old in files_under(&src)? {
        if !partial && !pages.contains_key(&old) {
            fs::remove_file(src.join(&old))?;
        }
    }
    for (path, text) in pages {
        let file = src.join(path);
        fs::create_dir_all(file.parent().expect("a page lives in a folder"))?;
        fs::write(&file, text).with_context(|| format!("cannot write `{}`", file.display()))?;
    }
    Ok(())
}

/// The pages of book/src/ that differ from a fresh render, missing or extra ones included
/// (extra ones only when every page was rendered).
pub fn differences(
    paths: &Paths,
    pages: &BTreeMap<PathBuf, String>,
    partial: bool,
) -> Result<Vec<String>> {
    let src = paths.src();
    let mut differ = Vec::new();
    for (path, text) in pages {
        match fs::read_to_string(src.join(path)) {
            Ok(old) if &old == text => {}
            Ok(old) => {
                let first = old
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(old.lines().count().min(text.lines().count()));
                differ.push(format!(
                    "book/src/{} differs from a fresh render (first at line {})",
                    path.display(),
                    first + 1
                ));
            }
            Err(_) => differ.push(format!("book/src/{} is missing", path.display())),
        }
    }
    for old in files_under(&src)? {
        if !partial && !pages.contains_key(&old) {
            differ.push(format!("book/src/{} is made by no template", old.display()));
        }
    }
    Ok(differ)
}

/// An error of the live server as a template error.
fn fail<T>(result: Result<T>) -> Result<T, Error> {
    result.map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("{e:#}")))
}

/// A template error with the template's name and the chain of causes.
fn template_error(name: &str, err: Error) -> anyhow::Error {
    let mut text = format!("templates/book/{name}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    anyhow::anyhow!(text)
}

/// The page templates: every `*.md.j2` under the folder except `lab.md.j2` and partials (`_*`),
/// by their path relative to it.
fn page_templates(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = files_under(dir)?
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".md.j2")
                && n != "lab.md.j2"
                && !Path::new(n)
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with('_'))
        })
        .collect();
    names.sort();
    if names.is_empty() {
        bail!("`{}` holds no page templates (*.md.j2)", dir.display());
    }
    Ok(names)
}

/// Every file under `dir`, by its path relative to it (none when `dir` is missing).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let Ok(entries) = fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a lab page template sees of a lab.
fn lab_context(lab: &Lab) -> Result<serde_json::Value> {
    let statement = lab.read("statement.md")?;
    let checks: Vec<serde_json::Value> = lab
        .checks
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "title": c.title,
                "points": c.points,
                "timeout_s": c.timeout_ms as f64 / 1000.0,
                "datasets": lab.datasets_of(c),
                "hint": c.hint,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "number": lab.number,
        "title": lab.title,
        "statement": statement.trim_end(),
        "checks": checks,
        "datasets": lab.datasets.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
        "max_points": lab.max_points(),
    }))
}

/// One trailing newline, no trailing spaces, at most one blank line in a row outside code.
fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        let line = if in_code { line } else { line.trim_end() };
        if line.is_empty() && !in_code {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_start_matches('\n').trim_end().to_string() + "\n"
}
