//! The structure check: before the judge trusts what it reads in a run database, it compares
//! the database with the template the run was cloned from (what `RECORD` kept there).

use crate::server::session::{Session, StepError};
use std::time::Instant;

/// Superuser SQL run in every template: what the run databases are compared with.
const RECORD: &str = include_str!("sql/intact_record.sql");

/// The comparison: one row per change, in Russian. It runs as `labs_judge.changes()`, a function
/// of the template's, so that a judge session plans it once however often it looks.
const VERIFY: &str = include_str!("sql/intact_verify.sql");

/// What a template is given for the structure check: `RECORD` and the function that compares.
pub fn record() -> String {
    format!(
        "{RECORD}
CREATE FUNCTION labs_judge.changes() RETURNS SETOF text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $verify$
BEGIN
    RETURN QUERY
{VERIFY};
END
$verify$;
REVOKE ALL ON FUNCTION labs_judge.changes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION labs_judge.changes() TO labs_judge;"
    )
}

/// What the answer changed that the checks read or that changes how they read it: the given
/// tables (their kind, columns, storage, inheritance, rules, triggers, policies), functions and
/// operators that bear a built-in's name, new casts, the database's settings. Empty when the
/// run database is as its template made it, bar the answer's own objects.
pub fn changes(judge: &mut Session, deadline: Instant) -> Result<Vec<String>, StepError> {
    let messages = judge.run("SELECT labs_judge.changes()", deadline)?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect())
}

/// The reason, in Russian, that the checks which rely on the structure did not run.
pub fn reason(changes: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut said = changes
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if changes.len() > SHOWN {
        said.push_str(&format!("; и ещё изменений: {}", changes.len() - SHOWN));
    }
    format!(
        "ответ изменил то, что читает проверяющий ({said}); задание разрешает добавлять свои \
         таблицы, индексы, функции и процедуры, но не менять устройство таблиц лабораторной и \
         не подменять встроенные объекты"
    )
}
