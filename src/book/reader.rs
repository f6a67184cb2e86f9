//! The reader's console: a page's examples run as a reader runs them, in a sandbox database of
//! the workbook's own (cloned from its template), as an unprivileged role, through the same
//! byte-bounded, deadlined session as a lab run; and each page's record of what it ran, from
//! which the render learns which examples a reader can run and the workbench replays a page.

use super::output::{Failure, Outcome, Vars};
use crate::lab::Lab;
use crate::sandbox::{Sandbox, Sandboxes};
use crate::server::session::{Session, StepError};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long one block of the reader's may run: a lab check's usual limit.
pub const BLOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a replayed wait of the page's (`wait_until`) is waited for.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The most text of one block's output the reader is shown.
pub const MAX_OUTPUT: usize = 256 * 1024;

/// The workbook's sandbox, described as a lab without checks (`book/00_workbook/lab.toml`): its
/// template is what every reader's sandbox is cloned from.
pub fn workbook_lab(book: &Path) -> Result<Lab> {
    Lab::load(&book.join("00_workbook"), &[])
}

/// One statement the page ran in its main session, in order: a block's or a silent one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub sql: String,
    /// Its single row becomes psql variables (`\gset`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gset: bool,
    /// A boolean query polled until true (`wait_until`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait: bool,
}

/// One example block of a page, as the render saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Block {
    /// The steps of the page before the block's own, and after them.
    pub first: usize,
    pub end: usize,
    /// Whether a reader can run it; why not, in Russian, when not.
    pub runnable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// What a page ran in its main session and which examples a reader can run: embedded in the
/// page (`<script class="labs-steps">`), where the workbench reads it back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PageSteps {
    pub steps: Vec<Step>,
    pub blocks: Vec<Block>,
}

/// The marker of the page's JSON in its Markdown.
const STEPS_OPEN: &str = "<script type=\"application/json\" class=\"labs-steps\">";

impl PageSteps {
    /// The page's steps as one line of HTML for its Markdown (`<` escaped, so that no text of
    /// a statement can close the script).
    pub fn to_html(&self) -> String {
        let json = serde_json::to_string(self).expect("plain data serializes");
        format!("{STEPS_OPEN}{}</script>", json.replace('<', "\\u003c"))
    }

    /// The steps embedded in a page's HTML or Markdown, if it has them.
    pub fn from_page(page: &str) -> Result<Option<PageSteps>> {
        let Some(start) = page.find(STEPS_OPEN) else {
            return Ok(None);
        };
        let json = &page[start + STEPS_OPEN.len()..];
        let json = &json[..json.find("</script>").context("the page's steps are cut")?];
        Ok(Some(
            serde_json::from_str(json).context("the page's steps are not valid")?,
        ))
    }
}

/// What a reader's block printed, and the SQLSTATE each statement ended with (none: no error).
pub struct Ran {
    pub printed: String,
    pub codes: Vec<Option<String>>,
}

/// A reader's sandbox with their session in it, and the psql variables their blocks set.
pub struct Reader {
    sandbox: Sandbox,
    session: Session,
    vars: Vars,
}

impl Reader {
    /// A fresh sandbox of the workbook (a warm spare when there is one) with the reader's session.
    pub fn open(sandboxes: &Sandboxes, workbook: &Lab) -> Result<Reader> {
        let dataset = workbook
            .datasets
            .first()
            .context("the workbook's sandbox has no dataset")?;
        let (sandbox, (_checker, session)) = sandboxes.ready(workbook, dataset)?;
        Ok(Reader {
            sandbox,
            session,
            vars: Vars::default(),
        })
    }

    /// The reader's database.
    pub fn db(&self) -> &str {
        &self.sandbox.db
    }

    /// Ends the reader's sessions and workers and drops the sandbox in the background.
    pub fn close(self, sandboxes: &Sandboxes) {
        drop(self.session);
        sandboxes.drop_later(vec![self.sandbox]);
    }

    /// Ends the reader's background workers (their client session stays): before a run that
    /// needs every worker slot of the server.
    pub fn end_workers(&self) -> Result<()> {
        self.sandbox.end_student_backends(self.session.pid)
    }

    /// Runs one statement as the reader, by `deadline`.
    fn run_one(&mut self, sql: &str, deadline: Instant) -> Outcome {
        let sql = self.vars.substitute(sql.trim());
        let types = self.session.column_types(&sql, deadline);
        let result = self.session.run(&sql, deadline);
        let notices = self
            .session
            .take_notices()
            .into_iter()
            // The session keeps `SEVERITY: text`; psql prints two spaces after the colon.
            .map(|n| n.replacen(": ", ":  ", 1))
            .collect();
        Outcome::of(result.map_err(|err| failure(&err, &sql)), types, notices)
    }

