//! `labs check` against a real server: bad answers cost their own points and nothing else.

mod common;

use common::{details, LabHome};
use std::path::{Path, PathBuf};

fn lab_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("labs")
        .join(path)
}

/// Writes an answer into the home's folder and checks it against lab `n`, as JSON.
fn check(home: &LabHome, n: &str, name: &str, answer: &[u8]) -> (common::Run, serde_json::Value) {
    let path = home.path().with_file_name(name);
    std::fs::write(&path, answer).unwrap();
    let run = home.run(&[
        "check",
        n,
        "--format",
        "json",
        "--answer",
        path.to_str().unwrap(),
    ]);
    let verdict = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.all()));
    (run, verdict)
}

/// The reference solution still gets every point: the bad answer before it left nothing behind.
fn solution_passes(home: &LabHome, n: &str, file: &str) {
    let run = home.run(&["check", n, "--answer", lab_file(file).to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn unusable_files_are_named_with_their_cause() {
    let home = LabHome::new();
    home.run(&["server", "start"]).expect_code(0);
    let (run, verdict) = check(&home, "3", "empty.sql", b"");
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(verdict["problem"].as_str().unwrap().contains("пуст"));
    assert_eq!(verdict["score"], 0);

    let (run, verdict) = check(&home, "3", "junk.sql", b"%PDF-1.4\n\xff\xd8\xff\x00junk");
    assert_eq!(run.code, 2, "{}", run.all());
    let problem = verdict["problem"].as_str().unwrap();
    assert!(
        problem.contains("UTF-8") && problem.contains("junk.sql"),
        "{problem}"
    );

    let missing = home.run(&["check", "3", "--answer", "/nonexistent/lab3.sql"]);
    assert_eq!(missing.code, 2, "{}", missing.all());
    assert!(missing.stdout.contains("не найден"), "{}", missing.all());
}

#[test]
fn a_syntax_error_names_its_line() {
    let home = LabHome::new();
    let answer = "SELECT 'ё';\r\nSELECT 2;\n\n\tSELECT «x» FROM FROM;\n";
    let (run, verdict) = check(&home, "1", "syntax.sql", answer.as_bytes());
    assert_eq!(run.code, 1, "{}", run.all());
    let said = details(&verdict);
    assert!(
        said.contains("строка 4") && said.contains("42601"),
        "{said}"
    );
    // Said once, for both datasets, in characters (the tab and the quotes are one each).
    let load_error = &verdict["load_error"];
    assert_eq!(load_error["column"], 18, "{load_error}");
    assert_eq!(load_error["source_line"], "\tSELECT «x» FROM FROM;");
    assert_eq!(load_error["datasets"], serde_json::json!(["a", "b"]));
    assert_eq!(load_error["timeout"], false);
    for r in verdict["results"].as_array().unwrap() {
        assert_eq!(
            r["message"], "Не проверялось: ваш файл не выполнился.",
            "{r}"
        );
        assert_eq!(r["status"], "error", "{r}");
    }
}

#[test]
fn hostile_answers_cost_only_their_own_points() {
    let home = LabHome::new();
    // An answer that ends its own session.
    let (run, verdict) = check(
        &home,
        "3",
        "suicide.sql",
        b"SELECT pg_terminate_backend(pg_backend_pid());",
    );
    assert_eq!(run.code, 1, "{}", run.all());
    // The server's FATAL 57P01 may not reach the client before the connection closes (through
    // Docker's port proxy it often does not): either way the session is reported as ended.
    let said = details(&verdict);
    assert!(
        said.contains("57P01") || said.contains("сеанс с сервером оборвался"),
        "{said}"
    );

    // An answer that takes every worker slot and detaches from the workers.
    let flood = b"DO $$ BEGIN FOR i IN 1..50 LOOP
        BEGIN PERFORM pg_background_detach(pg_background_launch('SELECT pg_sleep(300)'));
        EXCEPTION WHEN insufficient_resources THEN NULL; END;
    END LOOP; END $$;";
    let (run, _) = check(&home, "3", "flood.sql", flood);
    assert_eq!(run.code, 1, "{}", run.all());
    solution_passes(&home, "3", "03_retry/solution.sql");
}

#[test]
fn an_endless_answer_is_stopped() {
    let home = LabHome::new();
    let (run, verdict) = check(
        &home,
        "3",
        "loop.sql",
        b"DO $$ BEGIN LOOP PERFORM 1; END LOOP; END $$;",
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        details(&verdict).contains("прерван"),
        "{}",
        details(&verdict)
    );
    // A loop that ignores statement_timeout (it catches the cancel) is ended all the same.
    let stubborn = b"DO $$ BEGIN SET statement_timeout = 0; LOOP
        BEGIN PERFORM pg_sleep(0.01); EXCEPTION WHEN query_canceled THEN NULL; END;
    END LOOP; END $$;";
    let (run, verdict) = check(&home, "3", "stubborn.sql", stubborn);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!details(&verdict).is_empty());
    solution_passes(&home, "3", "03_retry/solution.sql");
}

#[test]
fn an_answer_that_drops_the_lab_tables_fails_alone() {
    let home = LabHome::new();
    let (run, verdict) = check(&home, "1", "drop.sql", b"DROP TABLE votes, books CASCADE;");
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(verdict["score"], 0);
    solution_passes(&home, "1", "01_ratings/solution.sql");
}

#[test]
fn the_expected_results_are_out_of_the_students_reach() {
    let home = LabHome::new();
    let cheat = b"CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE sql AS $$
    UPDATE books SET rating = e.rating FROM lab_expected.ratings AS e WHERE e.id = books.id
$$;";
    let (run, verdict) = check(&home, "1", "cheat.sql", cheat);
    assert_eq!(run.code, 1, "{}", run.all());
    let said = details(&verdict);
    // 42501: permission denied for schema lab_expected (in the server's language).
    assert!(
        said.contains("42501") && said.contains("lab_expected"),
        "{said}"
    );
    assert!(verdict["score"].as_u64().unwrap() <= 2, "{}", run.stdout);
}

/// An answer that puts its own objects in place of built-in ones is told what it changed, keeps
/// only the points of the checks that read the catalog alone, and leaves the next run as it was.
#[test]
fn a_changed_database_is_named_and_judged_no_further() {
    let home = LabHome::new();
    let mut answer = std::fs::read_to_string(lab_file("03_retry/solution.sql")).unwrap();
    answer.push_str(
        "CREATE FUNCTION pg_background_result(integer) RETURNS SETOF record LANGUAGE sql
             AS 'SELECT ROW(42)';
         CREATE TABLE mine (x integer);
         CREATE VIEW mine_view AS SELECT x FROM mine;",
    );
    let (run, verdict) = check(&home, "3", "shadow.sql", answer.as_bytes());
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(verdict["score"].as_u64(), Some(1), "{}", run.stdout);
    let said = details(&verdict);
    assert!(
        said.contains("функция public.pg_background_result(integer) носит имя встроенной функции"),
        "{said}"
    );
    assert!(
        said.contains("создано представление public.mine_view"),
        "{said}"
    );
    solution_passes(&home, "3", "03_retry/solution.sql");
}

#[test]
fn a_student_cannot_reach_templates_or_other_runs() {
    let home = LabHome::new();
    // The answer tries to open a dblink into the lab's template with its own password.
    let probe = br#"DO $$
DECLARE
    target text;
    outcome text;
BEGIN
    SELECT datname INTO target FROM pg_database WHERE datname LIKE 'tpl_lab3%' LIMIT 1;
    BEGIN
        PERFORM * FROM dblink(replace(lab_conninfo(), 'dbname=' || current_database(),
                                      'dbname=' || target), 'SELECT 1') AS t(x integer);
        outcome := 'reached ' || target;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS outcome = PG_EXCEPTION_DETAIL;
        outcome := 'refused: ' || SQLSTATE || ' ' || SQLERRM || ' ' || outcome;
    END;
    RAISE EXCEPTION 'outcome: %', outcome;
END $$;"#;
    let (run, verdict) = check(&home, "3", "probe.sql", probe);
    assert_eq!(run.code, 1, "{}", run.all());
    let said = details(&verdict);
    // dblink's 08001, and the server's refusal in its detail: permission denied for database
    // "tpl_lab3_..." (in the server's language; a wrong password would not name the database).
    assert!(said.contains("outcome: refused: 08001"), "{said}");
    assert!(said.contains("\"tpl_lab3"), "{said}");
}

#[test]
fn concurrent_runs_do_not_disturb_each_other() {
    // Lab 3 holds every worker slot while lab 2 launches workers: without the slot lock the
    // reference solutions lose points to each other.
    let home = LabHome::new();
    home.run(&["server", "start"]).expect_code(0);
    let runs: Vec<_> = ["2", "3", "3"]
        .iter()
        .map(|n| {
            let answer = lab_file(match *n {
                "2" => "02_tools/solution.sql",
                _ => "03_retry/solution.sql",
            });
            home.command(&["check", n, "--answer", answer.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in runs {
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said}");
    }
}

/// The database a run takes was cloned while the run before it ran; no one can connect to it
/// until then, and the run that takes it leaves one for the next.
#[test]
fn every_run_leaves_a_spare_database_no_one_can_enter() {
    let home = LabHome::new();
    // Kept between the commands: a container a command starts for itself goes with its spares.
    home.run(&["server", "start"]).expect_code(0);
    let spares = || {
        home.psql(
            "SELECT datname FROM pg_database WHERE datname LIKE 'spare\\_tpl\\_lab3%' \
             AND NOT datallowconn",
        )
        .split_whitespace()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    solution_passes(&home, "3", "03_retry/solution.sql");
    let first = spares();
    assert_eq!(first.len(), 1, "{first:?}");
    solution_passes(&home, "3", "03_retry/solution.sql");
    let second = spares();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first, second, "the second run did not take the spare");

    // An answer that tries to reach the spare being made for the next run is refused.
    let probe = br#"DO $$
DECLARE
    target text;
    detail text;
BEGIN
    FOR i IN 1..200 LOOP
        SELECT datname INTO target FROM pg_database WHERE datname LIKE 'spare\_%' LIMIT 1;
        EXIT WHEN target IS NOT NULL;
        PERFORM pg_sleep(0.05);
    END LOOP;
    PERFORM * FROM dblink(replace(lab_conninfo(), 'dbname=' || current_database(),
                                  'dbname=' || target), 'SELECT 1') AS t(x integer);
    RAISE EXCEPTION 'outcome: reached %', target;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE EXCEPTION 'outcome: % % %', target, SQLERRM, detail;
END $$;"#;
    let (run, verdict) = check(&home, "3", "spare.sql", probe);
    assert_eq!(run.code, 1, "{}", run.all());
    let said = details(&verdict);
    // The server's refusal in its own language: the database is not accepting connections (in
    // Russian, or transliterated where dblink's libpq has a cluster of the C character set, as in
    // the image).
    let refused = if common::server_speaks_russian() {
        ["не принимает подключения", "ne prinimaet podklyucheniya"]
    } else {
        ["is not currently accepting connections"; 2]
    };
    assert!(
        said.contains("outcome: spare_") && refused.iter().any(|r| said.contains(r)),
        "{said}"
    );
}
