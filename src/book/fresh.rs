//! A throwaway PostgreSQL server in a temporary home, made for the book: its process tree while
//! it runs, and the log of its real shutdown, as text and as data for the diagrams.

use super::scrub;
use crate::server::home::Home;
use crate::server::{self, Server, ServerOptions};
use anyhow::{Context, Result};
use regex::Regex;
use serde::Serialize;
use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The throwaway server and its home folder, removed when dropped.
pub struct Fresh {
    pub server: Server,
    home: Home,
    running: bool,
    /// The lines of its shutdown the book shows, once it was stopped.
    shutdown: Option<Vec<Event>>,
}

/// One process of the running server.
#[derive(Clone, Debug, Serialize)]
pub struct Process {
    /// `p0` for the postmaster, `p1`, `p2`… for its children in the order they started.
    pub id: String,
    /// The parent's id (`none` for the postmaster).
    pub parent: String,
    /// The process title as `ps` shows it, scrubbed (no pids, no folders).
    pub title: String,
}

/// One line of the shutdown log the book shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// The process that wrote it, as the log prefix names it (`%b`): `postmaster`, `checkpointer`…
    pub process: String,
    /// Its level as the log writes it: `LOG`, `FATAL`, `DEBUG`, `STATEMENT`.
    pub level: String,
    /// The message, scrubbed (pids as `<pid>`, the checkpoint's figures as `N`).
    pub message: String,
    /// The step of the shutdown the line belongs to: 1 the request, 2 the processes signalled at
    /// once, 3 the checkpointer's shutdown checkpoint up to its exit, 4 what follows its exit.
    pub step: u32,
    /// The line's place in the log as written (in step 2 it changes from run to run: for checks,
    /// never for printing).
    pub seq: usize,
    /// Milliseconds since the shutdown request (changes from run to run: for checks only).
    pub ms: i64,
}

impl Event {
    /// The line as the page prints it: `process LEVEL:  message`.
    pub fn line(&self) -> String {
        format!("{} {}:  {}", self.process, self.level, self.message)
    }
}

/// The settings of the throwaway server, set with ALTER SYSTEM and applied by a restart before
/// anything is shown, so that every process has them from its start (a session reads a reloaded
/// setting only at its next command, and a sleeping worker never): an autovacuum worker may
/// start at any moment, and a day's nap keeps the process tree stable; an archiver that archives
/// nowhere (`/bin/true` reports success and copies nothing) shows where the archiver's end falls
/// in the shutdown; at `debug3` every process logs its `exit(N)`; `lc_messages = C` keeps the log
/// in English whatever the machine's locales (a native lab server speaks Russian where it can),
/// since the page picks its lines by their words and is committed. The page reads them back.
const SETTINGS: [(&str, &str); 5] = [
    ("autovacuum_naptime", "1d"),
    ("archive_mode", "on"),
    ("archive_command", "/bin/true"),
    ("log_min_messages", "debug3"),
    ("lc_messages", "C"),
];

impl Fresh {
    /// Makes and starts a new cluster in a new temporary folder, with the book's settings.
    pub fn start(options: &ServerOptions) -> Result<Fresh> {
        let root = std::env::temp_dir().join(format!("pgbg-book-{}", std::process::id()));
        if root.exists() {
            fs::remove_dir_all(&root)
                .with_context(|| format!("cannot remove `{}`", root.display()))?;
        }
        let home = Home::at(root);
        let options = ServerOptions {
            pg_bin: options.pg_bin.clone(),
            ..ServerOptions::default()
        };
        let server = server::native::start(&home, &options)
            .context("cannot start the book's throwaway server")?;
        let mut client = server.connect("postgres")?;
        for (name, value) in SETTINGS {
            client.batch_execute(&format!(
                "ALTER SYSTEM SET {name} = '{}'",
                value.replace('\'', "''")
            ))?;
        }
        drop(client);
        // archive_mode is read only at start.
        server::stop(&home)?;
        let server = server::native::start(&home, &options)
            .context("cannot restart the book's throwaway server")?;
        Ok(Fresh {
            server,
            home,
            running: true,
            shutdown: None,
        })
    }