    /// Runs a block's statements in order, as psql runs a script without ON_ERROR_STOP, and
    /// returns what psql would print; with `gset`, the last statement's row sets variables.
    pub fn run_block(&mut self, statements: &[String], gset: bool) -> Ran {
        let deadline = Instant::now() + BLOCK_TIMEOUT;
        let mut printed = String::new();
        let mut codes = Vec::new();
        for (i, statement) in statements.iter().enumerate() {
            let outcome = self.run_one(statement, deadline);
            let last = gset && i + 1 == statements.len();
            if let Err(err) = outcome.show(
                &mut printed,
                &mut self.vars,
                last,
                |_| true,
                |t| t.render(""),
            ) {
                printed.push_str(&format!("{err}\n"));
            }
            codes.push(outcome.error.as_ref().map(|e| e.code.clone()));
            if printed.len() > MAX_OUTPUT {
                let cut = (0..=MAX_OUTPUT)
                    .rev()
                    .find(|&i| printed.is_char_boundary(i))
                    .unwrap_or(0);
                printed.truncate(cut);
                printed.push_str("\n…");
                break;
            }
        }
        Ran {
            printed: printed.trim_end().to_string(),
            codes,
        }
    }

    /// Runs the page's steps silently, as the page ran them before a block: errors are left to
    /// the block that needs what failed.
    pub fn replay(&mut self, steps: &[Step]) {
        for step in steps {
            if step.wait {
                let until = Instant::now() + WAIT_LIMIT;
                while Instant::now() < until {
                    let outcome = self.run_one(&step.sql, until);
                    let yes = outcome
                        .tables
                        .first()
                        .and_then(|t| t.rows.first())
                        .and_then(|r| r.first().cloned().flatten());
                    if outcome.error.is_some() || yes.as_deref() == Some("t") {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            } else {
                self.run_block(std::slice::from_ref(&step.sql), step.gset);
            }
        }
    }
}

/// A reader's error as psql prints it, with its SQLSTATE.
fn failure(err: &StepError, sql: &str) -> Failure {
    match err {
        StepError::Db { code, db, .. } => Failure {
            code: code.clone(),
            text: super::messages::format_error(db, sql, &[]),
        },
        other => Failure {
            code: String::new(),
            text: format!("ОШИБКА:  {}\n", other.describe()),
        },
    }
}

/// The statements of a block as a reader typed it, split at the semicolons that end them (not
/// those in quotes, dollar quotes or comments), and whether it ends with psql's `\gset`.
pub fn split(text: &str) -> (Vec<String>, bool) {
    let mut text = text.trim_end();
    let gset = text.ends_with("\\gset");
    if gset {
        text = text[..text.len() - "\\gset".len()].trim_end();
    }
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // A dollar quote: `$tag$ ... $tag$` (a `$1` parameter is no tag).
                let tag_end = bytes[i + 1..]
                    .iter()
                    .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
                    .map(|n| i + 1 + n);
                if let Some(end) = tag_end.filter(|&e| bytes[e] == b'$') {
                    let tag = &text[i..=end];
                    if !tag[1..].starts_with(|c: char| c.is_ascii_digit()) {
                        match text[end + 1..].find(tag) {
                            Some(close) => i = end + 1 + close + tag.len() - 1,
                            None => i = bytes.len(),
                        }
                    }
                }
            }
            b';' => {
                statements.push(text[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    statements.push(text[start.min(text.len())..].trim().to_string());
    statements.retain(|s| !s.is_empty());
    (statements, gset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_at_their_own_semicolons() {
        let (statements, gset) = split(
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
             SELECT ';' AS \"a;b\" -- c;\n, $1 /* d; */;\nSELECT $q$x;$q$ AS pid \\gset",
        );
        assert!(gset);
        assert_eq!(
            statements,
            [
                "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                "SELECT ';' AS \"a;b\" -- c;\n, $1 /* d; */",
                "SELECT $q$x;$q$ AS pid",
            ]
        );
        assert_eq!(split("SELECT 1;;  ").0, ["SELECT 1"]);
        assert_eq!(split("SELECT 'unclosed;").0, ["SELECT 'unclosed;"]);
    }

    #[test]
    fn steps_survive_the_page() {
        let steps = PageSteps {
            steps: vec![Step {
                sql: "SELECT '</script>'".into(),
                gset: true,
                wait: false,
            }],
            blocks: vec![],
        };
        let html = format!("<p>x</p>\n{}\n", steps.to_html());
        assert!(!html.contains("'</script>'"));
        assert_eq!(
            PageSteps::from_page(&html).unwrap().unwrap().steps,
            steps.steps
        );
        assert!(PageSteps::from_page("<p>none</p>").unwrap().is_none());
    }
}
