//! `labs watch` against a real server: the first verdict, then only what changed after each save,
//! until Ctrl-C.

mod common;

use common::LabHome;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one check may take to be printed (a check of lab 1 takes some seconds).
const LIMIT: Duration = Duration::from_secs(120);

/// A running `labs watch`, its stdout a line at a time; killed when dropped.
struct Watching {
    child: Child,
    lines: Receiver<String>,
    /// Everything printed so far, for the messages of failed assertions.
    printed: String,
    /// What it said on stderr so far.
    stderr: Arc<Mutex<String>>,
}

impl Watching {
    fn start(home: &LabHome, dir: &Path, lab: &str) -> Watching {
        let mut child = home
            .command(&["watch", lab])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run labs watch");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut from, into) = (child.stderr.take().unwrap(), Arc::clone(&stderr));
        std::thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                into.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Watching {
            child,
            lines,
            printed: String::new(),
            stderr,
        }
    }

    /// The lines printed from now up to the first that starts with `marker`, included.
    fn until(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        let mut read = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|err| {
                panic!(
                    "no line starting with `{marker}` within {LIMIT:?} ({err}); printed:\n{}{read}\
                     --- stderr\n{}",
                    self.printed,
                    self.stderr.lock().unwrap()
                )
            });
            read.push_str(&line);
            read.push('\n');
            if line.starts_with(marker) {
                self.printed.push_str(&read);
                return read;
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_checks_again_on_every_save_and_says_what_changed() {
    let home = LabHome::new();
    // Kept between the commands: Ctrl-C would end a container started for the watch alone with it.
    home.run(&["server", "start"]).expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    home.run(&["init", dir.path().to_str().unwrap()])
        .expect_code(0);
    let answer = dir.path().join("answers/lab1.sql");
    let mut watch = Watching::start(&home, dir.path(), "1");

    // The starter: a wrong answer, its whole verdict.
    let first = watch.until("Слежу за");
    assert!(first.contains("Лабораторная работа 1."), "{first}");
    assert!(first.contains("✘ Все рейтинги вычислены точно"), "{first}");
    assert!(
        first.contains("Итого: ") && !first.contains("всё зачтено"),
        "{first}"
    );

    // The reference solution, saved as vim saves: a new file renamed over the old one.
    let solution = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("labs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("01_"))
        .unwrap()
        .join("solution.sql");
    let solution = std::fs::read_to_string(solution).unwrap();
    let swap = dir.path().join("answers/.lab1.sql.swp");
    std::fs::write(&swap, &solution).unwrap();
    std::fs::rename(&swap, &answer).unwrap();
    let passed = watch.until("Итого:");
    assert!(passed.contains("Файл сохранён"), "{passed}");
    assert!(
        passed.contains("✔ Все рейтинги вычислены точно, у книг без голосов остаётся NULL [данные a]: зачтено (3 из 3) — было: "),
        "{passed}"
    );
    assert!(!passed.contains('✘'), "{passed}");
    // The check that passed before is not said again.
    assert!(!passed.contains("✔ Процедура update_ratings"), "{passed}");
    assert!(passed.contains("Итого: 19 из 19 баллов (было "), "{passed}");
    assert!(passed.trim_end().ends_with("— всё зачтено."), "{passed}");

    // A line that does not run, saved by truncating and writing: said once, its place marked.
    std::fs::write(&answer, format!("{solution}\nSELEC 1;\n")).unwrap();
    let broken = watch.until("Итого:");
    assert!(
        // The server's message is in its language (Russian where the locale is); the SQLSTATE
        // stays.
        broken.contains("✘ Файл не выполнился: ошибка 42601: "),
        "{broken}"
    );
    assert!(broken.contains(" | SELEC 1;\n"), "{broken}");
    assert!(broken.contains("Поэтому не проверялись:"), "{broken}");
    assert!(
        broken.contains("Итого: 0 из 19 баллов (было 19)."),
        "{broken}"
    );

    // Ctrl-C ends the watch.
    kill(Pid::from_raw(watch.child.id() as i32), Signal::SIGINT).unwrap();
    let end = watch.until("Наблюдение остановлено.");
    assert!(!end.contains("Итого:"), "{end}");
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "labs watch did not end on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}
