//! Snapshots of what a student reads: `labs check` reports and `labs init`, from the real binary.

mod common;
mod filters;

use common::LabHome;
use std::path::Path;

fn lab_file(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("labs")
        .join(path)
        .display()
        .to_string()
}

/// The shared filters, and the answer's path.
fn settings() -> insta::Settings {
    let mut settings = filters::settings();
    settings.add_filter(r"Ответ: .*", "Ответ: [FILE]");
    settings.add_filter(r"`/[^`]*`", "`[FILE]`");
    // The server's own words for an error in the answer file: Russian or English, as the
    // server's locale allows; its SQLSTATE stays.
    settings.add_filter(
        r"(Файл не выполнился: ошибка [0-9A-Z]{5}: ).*",
        "$1[сообщение сервера]",
    );
    settings
}

#[test]
fn reports_read_well() {
    let home = LabHome::new();
    let wrong = home.run(&[
        "check",
        "3",
        "--answer",
        &lab_file("03_retry/wrong/04_probe_launch.sql"),
    ]);
    assert_eq!(wrong.code, 1, "{}", wrong.all());
    let syntax = home.path().with_file_name("syntax.sql");
    std::fs::write(&syntax, "SELECT 1;\n\nSELEC 2;\n").unwrap();
    let broken = home.run(&["check", "3", "--answer", syntax.to_str().unwrap()]);
    assert_eq!(broken.code, 1, "{}", broken.all());
    let missing = home.run(&["check", "3", "--answer", "/nonexistent/lab3.sql"]);
    assert_eq!(missing.code, 2, "{}", missing.all());
    settings().bind(|| {
        insta::assert_snapshot!("wrong_answer", wrong.stdout);
        insta::assert_snapshot!("syntax_error", broken.stdout);
        insta::assert_snapshot!("missing_file", missing.stdout);
    });
}

#[test]
fn init_makes_a_workspace_and_keeps_answers() {
    let dir = tempfile::tempdir().unwrap();
    let home = LabHome::new();
    let run = home
        .run(&["init", dir.path().to_str().unwrap()])
        .expect_code(0);
    let lab3 = std::fs::read_to_string(dir.path().join("answers/lab3.sql")).unwrap();
    assert!(lab3.starts_with("-- # Лабораторная работа 3"), "{lab3}");
    assert!(
        lab3.contains("CREATE FUNCTION pg_background_launch_retry"),
        "{lab3}"
    );
    assert!(dir.path().join("README.md").exists());
    assert!(run.stdout.contains("created"), "{}", run.all());

    std::fs::write(dir.path().join("answers/lab1.sql"), "-- my work\n").unwrap();
    let again = home
        .run(&["init", dir.path().to_str().unwrap()])
        .expect_code(0);
    assert!(again.stdout.contains("kept"), "{}", again.all());
    let lab1 = std::fs::read_to_string(dir.path().join("answers/lab1.sql")).unwrap();
    assert_eq!(lab1, "-- my work\n");
}
