//! The live side of the book: sessions on the lab server (and on the throwaway one) in which the
//! templates' SQL runs, and the Markdown blocks that show the statements and what they printed.
//! Long because `Live` is one state (the sessions, psql's variables, the literals to mask) that
//! every live function of the templates reads and changes: split, its methods would pass it around.

use super::fresh::Fresh;
use super::messages::{format_error, format_notice};
use super::output::{Failure, Outcome, Vars};
use super::reader::{Block, PageSteps, Reader, Step};
use super::scrub;
use crate::lab::Lab;
use crate::sandbox::Sandboxes;
use crate::server::{Server, ServerOptions};
use crate::table::{Record, Table};
use anyhow::{bail, Context, Result};
use postgres::{Client, NoTls};
use regex::Regex;
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The database the book's examples run in, made afresh for every render.
pub const BOOK_DB: &str = "labs_book";
/// The second database, for the subscription of the logical replication example.
pub const BOOK_SUB_DB: &str = "labs_book_sub";

/// A session: its connection and the notices the server sent it since the last statement.
struct Session {
    client: Client,
    notices: Arc<Mutex<Vec<String>>>,
}

/// How a SQL block is shown.
#[derive(Default)]
pub struct Show {
    /// Columns whose values change from run to run: shown as `<column>`.
    pub mask: Vec<String>,
    /// The SQLSTATE with which the last statement must fail (its error is shown as psql shows
    /// it); the render fails when another one, or none, comes back.
    pub fails: Option<String>,
    /// Keep only the notices matching this pattern (VACUUM VERBOSE says a lot).
    pub notices: Option<Regex>,
    /// Store the single row's columns as variables, as psql's `\gset` does.
    pub gset: bool,
    /// Show the server log lines matching this pattern that the statements produced.
    pub log: Option<Regex>,
}

/// Everything the templates' functions work with.
pub struct Live {
    lab: Server,
    lab_log: Option<PathBuf>,
    options: ServerOptions,
    fresh: Option<Fresh>,
    sessions: BTreeMap<String, Session>,
    current: String,
    /// psql-style variables set by `\gset`, substituted for `:name` and `:'name'`.
    vars: Vars,
    /// What the page ran in its main session, and its example blocks with the session each
    /// ran in and the SQLSTATE each statement ended with (`finish_page` marks them).
    page: PageSteps,
    block_runs: Vec<(String, Vec<Option<String>>)>,
    /// The workbook's sandbox (a lab without checks) and the lab server's sandboxes, in which
    /// `finish_page` replays the page as a reader.
    workbook: Lab,
    sandboxes: Sandboxes,
    /// Literal strings of this machine (socket folder, ports) and the names that replace them.
    literals: Vec<(String, String)>,
}

impl Live {
    /// Prepares the book's databases on the lab server (dropping leftovers of an earlier run).
    pub fn new(
        lab: &Server,
        lab_log: Option<PathBuf>,
        options: &ServerOptions,
        workbook: Lab,
    ) -> Result<Live> {
        drop_leftovers(lab)?;
        let mut admin = lab.connect("postgres")?;
        admin.batch_execute(&format!("CREATE DATABASE {BOOK_DB}"))?;
        admin.batch_execute(&format!("CREATE DATABASE {BOOK_SUB_DB}"))?;
        lab.connect(BOOK_DB)?
            .batch_execute("CREATE EXTENSION pg_background; CREATE EXTENSION dblink;")?;
        let mut literals = vec![
            (lab.password.clone(), "<пароль>".to_string()),
            (format!("port={}", lab.port), "port=<порт>".to_string()),
        ];
        if let Some(dir) = &lab.socket_dir {
            literals.push((dir.display().to_string(), "<сокет>".into()));
        }
        Ok(Live {
            lab: lab.clone(),
            lab_log,
            options: options.clone(),
            fresh: None,
            sessions: BTreeMap::new(),
            current: "main".into(),
            vars: Vars::default(),
            page: PageSteps::default(),
            block_runs: Vec::new(),
            workbook,
            sandboxes: Sandboxes::new(lab),
            literals,
        })
    }

    /// Ends every session and drops what the book made on the lab server.
    pub fn finish(mut self) -> Result<()> {
        self.sessions.clear();
        self.fresh = None;
        drop_leftovers(&self.lab)
    }

