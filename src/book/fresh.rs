//! A throwaway PostgreSQL server in a temporary home, made for the book: its process tree while
//! it runs, and the log of its real shutdown.

use super::scrub;
use crate::home::Home;
use crate::server::{self, Server, ServerOptions};
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The throwaway server and its home folder, removed when dropped.
pub struct Fresh {
    pub server: Server,
    home: Home,
    running: bool,
}

impl Fresh {
    /// Makes and starts a new cluster in a new temporary folder.
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
        // An autovacuum worker may start at any moment; a day's nap keeps the snapshots of the
        // process tree stable (the page says so).
        let mut client = server.connect("postgres")?;
        client.batch_execute("ALTER SYSTEM SET autovacuum_naptime = '1d'")?;
        client.batch_execute("SELECT pg_reload_conf()")?;
        Ok(Fresh {
            server,
            home,
            running: true,
        })
    }

    /// The process tree of the server, as `ps --forest` would draw it: the postmaster and its
    /// children in the order they started, pids left out (they change from run to run).
    pub fn process_tree(&self) -> Result<String> {
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
        let mut out = format!(
            "{}\n",
            scrub::scrub(
                &command_line(postmaster),
                &[(data.display().to_string(), "<каталог данных>".into())]
            )
        );
        for (i, (_, _, command)) in children.iter().enumerate() {
            let branch = if i + 1 == children.len() {
                "└─"
            } else {
                "├─"
            };
            out.push_str(&format!("{branch} {}\n", scrub::scrub(command, &[])));
        }
        Ok(out)
    }

    /// Stops the server with a fast shutdown (as `labs server stop` does) while it logs at
    /// `debug3`, and returns what its log says from the shutdown request on: every LOG line
    /// and every process's `exit(N)`. The processes that the postmaster signals at once exit in
    /// no fixed order; their lines are sorted by process name so that the page stays stable.
    pub fn shutdown_log(&mut self) -> Result<String> {
        let mut client = self.server.connect("postgres")?;
        client.batch_execute("ALTER SYSTEM SET log_min_messages = debug3")?;
        client.batch_execute("SELECT pg_reload_conf()")?;
        drop(client);
        let log = self.home.log_file();
        wait_for_log(&log, "parameter \"log_min_messages\" changed")?;
        // Wait until our session's backend is gone, so the log has no client in it.
        std::thread::sleep(Duration::from_millis(200));
        let before = fs::read_to_string(&log).unwrap_or_default().len();
        server::stop(&self.home)?;
        self.running = false;
        let text =
            fs::read_to_string(&log).with_context(|| format!("cannot read `{}`", log.display()))?;
        Ok(select_shutdown(&text[before..]))
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

/// The lines of a debug3 shutdown log the book shows, scrubbed.
fn select_shutdown(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("shutdown request"))
        .filter(|l| {
            l.contains(" LOG: ") || l.ends_with("DEBUG:  exit(0)") || l.ends_with("DEBUG:  exit(1)")
        })
        .collect();
    // The group signalled at once: between "aborting any active transactions" and the
    // checkpointer's "shutting down".
    let start = lines
        .iter()
        .position(|l| l.contains("aborting any active transactions"))
        .map_or(0, |i| i + 1);
    let end = lines
        .iter()
        .position(|l| l.contains("checkpointer LOG:  shutting down"))
        .unwrap_or(lines.len())
        .max(start);
    let strip = |l: &str| -> String {
        // Drop the timestamp and pid of the prefix: `<time> [pid] type LEVEL:  message`.
        let rest = l.split_once("] ").map_or(l, |(_, r)| r);
        let rest = if rest.contains("checkpoint complete") {
            scrub::numbers(rest)
        } else {
            rest.to_string()
        };
        scrub::scrub(&rest, &[])
    };
    let mut group: Vec<String> = lines[start..end].iter().map(|l| strip(l)).collect();
    group.sort_by_key(|l| (!l.ends_with(")"), l.clone()));
    let mut out: Vec<String> = lines[..start].iter().map(|l| strip(l)).collect();
    out.extend(group);
    out.extend(lines[end..].iter().map(|l| strip(l)));
    out.join("\n") + "\n"
}

/// Polls the log (at most 10 s) until it contains `text`.
fn wait_for_log(log: &Path, text: &str) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if fs::read_to_string(log).unwrap_or_default().contains(text) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("`{}` never said `{text}`", log.display())
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

    /// Lines of a real debug3 fast shutdown of PostgreSQL 15, shortened.
    const LOG: &str = "\
2026-11-24 00:29:50.570 UTC [15857] postmaster LOG:  received fast shutdown request
2026-11-24 00:29:50.570 UTC [15857] postmaster LOG:  aborting any active transactions
2026-11-24 00:29:50.570 UTC [15860] background writer DEBUG:  exit(0)
2026-11-24 00:29:50.573 UTC [15864] logical replication launcher DEBUG:  exit(1)
2026-11-24 00:29:50.574 UTC [15862] walwriter DEBUG:  exit(0)
2026-11-24 00:29:50.574 UTC [15862] walwriter DEBUG:  proc_exit(-1): 0 callbacks to make
2026-11-24 00:29:50.576 UTC [15863] autovacuum launcher DEBUG:  exit(0)
2026-11-24 00:29:50.586 UTC [15857] postmaster LOG:  background worker \"logical replication launcher\" (PID 15864) exited with exit code 1
2026-11-24 00:29:50.594 UTC [15859] checkpointer LOG:  shutting down
2026-11-24 00:29:50.594 UTC [15859] checkpointer LOG:  checkpoint starting: shutdown immediate
2026-11-24 00:29:50.595 UTC [15859] checkpointer LOG:  checkpoint complete: wrote 3 buffers (0.0%); write=0.001 s
2026-11-24 00:29:50.595 UTC [15859] checkpointer DEBUG:  exit(0)
2026-11-24 00:29:50.600 UTC [15857] postmaster LOG:  database system is shut down
2026-11-24 00:29:50.600 UTC [15857] postmaster DEBUG:  exit(0)
";

    #[test]
    fn the_shutdown_log_is_selected_and_ordered() {
        assert_eq!(
            select_shutdown(LOG),
            "postmaster LOG:  received fast shutdown request\n\
             postmaster LOG:  aborting any active transactions\n\
             autovacuum launcher DEBUG:  exit(0)\n\
             background writer DEBUG:  exit(0)\n\
             logical replication launcher DEBUG:  exit(1)\n\
             walwriter DEBUG:  exit(0)\n\
             postmaster LOG:  background worker \"logical replication launcher\" (PID <pid>) exited with exit code 1\n\
             checkpointer LOG:  shutting down\n\
             checkpointer LOG:  checkpoint starting: shutdown immediate\n\
             checkpointer LOG:  checkpoint complete: wrote N buffers (N%); write=N s\n\
             checkpointer DEBUG:  exit(0)\n\
             postmaster LOG:  database system is shut down\n\
             postmaster DEBUG:  exit(0)\n"
        );
    }
}
