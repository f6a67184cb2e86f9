//! `labs init`: a student workspace with an answer stub per lab.

use crate::lab::Lab;
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

/// Writes `answers/labN.sql` (the statement and the list of checks as a comment, then the
/// starter) and a README into `dir`, leaving every existing answer untouched.
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
        let statement = format!(
            "{}\n{}",
            lab.read("statement.md")?.trim_end(),
            checks_list(lab)
        );
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
             Проверка: `labs check N` (или `labs check all`) в этой папке; `labs watch N` \
             проверяет заново после каждого сохранения файла и показывает, что изменилось. \
             Сервер запустится сам; `labs server psql` открывает psql на нём.\n\n",
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

/// The checks and their points, from lab.toml, as the statement's last section: the statement
/// itself names none, so that the list a student reads is the one the checker runs.
fn checks_list(lab: &Lab) -> String {
    let many = lab.datasets.len() > 1;
    let mut text = String::from("\n## Проверки и баллы\n\n");
    for check in &lab.checks {
        let datasets = if !many {
            String::new()
        } else {
            let names = lab.datasets_of(check);
            let word = if names.len() == 1 {
                "набор"
            } else {
                "наборы"
            };
            format!(" за набор ({word} {})", names.join(", "))
        };
        text.push_str(&format!(
            "- `{}`: {} — {} {}{datasets}\n",
            check.id,
            check.title,
            check.points,
            points_word(check.points)
        ));
    }
    text.push_str(&format!(
        "\nВсего {} {}. Проверка: `labs check {}`; схема данных, примеры проверок и частые \
         ошибки — на странице этой лабораторной в тетради.\n",
        lab.max_points(),
        points_word(lab.max_points()),
        lab.number
    ));
    text
}

/// «балл», «балла» or «баллов» after `n`.
fn points_word(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (1, r) if r != 11 => "балл",
        (2..=4, r) if !(12..=14).contains(&r) => "балла",
        _ => "баллов",
    }
}