    /// Ends every session of a page, so that the next page starts clean.
    pub fn new_page(&mut self) {
        self.sessions.clear();
        self.current = "main".into();
        self.vars.clear();
        self.page = PageSteps::default();
        self.block_runs.clear();
    }

    /// Notes a statement of the page's main session among the page's steps.
    /// A statement that names one of the render's own processes by a pid the template wrote
    /// into it is left out: it means nothing in the reader's sandbox, and the page would change
    /// with every render.
    fn record(&mut self, sql: &str, gset: bool, wait: bool) {
        static OWN_PID: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let own_pid = OWN_PID.get_or_init(|| {
            Regex::new(r"(\bpid\s*=\s*|\bpg_background_\w+\()[0-9]+").expect("a valid pattern")
        });
        if self.current == "main" && !own_pid.is_match(sql) {
            // Scrubbed as the page shows it: no port or folder of this machine in the page.
            self.page.steps.push(Step {
                sql: scrub::scrub(sql.trim(), &self.literals),
                gset,
                wait,
            });
        }
    }

    /// The page as the book shows it: each example marked runnable or not, and what the page
    /// ran in its main session at its end. Which examples a reader can run is learned as a
    /// reader would: the page's main-session steps replayed in order in a fresh sandbox of the
    /// workbook, as its unprivileged role, after the page (so that the reader's workers do not
    /// show in the page's own outputs); an example runs when each statement of it ends as it
    /// did on the page (no error, or the error the page shows).
    pub fn finish_page(&mut self, text: String) -> Result<String> {
        if self.page.blocks.is_empty() {
            return Ok(text);
        }
        self.sessions.clear();
        let mut reader = Reader::open(&self.sandboxes, &self.workbook)?;
        let mut done = 0;
        for (block, (session, expected)) in self.page.blocks.iter_mut().zip(&self.block_runs) {
            block.why = match session.as_str() {
                "main" => {
                    reader.replay(&self.page.steps[done..block.first]);
                    let steps = &self.page.steps[block.first..block.end];
                    let statements: Vec<String> = steps.iter().map(|s| s.sql.clone()).collect();
                    let gset = steps.last().is_some_and(|s| s.gset);
                    done = block.end;
                    not_like_the_page(&reader.run_block(&statements, gset).codes, expected)
                }
                "fresh" => Some("пример идёт на отдельном, одноразовом сервере".into()),
                "sub" => Some("пример идёт во второй базе данных, у подписчика".into()),
                _ => Some("пример идёт во втором сеансе, рядом с основным".into()),
            };
            block.runnable = block.why.is_none();
        }
        reader.close(&self.sandboxes);
        self.sandboxes.settle();
        let mut text = text;
        for (i, block) in self.page.blocks.iter().enumerate() {
            let marker = match &block.why {
                None => format!("<div class=\"labs-example\" data-block=\"{i}\"></div>\n"),
                Some(why) => format!(
                    "<div class=\"labs-example\" data-block=\"{i}\" data-why=\"{}\"></div>\n",
                    why.replace('"', "&quot;")
                ),
            };
            text = text.replacen(&block_marker(i), &marker, 1);
        }
        Ok(format!("{}\n{}\n", text.trim_end(), self.page.to_html()))
    }

    /// Makes `name` the session the next blocks run in: `main` and any other name are sessions
    /// on the lab server in the book's database, `sub` one in the subscriber's database, and
    /// `fresh` one on the throwaway server.
    pub fn use_session(&mut self, name: &str) {
        self.current = name.to_string();
    }

    /// The connection string of the book's database over the unix socket, for dblink and
    /// CREATE SUBSCRIPTION.
    pub fn conninfo(&self) -> String {
        let host = self
            .lab
            .socket_dir
            .as_ref()
            .map_or(self.lab.host.clone(), |d| d.display().to_string());
        format!(
            "host={host} port={} user={} dbname={BOOK_DB}",
            self.lab.port, self.lab.superuser
        )
    }

    /// The throwaway server of part 1, started on first use.
    pub(super) fn fresh(&mut self) -> Result<&mut Fresh> {
        if self.fresh.is_none() {
            let fresh = Fresh::start(&self.options)?;
            self.literals
                .push((format!("port={}", fresh.server.port), "port=<порт>".into()));
            self.literals.push((
                fresh.data_dir().display().to_string(),
                "<каталог данных>".into(),
            ));
            self.fresh = Some(fresh);
        }
        Ok(self.fresh.as_mut().expect("just started"))
    }

