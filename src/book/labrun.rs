//! Lab pages: real `labs check` runs captured while the book renders (the terminal text a
//! student reads, with what changes between runs masked), the tables and functions a lab gives
//! read from a clone of its live template, and measurements made on such clones.

use super::fail;
use crate::check::{self, Snapshots};
use crate::lab::Lab;
use crate::report;
use crate::sandbox::{Sandboxes, Spares};
use crate::server::Server;
use crate::server::SlotLock;
use crate::table::Record;
use anyhow::{bail, Context, Result};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use regex::Regex;
use std::path::{Component, Path};
use std::time::Duration;

/// The scratch database a lab's template is cloned into for the page to read or measure; made
/// and dropped by each call.
pub const SCRATCH_DB: &str = "labs_book_lab";

/// What changes from run to run in what any lab's checks found: times and pids, masked as «…».
const ALWAYS_MASKED: &[&str] = &[
    r"(\d+(?:[.,]\d+)?) мс",
    r"pid (\d+)",
    r"total_ms = ([\d.]+)",
    r"avg_ms = ([\d.]+)",
];

/// Adds the lab pages' functions to the book's environment:
/// - `lab_file(n, name)`: a file of lab n (`starter.sql`, `solution.sql`, `wrong/…`);
/// - `lab_wrong(n)`: the deliberately wrong answers of lab n, with the checks each fails
///   (from its `-- fails:` header) and the points that costs;
/// - `lab_check(n, answer, mask=[regex])`: `labs check n` run on that file of the lab, as
///   `answers/labN.sql`: its terminal text (times, pids and the `mask` groups shown as «…»),
///   score and each check's status, detail and the numbers in the detail;
/// - `lab_tables(n)`: the tables and functions lab n gives the student, as DDL read from a clone
///   of its first dataset's template;
/// - `lab_scratch(n, dataset, statements)`: runs the statements as the superuser, one by one,
///   in a fresh clone of that dataset's template (search path `public, extensions`) and returns
///   the rows of each (a list of dicts of strings per statement).
///
/// `lab_check` and `lab_scratch` take the server's worker-slot lock, which `render` holds for
/// the part pages and releases before the lab pages: they belong on lab pages only.
pub fn register(env: &mut Environment<'static>, server: &Server, labs: &[Lab]) {
    let sandboxes = std::sync::Arc::new(Sandboxes::new(server));
    let find = {
        let labs = labs.to_vec();
        move |number: u32| -> Result<Lab, Error> {
            labs.iter()
                .find(|l| l.number == number)
                .cloned()
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("there is no lab {number}"),
                    )
                })
        }
    };
    let f = find.clone();
    env.add_function("lab_file", move |number: u32, name: String| {
        let lab = f(number)?;
        fail(read_lab_file(&lab, &name))
    });
    let f = find.clone();
    env.add_function("lab_wrong", move |number: u32| {
        let lab = f(number)?;
        fail(wrong_answers(&lab)).map(Value::from_serialize)
    });
    let f = find.clone();
    let s = sandboxes.clone();
    env.add_function(
        "lab_check",
        move |number: u32, answer: String, kwargs: Kwargs| {
            let masks: Vec<String> = kwargs
                .get::<Option<Vec<String>>>("mask")?
                .unwrap_or_default();
            kwargs.assert_all_used()?;
            let lab = f(number)?;
            fail(capture_check(&s, &lab, &answer, &masks)).map(Value::from_serialize)
        },
    );
    let f = find.clone();
    let s = sandboxes.clone();
    env.add_function("lab_tables", move |number: u32| {
        let lab = f(number)?;
        let dataset = lab.datasets[0].name.clone();
        let rows = fail(scratch(&s, &lab, &dataset, &[TABLES_SQL.to_string()]))?;
        Ok(Value::from_serialize(&rows[0]))
    });
    let f = find;
    let s = sandboxes;
    env.add_function(
        "lab_scratch",
        move |number: u32, dataset: String, statements: Vec<String>| {
            let lab = f(number)?;
            fail(scratch(&s, &lab, &dataset, &statements)).map(Value::from_serialize)
        },
    );
}

/// A file of the lab's folder, by a plain relative path.
fn read_lab_file(lab: &Lab, name: &str) -> Result<String> {
    let path = Path::new(name);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("`{name}` is not a plain path inside the lab's folder");
    }
    lab.read(name)
}

