//! What psql prints for a statement, shared by the render (`live`) and the reader's console
//! (`reader`): a statement's outcome (tables, notices, error), how it is printed, and the psql
//! variables that `\gset` sets and `:name` reads.

use crate::table::Table;
use anyhow::{bail, Result};
use postgres::SimpleQueryMessage;
use regex::Regex;
use std::collections::BTreeMap;

/// What one statement gave: its tables, its notices, or its error.
pub struct Outcome {
    pub tables: Vec<Table>,
    pub notices: Vec<String>,
    pub error: Option<Failure>,
}

/// A statement's error: its SQLSTATE and the text psql would print.
pub struct Failure {
    pub code: String,
    pub text: String,
}

impl Outcome {
    /// The outcome of a statement that returned `messages` (with columns of types `types`) or
    /// failed, with the notices it raised.
    pub fn of(
        result: Result<Vec<SimpleQueryMessage>, Failure>,
        types: Vec<u32>,
        notices: Vec<String>,
    ) -> Outcome {
        match result {
            Ok(messages) => Outcome {
                tables: Table::from_messages(&messages, &[types]),
                notices,
                error: None,
            },
            Err(failure) => Outcome {
                tables: Vec::new(),
                notices,
                error: Some(failure),
            },
        }
    }

    /// What psql does with the outcome of a statement: with `gset` (the last statement of a
    /// `\gset` block) and no error, its row becomes variables in `vars` and its table is not
    /// printed; the rest (the notices `keep` lets through, each table as `show` draws it, the
    /// error) is appended to `printed`.
    pub fn show(
        &self,
        printed: &mut String,
        vars: &mut Vars,
        gset: bool,
        keep: impl Fn(&str) -> bool,
        show: impl Fn(&Table) -> String,
    ) -> Result<()> {
        let stored = gset && self.error.is_none();
        if stored {
            if let Some(table) = self.tables.first() {
                vars.gset(table)?;
            }
        }
        self.print(printed, keep, !stored, show);
        Ok(())
    }

    /// Appends what psql prints for the outcome to `printed`: the notices `keep` lets through,
    /// each table as `show` draws it (none when `tables` is false: a `\gset` stored them), then
    /// the error.
    fn print(
        &self,
        printed: &mut String,
        keep: impl Fn(&str) -> bool,
        tables: bool,
        show: impl Fn(&Table) -> String,
    ) {
        for notice in self.notices.iter().filter(|n| keep(n)) {
            printed.push_str(notice);
            printed.push('\n');
        }
        if tables {
            for table in &self.tables {
                printed.push_str(&show(table));
                printed.push('\n');
            }
        }
        if let Some(error) = &self.error {
            printed.push_str(&error.text);
        }
    }
}

/// psql's variables: set by `\gset`, substituted for `:name` and `:'name'`.
#[derive(Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Stores the single row's columns, as `\gset` does.
    pub fn gset(&mut self, table: &Table) -> Result<()> {
        let [row] = table.rows.as_slice() else {
            bail!("\\gset needs exactly one row, got {}", table.rows.len());
        };
        for (column, value) in table.columns.iter().zip(row) {
            self.0
                .insert(column.name.clone(), value.clone().unwrap_or_default());
        }
        Ok(())
    }

    /// `:name` and `:'name'` replaced by the variables' values (a literal for `:'name'`), as
    /// psql does; unknown names and `::` casts are left alone.
    pub fn substitute(&self, sql: &str) -> String {
        static VAR: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let re = VAR.get_or_init(|| {
            Regex::new(r"(^|[^:]):('?)([a-z_][a-z0-9_]*)('?)").expect("a valid pattern")
        });
        re.replace_all(sql, |c: &regex::Captures| match self.0.get(&c[3]) {
            Some(value) if c[2] == c[4] && c[2].is_empty() => format!("{}{value}", &c[1]),
            Some(value) if c[2] == c[4] => format!("{}'{}'", &c[1], value.replace('\'', "''")),
            _ => c[0].to_string(),
        })
        .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psql_variables_are_substituted() {
        let mut vars = Vars::default();
        vars.0.insert("pid".into(), "42".into());
        vars.0.insert("name".into(), "it's".into());
        assert_eq!(
            vars.substitute("SELECT :pid, :'name', x::text, :other"),
            "SELECT 42, 'it''s', x::text, :other"
        );
    }
}