    /// The process tree of the throwaway server.
    pub fn process_tree(&mut self) -> Result<String> {
        self.fresh()?.process_tree()
    }

    /// Stops the throwaway server and returns the log of its shutdown. The page's session on it
    /// stays connected through the shutdown (its end is part of the log) and is forgotten after.
    pub fn shutdown_log(&mut self) -> Result<String> {
        let log = self.fresh()?.shutdown_log();
        self.sessions.remove("fresh");
        log
    }

    fn session(&mut self) -> Result<&mut Session> {
        let name = self.current.clone();
        if !self.sessions.contains_key(&name) {
            let mut config = match name.as_str() {
                "fresh" => self.fresh()?.server.config("postgres"),
                "sub" => self.lab.config(BOOK_SUB_DB),
                _ => self.lab.config(BOOK_DB),
            };
            let notices = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&notices);
            // The pages are committed: messages in English whatever the server's language
            // (the lab server speaks Russian where the machine has the locale).
            config.application_name("psql").options("-c lc_messages=C");
            config.notice_callback(move |n| {
                if let Ok(mut list) = sink.lock() {
                    list.push(format_notice(&n));
                }
            });
            let client = config
                .connect(NoTls)
                .with_context(|| format!("cannot open the book's session `{name}`"))?;
            self.sessions
                .insert(name.clone(), Session { client, notices });
        }
        Ok(self.sessions.get_mut(&name).expect("just opened"))
    }

    /// Runs one statement in the current session.
    fn run_one(&mut self, sql: &str) -> Result<Outcome> {
        let sql = self.vars.substitute(sql.trim());
        let session = self.session()?;
        let types = match session.client.prepare(&sql) {
            Ok(statement) => statement
                .columns()
                .iter()
                .map(|c| c.type_().oid())
                .collect(),
            Err(_) => Vec::new(),
        };
        let result = session.client.simple_query(&sql);
        let notices = session
            .notices
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let result = result.map_err(|err| match err.as_db_error() {
            Some(db) => Failure {
                code: db.code().code().to_string(),
                text: format_error(db, &sql, &self.literals),
            },
            None => Failure {
                code: String::new(),
                text: format!("ERROR:  {err}"),
            },
        });
        Ok(Outcome::of(result, types, notices))
    }

    /// Runs the statements; what psql would print for them (scrubbed), and the SQLSTATE of the
    /// error the last one failed with, as the page expects (`fails=`).
    fn execute(&mut self, statements: &[String], show: &Show) -> Result<(String, Option<String>)> {
        let mut printed = String::new();
        let mut failed = None;
        for (i, statement) in statements.iter().enumerate() {
            let last = i + 1 == statements.len();
            let outcome = self.run_one(statement)?;
            expect_outcome(
                outcome.error.as_ref(),
                show.fails.as_deref().filter(|_| last),
                statement,
            )?;
            let keep = |n: &str| show.notices.as_ref().is_none_or(|re| re.is_match(n));
            let literals = &self.literals;
            outcome.show(&mut printed, &mut self.vars, show.gset && last, keep, |t| {
                show_table(t, &show.mask, literals).render("")
            })?;
            if let Some(error) = &outcome.error {
                failed = Some(error.code.clone());
            }
        }
        Ok((scrub::scrub(printed.trim_end(), &self.literals), failed))
    }

    /// A text as the page may show it: what changes between runs (the socket folder, ports,
    /// pids) replaced by labels, as in every captured output (a quiz's SQL, say).
    pub fn shown(&self, text: &str) -> String {
        scrub::scrub(text, &self.literals)
    }

    /// What psql would print for the statements, without the statements: the right answer of a
    /// "what will the server print?" question.
    pub fn printed(&mut self, statements: &[String], show: &Show) -> Result<String> {
        for (i, statement) in statements.iter().enumerate() {
            self.record(statement, show.gset && i + 1 == statements.len(), false);
        }
        Ok(self.execute(statements, show)?.0)
    }

    /// Runs the statements and returns the Markdown that shows them and what psql would print,
    /// errors in psql's default form followed by their SQLSTATE.
    pub fn sql(&mut self, statements: &[String], show: &Show) -> Result<String> {
        let log_start = self.log_len();
        let first = self.page.steps.len();
        for (i, statement) in statements.iter().enumerate() {
            self.record(statement, show.gset && i + 1 == statements.len(), false);
        }
        let (printed, failed) = self.execute(statements, show)?;
        let mut codes = vec![None; statements.len()];
        if let Some(last) = codes.last_mut() {
            last.clone_from(&failed);
        }
        let block = self.page.blocks.len();
        self.page.blocks.push(Block {
            first,
            end: self.page.steps.len(),
            runnable: false,
            why: None,
        });
        self.block_runs.push((self.current.clone(), codes));
        let mut shown: Vec<String> = statements.iter().map(|s| s.trim().to_string()).collect();
        if let Some(last) = shown.last_mut() {
            last.push_str(if show.gset { " \\gset" } else { ";" });
        }
        for s in shown.iter_mut().rev().skip(1) {
            s.push(';');
        }
        let code = scrub::scrub(&shown.join("\n"), &self.literals);
        let mut out = format!("{}\n```sql\n{code}\n```\n", block_marker(block));
        if !printed.is_empty() {
            out.push_str(&format!("```text\n{printed}\n```\n"));
        }
        if let Some(code) = failed {
            out.push_str(&format!("Код ошибки (SQLSTATE): `{code}`.\n"));
        }
        if let Some(pattern) = &show.log {
            let lines = self.log_lines(log_start, pattern)?;
            out.push_str(&format!(
                "Журнал сервера:\n```text\n{}\n```\n",
                lines.trim_end()
            ));
        }
        Ok(out)
    }

    /// The first table a query run silently in the current session gave (none for a command).
    fn query(&mut self, sql: &str) -> Result<Option<Table>> {
        let outcome = self.run_one(sql)?;
        if let Some(error) = outcome.error {
            bail!("the book's query failed:\n{sql}\n{}", error.text);
        }
        Ok(outcome.tables.into_iter().next())
    }

    /// The first value of the first row of a query run silently in the current session.
    pub fn value(&mut self, sql: &str) -> Result<String> {
        self.record(sql, false, false);
        self.first_value(sql)
    }

    /// `value` without recording the query among the page's steps.
    fn first_value(&mut self, sql: &str) -> Result<String> {
        Ok(self
            .query(sql)?
            .and_then(|t| t.rows.into_iter().next())
            .and_then(|r| r.into_iter().next().flatten())
            .unwrap_or_default())
    }

    /// The rows of a query run silently in the current session, each a map from column name to
    /// value (NULL as none), for the templates to compute with or to draw.
    pub fn rows(&mut self, sql: &str) -> Result<Vec<Record>> {
        self.record(sql, false, false);
        Ok(self.query(sql)?.map(|t| t.records()).unwrap_or_default())
    }

    /// Runs a statement silently; fails when it fails.
    pub fn run(&mut self, sql: &str) -> Result<()> {
        self.value(sql).map(|_| ())
    }

    /// Polls a boolean query (every 20 ms, at most `seconds`) until it says true.
    pub fn wait_until(&mut self, sql: &str, seconds: u64) -> Result<()> {
        self.record(sql, false, true);
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until {
            if self.first_value(sql)? == "t" {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("waited {seconds} s in vain for: {sql}")
    }

    fn log_len(&self) -> u64 {
        self.lab_log
            .as_ref()
            .and_then(|p| fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// The lab server's log lines written since `start` that match `pattern`, waiting (at most
    /// 5 s) until there is one: the postmaster logs a worker's exit after the worker is gone.
    fn log_lines(&self, start: u64, pattern: &Regex) -> Result<String> {
        let path = self
            .lab_log
            .as_ref()
            .context("the book's log blocks need a lab server with a log file (native backend)")?;
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let text =
                fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
            let new =
                String::from_utf8_lossy(&text[(start as usize).min(text.len())..]).into_owned();
            let lines: Vec<String> = new
                .lines()
                .filter(|l| pattern.is_match(l))
                .map(|l| scrub::scrub(l, &self.literals))
                .collect();
            if !lines.is_empty() || Instant::now() > until {
                if lines.is_empty() {
                    bail!("the server logged nothing matching `{pattern}`");
                }
                return Ok(lines.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The table with its masked columns' values replaced and every value scrubbed.
fn show_table(table: &Table, mask: &[String], literals: &[(String, String)]) -> Table {
    let mut shown = table.clone();
    for (i, column) in table.columns.iter().enumerate() {
        let masked = mask.contains(&column.name);
        for row in &mut shown.rows {
            if let Some(value) = row[i].as_mut() {
                *value = if masked {
                    format!("<{}>", column.name)
                } else {
                    scrub::scrub(value, literals)
                };
            }
        }
    }
    shown
}

/// The placeholder of example block `i` in a page's text until `finish_page` marks it.
fn block_marker(i: usize) -> String {
    format!("<!--labs-block-{i}-->")
}

/// Why an example does not run for a reader, when its statements ended otherwise in the
/// reader's sandbox (`ran`) than on the page (`page`).
fn not_like_the_page(ran: &[Option<String>], page: &[Option<String>]) -> Option<String> {
    let (ran, page) = ran.iter().zip(page).find(|(ran, page)| ran != page)?;
    Some(match (ran.as_deref(), page.as_deref()) {
        (Some("42501"), _) => {
            "нужны права суперпользователя: у роли читателя их нет (ошибка 42501)".into()
        }
        (Some(code), None) => format!("в песочнице читателя он завершается ошибкой {code}"),
        (None, Some(code)) => {
            format!(
                "в песочнице читателя он проходит без ошибки {code}, которую показывает страница"
            )
        }
        (ran, page) => format!(
            "в песочнице читателя он завершается ошибкой {}, а не {}",
            ran.unwrap_or_default(),
            page.unwrap_or_default()
        ),
    })
}

/// Drops the book's databases and roles of an earlier render, with their subscription and slot.
fn drop_leftovers(lab: &Server) -> Result<()> {
    let mut admin = lab.connect("postgres")?;
    let has_sub = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&BOOK_SUB_DB],
        )?
        .is_some();
    if has_sub {
        // A subscription keeps its database from being dropped: detach it from its slot first.
        let mut sub = lab.connect(BOOK_SUB_DB)?;
        for row in sub.query(
            "SELECT subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
             WHERE d.datname = current_database()",
            &[],
        )? {
            let name: String = row.get(0);
            sub.batch_execute(&format!(
                "ALTER SUBSCRIPTION {name} DISABLE; \
                 ALTER SUBSCRIPTION {name} SET (slot_name = NONE); \
                 DROP SUBSCRIPTION {name};"
            ))?;
        }
    }
    let until = Instant::now() + Duration::from_secs(10);
    while admin
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'labs_book%' AND active",
            &[],
        )?
        .get::<_, i64>(0)
        > 0
    {
        if Instant::now() > until {
            bail!("the book's replication slot stays active");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for statement in [
        format!("DROP DATABASE IF EXISTS {BOOK_SUB_DB} WITH (FORCE)"),
        format!("DROP DATABASE IF EXISTS {BOOK_DB} WITH (FORCE)"),
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
         WHERE slot_name LIKE 'labs_book%'"
            .to_string(),
        "DROP ROLE IF EXISTS labs_book_alice".to_string(),
        "DROP ROLE IF EXISTS labs_book_bob".to_string(),
    ] {
        admin
            .batch_execute(&statement)
            .with_context(|| format!("cannot clean up after the book: {statement}"))?;
    }
    Ok(())
}

/// A statement's error must be the one the page expects (`fails=`), and only then may it fail.
fn expect_outcome(error: Option<&Failure>, expected: Option<&str>, statement: &str) -> Result<()> {
    match (error, expected) {
        (None, None) => Ok(()),
        (Some(error), Some(code)) if error.code == code => Ok(()),
        (Some(error), Some(code)) => bail!(
            "the book's statement should fail with {code} but failed with {}:\n{statement}\n{}",
            error.code,
            error.text
        ),
        (Some(error), None) => bail!("the book's statement failed:\n{statement}\n{}", error.text),
        (None, Some(code)) => {
            bail!("the book's statement should fail with {code} but did not:\n{statement}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_fails_only_with_the_sqlstate_it_names() {
        let failure = |code: &str| Failure {
            code: code.to_string(),
            text: format!("ERROR:  {code}: something"),
        };
        assert!(expect_outcome(None, None, "SELECT 1").is_ok());
        assert!(expect_outcome(Some(&failure("57P01")), Some("57P01"), "SELECT").is_ok());
        let other = expect_outcome(Some(&failure("42P16")), Some("57P01"), "SELECT").unwrap_err();
        assert!(other
            .to_string()
            .contains("should fail with 57P01 but failed with 42P16"));
        let none = expect_outcome(None, Some("57P01"), "SELECT").unwrap_err();
        assert!(none.to_string().contains("but did not"));
        assert!(expect_outcome(Some(&failure("22012")), None, "SELECT").is_err());
    }
}
