//! The docker and url backends against real servers: a kept container is reused and removed by
//! `labs server stop`, a container started for one command goes with it (Ctrl-C too), and a
//! url server is used without dropping what the runner did not make.
//! The docker tests run when LABS_TEST_BACKEND=docker (CI runs both passes).

mod common;

use common::{backend, native_only, LabHome};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn solution(lab: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("labs")
        .join(lab)
        .join("solution.sql")
        .display()
        .to_string()
}

/// Whether this pass tests the docker backend; says so when it does not.
fn docker_pass(test: &str) -> bool {
    let docker = backend() == "docker";
    if !docker {
        eprintln!("skipped `{test}`: set LABS_TEST_BACKEND=docker to test the docker backend");
    }
    docker
}

/// `docker ARGS`, its stdout when it succeeded.
fn docker(args: &[&str]) -> Option<String> {
    let out = Command::new("docker").args(args).output().unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The names of this machine's containers that a `labs` process `pid` started for itself.
fn one_shot_containers(pid: u32) -> Vec<String> {
    docker(&["ps", "--all", "--format", "{{.Names}}"])
        .unwrap_or_default()
        .lines()
        .filter(|n| n.starts_with("pgbg-labs-run-") && n.contains(&format!("-{pid}-")))
        .map(str::to_string)
        .collect()
}

/// The container of the server saved in `home`.
fn saved_container(home: &LabHome) -> String {
    let text = std::fs::read_to_string(home.path().join("server.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["backend"], "docker", "{text}");
    saved["container"].as_str().unwrap().to_string()
}

#[test]
fn a_kept_container_is_reused_then_removed_by_stop() {
    if !docker_pass("a_kept_container_is_reused_then_removed_by_stop") {
        return;
    }
    let home = LabHome::new();
    let started = home
        .run(&["server", "start", "--backend", "docker"])
        .expect_code(0);
    assert!(
        started.stdout.contains("docker lab server started"),
        "{}",
        started.all()
    );
    let id = saved_container(&home);
    let running = docker(&["inspect", "--format", "{{.State.Running}}", &id]);
    assert_eq!(running.as_deref().map(str::trim), Some("true"));

    let again = home.run(&["server", "start"]).expect_code(0);
    assert!(again.stdout.contains("already running"), "{}", again.all());
    assert_eq!(saved_container(&home), id);

    let checked = home
        .run(&["check", "3", "--answer", &solution("03_retry")])
        .expect_code(0);
    assert!(
        checked.stderr.contains("using the docker lab server"),
        "{}",
        checked.all()
    );
    // Another backend is refused while this one runs.
    let other = home
        .run(&["server", "start", "--backend", "native"])
        .expect_code(2);
    assert!(other.stderr.contains("labs server stop"), "{}", other.all());

    home.run(&["server", "stop"]).expect_code(0);
    assert!(
        docker(&["inspect", &id]).is_none(),
        "container {id} is left"
    );
    home.run(&["server", "status"]).expect_code(1);
}

#[test]
fn a_container_for_one_command_goes_with_it_also_after_ctrl_c() {
    if !docker_pass("a_container_for_one_command_goes_with_it_also_after_ctrl_c") {
        return;
    }
    let home = LabHome::new();
    let child = home
        .command(&["check", "3", "--answer", &solution("03_retry")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = common::Run::from(child.wait_with_output().unwrap()).expect_code(0);
    assert!(
        run.stderr.contains("removed when this command ends"),
        "{}",
        run.all()
    );
    assert!(one_shot_containers(pid).is_empty());
    assert!(!home.path().join("server.json").exists());

    // Interrupted while it builds lab 1's template.
    let child = home
        .command(&["check", "1", "--answer", &solution("01_ratings")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let until = Instant::now() + Duration::from_secs(60);
    while one_shot_containers(pid).is_empty() {
        assert!(
            Instant::now() < until,
            "no container appeared for pid {pid}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        one_shot_containers(pid).is_empty(),
        "left: {:?}\n{}",
        one_shot_containers(pid),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `KEY='value'` lines of `labs server env` as a lookup.
fn env_value(env: &str, key: &str) -> String {
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("export {key}='")))
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no {key} in {env}"))
        .to_string()
}

#[test]
fn the_url_backend_uses_a_server_it_did_not_start() {
    if !native_only("the_url_backend_uses_a_server_it_did_not_start") {
        return;
    }
    let owner = LabHome::new();
    owner.run(&["server", "start"]).expect_code(0);
    let env = owner.run(&["server", "env"]).expect_code(0).stdout;
    let port = env_value(&env, "PGPORT");
    let password = env_value(&env, "PGPASSWORD");
    let psql = |sql: &str| {
        owner
            .run(&[
                "server",
                "psql",
                "--",
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .expect_code(0)
            .stdout
    };
    psql("CREATE DATABASE keep_me");
    psql("CREATE ROLE weak LOGIN PASSWORD 'weakpw1'");
    // The runner takes CONNECT on `postgres` from PUBLIC on the servers it owns.
    psql("GRANT CONNECT ON DATABASE postgres TO weak");
    let url = format!("postgres://postgres:{password}@127.0.0.1:{port}/postgres");

    let user = LabHome::new();
    let run = user
        .run(&[
            "check",
            "3",
            "--server-url",
            &url,
            "--answer",
            &solution("03_retry"),
        ])
        .expect_code(0);
    assert!(
        run.stderr.contains("started a url lab server"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains(&password), "the password was printed");
    assert_eq!(
        psql("SELECT count(*) FROM pg_database WHERE datname = 'keep_me'").trim(),
        "1"
    );
    let left = psql(
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'run\\_%'
         UNION ALL SELECT count(*) FROM pg_roles WHERE rolname ~ '^(student|checker)_'",
    );
    assert_eq!(left.split_whitespace().collect::<Vec<_>>(), ["0", "0"]);

    // Kept for the next commands, and only forgotten by `stop`: the owner's server runs on.
    user.run(&["server", "start", "--server-url", &url])
        .expect_code(0);
    let status = user.run(&["server", "status"]).expect_code(0);
    assert!(
        status.stdout.contains("backend:        url"),
        "{}",
        status.all()
    );
    user.run(&["server", "stop"]).expect_code(0);
    owner.run(&["server", "status"]).expect_code(0);

    let weak = format!("postgres://weak:weakpw1@127.0.0.1:{port}/postgres");
    let refused = user
        .run(&[
            "check",
            "3",
            "--server-url",
            &weak,
            "--answer",
            &solution("03_retry"),
        ])
        .expect_code(2);
    assert!(
        refused.stderr.contains("may not create databases"),
        "{}",
        refused.all()
    );
    assert!(refused.stderr.contains("weak:***@"), "{}", refused.all());
}
