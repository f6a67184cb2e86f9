//! Superuser sessions in the `postgres` database and in the runner's own `labs_runner`, kept
//! open between runs: a new one costs a backend's fork and start (3 ms on an idle machine, twice
//! that while lanes grade), and a run used a dozen of them.

use super::Server;
use anyhow::Result;
use std::sync::Mutex;
use std::time::Duration;

/// Idle sessions kept per server; more are closed when given back.
const IDLE_PER_SERVER: usize = 8;

/// How long a kept session may take to answer before it is thrown away for a new one.
const ALIVE_WITHIN: Duration = Duration::from_secs(2);

/// The idle sessions of each server and database (`Server::key`, then `/` and the database).
static IDLE: Mutex<Vec<(String, postgres::Client)>> = Mutex::new(Vec::new());

/// A superuser session in `postgres` or `labs_runner`, given back to the idle ones when dropped. Whoever changes
/// its state (a lock, a setting) undoes that, or calls `discard`.
pub struct Admin {
    key: String,
    client: Option<postgres::Client>,
}

impl Server {
    /// What tells one server from another in this process.
    pub fn key(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A superuser session in `postgres`: a kept one that still answers, else a new one. A
    /// server restarted in between leaves kept sessions that no longer answer; they are closed.
    pub fn admin(&self) -> Result<Admin> {
        self.pooled("postgres")
    }

    /// A superuser session in the runner's own database (`RUNNER_DB`), where no role that runs
    /// student code may connect: the runner's advisory locks are taken there, so that no
    /// student's session can take or hold them.
    pub fn runner(&self) -> Result<Admin> {
        // A server that no command of this version started yet (a throwaway one) may lack it.
        self.pooled(super::RUNNER_DB).or_else(|_| {
            super::ensure_runner_db(self)?;
            self.pooled(super::RUNNER_DB)
        })
    }

    /// A kept superuser session in `dbname` that still answers, else a new one.
    fn pooled(&self, dbname: &str) -> Result<Admin> {
        let key = format!("{}/{dbname}", self.key());
        loop {
            let kept = {
                let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
                let at = idle.iter().rposition(|(k, _)| *k == key);
                at.map(|i| idle.swap_remove(i).1)
            };
            let Some(mut client) = kept else { break };
            if client.is_valid(ALIVE_WITHIN).is_ok() {
                return Ok(Admin {
                    key,
                    client: Some(client),
                });
            }
        }
        Ok(Admin {
            client: Some(self.connect(dbname)?),
            key,
        })
    }
}

impl Admin {
    /// Closes the session instead of keeping it: its state is not known to be clean.
    pub fn discard(mut self) {
        self.client = None;
    }
}

impl std::ops::Deref for Admin {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.client.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Admin {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.client.as_mut().expect("present until dropped")
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if client.is_closed() || std::thread::panicking() {
            return;
        }
        let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
        if idle.iter().filter(|(k, _)| *k == self.key).count() < IDLE_PER_SERVER {
            idle.push((std::mem::take(&mut self.key), client));
        }
    }
}
