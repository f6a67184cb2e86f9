//! Grading lanes: each lane is a lab server of its own (a home `N` of its own in the lanes
//! folder, with its own data directory and port), so that lab 3, which needs every worker slot
//! of its server, never waits for or disturbs another lane. Lanes are made through
//! `server::start`, whichever backend it picks; their data stays for the next `labs grade`.

use crate::sandbox::Sandboxes;
use crate::server::home::Home;
use crate::server::{self, Lifetime, Server, ServerOptions};
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The RAM a lane may fill: its templates, spares and run databases take about 0.4 GB after
/// grading every lab (measured: `du -sh` of a lane's data directory), its WAL up to
/// `max_wal_size` (1 GB) more.
const LANE_RAM_BYTES: u64 = 1536 << 20;

/// A lane: its number, its home and its running server.
pub struct Lane {
    pub number: usize,
    pub home: Home,
    pub server: Server,
}

impl Lane {
    /// Waits for the lane's server to answer again (a crashed backend restarts them all),
    /// starting it anew when it does not within 30 s; `sandboxes`, the lane's, go meanwhile.
    pub fn revive(&self, sandboxes: Sandboxes) -> Result<Server> {
        let until = Instant::now() + Duration::from_secs(30);
        let alive = loop {
            if self.server.is_alive() {
                break true;
            }
            if Instant::now() >= until {
                break false;
            }
            std::thread::sleep(Duration::from_millis(500));
        };
        // The warm spares' sessions died with the backends, or with the server: they go with
        // the lane's sandboxes.
        drop(sandboxes);
        if alive {
            return Ok(self.server.clone());
        }
        let options = ServerOptions {
            backend: Some(self.server.backend),
            ..ServerOptions::default()
        };
        let (running, _) = server::start(&self.home, &options, Lifetime::Kept)?;
        Ok(Server::clone(&running))
    }
}

/// The lanes of one `labs grade`, held under a lock so that two graders never share them.
pub struct Lanes {
    pub lanes: Vec<Lane>,
    /// The folder holding the lanes' homes, and whether it is the one in RAM.
    dir: PathBuf,
    in_ram: bool,
    _lock: Flock<fs::File>,
}

impl Lanes {
    /// Starts `count` lane servers at once (or reuses those still running), and ends whatever a
    /// grader killed earlier left running in them.
    pub fn start(home: &Home, count: usize, options: &ServerOptions) -> Result<Lanes> {
        home.create()?;
        let dir = lanes_dir(home, count);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        let lock_path = dir.join("grader.lock");
        let file = fs::File::create(&lock_path)
            .with_context(|| format!("cannot write `{}`", lock_path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
            anyhow::anyhow!(
                "another `labs grade` uses the lanes in `{}`; wait for it, or give this one \
                 another LABS_HOME",
                dir.display()
            )
        })?;
        let options = ServerOptions {
            port: None,
            ..options.clone()
        };
        let started: Vec<Result<Lane>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..=count)
                .map(|number| {
                    let options = &options;
                    let home = lane_home(&dir, number);
                    scope.spawn(move || -> Result<Lane> {
                        // Kept: a lane's container (docker backend) outlives this call and is
                        // removed by `stop`, like a native lane's server.
                        let (running, _) = server::start(&home, options, Lifetime::Kept)
                            .with_context(|| format!("cannot start the server of lane {number}"))?;
                        let server = Server::clone(&running);
                        crate::sandbox::sweep(&server)
                            .with_context(|| format!("cannot clean the server of lane {number}"))?;
                        Ok(Lane {
                            number,
                            home,
                            server,
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a lane's start does not panic"))
                .collect()
        });
        let lanes = started.into_iter().collect::<Result<Vec<Lane>>>()?;
        let ports: Vec<String> = lanes.iter().map(|l| l.server.port.to_string()).collect();
        eprintln!(
            "labs: {} grading lane(s), each with a {} lab server of its own (ports {}), in `{}`",
            lanes.len(),
            lanes[0].server.backend,
            ports.join(", "),
            dir.display()
        );
        Ok(Lanes {
            lanes,
            in_ram: dir == home.ram_lanes_dir(),
            dir,
            _lock: lock,
        })
    }

    /// Stops every lane's server (their data stays for the next run; when it is in RAM, says how
    /// to free it), once what the runs left is gone (the warm spares go with each lane's
    /// sandboxes, before this): whatever a crash of the lane's server kept a drop from removing
    /// (the lanes' servers are the grader's alone).
    pub fn stop(self) -> Result<()> {
        for lane in &self.lanes {
            if let Err(err) = crate::sandbox::sweep(&lane.server) {
                eprintln!("labs: lane {}: {err:#}", lane.number);
            }
            server::stop(&lane.home)?;
        }
        if self.in_ram {
            eprintln!(
                "labs: the lanes keep their data in RAM (`{}`) for the next `labs grade`; \
                 `labs server stop` frees it",
                self.dir.display()
            );
        }
        Ok(())
    }
}

/// Where the lanes of `home` live. In RAM when /dev/shm is a tmpfs of this user's with room for
/// `count` lanes, or already holds them: every run clones and drops databases of some 300 files
/// each, and on a disk file system creating them costs about 0.2 s of CPU a database (measured
/// on ext4 without a journal, which looks for recently deleted inodes on every create), in RAM
/// next to nothing. On disk, under the home, otherwise.
fn lanes_dir(home: &Home, count: usize) -> PathBuf {
    let ram = home.ram_lanes_dir();
    if let Ok(meta) = fs::symlink_metadata(&ram) {
        if meta.is_dir()
            && std::os::unix::fs::MetadataExt::uid(&meta) == nix::unistd::geteuid().as_raw()
        {
            return ram;
        }
        return home.lanes_dir();
    }
    let room = |dir: &Path| -> Option<u64> {
        let fs = nix::sys::statfs::statfs(dir).ok()?;
        if fs.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
            return None;
        }
        let stat = nix::sys::statvfs::statvfs(dir).ok()?;
        Some(stat.blocks_available() as u64 * stat.fragment_size() as u64)
    };
    match ram.parent().and_then(room) {
        Some(bytes) if bytes >= LANE_RAM_BYTES * count as u64 => ram,
        _ => home.lanes_dir(),
    }
}

/// The home of lane `number` in the lanes folder `dir`.
fn lane_home(dir: &Path, number: usize) -> Home {
    Home::at(dir.join(number.to_string()))
}

/// Stops the servers of every lane of `home`, in RAM or on disk, and removes the lanes in RAM
/// (unless a grader holds them): lanes on disk stay for the next `labs grade`, lanes in RAM
/// would hold the machine's memory until a reboot. Returns how many servers were running.
pub fn stop_all(home: &Home) -> Result<usize> {
    let mut stopped = 0;
    let ram = home.ram_lanes_dir();
    for dir in [&ram, &home.lanes_dir()] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Some(n) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                if server::stop(&lane_home(dir, n))? {
                    stopped += 1;
                }
            }
        }
    }
    if ram.is_dir() {
        let unused = fs::File::open(ram.join("grader.lock"))
            .ok()
            .map(|file| Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok())
            .unwrap_or(true);
        if unused {
            fs::remove_dir_all(&ram)
                .with_context(|| format!("cannot remove the lanes in `{}`", ram.display()))?;
        }
    }
    Ok(stopped)
}