    /// The processes of the server: the postmaster and its children in the order they started,
    /// pids left out (they change from run to run).
    pub fn processes(&self) -> Result<Vec<Process>> {
        let data = self.home.data_dir();
        let pid_file = data.join("postmaster.pid");
        let text = fs::read_to_string(&pid_file)
            .with_context(|| format!("cannot read `{}`", pid_file.display()))?;
        let postmaster: u32 = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .with_context(|| format!("`{}` names no pid", pid_file.display()))?;
        let mut children: Vec<(u64, u32, String)> = Vec::new();
        for entry in fs::read_dir("/proc").context("cannot read /proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Some((ppid, started)) = parent_and_start(pid) {
                if ppid == postmaster {
                    children.push((started, pid, command_line(pid)));
                }
            }
        }
        children.sort();
        let mut out = vec![Process {
            id: "p0".into(),
            parent: "none".into(),
            title: scrub::scrub(
                &command_line(postmaster),
                &[(data.display().to_string(), "<каталог данных>".into())],
            ),
        }];
        for (i, (_, _, command)) in children.iter().enumerate() {
            out.push(Process {
                id: format!("p{}", i + 1),
                parent: "p0".into(),
                title: scrub::scrub(command, &[]),
            });
        }
        Ok(out)
    }

    /// The process tree of the server, as `ps --forest` would draw it.
    pub fn process_tree(&self) -> Result<String> {
        let processes = self.processes()?;
        let mut out = String::new();
        for (i, p) in processes.iter().enumerate() {
            let branch = match i {
                0 => "",
                _ if i + 1 == processes.len() => "└─ ",
                _ => "├─ ",
            };
            out.push_str(&format!("{branch}{}\n", p.title));
        }
        Ok(out)
    }

    /// The lines of the shutdown the book shows, stopping the server first when it still runs.
    ///
    /// The server is stopped with a fast shutdown (as `labs server stop` does); it logs at
    /// `debug3` since its start. The sessions that the page keeps open stay connected, so that
    /// their ends are in the log.
    pub fn shutdown_events(&mut self) -> Result<Vec<Event>> {
        if let Some(events) = &self.shutdown {
            return Ok(events.clone());
        }
        let log = self.home.log_file();
        let before = fs::read(&log).unwrap_or_default().len();
        server::stop(&self.home)?;
        self.running = false;
        let text = fs::read(&log).with_context(|| format!("cannot read `{}`", log.display()))?;
        let events = select_shutdown(&String::from_utf8_lossy(&text[before.min(text.len())..]));
        self.shutdown = Some(events.clone());
        Ok(events)
    }

    /// The log of the shutdown as the page prints it, one line per event.
    pub fn shutdown_log(&mut self) -> Result<String> {
        let events = self.shutdown_events()?;
        Ok(events.iter().map(|e| e.line() + "\n").collect())
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.home.data_dir()
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if self.running {
            let _ = server::stop(&self.home);
        }
        let _ = fs::remove_dir_all(self.home.root());
    }
}

/// A line of the log: `<date> <time> UTC [pid] <process> <LEVEL>:  <message>`.
fn parse_line(line: &str) -> Option<(i64, String, String, String)> {
    static LINE: OnceLock<Regex> = OnceLock::new();
    let re = LINE.get_or_init(|| {
        Regex::new(
            r"^\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d)\.(\d{3}) \S+ \[\d+\] (.*?) ?(LOG|FATAL|DEBUG|STATEMENT|ERROR|WARNING|DETAIL|HINT|CONTEXT|PANIC):  (.*)$",
        )
        .expect("a valid pattern")
    });
    let c = re.captures(line)?;
    let n = |i: usize| c[i].parse::<i64>().unwrap_or(0);
    let ms = ((n(1) * 60 + n(2)) * 60 + n(3)) * 1000 + n(4);
    Some((ms, c[5].to_string(), c[6].to_string(), c[7].to_string()))
}

/// Whether the book shows a line of a debug3 shutdown log: every LOG, FATAL and STATEMENT line;
/// of the DEBUG lines only each process's `exit(N)`, a process saying it is `shutting down`, and
/// the postmaster noting that a child `exited with exit code N`.
fn shown(level: &str, message: &str) -> bool {
    match level {
        "LOG" | "FATAL" | "STATEMENT" => true,
        "DEBUG" => {
            (message.starts_with("exit(") && message.ends_with(')'))
                || message.ends_with("shutting down")
                || message.contains("exited with exit code")
        }
        _ => false,
    }
}

