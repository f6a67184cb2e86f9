//! Answers written to outlive or exhaust their run, against a real server: each costs its own
//! points and nothing else. The run ends whole (no large object or run role is left in any
//! database, the reference solution passes after it, `labs grade` starts its lanes and grades
//! it) and the runner stays bounded in memory (its peak resident size, from wait4's rusage).

mod common;

use common::{LabHome, Run};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The most memory (peak resident set, in KiB) a `labs` command may take whatever the answer.
const MAX_RSS_KIB: i64 = 300 * 1024;

fn lab_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("labs")
        .join(path)
}

/// Runs `command` to its end; returns what it did and its peak resident set in KiB. The child is
/// reaped by wait4 itself, which gives its rusage (`Child::wait` would not).
#[allow(clippy::zombie_processes)]
fn measured(mut command: Command) -> (Run, i64) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run labs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut text = Vec::new();
        out.read_to_end(&mut text).unwrap();
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = Vec::new();
        err.read_to_end(&mut text).unwrap();
        text
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 fills it for this child, which
    // nothing else waits for.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { nix::libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let code = if nix::libc::WIFEXITED(status) {
        nix::libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let run = Run {
        code,
        stdout: String::from_utf8_lossy(&stdout.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    };
    (run, usage.ru_maxrss)
}

/// Checks `answer` against lab `n` as JSON (`extra` arguments too): the verdict, with what the
/// run did, asserting it lost points without a runner error and stayed within `MAX_RSS_KIB`.
fn hostile(home: &LabHome, n: &str, name: &str, answer: &str, extra: &[&str]) -> (Run, String) {
    let path = home.path().with_file_name(name);
    std::fs::write(&path, answer).unwrap();
    let mut args = vec![
        "check",
        n,
        "--format",
        "json",
        "--answer",
        path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (run, rss) = measured(home.command(&args));
    assert_eq!(run.code, 1, "{name}: exit code\n{}", run.all());
    let verdict: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}):\n{}", run.all()));
    let full: i64 = verdict["max_score"].as_i64().unwrap_or(i64::MAX);
    assert!(
        verdict["score"].as_i64().unwrap() < full,
        "{name} kept every point:\n{}",
        run.stdout
    );
    eprintln!("{name}: peak resident set {} MiB", rss / 1024);
    assert!(
        rss < MAX_RSS_KIB,
        "{name}: the runner took {} MiB\n{}",
        rss / 1024,
        run.all()
    );
    let said = common::details(&verdict);
    (run, said)
}

/// psql on the server of `home` in database `db`, as its superuser.
fn psql(home: &LabHome, db: &str, sql: &str) -> String {
    home.run(&[
        "server",
        "psql",
        "--",
        "-X",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        db,
        "-c",
        sql,
    ])
    .expect_code(0)
    .stdout
}

/// Asserts that no database of the server of `home` holds a large object and that no run role
/// is left but those of the spares, which wait, closed, for the next run.
fn nothing_left(home: &LabHome) {
    let roles = psql(
        home,
        "postgres",
        "SELECT string_agg(rolname, ' ') FROM pg_roles AS r
         WHERE rolname ~ '^(student|checker)_' AND NOT EXISTS (
             SELECT FROM pg_database
             WHERE datname LIKE 'spare\\_%' AND datname LIKE '%\\_' || split_part(r.rolname, '_', 2))",
    );
    assert_eq!(roles.trim(), "", "run roles left");
    let databases = psql(
        home,
        "postgres",
        "SELECT datname FROM pg_database WHERE datallowconn",
    );
    for db in databases.split_whitespace() {
        let objects = psql(home, db, "SELECT count(*) FROM pg_largeobject_metadata");
        assert_eq!(objects.trim(), "0", "large objects left in `{db}`");
    }
}

