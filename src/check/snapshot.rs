//! Snapshot checks: query results rendered as text, stored beside the lab in insta's `.snap`
//! format, and compared as a have/want diff.

use crate::table::Table;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// Renders the rows of a snapshot query the way psql prints them (NULL shown as `NULL`, so the
/// student sees it in a diff); `type_oids` are its columns' types, for psql's alignment.
pub fn render(messages: &[postgres::SimpleQueryMessage], type_oids: Vec<u32>) -> String {
    Table::from_messages(messages, &[type_oids])
        .first()
        .map(|table| table.render("NULL"))
        .unwrap_or_default()
}

/// The file of the snapshot of check `id` on `dataset`.
pub fn path(lab_dir: &Path, id: &str, dataset: &str) -> PathBuf {
    lab_dir
        .join("snapshots")
        .join(format!("{id}@{dataset}.snap"))
}

/// Reads a snapshot's content, or None when it was never blessed.
pub fn read(path: &Path) -> Result<Option<String>> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(None);
    };
    // insta's format: a `---` header block, then the content.
    let mut parts = text.splitn(3, "---\n");
    let (Some(""), Some(_header), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        anyhow::bail!("`{}` is not a snapshot file", path.display());
    };
    Ok(Some(body.to_string()))
}

/// Writes a snapshot in insta's format.
pub fn write(path: &Path, source: &str, expression: &str, content: &str) -> Result<()> {
    fs::create_dir_all(path.parent().expect("a snapshot lives in a folder"))?;
    let text = format!("---\nsource: {source}\nexpression: {expression}\n---\n{content}");
    fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

/// A unified have/want diff, or None when equal.
pub fn diff(want: &str, have: &str) -> Option<String> {
    if want == have {
        return None;
    }
    Some(
        similar::TextDiff::from_lines(want, have)
            .unified_diff()
            .context_radius(3)
            .header("ожидалось (want)", "получено (have)")
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_and_diff() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "rows", "a");
        write(
            &file,
            "labs/x/lab.toml",
            "rows@a",
            " id\n----\n 1\n(1 row)\n",
        )
        .unwrap();
        let body = read(&file).unwrap().unwrap();
        assert_eq!(body, " id\n----\n 1\n(1 row)\n");
        assert!(diff(&body, &body).is_none());
        let d = diff(&body, " id\n----\n 2\n(1 row)\n").unwrap();
        assert!(d.contains("- 1") && d.contains("+ 2"), "{d}");
        assert!(read(&dir.path().join("none.snap")).unwrap().is_none());
    }
}
