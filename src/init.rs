//! `labs init`: a student workspace with an answer stub per lab.

use crate::lab::Lab;
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

/// Writes `answers/labN.sql` (the statement as a comment, then the starter) and a README into
/// `dir`, leaving every existing answer untouched.
pub fn init(dir: &Path, labs: &[Lab]) -> Result<()> {
    let answers = dir.join("answers");
    fs::create_dir_all(&answers)
        .with_context(|| format!("cannot create `{}`", answers.display()))?;
    for lab in labs {
        let path = answers.join(format!("lab{}.sql", lab.number));
        if path.exists() {
            println!("kept     {} (already there)", path.display());
            continue;
        }
        let statement = lab.read("statement.md")?;
        let mut text = String::new();
        for line in statement.lines() {
            text.push_str(if line.is_empty() { "--" } else { "-- " });
            text.push_str(line);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&lab.read("starter.sql")?);
        fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
        println!("created  {}", path.display());
    }
    let readme = dir.join("README.md");
    if !readme.exists() {
        let mut text = String::from(
            "# Лабораторные работы: фоновые процессы в PostgreSQL\n\n\
             Ответы пишутся в `answers/labN.sql`: в начале каждого файла — условие задачи.\n\
             Проверка: `labs check N` (или `labs check all`) в этой папке. Сервер запустится \
             сам; `labs server psql` открывает psql на нём.\n\n",
        );
        for lab in labs {
            text.push_str(&format!(
                "- Лабораторная работа {}: {} — `answers/lab{}.sql`\n",
                lab.number, lab.title, lab.number
            ));
        }
        fs::write(&readme, text).with_context(|| format!("cannot write `{}`", readme.display()))?;
        println!("created  {}", readme.display());
    }
    Ok(())
}
