//! Lab 3's slot holders: sleeping workers of the runner's own, started from its own database,
//! that hold every free background worker slot of the server until they are ended.

use crate::server::{Server, RUNNER_DB};
use anyhow::{Context, Result};
use std::time::{Duration, Instant};

/// Sleeping workers of the runner's own that hold every free background worker slot; what
/// `exhausted` fills and keeps throughout and `slot_freed`, the check after it, takes over as
/// they are (filling every slot again would start a worker per slot).
///
/// Sleeping workers of the runner's own that hold every free background worker slot.
pub struct SlotHolders {
    client: postgres::Client,
    pids: Vec<i32>,
}

impl SlotHolders {
    /// Launches sleeping workers until the server refuses one for want of a slot.
    pub fn fill(server: &Server) -> Result<SlotHolders> {
        // The runner's database, where no student connects, is made when the server starts;
        // a server no command of this version started yet may lack it.
        let mut client = server.connect(RUNNER_DB).or_else(|_| {
            crate::server::ensure_runner_db(server)?;
            server.connect(RUNNER_DB)
        })?;
        client.batch_execute(
            "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_background",
        )?;
        // Holders left by a run that was killed (a worker outlives its session) would hold
        // their slots for minutes; this run has the server's slots to itself (`exclusive`), so
        // any there are stale.
        let mut holders = SlotHolders {
            client,
            pids: Vec::new(),
        };
        let stale: Vec<i32> = holders
            .client
            .query(
                "SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database() AND backend_type = 'pg_background'",
                &[],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if !stale.is_empty() {
            holders.pids = stale;
            holders.end_all();
            // A worker leaves pg_stat_activity a moment before the postmaster frees its slot.
            std::thread::sleep(Duration::from_millis(100));
        }
        // A worker that has just ended (the student's, in the check before) holds its slot a
        // moment after it has left pg_stat_activity, longer on a busy machine; a slot freed
        // after the fill would let the student's launch through (pg_background_launch waits
        // for its session's ending workers). So the slots are full once no other worker runs
        // and the server has refused a holder three times in a row, 100 ms apart; a worker
        // that keeps running (one the student's code left) is waited for 3 s at most.
        let settle = Instant::now() + Duration::from_secs(3);
        let mut refusals = 0;
        while refusals < 3 && !(refusals > 0 && Instant::now() >= settle) {
            if holders.pids.len() >= 1024 {
                anyhow::bail!("the server took 1024 workers without running out of slots");
            }
            if Instant::now() < settle && holders.others_running()? {
                refusals = 0;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            match holders
                .client
                .query_one("SELECT pg_background_launch('SELECT pg_sleep(600)')", &[])
            {
                Ok(row) => {
                    holders.pids.push(row.get(0));
                    refusals = 0;
                }
                Err(err) if err.code().is_some_and(|c| c.code() == "53000") => {
                    refusals += 1;
                    if refusals < 3 {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                Err(err) => return Err(err).context("cannot fill the worker slots"),
            }
        }
        Ok(holders)
    }

    /// Whether a pg_background worker other than the holders runs on the server.
    fn others_running(&mut self) -> Result<bool> {
        Ok(self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                                WHERE backend_type = 'pg_background' AND pid <> ALL($1))",
                &[&self.pids],
            )?
            .get(0))
    }

    /// Ends one of the sleeping workers, so that its slot frees.
    pub fn free_one(&mut self) -> Result<()> {
        if let Some(pid) = self.pids.pop() {
            self.client
                .execute("SELECT pg_terminate_backend($1)", &[&pid])?;
        }
        Ok(())
    }
}

impl Drop for SlotHolders {
    /// Ends every holder, so that the next check finds its slots free.
    fn drop(&mut self) {
        self.end_all();
    }
}

impl SlotHolders {
    /// Ends every holder and waits (at most 5 s) until they are gone.
    fn end_all(&mut self) {
        let pids = std::mem::take(&mut self.pids);
        let _ = self.client.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
            &[&pids],
        );
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let left = self
                .client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                    &[&pids],
                )
                .map(|row| row.get::<_, i64>(0))
                .unwrap_or(0);
            if left == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
