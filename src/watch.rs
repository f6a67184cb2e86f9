//! `labs watch`: a lab checked on its answer file, then again each time the file is saved, with
//! only what changed printed after each check, as rustlings' watch mode does.

use crate::check::{self, answer, Snapshots};
use crate::lab::Lab;
use crate::report;
use crate::sandbox::Sandboxes;
use anyhow::{Context, Result};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How often the answer file is looked at.
const POLL: Duration = Duration::from_millis(200);

/// How long a changed file must stay as it is before it is checked: an editor's save (a write
/// after a truncate, or a new file renamed over the old) is over by then, so a save makes one
/// check.
const SETTLE: Duration = Duration::from_millis(300);

/// How long the file may be missing before the student is told: a save by rename leaves no file
/// for an instant, which is no news.
const MISSING: Duration = Duration::from_secs(2);

/// What a look at the answer file saw: a save changes its time of modification, and a second
/// save within the file system's time granularity changes its length or its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Missing,
    File {
        modified: Option<SystemTime>,
        len: u64,
        /// A hash of the bytes of a file small enough to be an answer.
        hash: u64,
    },
}

impl Seen {
    fn of(path: &Path) -> Seen {
        let Ok(meta) = std::fs::metadata(path) else {
            return Seen::Missing;
        };
        let mut hasher = DefaultHasher::new();
        if meta.is_file() && meta.len() <= answer::MAX_BYTES {
            if let Ok(bytes) = std::fs::read(path) {
                bytes.hash(&mut hasher);
            }
        }
        Seen::File {
            modified: meta.modified().ok(),
            len: meta.len(),
            hash: hasher.finish(),
        }
    }
}

/// Checks `lab` on the answer at `path` and prints the verdict; then, each time the file is
/// saved, checks it again on the same `sandboxes` and prints what changed, until `stop` is set
/// (a check under way is finished first). An error is the environment's (the server, stdout).
pub fn watch(sandboxes: &Sandboxes, lab: &Lab, path: &Path, stop: &AtomicBool) -> Result<()> {
    let shown = path.display();
    let mut seen = Seen::of(path);
    let mut last = check::run(sandboxes, lab, path, Snapshots::Compare)?;
    say(&report::text(&last))?;
    say(&format!(
        "\nСлежу за `{shown}`: после каждого сохранения проверю снова и покажу, что изменилось \
         (Ctrl-C — выход).\n"
    ))?;
    while let Some(saved) = next_save(path, &seen, stop)? {
        seen = saved;
        say("\n— Файл сохранён, проверяю снова —\n")?;
        let verdict = check::run(sandboxes, lab, path, Snapshots::Compare)?;
        say(&report::changes(&last, &verdict))?;
        last = verdict;
    }
    say("\nНаблюдение остановлено.\n")
}

/// Waits until the file at `path` is no longer as `checked` saw it and has stayed the same for
/// `SETTLE`, and returns what it is then; None once `stop` is set. A file missing for longer than
/// `MISSING` is said once and checked when it is back.
fn next_save(path: &Path, checked: &Seen, stop: &AtomicBool) -> Result<Option<Seen>> {
    let mut pending: Option<(Seen, Instant)> = None;
    let mut said_missing = false;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        std::thread::sleep(POLL);
        let now = Seen::of(path);
        if now == *checked {
            pending = None;
            continue;
        }
        match &pending {
            Some((before, since)) if *before == now => {
                if now != Seen::Missing && since.elapsed() >= SETTLE {
                    return Ok(Some(now));
                }
                if now == Seen::Missing && since.elapsed() >= MISSING && !said_missing {
                    said_missing = true;
                    say(&format!(
                        "\nФайла `{}` нет: проверю, когда он появится.\n",
                        path.display()
                    ))?;
                }
            }
            _ => pending = Some((now, Instant::now())),
        }
    }
}

/// Prints `text` as it is; an error when stdout is gone, which ends the watch.
fn say(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_is_seen_even_with_the_same_length_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab1.sql");
        assert_eq!(Seen::of(&path), Seen::Missing);
        std::fs::write(&path, "SELECT 1;").unwrap();
        let first = Seen::of(&path);
        let Seen::File { modified, .. } = first.clone() else {
            panic!("{first:?}");
        };
        std::fs::write(&path, "SELECT 2;").unwrap();
        // Some file systems keep the time in whole seconds: the bytes tell the saves apart.
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(modified.unwrap()).unwrap();
        assert_ne!(Seen::of(&path), first);
    }

    #[test]
    fn one_save_is_one_change_and_a_stop_ends_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab1.sql");
        std::fs::write(&path, "SELECT 1;").unwrap();
        let checked = Seen::of(&path);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| next_save(&path, &checked, &stop).unwrap());
            // A save by rename: the file is gone for a moment, then back with new bytes.
            let new = dir.path().join("lab1.sql.swp");
            std::fs::write(&new, "SELECT 2;").unwrap();
            std::fs::remove_file(&path).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            std::fs::rename(&new, &path).unwrap();
            assert_eq!(waiting.join().unwrap(), Some(Seen::of(&path)));
        });
        stop.store(true, Ordering::SeqCst);
        assert_eq!(next_save(&path, &Seen::of(&path), &stop).unwrap(), None);
    }
}
