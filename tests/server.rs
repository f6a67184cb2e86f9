//! The lab server, driven through the real `labs` binary against a real PostgreSQL, with the
//! backend LABS_TEST_BACKEND names (native by default).

mod common;

use common::{backend, is_root, native_only, owner, LabHome};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn starts_reports_reuses_and_stops() {
    let home = LabHome::new();
    let started = home.run(&["server", "start"]).expect_code(0);
    assert!(
        started.stdout.contains("lab server started"),
        "{}",
        started.all()
    );
    let native = backend() == "native";
    if native {
        assert!(
            started.stderr.contains("creating a PostgreSQL"),
            "{}",
            started.all()
        );
    }

    let status = home.run(&["server", "status"]).expect_code(0);
    for field in [
        &format!("backend:        {}", backend()),
        "version:        PostgreSQL 1",
        "pg_background:  1.",
        "worker slots:   8",
    ] {
        assert!(
            status.stdout.contains(field),
            "no `{field}` in\n{}",
            status.stdout
        );
    }

    let again = home.run(&["server", "start"]).expect_code(0);
    assert!(
        again.stdout.contains("is already running"),
        "{}",
        again.all()
    );
    assert!(!again.stderr.contains("creating"), "{}", again.all());

    let psql = home
        .run(&["server", "psql", "--", "-X", "-At", "-c", "SELECT 6 * 7"])
        .expect_code(0);
    assert!(psql.stdout.contains("42"), "{}", psql.all());

    // The postmaster's start, in whatever language the server speaks: "starting PostgreSQL
    // 15..." or "запускается PostgreSQL 15...".
    let logs = home.run(&["server", "logs", "-n", "100"]).expect_code(0);
    assert!(
        logs.stdout.contains("] postmaster ") && logs.stdout.contains(" PostgreSQL 1"),
        "{}",
        logs.all()
    );

    let stopped = home.run(&["server", "stop"]).expect_code(0);
    assert!(stopped.stdout.contains("stopped"), "{}", stopped.all());
    let status = home.run(&["server", "status"]).expect_code(1);
    assert!(
        status.stdout.contains("No lab server is running"),
        "{}",
        status.all()
    );

    if !native {
        return;
    }
    // A stopped server keeps its cluster: the next start does not run initdb again.
    let restarted = home.run(&["server", "start"]).expect_code(0);
    assert!(
        !restarted.stderr.contains("creating"),
        "{}",
        restarted.all()
    );
}

#[test]
fn a_stale_pid_file_is_removed() {
    if !native_only("a_stale_pid_file_is_removed") {
        return;
    }
    let home = LabHome::new();
    home.run(&["server", "start"]).expect_code(0);
    home.run(&["server", "stop"]).expect_code(0);
    let pid_file = home.path().join("data/postmaster.pid");

    // The pid of a process that has ended, as after a crash.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    std::fs::write(&pid_file, format!("{}\n", gone.id())).unwrap();
    let run = home.run(&["server", "start"]).expect_code(0);
    assert!(run.stderr.contains("no longer running"), "{}", run.all());
    home.run(&["server", "stop"]).expect_code(0);

    // The pid now belongs to another program, as after a reboot.
    let mut other = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(&pid_file, format!("{}\n", other.id())).unwrap();
    let run = home.run(&["server", "start"]);
    other.kill().unwrap();
    other.wait().unwrap();
    let run = run.expect_code(0);
    assert!(run.stderr.contains("another program"), "{}", run.all());
}

#[test]
fn a_port_in_use_is_refused_with_advice() {
    let home = LabHome::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let run = home
        .run(&["server", "start", "--port", &port])
        .expect_code(2);
    assert!(
        run.stderr.contains(&format!("port {port}")),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("in use"), "{}", run.all());
    assert!(run.stderr.contains("--port"), "{}", run.all());
}

#[test]
fn the_server_never_runs_as_root() {
    if !native_only("the_server_never_runs_as_root") {
        return;
    }
    let home = LabHome::new();
    let run = home.run(&["server", "start"]).expect_code(0);
    let data_owner = owner(&home.path().join("data"));
    let status = home.run(&["server", "status"]).expect_code(0);
    if is_root() {
        assert!(
            run.stderr.contains("runs as the system user `postgres`"),
            "{}",
            run.all()
        );
        let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        assert_eq!(data_owner, postgres.uid.as_raw());
        assert!(
            status.stdout.contains("runs as:        postgres"),
            "{}",
            status.stdout
        );
    } else {
        assert_eq!(data_owner, nix::unistd::Uid::effective().as_raw());
    }
}

