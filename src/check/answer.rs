//! A student's answer: one SQL file, read as UTF-8, with the causes it can be unusable for; its
//! load into a run's database, and where and why it failed when it did not run.

use crate::server::session::{Session, StepError};
use crate::verdict::LoadError;
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest answer accepted; a bigger file is not an answer anyone typed.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// Reads an answer, or says in Russian, naming the file, why it cannot be used.
pub fn read(path: &Path) -> Result<String, String> {
    let bytes = read_bytes(path)?;
    decode(&path.display().to_string(), bytes)
}

/// Reads an answer file's bytes, refusing what is not a file or is too large to be an answer.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Err(format!("файл ответа `{shown}` не найден")),
    };
    if !meta.is_file() {
        return Err(format!("`{shown}` — не файл"));
    }
    if meta.len() > MAX_BYTES {
        return Err(too_large(&shown.to_string(), meta.len()));
    }
    std::fs::read(path).map_err(|e| format!("файл ответа `{shown}` не читается: {e}"))
}

/// Why a file of `len` bytes is refused.
pub fn too_large(shown: &str, len: u64) -> String {
    format!("файл ответа `{shown}` слишком велик: {len} байт, а допустимо не больше {MAX_BYTES}")
}

/// Files that are often handed in under an answer's name, by their first bytes.
const NOT_SQL: [(&[u8], &str); 5] = [
    (b"%PDF", "PDF-документ"),
    (b"PK\x03\x04", "ZIP-архив (или документ Word/LibreOffice)"),
    (b"\xd0\xcf\x11\xe0", "документ Microsoft Office"),
    (b"{\\rtf", "документ RTF"),
    (b"\x89PNG", "картинка PNG"),
];

/// Turns an answer's bytes into its text, or says in Russian why they are not a SQL text.
pub fn decode(shown: &str, bytes: Vec<u8>) -> Result<String, String> {
    if let Some((_, what)) = NOT_SQL.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err(format!(
            "файл ответа `{shown}` — это {what}, а не текст SQL; сдайте SQL-файл в кодировке UTF-8"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        format!(
            "файл ответа `{shown}` не в кодировке UTF-8 (первый неверный байт в строке {line}); \
             сохраните его как текст в UTF-8"
        )
    })?;
    if text.contains('\0') {
        return Err(format!(
            "файл ответа `{shown}` содержит нулевые байты: это не текст SQL"
        ));
    }
    if text.trim().is_empty() {
        return Err(format!("файл ответа `{shown}` пуст"));
    }
    Ok(text)
}

/// The line and column of a 1-based character position in `text` (as PostgreSQL reports it),
/// and that line without its line end. A position past the end (an error «at end of input») is
/// moved to just after the file's last word, so that it points at a line the file shows.
pub fn locate(text: &str, position: usize) -> (usize, usize, String) {
    let past_end = position.saturating_sub(1) >= text.chars().count();
    let position = if past_end {
        text.trim_end().chars().count() + 1
    } else {
        position
    };
    let before: String = text.chars().take(position.saturating_sub(1)).collect();
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[start..].chars().count() + 1;
    let source = text[start..].split('\n').next().unwrap_or("");
    (line, column, source.trim_end_matches('\r').to_string())
}

/// How long the answer file itself may take to run (it should only create functions).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(15);

/// What a check that did not run because the answer did not load says, when its verdict's
/// `load_error` tells the rest.
pub const NOT_LOADED: &str = "ваш файл не выполнился";

/// What the load of the answer `text` on `dataset` failed with, and where.
pub fn load_failure(err: &StepError, text: &str, dataset: &str) -> LoadError {
    let mut load_error = LoadError {
        line: None,
        column: None,
        source_line: None,
        message: err.describe(),
        code: None,
        timeout: false,
        datasets: vec![dataset.to_string()],
    };
    match err {
        StepError::Db {
            code,
            message,
            position,
            ..
        } => {
            load_error.message = message.clone();
            load_error.code = Some(code.clone());
            if let Some(position) = position {
                let (line, column, source) = locate(text, *position);
                load_error.line = Some(line);
                load_error.column = Some(column);
                load_error.source_line = Some(source);
            }
        }
        StepError::Timeout => {
            load_error.timeout = true;
            load_error.message = format!(
                "выполнение заняло больше {} с и было прервано (при загрузке файл должен только \
                 создавать объекты)",
                LOAD_TIMEOUT.as_secs()
            );
        }
        StepError::Lost(_) | StepError::TooMuch(_) => {}
    }
    load_error
}

/// The answer's load on one dataset: how long it took, and what the checks it stopped say.
pub struct Load {
    /// How long the file ran, counted as the student's time of the first check.
    pub time: Duration,
    /// What each check says when the file did not run (and so the check did not).
    pub failure: Option<String>,
}

/// Loads the answer `text` as the student on `dataset`. The first failure goes in `load_error`
/// (the verdict's) and the checks it stops say only that the file did not run; the same failure
/// on a later dataset adds that dataset to it; a different one (a file whose load depends on the
/// data) is said in full by each check it stops.
pub fn load(
    student: &mut Session,
    text: &str,
    dataset: &str,
    load_error: &mut Option<LoadError>,
) -> Load {
    let start = Instant::now();
    // Whatever rows the file returns are discarded as they arrive: a flood costs no memory.
    let loaded = student.execute(text, Instant::now() + LOAD_TIMEOUT);
    let time = start.elapsed();
    let failure = loaded.err().map(|err| {
        let failure = load_failure(&err, text, dataset);
        match load_error {
            None => {
                *load_error = Some(failure);
                NOT_LOADED.to_string()
            }
            Some(first) if first.same_failure(&failure) => {
                first.datasets.push(dataset.to_string());
                NOT_LOADED.to_string()
            }
            Some(_) => failure.describe(),
        }
    });
    Load { time, failure }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_become_lines() {
        let text = "SELECT 1;\r\nSELEC 2;\r\n";
        assert_eq!(locate(text, 12), (2, 1, "SELEC 2;".into()));
        assert_eq!(locate(text, 1), (1, 1, "SELECT 1;".into()));
        // Characters, not bytes, as PostgreSQL counts them.
        let text = "-- «ё»\n\tSELECT «x»;";
        assert_eq!(locate(text, 16), (2, 9, "\tSELECT «x»;".into()));
    }

    #[test]
    fn the_end_of_input_is_after_the_last_word() {
        let text = "SELECT 1;\nSELECT (\n\n";
        let end = text.chars().count() + 1;
        assert_eq!(locate(text, end), (2, 9, "SELECT (".into()));
        assert_eq!(locate("", 1), (1, 1, String::new()));
    }

    #[test]
    fn bad_files_are_named_with_their_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("lab1.sql");
        assert!(read(&missing).unwrap_err().contains("не найден"));
        std::fs::write(&missing, "  \n").unwrap();
        assert!(read(&missing).unwrap_err().contains("пуст"));
        std::fs::write(&missing, b"SELECT 1;\n\xff\xfe").unwrap();
        let err = read(&missing).unwrap_err();
        assert!(err.contains("UTF-8") && err.contains("строке 2"), "{err}");
        std::fs::write(&missing, vec![b'-'; MAX_BYTES as usize + 1]).unwrap();
        assert!(read(&missing).unwrap_err().contains("слишком велик"));
        std::fs::write(&missing, b"%PDF-1.4\n%\xe2\xe3").unwrap();
        assert!(read(&missing).unwrap_err().contains("PDF"));
    }
}
