//! The docker backend: the lab server image (docker/Dockerfile, built by `make image`) run with
//! testcontainers through the Docker CLI, which finds the daemon as it always does (DOCKER_HOST,
//! the current context, the default socket) and speaks whatever API version that daemon knows.

use super::{Backend, Server, ServerOptions};
use anyhow::{bail, Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use testcontainers::core::env::GetEnvValue;
use testcontainers::core::WaitFor;
use testcontainers::{clients::Cli, GenericImage, RunnableImage};

/// The repository of the lab server image.
const IMAGE_REPOSITORY: &str = "pgbg-labs/server";

/// The port PostgreSQL listens on inside the container.
pub const INNER_PORT: u16 = 5432;

/// The prefix of the names of containers that live as long as one command; the rest of the
/// name says on which machine and for which process, so that leftovers can be found.
const ONE_SHOT_PREFIX: &str = "pgbg-labs-run-";

/// How long a container may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether a started container outlives the command that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Kept running for the next commands until `labs server stop` (recorded in server.json).
    Kept,
    /// Removed when the command ends, also after Ctrl-C or SIGTERM.
    Command,
}

/// The image tag this runner uses: `LABS_IMAGE`, else `pgbg-labs/server:<its version>`.
pub fn image() -> String {
    std::env::var("LABS_IMAGE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{IMAGE_REPOSITORY}:{}", env!("CARGO_PKG_VERSION")))
}

/// Why the docker backend cannot run here, as a sentence that says what to do.
pub fn unavailable() -> Option<String> {
    if let Err(err) = daemon_version() {
        return Some(format!("{err:#}"));
    }
    let image = image();
    if !image_exists(&image) {
        return Some(format!(
            "the lab server image `{image}` is not built: run `make image` in the project's \
             folder"
        ));
    }
    None
}

/// The version of the Docker daemon the CLI reaches, or what to do when none answers.
fn daemon_version() -> Result<String> {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(out) => out,
        Err(_) => bail!(
            "the Docker CLI (`docker`) is not installed or not on PATH: install Docker \
             (Docker Desktop, or `sudo apt-get install docker.io` on Debian/Ubuntu), or use \
             `--backend native`"
        ),
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || version.is_empty() {
        let target = std::env::var("DOCKER_HOST")
            .map(|h| format!("DOCKER_HOST={h}"))
            .unwrap_or_else(|_| "the default socket /var/run/docker.sock".into());
        bail!(
            "no Docker daemon answers at {target} ({}). Start one: Docker Desktop, or \
             `sudo systemctl start docker`, or without systemd `sudo dockerd \
             >/var/log/dockerd.log 2>&1 &`; a user not in the `docker` group needs sudo or \
             DOCKER_HOST. Or use `--backend native`.",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .trim()
        );
    }
    Ok(version)
}

fn image_exists(image: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_ok()
}

/// Runs `docker ARGS` and returns its stdout, or its stderr as the error.
fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `docker`")?;
    if !out.status.success() {
        bail!(
            "`docker {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// testcontainers' setting for a dropped container handle: keep the container. The runner
/// removes the containers it started for one command itself (`finish`, and on a signal), by
/// name, so that a container removed twice is no error.
struct KeepOnDrop;
impl GetEnvValue for KeepOnDrop {
    fn get_env_value(key: &str) -> Option<String> {
        (key == "TESTCONTAINERS").then(|| "keep".into())
    }
}

/// The names of the containers of this process that end with it.
static ONE_SHOT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// From the first one-command container on: SIGINT, SIGTERM, SIGQUIT or SIGHUP remove this
/// process's one-command containers, then end it as the signal would have.
fn remove_on_signal() -> Result<()> {
    static WATCHING: OnceLock<()> = OnceLock::new();
    if WATCHING.get().is_some() {
        return Ok(());
    }
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGQUIT, SIGHUP])
        .context("cannot watch for Ctrl-C to remove the container")?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("labs: interrupted; removing this command's lab server container");
            remove_one_shot();
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            std::process::exit(128 + signal);
        }
    });
    let _ = WATCHING.set(());
    Ok(())
}

