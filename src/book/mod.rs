//! `labs book`: the workbook's pages rendered from the minijinja templates in templates/book/,
//! with every example run on a live server, written to book/src/ or compared with it.

mod diagram;
mod fresh;
mod labrun;
pub mod links;
mod live;
pub mod look;
mod quiz;
mod scrub;
mod usage;

use crate::lab::Lab;
use crate::server::{Server, ServerOptions};
use anyhow::{bail, Context, Result};
use live::{Live, Show};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use regex::Regex;
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
    let mut slots = Some(crate::checks::SlotLock::take(server, true)?);
    let live = Arc::new(Mutex::new(Live::new(server, log, options)?));
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
            pages.insert(PathBuf::from(name.trim_end_matches(".j2")), tidy(&text));
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
    home: &crate::home::Home,
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

/// The environment: the templates' folder and the functions the templates call.
fn environment(
    paths: &Paths,
    live: &Arc<Mutex<Live>>,
    server: &Server,
    course_labs: &[Lab],
) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_loader(minijinja::path_loader(&paths.templates));
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);

    let l = Arc::clone(live);
    env.add_function("sql", move |statements: Value, kwargs: Kwargs| {
        let show = show_from(&kwargs)?;
        kwargs.assert_all_used()?;
        fail(lock(&l).sql(&strings(&statements)?, &show))
    });
    let l = Arc::clone(live);
    env.add_function("printed", move |statements: Value, kwargs: Kwargs| {
        let show = show_from(&kwargs)?;
        kwargs.assert_all_used()?;
        fail(lock(&l).printed(&strings(&statements)?, &show))
    });
    let l = Arc::clone(live);
    env.add_function("shown", move |text: String| lock(&l).shown(&text));
    let l = Arc::clone(live);
    env.add_function("explain", move |query: String, kwargs: Kwargs| {
        let options: Option<String> = kwargs.get("options")?;
        kwargs.assert_all_used()?;
        let statement = format!(
            "EXPLAIN ({}) {}",
            options.as_deref().unwrap_or("ANALYZE"),
            query.trim()
        );
        fail(lock(&l).sql(&[statement], &Show::default()))
    });
    let l = Arc::clone(live);
    env.add_function("session", move |name: String| {
        lock(&l).use_session(&name);
        String::new()
    });
    let l = Arc::clone(live);
    env.add_function("value", move |sql: String| fail(lock(&l).value(&sql)));
    let l = Arc::clone(live);
    env.add_function("rows", move |sql: String| {
        fail(lock(&l).rows(&sql)).map(Value::from_serialize)
    });
    let l = Arc::clone(live);
    env.add_function("run", move |sql: String| {
        fail(lock(&l).run(&sql).map(|()| String::new()))
    });
    let l = Arc::clone(live);
    env.add_function("wait_until", move |sql: String, seconds: Option<u64>| {
        fail(
            lock(&l)
                .wait_until(&sql, seconds.unwrap_or(20))
                .map(|()| String::new()),
        )
    });
    let l = Arc::clone(live);
    env.add_function("conninfo", move || lock(&l).conninfo());
    // Part 1's throwaway server: its process tree and its shutdown, as text and as data.
    let l = Arc::clone(live);
    env.add_function("process_tree", move || fail(lock(&l).process_tree()));
    let l = Arc::clone(live);
    env.add_function("shutdown_log", move || fail(lock(&l).shutdown_log()));
    let l = Arc::clone(live);
    env.add_function("processes", move || {
        fail(lock(&l).fresh().and_then(|f| f.processes())).map(Value::from_serialize)
    });
    let l = Arc::clone(live);
    env.add_function("shutdown_events", move || {
        let mut live = lock(&l);
        fail(
            live.shutdown_log()
                .and_then(|_| live.fresh()?.shutdown_events()),
        )
        .map(Value::from_serialize)
    });
    // End of part 1's throwaway server.
    add_computed(&mut env, paths);
    // Lab pages: `labs check` runs, the lab's tables and measurements on clones of its
    // templates (see labrun.rs).
    labrun::register(&mut env, server, course_labs);
    Ok(env)
}

/// The functions that compute from what the page passes them, with no server: claims checked
/// against data, numbers, the course's own files, quizzes and diagrams.
fn add_computed(env: &mut Environment<'static>, paths: &Paths) {
    // A sentence's claim about computed data: the render fails when the data contradicts it.
    env.add_function("require", |holds: bool, claim: String| {
        if holds {
            Ok(String::new())
        } else {
            Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the data contradicts the page: {claim}"),
            ))
        }
    });
    env.add_filter("fixed", |value: f64, digits: Option<usize>| {
        format!("{value:.*}", digits.unwrap_or(1))
    });
    // A number as a Russian reader writes it: the given decimals, a decimal comma.
    env.add_filter("ru", |value: f64, digits: Option<usize>| {
        format!("{value:.*}", digits.unwrap_or(1)).replace('.', ",")
    });
    env.add_filter("inline_md", |text: String| inline_markdown(&text));
    let (templates, labs) = (paths.templates.clone(), paths.labs.clone());
    env.add_function("course_uses", move |name: String| {
        fail(usage::course_uses(&templates, &labs, &name)).map(Value::from_serialize)
    });
    env.add_function("quiz_html", |name: String, questions: Value| {
        fail(quiz::html(
            &name,
            &from_value::<Vec<_>>(questions)?,
            inline_markdown,
        ))
        .map(Value::from_safe_string)
    });
    env.add_function("diagram_tree", |nodes: Value, caption: String| {
        fail(diagram::tree(&from_value::<Vec<_>>(nodes)?, &caption)).map(Value::from_safe_string)
    });
    env.add_function(
        "diagram_sequence",
        |lanes: Value, steps: Value, caption: String| {
            fail(diagram::sequence(
                &from_value::<Vec<String>>(lanes)?,
                &from_value::<Vec<_>>(steps)?,
                &caption,
            ))
            .map(Value::from_safe_string)
        },
    );
    env.add_function(
        "diagram_bars",
        |bars: Value, caption: String, unit: Option<String>| {
            fail(diagram::bars(
                &from_value::<Vec<_>>(bars)?,
                &caption,
                unit.as_deref().unwrap_or(""),
            ))
            .map(Value::from_safe_string)
        },
    );
    env.add_function(
        "diagram_slots",
        |slots: Value, total: usize, caption: String| {
            fail(diagram::slots(
                &from_value::<Vec<_>>(slots)?,
                total,
                &caption,
            ))
            .map(Value::from_safe_string)
        },
    );
}

