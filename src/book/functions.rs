//! The functions and filters the workbook's templates call: the live server's (run a statement,
//! read a value, the throwaway server of part 1), the lab pages' (labrun.rs), and those that
//! compute from what a page passes them (claims, numbers, quizzes, diagrams).

use super::live::{Live, Show};
use super::{diagram, fail, labrun, quiz, usage, Paths};
use crate::lab::Lab;
use crate::server::Server;
use anyhow::Result;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use regex::Regex;
use std::sync::{Arc, Mutex};

/// The environment: the templates' folder and the functions the templates call.
pub fn environment(
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
pub fn add_computed(env: &mut Environment<'static>, paths: &Paths) {
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

pub fn lock(live: &Arc<Mutex<Live>>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