/// Starts a container of the lab server image and waits until its server answers.
pub fn start(options: &ServerOptions, lifetime: Lifetime) -> Result<Server> {
    daemon_version()?;
    let image = image();
    if !image_exists(&image) {
        bail!(
            "the lab server image `{image}` is not built: run `make image` in the project's \
             folder (it needs Docker and, without a registry, debootstrap), or use `--backend \
             native`"
        );
    }
    if let Some(port) = options.port {
        super::check_port_free(port)?;
    }
    remove_abandoned();
    let (repository, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
    let suffix = Alphanumeric
        .sample_string(&mut rand::thread_rng(), 8)
        .to_lowercase();
    let name = match lifetime {
        Lifetime::Kept => format!("pgbg-labs-server-{suffix}"),
        Lifetime::Command => format!(
            "{ONE_SHOT_PREFIX}{}-{}-{suffix}",
            host_name(),
            std::process::id()
        ),
    };
    let runnable = RunnableImage::from(
        GenericImage::new(repository, tag)
            .with_env_var("LABS_PASSWORD", &password)
            .with_wait_for(WaitFor::Nothing),
    )
    .with_container_name(&name)
    .with_mapped_port((options.port.unwrap_or(0), INNER_PORT));
    static CLI: OnceLock<Cli> = OnceLock::new();
    let cli = CLI.get_or_init(Cli::new::<KeepOnDrop>);
    if lifetime == Lifetime::Command {
        remove_on_signal()?;
        ONE_SHOT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.clone());
    }
    // testcontainers 0.15 panics when `docker run` fails: the panic becomes an error that says
    // how to see the daemon's reason.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cli.run(runnable)));
    std::panic::set_hook(hook);
    let container = run.map_err(|_| {
        anyhow::anyhow!(
            "`docker run` of `{image}` failed{}; `docker run --rm -e LABS_PASSWORD=x {image}` \
             shows the daemon's reason",
            options
                .port
                .map(|p| format!(" (is port {p} free?)"))
                .unwrap_or_default()
        )
    })?;
    let server = Server {
        backend: Backend::Docker,
        host: "127.0.0.1".into(),
        port: container.get_host_port_ipv4(INNER_PORT),
        socket_dir: None,
        superuser: "postgres".into(),
        password,
        data_dir: None,
        pg_bin: None,
        os_user: "postgres (in the container)".into(),
        container: Some(container.id().to_string()),
    };
    drop(container);
    wait_ready(&server)?;
    Ok(server)
}

/// Waits until the container's server answers a query, or fails with the end of its log.
fn wait_ready(server: &Server) -> Result<()> {
    let until = Instant::now() + READY_TIMEOUT;
    loop {
        if server.is_alive() {
            return Ok(());
        }
        let id = server.container.as_deref().unwrap_or_default();
        let running = docker(&["inspect", "--format", "{{.State.Running}}", id])
            .map(|s| s.trim() == "true")
            .unwrap_or(false);
        if !running || Instant::now() > until {
            let log = logs(server, 20).unwrap_or_default();
            let _ = stop(server);
            bail!(
                "the lab server container {} did not {}; the end of its log:\n{log}",
                short(id),
                if running {
                    "accept connections within 60 s"
                } else {
                    "stay up"
                }
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Set once a signal came: the signal's thread removes the containers and ends the process.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Removes the containers this process started for itself. After a signal, the command's own
/// thread waits here for the signal's thread to finish removing them and end the process.
pub fn finish() {
    remove_one_shot();
    if INTERRUPTED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}

/// Removes this process's one-command containers, holding the list until they are gone.
fn remove_one_shot() {
    let mut names = ONE_SHOT.lock().unwrap_or_else(|e| e.into_inner());
    for name in names.drain(..) {
        if let Err(err) = docker(&["rm", "--force", "--volumes", &name]) {
            if !format!("{err:#}").contains("No such container") {
                eprintln!("labs: cannot remove the container `{name}`: {err:#}");
            }
        }
    }
}

/// Removes the server's container; false when it was already gone.
pub fn stop(server: &Server) -> Result<bool> {
    let id = server
        .container
        .as_deref()
        .context("the saved docker lab server names no container")?;
    match docker(&["rm", "--force", "--volumes", id]) {
        Ok(_) => Ok(true),
        Err(err) if format!("{err:#}").contains("No such container") => Ok(false),
        Err(err) => Err(err),
    }
}

/// The last `lines` lines of the container's log (PostgreSQL logs to stderr).
pub fn logs(server: &Server, lines: usize) -> Result<String> {
    let id = server
        .container
        .as_deref()
        .context("the saved docker lab server names no container")?;
    let out = Command::new("docker")
        .args(["logs", "--tail", &lines.to_string(), id])
        .stdin(Stdio::null())
        .output()
        .context("cannot run `docker logs`")?;
    if !out.status.success() {
        bail!(
            "cannot read the log of container {}: {}",
            short(id),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Removes one-command containers of this machine whose process is gone (killed with SIGKILL,
/// or a crash), which no watchdog could remove.
fn remove_abandoned() {
    let prefix = format!("{ONE_SHOT_PREFIX}{}-", host_name());
    let Ok(names) = docker(&[
        "ps",
        "--all",
        "--filter",
        &format!("name={prefix}"),
        "--format",
        "{{.Names}}",
    ]) else {
        return;
    };
    for name in names.lines() {
        let pid = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok());
        let Some(pid) = pid else { continue };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive && docker(&["rm", "--force", "--volumes", name]).is_ok() {
            eprintln!("labs: removed the container `{name}` its ended command left behind");
        }
    }
}

/// This machine's name, in the characters a container name may hold.
fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { 'x' })
        .collect()
}

/// The short form of a container id.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