/// The lines of a debug3 shutdown log the book shows, scrubbed, in a stable order: the
/// processes that the postmaster signals at once exit in no fixed order, so in step 2 each
/// process's lines stay together in their own order, processes by name, and the postmaster's
/// notes on its children (sorted) come last.
fn select_shutdown(text: &str) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    let mut first_ms: Option<i64> = None;
    let mut step = 1;
    let mut started = false;
    for line in text.lines() {
        let Some((ms, process, level, message)) = parse_line(line) else {
            continue;
        };
        if !started {
            if !message.contains("shutdown request") {
                continue;
            }
            started = true;
        }
        if !shown(&level, &message) {
            continue;
        }
        let first = *first_ms.get_or_insert(ms);
        // A shutdown that spans midnight.
        let ms = if ms < first { ms + 86_400_000 } else { ms } - first;
        if process == "checkpointer" && message == "shutting down" {
            step = 3;
        }
        let this_step = step;
        let message = if message.starts_with("checkpoint complete") {
            scrub::numbers(&message)
        } else {
            scrub::scrub(&message, &[])
        };
        let seq = events.len();
        let is_checkpointer_exit = process == "checkpointer" && message.starts_with("exit(");
        let is_abort = message.contains("aborting any active transactions");
        events.push(Event {
            process,
            level,
            message,
            step: this_step,
            seq,
            ms,
        });
        if is_abort {
            step = 2;
        }
        if is_checkpointer_exit {
            step = 4;
        }
    }
    let key = |e: &Event| {
        let postmaster = e.process == "postmaster";
        (
            e.step,
            e.step == 2 && postmaster,
            if e.step == 2 {
                e.process.clone()
            } else {
                String::new()
            },
            if e.step == 2 && postmaster {
                e.message.clone()
            } else {
                String::new()
            },
            e.seq,
        )
    };
    events.sort_by_key(key);
    events
}

