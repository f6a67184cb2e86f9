//! The server's background worker slots as runs share them: an advisory lock in the runner's own
//! database, shared by every run and exclusive for a run that holds every slot (lab 3).

use super::{Admin, Server};
use anyhow::Result;

/// The server's background worker slots, as runs share them: every run holds this advisory
/// lock shared, a run whose checks hold every slot holds it exclusively. Held by a superuser
/// session in the runner's own database for the length of the run, and released when the run
/// ends: no role that runs student code may connect there, so no answer can take the lock and
/// hang the next run.
pub struct SlotLock {
    held_by: Option<Admin>,
}

/// The advisory lock's key: "pgbgslot" read as a number.
const SLOT_LOCK_KEY: i64 = 0x7067_6267_736c_6f74;

impl SlotLock {
    pub fn take(server: &Server, exclusive: bool) -> Result<SlotLock> {
        let mut client = server.runner()?;
        let (try_lock, lock) = if exclusive {
            ("pg_try_advisory_lock", "pg_advisory_lock")
        } else {
            ("pg_try_advisory_lock_shared", "pg_advisory_lock_shared")
        };
        let got: bool = client
            .query_one(&format!("SELECT {try_lock}($1)"), &[&SLOT_LOCK_KEY])?
            .get(0);
        if !got {
            eprintln!("labs: waiting for another run on this server to free its worker slots");
            client.execute(&format!("SELECT {lock}($1)"), &[&SLOT_LOCK_KEY])?;
        }
        Ok(SlotLock {
            held_by: Some(client),
        })
    }
}

impl Drop for SlotLock {
    /// Releases the lock; a session that cannot say it did is closed, which releases it too.
    fn drop(&mut self) {
        if let Some(mut client) = self.held_by.take() {
            if client
                .batch_execute("SELECT pg_advisory_unlock_all()")
                .is_err()
            {
                client.discard();
            }
        }
    }
}