#[test]
fn a_data_dir_of_another_user_is_refused() {
    if !native_only("a_data_dir_of_another_user_is_refused") {
        return;
    }
    if !is_root() {
        eprintln!("skipped: giving a folder to another user needs root");
        return;
    }
    let home = LabHome::new();
    home.run(&["server", "start"]).expect_code(0);
    home.run(&["server", "stop"]).expect_code(0);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let data = home.path().join("data");
    nix::unistd::chown(&data, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let run = home.run(&["server", "start"]).expect_code(2);
    assert!(run.stderr.contains("belongs to `nobody`"), "{}", run.all());
    assert!(run.stderr.contains("chown -R postgres"), "{}", run.all());
}

#[test]
fn a_home_the_server_user_cannot_enter_is_refused() {
    if !native_only("a_home_the_server_user_cannot_enter_is_refused") {
        return;
    }
    if !is_root() {
        eprintln!("skipped: only root runs the server as another user");
        return;
    }
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = common::Run::from(
        Command::new(env!("CARGO_BIN_EXE_labs"))
            .env("LABS_HOME", private.path().join("home"))
            .env("LABS_BACKEND", "native")
            .args(["server", "start"])
            .output()
            .unwrap(),
    )
    .expect_code(2);
    assert!(run.stderr.contains("cannot enter"), "{}", run.all());
    assert!(run.stderr.contains("LABS_HOME"), "{}", run.all());
}

#[test]
fn missing_or_unsupported_binaries_say_what_to_do() {
    if !native_only("missing_or_unsupported_binaries_say_what_to_do") {
        return;
    }
    let home = LabHome::new();
    let empty = tempfile::tempdir().unwrap();
    let run = home
        .run(&[
            "server",
            "start",
            "--pg-bin",
            empty.path().to_str().unwrap(),
        ])
        .expect_code(2);
    assert!(run.stderr.contains("has no `initdb`"), "{}", run.all());
    assert!(run.stderr.contains("make setup"), "{}", run.all());

    // A folder whose `postgres` is a PostgreSQL too old for the extension.
    let old = tempfile::tempdir().unwrap();
    for tool in ["initdb", "pg_ctl", "postgres"] {
        let path = old.path().join(tool);
        std::fs::write(&path, "#!/bin/sh\necho 'postgres (PostgreSQL) 9.6.24'\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = home
        .run(&["server", "start", "--pg-bin", old.path().to_str().unwrap()])
        .expect_code(2);
    assert!(run.stderr.contains("is PostgreSQL 9"), "{}", run.all());
    assert!(run.stderr.contains("14 to 17"), "{}", run.all());
}

/// `pg_config --NAME` of the machine's PostgreSQL.
fn pg_config(name: &str) -> std::path::PathBuf {
    let out = Command::new("pg_config")
        .arg(format!("--{name}"))
        .output()
        .unwrap();
    std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn a_postgresql_without_the_extension_says_what_to_run() {
    if !native_only("a_postgresql_without_the_extension_says_what_to_run") {
        return;
    }
    // Without its files the server starts, and the runner finds no extension to create;
    // without its library too the server cannot start at all, since the lab settings preload it.
    for (library, said) in [
        (
            true,
            "the lab server runs, but the pg_background extension is not installed",
        ),
        (
            false,
            "PostgreSQL did not start: the pg_background extension is not installed",
        ),
    ] {
        let (mirror, bindir) = postgresql_without_extension(library);
        let home = LabHome::new();
        let run = home
            .run(&["server", "start", "--pg-bin", bindir.to_str().unwrap()])
            .expect_code(2);
        assert!(run.stderr.contains(said), "{}", run.all());
        assert!(run.stderr.contains("make setup"), "{}", run.all());
        drop(mirror);
    }
}

/// A mirror of the machine's PostgreSQL without pg_background's files (and without its library
/// unless `library`), and the mirror's bin folder. PostgreSQL finds its share and lib folders
/// relative to its binaries, so copied binaries and folders of links to everything but
/// pg_background make a real server that lacks only the extension.
fn postgresql_without_extension(library: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let mirror = tempfile::tempdir().unwrap();
    std::fs::set_permissions(mirror.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let under = |path: &std::path::Path| mirror.path().join(path.strip_prefix("/").unwrap());
    let (bindir, sharedir, libdir) = (
        pg_config("bindir"),
        pg_config("sharedir"),
        pg_config("pkglibdir"),
    );
    std::fs::create_dir_all(under(&bindir)).unwrap();
    for tool in ["initdb", "pg_ctl", "postgres"] {
        std::fs::copy(bindir.join(tool), under(&bindir).join(tool)).unwrap();
    }
    let not_ours = |entry: &std::fs::DirEntry| {
        !entry
            .file_name()
            .to_string_lossy()
            .starts_with("pg_background")
    };
    if library {
        std::fs::create_dir_all(under(&libdir).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&libdir, under(&libdir)).unwrap();
    } else {
        link_each(&libdir, &under(&libdir), not_ours);
    }
    link_each(&sharedir, &under(&sharedir), |entry| {
        entry.file_name() != "extension"
    });
    link_each(
        &sharedir.join("extension"),
        &under(&sharedir).join("extension"),
        not_ours,
    );
    // Its messages as the machine's server gives them: Russian where the locale exists.
    let localedir = pg_config("localedir");
    std::fs::create_dir_all(under(&localedir).parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&localedir, under(&localedir)).unwrap();
    let bin = under(&bindir);
    (mirror, bin)
}

/// Makes `to` a folder of links to the entries of `from` that `keep` keeps.
fn link_each(
    from: &std::path::Path,
    to: &std::path::Path,
    keep: impl Fn(&std::fs::DirEntry) -> bool,
) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if keep(&entry) {
            std::os::unix::fs::symlink(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