/// The wrong answers of `lab`: file name, the checks its header says it fails, and the points
/// those checks are worth over the datasets they run on.
fn wrong_answers(lab: &Lab) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for path in lab.wrong_answers()? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let declared = crate::dev::declared_failures(&path)?;
        if let Some(id) = declared
            .iter()
            .find(|id| !lab.checks.iter().any(|c| &&c.id == id))
        {
            bail!(
                "`wrong/{name}` names the check `{id}`, which lab {} has not",
                lab.number
            );
        }
        // In the lab's order of checks, as its page lists them.
        let failed: Vec<_> = lab
            .checks
            .iter()
            .filter(|c| declared.contains(&c.id))
            .collect();
        let fails: Vec<&str> = failed.iter().map(|c| c.id.as_str()).collect();
        let points: u32 = failed.iter().map(|c| lab.points_of(c)).sum();
        out.push(serde_json::json!({ "file": name, "fails": fails, "points": points }));
    }
    Ok(out)
}

/// Runs the lab's checks on one of its files as a student's answer and returns what the
/// terminal shows, masked, with the verdict's figures.
fn capture_check(
    sandboxes: &Sandboxes,
    lab: &Lab,
    answer: &str,
    masks: &[String],
) -> Result<serde_json::Value> {
    let text = read_lab_file(lab, answer)?;
    let shown = format!("answers/lab{}.sql", lab.number);
    let verdict = check::run_answer(
        sandboxes,
        lab,
        shown,
        Ok(text),
        Snapshots::Compare,
        Spares::Cold,
    )
    .with_context(|| format!("cannot run lab {} on `{answer}`", lab.number))?;
    sandboxes.settle();
    let mut patterns = Vec::new();
    for pattern in ALWAYS_MASKED
        .iter()
        .map(|p| p.to_string())
        .chain(masks.iter().cloned())
    {
        patterns.push(Regex::new(&pattern).with_context(|| format!("bad mask `{pattern}`"))?);
    }
    let results: Vec<serde_json::Value> = verdict
        .results
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "dataset": r.dataset,
                "status": format!("{:?}", r.status).to_lowercase(),
                "points": r.points,
                "max_points": r.max_points,
                "detail": r.detail.as_deref().map(|d| mask(d, &patterns)),
                "numbers": numbers(r.detail.as_deref().unwrap_or("")),
            })
        })
        .collect();
    // Only what a check found is masked: titles, messages and hints come from lab.toml.
    let mut shown = verdict.clone();
    for r in &mut shown.results {
        r.detail = r.detail.as_deref().map(|d| mask(d, &patterns));
    }
    Ok(serde_json::json!({
        "text": report::text(&shown).trim_end(),
        "score": verdict.score,
        "max_score": verdict.max_score,
        "passed": verdict.passed(),
        "results": results,
    }))
}

/// `text` with every match of the patterns masked: each capturing group's text (or the whole
/// match, for a pattern without groups) becomes «…».
fn mask(text: &str, patterns: &[Regex]) -> String {
    let mut text = text.to_string();
    for pattern in patterns {
        let mut spans = Vec::new();
        for caps in pattern.captures_iter(&text) {
            if caps.len() == 1 {
                spans.push(caps.get(0).expect("a match").range());
            } else {
                spans.extend(
                    (1..caps.len())
                        .filter_map(|i| caps.get(i))
                        .map(|m| m.range()),
                );
            }
        }
        for span in spans.into_iter().rev() {
            text.replace_range(span, "…");
        }
    }
    text
}

/// The numbers written in a detail, in order (a decimal comma read as a point).
fn numbers(text: &str) -> Vec<f64> {
    let number = Regex::new(r"\d+(?:[.,]\d+)?").expect("a valid pattern");
    number
        .find_iter(text)
        .filter_map(|m| m.as_str().replace(',', ".").parse().ok())
        .collect()
}