/// A template value (a list of dicts, say) as the typed data a diagram or a quiz takes.
fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::to_value(&value)
        .and_then(serde_json::from_value)
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("bad data for a diagram or a quiz: {e}"),
            )
        })
}

/// Text for an HTML block (where Markdown is not read): escaped, with `code` and **bold**.
fn inline_markdown(text: &str) -> String {
    let escaped = diagram::esc(text);
    static CODE: std::sync::OnceLock<(Regex, Regex)> = std::sync::OnceLock::new();
    let (code, bold) = CODE.get_or_init(|| {
        (
            Regex::new(r"`([^`]+)`").expect("a valid pattern"),
            Regex::new(r"\*\*([^*]+)\*\*").expect("a valid pattern"),
        )
    });
    let coded = code.replace_all(&escaped, "<code>$1</code>");
    bold.replace_all(&coded, "<strong>$1</strong>").into_owned()
}

/// The options of a `sql(...)` block.
fn show_from(kwargs: &Kwargs) -> Result<Show, Error> {
    let regex = |name: &str| -> Result<Option<Regex>, Error> {
        kwargs
            .get::<Option<String>>(name)?
            .map(|p| {
                Regex::new(&p).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
            })
            .transpose()
    };
    Ok(Show {
        mask: kwargs
            .get::<Option<Vec<String>>>("mask")?
            .unwrap_or_default(),
        fails: expected_failure(kwargs.get::<Option<Value>>("fails")?)?,
        notices: regex("notices")?,
        gset: kwargs.get::<Option<bool>>("gset")?.unwrap_or(false),
        log: regex("log")?,
    })
}

/// The SQLSTATE a `fails=` argument names: five characters, not `true`, so that an example
/// that fails for another reason than the page says cannot pass.
fn expected_failure(value: Option<Value>) -> Result<Option<String>, Error> {
    let Some(value) = value else {
        return Ok(None);
    };
    let sqlstate = |code: &str| {
        code.len() == 5
            && code
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    };
    match value.as_str() {
        Some(code) if sqlstate(code) => Ok(Some(code.to_string())),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "fails= takes the SQLSTATE the statement must fail with \
                 (fails=\"53000\", say), not {value}"
            ),
        )),
    }
}

/// A statement or a list of statements.
fn strings(value: &Value) -> Result<Vec<String>, Error> {
    if let Some(s) = value.as_str() {
        return Ok(vec![s.to_string()]);
    }
    value
        .try_iter()?
        .map(|v| {
            v.as_str().map(str::to_string).ok_or_else(|| {
                Error::new(ErrorKind::InvalidOperation, "a statement must be a string")
            })
        })
        .collect()
}

fn lock(live: &Arc<Mutex<Live>>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A template rendered with the computed functions only.
    fn computed(template: &str) -> Result<String, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        add_computed(
            &mut env,
            &Paths::of_project(Path::new(env!("CARGO_MANIFEST_DIR"))),
        );
        env.render_str(template, ())
    }

    #[test]
    fn a_sentence_the_data_contradicts_fails_the_render() {
        assert_eq!(
            computed("{{ require(2 > 1, 'two is more') }}ok").unwrap(),
            "ok"
        );
        let err = computed("{{ require(0.9 < 0.85, 'the ratio is met') }}").unwrap_err();
        assert!(
            err.to_string()
                .contains("the data contradicts the page: the ratio is met"),
            "{err}"
        );
        assert_eq!(computed("{{ 6.849 | ru(1) }}").unwrap(), "6,8");
        let broken = computed(
            "{{ quiz_html('q', [{'ask': 'a', 'options': [{'text': '1', 'right': true, 'why': 'w'}, \
             {'text': '1', 'why': 'w'}, {'text': '2', 'why': 'w'}]}]) }}",
        );
        assert!(broken.unwrap_err().to_string().contains("two options"));
        let used = computed("{{ course_uses('pg_background_launch') | length > 0 }}");
        assert_eq!(used.unwrap(), "True");
    }

    #[test]
    fn inline_markdown_escapes_and_marks_code() {
        assert_eq!(
            inline_markdown("`a < b` и **важно** & <b>"),
            "<code>a &lt; b</code> и <strong>важно</strong> &amp; &lt;b&gt;"
        );
    }

    #[test]
    fn fails_names_a_sqlstate() {
        assert_eq!(
            expected_failure(Some(Value::from("57P01"))).unwrap(),
            Some("57P01".to_string())
        );
        assert_eq!(expected_failure(None).unwrap(), None);
        assert!(expected_failure(Some(Value::from(true))).is_err());
        assert!(expected_failure(Some(Value::from("error"))).is_err());
    }
}