/// The reference solution of lab `n` still gets every point.
fn solution_passes(home: &LabHome, n: &str, file: &str) {
    let run = home.run(&["check", n, "--answer", lab_file(file).to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
}

/// An answer that opens dblink connections to `postgres` and `template1` as its own role
/// (`lab_conninfo()` with another dbname) and makes large objects there, one of 100 MB in each,
/// after one of 100 MB in its own database. It fails to load where it cannot get in.
const REACHES_OUT: &str = r#"
SELECT lo_from_bytea(0, convert_to(repeat('x', 100000000), 'UTF8'));
DO $$
DECLARE
    db text;
BEGIN
    FOREACH db IN ARRAY ARRAY['postgres', 'template1'] LOOP
        PERFORM dblink_connect('out_' || db,
            regexp_replace(lab_conninfo(), 'dbname=\S+', 'dbname=' || db));
        PERFORM * FROM dblink('out_' || db,
            'SELECT lo_from_bytea(0, convert_to(repeat(''x'', 100000000), ''UTF8''))')
            AS t(o oid);
        PERFORM * FROM dblink('out_' || db, 'SELECT lo_from_bytea(0, ''\x01'')') AS t(o oid);
    END LOOP;
END $$;
"#;

#[test]
fn an_answer_cannot_reach_the_servers_own_databases() {
    let home = LabHome::new();
    home.run(&["server", "start"]).expect_code(0);
    let (_, said) = hostile(&home, "3", "reaches_out.sql", REACHES_OUT, &[]);
    assert!(said.contains("08001"), "dblink got in:\n{said}");
    nothing_left(&home);
    solution_passes(&home, "3", "03_retry/solution.sql");
    nothing_left(&home);
}

#[test]
fn on_a_url_server_what_an_answer_made_elsewhere_is_dropped_with_its_roles() {
    if !common::native_only("on_a_url_server_what_an_answer_made_elsewhere_is_dropped") {
        return;
    }
    let owner = LabHome::new();
    owner.run(&["server", "start"]).expect_code(0);
    let env = owner.run(&["server", "env"]).expect_code(0).stdout;
    let value = |key: &str| {
        env.lines()
            .find_map(|l| l.split_once(&format!("{key}=")).map(|(_, v)| v.trim()))
            .unwrap_or_else(|| panic!("no {key} in {env}"))
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string()
    };
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/postgres",
        value("PGPASSWORD"),
        value("PGPORT")
    );
    // A server whose owner left `postgres` and `template1` open to every role
    // (after the last command on the owner's home, which closes them again).
    psql(
        &owner,
        "postgres",
        "GRANT CONNECT, TEMPORARY ON DATABASE postgres, template1 TO PUBLIC",
    );
    let user = LabHome::new();
    let (run, said) = hostile(
        &user,
        "3",
        "reaches_out.sql",
        REACHES_OUT,
        &["--server-url", &url],
    );
    assert!(
        run.stderr.contains("may connect to postgres, template1"),
        "no warning of the open databases:\n{}",
        run.all()
    );
    // The answer did get in (it loaded): what it made there was dropped with its role.
    assert!(!said.contains("не выполнился"), "{said}");
    nothing_left(&owner);
    let run = user.run(&[
        "check",
        "3",
        "--server-url",
        &url,
        "--answer",
        lab_file("03_retry/solution.sql").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    nothing_left(&owner);
    user.run(&["server", "stop"]);
}

/// Lab 3's function, raising `notices` notices of `size` characters on every call.
fn raising(notices: u32, size: u32) -> String {
    format!(
        "CREATE FUNCTION pg_background_launch_retry(sql text, queue_size integer DEFAULT 65536,
             max_attempts integer DEFAULT 10, delay interval DEFAULT '100 milliseconds')
         RETURNS integer LANGUAGE plpgsql AS $$
         BEGIN
             FOR i IN 1..{notices} LOOP RAISE NOTICE '%', repeat('x', {size}); END LOOP;
             RETURN pg_background_launch(sql, queue_size);
         END $$;"
    )
}

#[test]
fn floods_of_notices_and_a_huge_error_are_refused() {
    let home = LabHome::new();
    home.run(&["server", "start"]).expect_code(0);
    // 20 notices of 50 MB while the answer loads: the first is over the message limit.
    let (_, said) = hostile(
        &home,
        "3",
        "notices_load.sql",
        "DO $$ BEGIN FOR i IN 1..20 LOOP RAISE NOTICE '%', repeat('x', 50000000); END LOOP; \
         END $$;",
        &[],
    );
    assert!(said.contains("больше 8 МБ"), "{said}");
    // 20 notices of 5 MB in every check's call: over the step's 64 MB.
    let (_, said) = hostile(
        &home,
        "3",
        "notices_check.sql",
        &raising(20, 5_000_000),
        &[],
    );
    assert!(said.contains("больше 64 МБ"), "{said}");
    // Many small notices still arrive, each cut to its first 1000 characters.
    let (_, said) = hostile(&home, "3", "notices_many.sql", &raising(3000, 2000), &[]);
    assert!(!said.contains("остановлен"), "{said}");
    // One error of 200 MB.
    let (_, said) = hostile(
        &home,
        "3",
        "huge_error.sql",
        "CREATE FUNCTION pg_background_launch_retry(sql text, queue_size integer DEFAULT 65536,
             max_attempts integer DEFAULT 10, delay interval DEFAULT '100 milliseconds')
         RETURNS integer LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION '%', repeat('x', 200000000); END $$;",
        &[],
    );
    assert!(said.contains("больше 8 МБ"), "{said}");
    nothing_left(&home);
    solution_passes(&home, "3", "03_retry/solution.sql");
}

/// Lab 2's function, which returns 3 million rows when the scenarios call it (n = 12, in the
/// student's session: the rows come back to the runner) and a few otherwise.
const MANY_ROWS: &str = "
CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE sql AS $$
    SELECT 'pg_background', n, 1.0::float8, 1.0::float8
    FROM generate_series(1, CASE WHEN n = 12 THEN 3000000 ELSE 3 END)
$$;";

#[test]
fn a_function_returning_millions_of_rows_to_a_check_is_stopped() {
    let home = LabHome::new();
    home.run(&["server", "start"]).expect_code(0);
    let (_, said) = hostile(&home, "2", "many_rows.sql", MANY_ROWS, &[]);
    assert!(said.contains("больше 10000 строк"), "{said}");
    nothing_left(&home);
    solution_passes(&home, "2", "02_tools/solution.sql");
}

#[test]
fn grading_hostile_answers_starts_its_lanes_and_grades_them() {
    let home = LabHome::new();
    let work = home.path().with_file_name("course");
    let student = work.join("subs/4242");
    std::fs::create_dir_all(&student).unwrap();
    std::fs::write(student.join("lab2.sql"), MANY_ROWS).unwrap();
    std::fs::write(
        student.join("lab3.sql"),
        REACHES_OUT.to_string() + &raising(20, 50_000_000),
    )
    .unwrap();
    let grade = |force: &[&str]| {
        let subs = work.join("subs");
        let out = work.join("out");
        let mut args = vec![
            "grade",
            subs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--labs",
            "2,3",
            "--jobs",
            "1",
        ];
        args.extend_from_slice(force);
        let (run, rss) = measured(home.command(&args));
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(rss < MAX_RSS_KIB, "the grader took {} MiB", rss / 1024);
        run
    };
    let first = grade(&[]);
    let grades = std::fs::read_to_string(work.join("out/grades.csv")).unwrap();
    assert!(grades.contains("4242"), "{grades}");
    // A role pinned by a large object in `postgres` of the lane's server, as a run of an earlier
    // version could leave: the next grader's sweep drops both, and the lane starts.
    let line = first
        .stderr
        .lines()
        .find(|l| l.contains("grading lane(s)"))
        .unwrap_or_else(|| panic!("no lanes line in:\n{}", first.all()));
    let lane = PathBuf::from(line.rsplit('`').nth(1).unwrap()).join("1");
    let lane_psql = |sql: &str| {
        Run::from(
            Command::new(env!("CARGO_BIN_EXE_labs"))
                .env("LABS_HOME", &lane)
                .env("LABS_BACKEND", common::backend())
                .args([
                    "server",
                    "psql",
                    "--",
                    "-X",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                ])
                .arg(sql)
                .output()
                .unwrap(),
        )
        .expect_code(0)
        .stdout
    };
    lane_psql(
        "CREATE ROLE student_pinned LOGIN;
         SELECT lo_from_bytea(4242, '\\x01');
         ALTER LARGE OBJECT 4242 OWNER TO student_pinned;",
    );
    grade(&["--force"]);
    let left = lane_psql(
        "SELECT (SELECT count(*) FROM pg_roles WHERE rolname ~ '^(student|checker)_')
              + (SELECT count(*) FROM pg_largeobject_metadata)",
    );
    assert_eq!(
        left.trim(),
        "0",
        "the lane kept a run role or a large object"
    );
}
