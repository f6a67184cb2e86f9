//! The native backend: a private PostgreSQL cluster made with initdb and run with pg_ctl from the
//! PostgreSQL binaries on this machine, as an unprivileged user when the runner is root.

use super::{Backend, Server, ServerOptions};
use crate::server::home::Home;
use crate::server::pgbin::PgBin;
use anyhow::{bail, Context, Result};
use nix::unistd::{chown, Gid, Pid, Uid, User};
use rand::distributions::{Alphanumeric, DistString};
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The settings the labs rely on, one file for both backends.
const LAB_SETTINGS: &str = include_str!("../../docker/labs.conf");

/// The cluster's superuser, created by initdb.
const SUPERUSER: &str = "postgres";

/// The system user the server runs as.
struct OsUser {
    name: String,
    uid: Uid,
    gid: Gid,
}

/// Creates the cluster the first time, then starts it; every check on the way fails with a
/// paragraph that says what to run.
pub fn start(home: &Home, options: &ServerOptions) -> Result<Server> {
    let saved = Server::load(home)?;
    let pg_bin = options
        .pg_bin
        .clone()
        .or_else(|| saved.as_ref().and_then(|s| s.pg_bin.clone()));
    let bin = PgBin::locate(pg_bin.as_deref())?;
    let user = server_user()?;
    if Uid::effective() != user.uid {
        eprintln!(
            "labs: running as root: PostgreSQL refuses root, so the server runs as the system \
             user `{}`",
            user.name
        );
    }
    home.create()?;
    check_reachable(home.root(), &user)?;
    for dir in [home.socket_dir(), home.log_dir(), home.data_dir()] {
        make_owned_dir(&dir, &user, 0o700)?;
    }
    let data = home.data_dir();
    let known = fs::read_to_string(home.password_file()).ok().or_else(|| {
        saved
            .as_ref()
            .filter(|s| s.backend == Backend::Native)
            .map(|s| s.password.clone())
    });
    let password = match known {
        Some(password) if data.join("PG_VERSION").exists() => password,
        _ => {
            let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
            init_cluster(home, &bin, &user, &password)?;
            save_password(home, &password)?;
            password
        }
    };
    check_data_dir(&data, &bin, &user)?;
    remove_stale_pid_file(&data)?;
    let port = choose_port(options.port, saved.as_ref().map(|s| s.port))?;
    write_config(home, port)?;
    let status = as_user(Command::new(bin.tool("pg_ctl")), &user, home)
        .args(["start", "--wait", "--timeout=60", "--silent", "-D"])
        .arg(&data)
        .arg("-l")
        .arg(home.log_file())
        .status()
        .context("cannot run pg_ctl")?;
    if !status.success() {
        // The lab settings preload the extension's library, so a server without it stops here,
        // saying `could not access file "pg_background": ...` in the language of its messages.
        let log = home.log_tail(15);
        if log.contains("\"pg_background\":") {
            bail!(
                "PostgreSQL did not start: the pg_background extension is not installed {}",
                super::native_install_advice(Some(&bin.dir))
            );
        }
        bail!(
            "PostgreSQL did not start; the end of its log `{}`:\n{log}",
            home.log_file().display()
        );
    }
    let server = Server {
        backend: Backend::Native,
        host: "127.0.0.1".into(),
        port,
        socket_dir: Some(home.socket_dir()),
        superuser: SUPERUSER.into(),
        password,
        data_dir: Some(data),
        pg_bin: Some(bin.dir.clone()),
        os_user: user.name,
        container: None,
    };
    server.save(home)?;
    Ok(server)
}

/// Stops the cluster with a fast shutdown; returns false when it was not running.
pub fn stop(home: &Home, server: &Server) -> Result<bool> {
    let data = home.data_dir();
    if !data.join("postmaster.pid").exists() {
        return Ok(false);
    }
    let bin = PgBin::locate(server.pg_bin.as_deref())?;
    let user = server_user()?;
    let out = as_user(Command::new(bin.tool("pg_ctl")), &user, home)
        .args([
            "stop",
            "--wait",
            "--timeout=60",
            "--silent",
            "-m",
            "fast",
            "-D",
        ])
        .arg(&data)
        .output()
        .context("cannot run pg_ctl")?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        if said.contains("Is server running?") {
            return Ok(false);
        }
        bail!("pg_ctl could not stop the lab server: {}", said.trim());
    }
    Ok(true)
}