/// The tables and functions of the schemas every role may use, but the extensions' own: DDL
/// as a reader would write it, with the privileges granted to every role.
const TABLES_SQL: &str = r#"
WITH open_schemas AS (
    SELECT n.oid, n.nspname
    FROM pg_namespace AS n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'extensions')
      AND n.nspname NOT LIKE 'pg\_%'
      AND EXISTS (SELECT FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
                  WHERE a.grantee = 0 AND a.privilege_type = 'USAGE')
), objects AS (
    SELECT 'table' AS kind, c.oid, c.oid::regclass::text AS name,
           format(E'CREATE TABLE %s (\n%s\n);', c.oid::regclass,
                  (SELECT string_agg(line, E',\n' ORDER BY ord, attnum, line) FROM (
                       SELECT 1 AS ord, a.attnum,
                              format('    %s %s%s%s', quote_ident(a.attname),
                                     format_type(a.atttypid, a.atttypmod),
                                     CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                                     coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')) AS line
                       FROM pg_attribute AS a
                       LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       UNION ALL
                       SELECT 2, CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'f' THEN 2 ELSE 3 END,
                              '    ' || pg_get_constraintdef(k.oid)
                       FROM pg_constraint AS k WHERE k.conrelid = c.oid
                   ) AS l))
           || coalesce(E'\n' || (
                  SELECT string_agg(format('GRANT %s%s ON %s TO PUBLIC;', g.privilege_type,
                                           coalesce(' (' || g.cols || ')', ''), c.oid::regclass),
                                    E'\n' ORDER BY g.privilege_type)
                  FROM (SELECT a.privilege_type, NULL::text AS cols
                        FROM aclexplode(c.relacl) AS a WHERE a.grantee = 0
                        UNION ALL
                        SELECT a.privilege_type, string_agg(quote_ident(att.attname), ', ' ORDER BY att.attnum)
                        FROM pg_attribute AS att, aclexplode(att.attacl) AS a
                        WHERE att.attrelid = c.oid AND a.grantee = 0
                        GROUP BY a.privilege_type) AS g), '') AS ddl
    FROM pg_class AS c JOIN open_schemas AS s ON s.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
      AND NOT EXISTS (SELECT FROM pg_depend AS e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'function', p.oid, p.oid::regprocedure::text,
           format('%s(%s) RETURNS %s', p.oid::regproc, pg_get_function_arguments(p.oid),
                  pg_get_function_result(p.oid))
    FROM pg_proc AS p JOIN open_schemas AS s ON s.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT FROM pg_depend AS e
                      WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
)
SELECT kind, name, ddl FROM objects ORDER BY kind DESC, name
"#;

/// Clones the template of `lab`'s `dataset` into the scratch database, runs `statements` there
/// one by one as the superuser, returns each one's rows and drops the clone.
fn scratch(
    sandboxes: &Sandboxes,
    lab: &Lab,
    dataset: &str,
    statements: &[String],
) -> Result<Vec<Vec<Record>>> {
    let Some(dataset) = lab.datasets.iter().find(|d| d.name == dataset) else {
        bail!("lab {} has no dataset `{dataset}`", lab.number);
    };
    // The statements may launch workers (a VACUUM through pg_background): this page shares the
    // server's slots as a lab run does.
    let server = sandboxes.server();
    let _slots = SlotLock::take(server, false)?;
    let template = sandboxes.template(lab, dataset)?;
    let mut admin = server.connect("postgres")?;
    admin.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"
    ))?;
    // A run that has just cloned the template may still be leaving it.
    let mut tries = 0;
    loop {
        match admin.batch_execute(&format!("CREATE DATABASE {SCRATCH_DB} TEMPLATE {template}")) {
            Ok(()) => break,
            Err(err) if tries < 50 && err.code().is_some_and(|c| c.code() == "55006") => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => return Err(err).context("cannot clone the lab's template"),
        }
    }
    let result = (|| -> Result<_> {
        let mut client = server.connect(SCRATCH_DB)?;
        client.batch_execute("SET search_path = public, extensions")?;
        let mut out = Vec::new();
        for statement in statements {
            let messages = client
                .simple_query(statement)
                .with_context(|| format!("in the clone of lab {}: {statement}", lab.number))?;
            let tables = crate::table::Table::from_messages(&messages, &[]);
            out.push(tables.last().map(|t| t.records()).unwrap_or_default());
        }
        Ok(out)
    })();
    admin.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"
    ))?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_groups_or_whole_matches() {
        let patterns = [
            Regex::new(r"pid (\d+)").unwrap(),
            Regex::new(r"\d+ kB").unwrap(),
        ];
        assert_eq!(
            mask("pid 42 and pid 7, 8536 kB", &patterns),
            "pid … and pid …, …"
        );
    }

    #[test]
    fn reads_numbers_with_either_decimal_mark() {
        assert_eq!(
            numbers("рост в 1,13 раза, 7544 kB, 0.5"),
            vec![1.13, 7544.0, 0.5]
        );
    }
}
