//! Grading lanes: each lane is a lab server of its own (a sub-home `lanes/N` of the labs home,
//! with its own data directory and port), so that lab 3, which needs every worker slot of its
//! server, never waits for or disturbs another lane. Lanes are made through `server::start`,
//! whichever backend it picks; their data stays for the next `labs grade`.

use crate::home::Home;
use crate::server::{self, Lifetime, Server, ServerOptions};
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs;

/// A lane: its number, its home and its running server.
pub struct Lane {
    pub number: usize,
    pub home: Home,
    pub server: Server,
}

/// The lanes of one `labs grade`, held under a lock so that two graders never share them.
pub struct Lanes {
    pub lanes: Vec<Lane>,
    _lock: Flock<fs::File>,
}

impl Lanes {
    /// Starts `count` lane servers at once (or reuses those still running), and ends whatever a
    /// grader killed earlier left running in them.
    pub fn start(home: &Home, count: usize, options: &ServerOptions) -> Result<Lanes> {
        home.create()?;
        fs::create_dir_all(home.lanes_dir())?;
        let lock_path = home.lanes_dir().join("grader.lock");
        let file = fs::File::create(&lock_path)
            .with_context(|| format!("cannot write `{}`", lock_path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
            anyhow::anyhow!(
                "another `labs grade` uses the lanes in `{}`; wait for it, or give this one \
                 another LABS_HOME",
                home.lanes_dir().display()
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
                    scope.spawn(move || -> Result<Lane> {
                        let home = home.lane(number);
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
            "labs: {} grading lane(s), each with a {} lab server of its own (ports {})",
            lanes.len(),
            lanes[0].server.backend,
            ports.join(", ")
        );
        Ok(Lanes { lanes, _lock: lock })
    }

    /// Stops every lane's server (their data stays for the next run).
    pub fn stop(self) -> Result<()> {
        for lane in &self.lanes {
            server::stop(&lane.home)?;
        }
        Ok(())
    }
}

/// Stops the servers of every lane under `home`; returns how many were running.
pub fn stop_all(home: &Home) -> Result<usize> {
    let Ok(entries) = fs::read_dir(home.lanes_dir()) else {
        return Ok(0);
    };
    let mut stopped = 0;
    for entry in entries.flatten() {
        if let Some(n) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
            if server::stop(&home.lane(n))? {
                stopped += 1;
            }
        }
    }
    Ok(stopped)
}