/// Keeps the superuser's password beside the cluster (readable only by its owner), so that a
/// server of another backend saved in between does not lose it.
fn save_password(home: &Home, password: &str) -> Result<()> {
    let path = home.password_file();
    fs::write(&path, password).with_context(|| format!("cannot write `{}`", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// The user the server runs as: this user, or when this is root (which PostgreSQL refuses) the
/// unprivileged `LABS_SERVER_USER`, by default `postgres`, which Debian's server package creates.
fn server_user() -> Result<OsUser> {
    let me = Uid::effective();
    if !me.is_root() {
        let user = User::from_uid(me)?.context("this user has no entry in the user database")?;
        return Ok(OsUser {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
        });
    }
    let name = std::env::var("LABS_SERVER_USER").unwrap_or_else(|_| "postgres".into());
    match User::from_name(&name)? {
        Some(user) if !user.uid.is_root() => Ok(OsUser {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
        }),
        _ => bail!(
            "running as root: PostgreSQL refuses to run as root and the system user `{name}` to \
             run it as does not exist (or is root). Install Debian's PostgreSQL server, which \
             creates `postgres` (`make setup`), or create an unprivileged user and name it in \
             LABS_SERVER_USER, or run `labs` as an ordinary user."
        ),
    }
}

/// Runs `command` as the server's user, from the home folder (root's working folder may be
/// unreadable to that user).
fn as_user(mut command: Command, user: &OsUser, home: &Home) -> Command {
    if Uid::effective() != user.uid {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    command.current_dir(home.root());
    command
}

/// Fails when the server's user cannot reach the home folder, which happens when it lies under
/// a private folder such as root's home.
fn check_reachable(root: &Path, user: &OsUser) -> Result<()> {
    if Uid::effective() == user.uid {
        return Ok(());
    }
    for dir in root.ancestors() {
        let meta = fs::metadata(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
        let mode = meta.permissions().mode();
        let reachable = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !reachable {
            bail!(
                "the lab server's folder `{}` lies under `{}`, which the server's user `{}` \
                 cannot enter. Set LABS_HOME to a folder it can reach (for example \
                 /var/cache/pgbg-labs or one under /tmp), or run `chmod o+x {}`.",
                root.display(),
                dir.display(),
                user.name,
                dir.display()
            );
        }
    }
    Ok(())
}

/// Creates `dir` owned by the server's user with `mode`, when missing.
fn make_owned_dir(dir: &Path, user: &OsUser, mode: u32) -> Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
        if Uid::effective() != user.uid {
            chown(dir, Some(user.uid), Some(user.gid))
                .with_context(|| format!("cannot give `{}` to `{}`", dir.display(), user.name))?;
        }
    }
    Ok(())
}

/// Runs initdb into an empty data directory, with the superuser's password set for TCP.
fn init_cluster(home: &Home, bin: &PgBin, user: &OsUser, password: &str) -> Result<()> {
    let data = home.data_dir();
    if data.exists() && fs::read_dir(&data)?.next().is_some() {
        bail!(
            "`{}` is not empty but holds no PostgreSQL cluster (no PG_VERSION), or its password \
             was lost with `{}`. Remove the folder and run `labs server start` again to make a \
             new cluster.",
            data.display(),
            home.state_file().display()
        );
    }
    let pwfile = home.log_dir().join("initdb.pw");
    fs::write(&pwfile, password)?;
    if Uid::effective() != user.uid {
        chown(&pwfile, Some(user.uid), Some(user.gid))?;
    }
    eprintln!(
        "labs: creating a PostgreSQL {} cluster in `{}`",
        bin.major,
        data.display()
    );
    let out = as_user(Command::new(bin.tool("initdb")), user, home)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .context("cannot run initdb")?;
    let _ = fs::remove_file(&pwfile);
    if !out.status.success() {
        bail!(
            "initdb failed for `{}`:\n{}",
            data.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let conf = data.join("postgresql.conf");
    let mut text = fs::read_to_string(&conf)?;
    text.push_str(
        "\n# The labs' own settings, rewritten on every start.\ninclude_if_exists = 'labs.conf'\n",
    );
    fs::write(&conf, text)?;
    Ok(())
}

/// Fails when the data directory belongs to another user or another PostgreSQL major.
fn check_data_dir(data: &Path, bin: &PgBin, user: &OsUser) -> Result<()> {
    let owner = fs::metadata(data)?.uid();
    if owner != user.uid.as_raw() {
        let name = User::from_uid(Uid::from_raw(owner))
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| format!("uid {owner}"));
        bail!(
            "the data directory `{}` belongs to `{name}`, but the server runs as `{}`. Run \
             `labs` as `{name}`, or give the folder to `{}` (`chown -R {} {}`), or set LABS_HOME \
             to another folder.",
            data.display(),
            user.name,
            user.name,
            user.name,
            data.display()
        );
    }
    let made_by = fs::read_to_string(data.join("PG_VERSION"))?;
    if made_by.trim() != bin.major.to_string() {
        bail!(
            "the data directory `{}` was made by PostgreSQL {}, but the binaries in `{}` are \
             PostgreSQL {}. Pass the matching binaries with `--pg-bin DIR`, or remove the folder \
             to make a new cluster.",
            data.display(),
            made_by.trim(),
            bin.dir.display(),
            bin.major
        );
    }
    Ok(())
}

/// Removes a `postmaster.pid` whose process is gone or is not a PostgreSQL server (a crash or a
/// reboot leaves one behind, and its pid may since belong to another program).
fn remove_stale_pid_file(data: &Path) -> Result<()> {
    let pid_file = data.join("postmaster.pid");
    let Ok(text) = fs::read_to_string(&pid_file) else {
        return Ok(());
    };
    let pid: i32 = text
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or(0);
    let alive = pid > 0 && nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok();
    let is_postgres = alive
        && fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|comm| comm.trim() == "postgres" || comm.trim() == "postmaster")
            .unwrap_or(false);
    if is_postgres {
        bail!(
            "a PostgreSQL server (pid {pid}) already runs on `{}` but does not answer as the lab \
             server. Stop it (`labs server stop`, or `kill {pid}`) and start again.",
            data.display()
        );
    }
    eprintln!(
        "labs: removing the stale `{}` (pid {pid} is {})",
        pid_file.display(),
        if alive {
            "another program"
        } else {
            "no longer running"
        }
    );
    fs::remove_file(&pid_file).with_context(|| format!("cannot remove `{}`", pid_file.display()))
}

/// The port to listen on: the one asked for (which must be free), else the last one while it is
/// free, else any free loopback port.
fn choose_port(wanted: Option<u16>, last: Option<u16>) -> Result<u16> {
    if let Some(port) = wanted {
        super::check_port_free(port)?;
        return Ok(port);
    }
    if let Some(port) = last.filter(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok()) {
        return Ok(port);
    }
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Writes the settings the labs rely on, and the authentication rules, into the data directory.
fn write_config(home: &Home, port: u16) -> Result<()> {
    let data = home.data_dir();
    let settings = format!(
        "# Written by `labs server start` on every start: this server's address and socket,\n\
         # then the settings the labs rely on (docker/labs.conf, shared with the image).\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{socket}'\n\
         unix_socket_permissions = 0700\n\
         {LAB_SETTINGS}{language}",
        socket = home.socket_dir().display(),
        language = super::locale::lc_messages_setting()
    );
    fs::write(data.join("labs.conf"), settings)?;
    let hba = format!(
        "# Written by `labs server start`: the socket (in a folder only the server's user may \
         enter)\n# trusts only the superuser; every other role and all of TCP use \
         scram-sha-256.\n\
         local all {SUPERUSER} trust\n\
         local all all scram-sha-256\n\
         host all all 127.0.0.1/32 scram-sha-256\n\
         host all all ::1/128 scram-sha-256\n"
    );
    fs::write(data.join("pg_hba.conf"), hba)?;
    Ok(())
}
