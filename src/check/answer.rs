//! A student's answer: one SQL file, read as UTF-8, with the causes it can be unusable for, and
//! what its load said when it did not run.

use crate::server::session::StepError;
use std::path::Path;
use std::time::Duration;

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

/// The line and column of a 1-based character position in `text` (as PostgreSQL reports it).
pub fn line_col(text: &str, position: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for c in text.chars().take(position.saturating_sub(1)) {
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// How long the answer file itself may take to run (it should only create functions).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(15);

/// Says which line of the answer failed to load, and how.
pub fn describe_load_error(err: &StepError, text: &str) -> String {
    match err {
        StepError::Db {
            position: Some(p), ..
        } => {
            let (line, col) = line_col(text, *p);
            format!(
                "ваш файл не выполнился (строка {line}, позиция {col}): {}",
                err.describe()
            )
        }
        StepError::Timeout => format!(
            "ваш файл выполнялся дольше {} с и был прерван: при загрузке он должен только \
             создавать объекты",
            LOAD_TIMEOUT.as_secs()
        ),
        other => format!("ваш файл не выполнился: {}", other.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_become_lines() {
        let text = "SELECT 1;\nSELEC 2;\n";
        assert_eq!(line_col(text, 11), (2, 1));
        assert_eq!(line_col(text, 1), (1, 1));
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