/// The parent pid and the start time (in clock ticks) of a process, from /proc/PID/stat.
fn parent_and_start(pid: u32) -> Option<(u32, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state, ppid, ..., field 22 is the start time.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// The command line of a process (its process title, for PostgreSQL's children), with the
/// program's folder left out.
fn command_line(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let text = text.trim().to_string();
    match text.split_once(' ') {
        Some((program, rest)) if program.starts_with('/') => {
            let name = program.rsplit('/').next().unwrap_or(program);
            format!("{name} {rest}")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of a real debug3 fast shutdown of PostgreSQL 15 with a client, a pg_background
    /// worker and an archiver, shortened.
    const LOG: &str = "\
2026-12-04 18:55:53.718 UTC [16143] postmaster LOG:  received fast shutdown request
2026-12-04 18:55:53.728 UTC [16143] postmaster LOG:  aborting any active transactions
2026-12-04 18:55:53.728 UTC [16155] autovacuum launcher DEBUG:  autovacuum launcher shutting down
2026-12-04 18:55:53.728 UTC [16154] walwriter DEBUG:  exit(0)
2026-12-04 18:55:53.728 UTC [16154] walwriter DEBUG:  proc_exit(-1): 0 callbacks to make
2026-12-04 18:55:53.728 UTC [16155] autovacuum launcher DEBUG:  exit(0)
2026-12-04 18:55:53.730 UTC [16151] background writer DEBUG:  exit(0)
2026-12-04 18:55:53.735 UTC [16278] client backend FATAL:  terminating connection due to administrator command
2026-12-04 18:55:53.735 UTC [16278] client backend DEBUG:  exit(1)
2026-12-04 18:55:53.737 UTC [16143] postmaster DEBUG:  server process (PID 16278) exited with exit code 1
2026-12-04 18:55:53.737 UTC [16157] logical replication launcher DEBUG:  logical replication launcher shutting down
2026-12-04 18:55:53.737 UTC [16157] logical replication launcher DEBUG:  exit(1)
2026-12-04 18:55:53.739 UTC [16143] postmaster LOG:  background worker \"logical replication launcher\" (PID 16157) exited with exit code 1
2026-12-04 18:55:53.739 UTC [16279] pg_background FATAL:  terminating background worker \"pg_background\" due to administrator command
2026-12-04 18:55:53.739 UTC [16279] pg_background STATEMENT:  SELECT pg_sleep(600)
2026-12-04 18:55:53.739 UTC [16279] pg_background DEBUG:  exit(1)
2026-12-04 18:55:53.741 UTC [16143] postmaster DEBUG:  unregistering background worker \"pg_background worker for PID 16278\"
2026-12-04 18:55:53.741 UTC [16143] postmaster LOG:  background worker \"pg_background\" (PID 16279) exited with exit code 1
2026-12-04 18:55:53.741 UTC [16150] checkpointer LOG:  shutting down
2026-12-04 18:55:53.768 UTC [16156] archiver DEBUG:  executing archive command \"/bin/true\"
2026-12-04 18:55:53.769 UTC [16150] checkpointer LOG:  checkpoint starting: shutdown immediate
2026-12-04 18:55:53.780 UTC [16156] archiver DEBUG:  archived write-ahead log file \"000000010000000000000001\"
2026-12-04 18:55:54.080 UTC [16150] checkpointer LOG:  checkpoint complete: wrote 95 buffers (0.6%); write=0.026 s
2026-12-04 18:55:54.080 UTC [16150] checkpointer DEBUG:  exit(0)
2026-12-04 18:55:54.083 UTC [16156] archiver DEBUG:  archiver process shutting down
2026-12-04 18:55:54.083 UTC [16156] archiver DEBUG:  exit(0)
2026-12-04 18:55:54.095 UTC [16143] postmaster LOG:  database system is shut down
2026-12-04 18:55:54.095 UTC [16143] postmaster DEBUG:  exit(0)
";

    #[test]
    fn the_shutdown_log_is_selected_and_ordered() {
        let events = select_shutdown(LOG);
        let text: String = events
            .iter()
            .map(|e| format!("{} {}\n", e.step, e.line()))
            .collect();
        assert_eq!(
            text,
            "1 postmaster LOG:  received fast shutdown request\n\
             1 postmaster LOG:  aborting any active transactions\n\
             2 autovacuum launcher DEBUG:  autovacuum launcher shutting down\n\
             2 autovacuum launcher DEBUG:  exit(0)\n\
             2 background writer DEBUG:  exit(0)\n\
             2 client backend FATAL:  terminating connection due to administrator command\n\
             2 client backend DEBUG:  exit(1)\n\
             2 logical replication launcher DEBUG:  logical replication launcher shutting down\n\
             2 logical replication launcher DEBUG:  exit(1)\n\
             2 pg_background FATAL:  terminating background worker \"pg_background\" due to administrator command\n\
             2 pg_background STATEMENT:  SELECT pg_sleep(600)\n\
             2 pg_background DEBUG:  exit(1)\n\
             2 walwriter DEBUG:  exit(0)\n\
             2 postmaster LOG:  background worker \"logical replication launcher\" (PID <pid>) exited with exit code 1\n\
             2 postmaster LOG:  background worker \"pg_background\" (PID <pid>) exited with exit code 1\n\
             2 postmaster DEBUG:  server process (PID <pid>) exited with exit code 1\n\
             3 checkpointer LOG:  shutting down\n\
             3 checkpointer LOG:  checkpoint starting: shutdown immediate\n\
             3 checkpointer LOG:  checkpoint complete: wrote N buffers (N%); write=N s\n\
             3 checkpointer DEBUG:  exit(0)\n\
             4 archiver DEBUG:  archiver process shutting down\n\
             4 archiver DEBUG:  exit(0)\n\
             4 postmaster LOG:  database system is shut down\n\
             4 postmaster DEBUG:  exit(0)\n"
        );
        // The time offsets count from the request.
        assert_eq!(events[0].ms, 0);
        assert_eq!(events.last().unwrap().ms, 377);
        // Each line keeps its place in the log as written.
        let walwriter = events.iter().find(|e| e.process == "walwriter").unwrap();
        assert_eq!(walwriter.seq, 3);
    }
}
