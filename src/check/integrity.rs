//! The structure check as a run sees it: whether the run database is still as its template made
//! it (`sandbox::intact`), looked at again only after student SQL ran.

use super::judges::{checker_fault, step_failed};
use super::{CheckRun, Outcome};
use crate::verdict::Status;

/// What the structure check (`intact`) knows of a dataset's run database: whether student SQL
/// ran since it last looked, and what the answer changed, once it found a change.
pub struct Integrity {
    pub stale: bool,
    pub tampered: Option<String>,
}

impl Default for Integrity {
    /// The answer has just loaded: nothing is known yet.
    fn default() -> Integrity {
        Integrity {
            stale: true,
            tampered: None,
        }
    }
}

impl Integrity {
    /// Looks again when student SQL ran since the last look: `None` when the database is still
    /// as its template made it, else why the check cannot be judged.
    pub fn confirm(&mut self, run: &mut CheckRun) -> Option<Outcome> {
        if self.stale && self.tampered.is_none() {
            // A worker or a connection the student left could change the database after the
            // look.
            if let Err(err) = run.sandbox.end_student_backends(run.student.pid) {
                return Some(checker_fault(&err));
            }
            match crate::sandbox::intact::changes(run.checker, run.deadline) {
                Ok(changes) if changes.is_empty() => self.stale = false,
                Ok(changes) => self.tampered = Some(crate::sandbox::intact::reason(&changes)),
                Err(err) => return Some(step_failed(err, "проверка устройства базы")),
            }
        }
        self.tampered
            .as_ref()
            .map(|reason| Outcome::NotRun(Status::Failed, reason.clone()))
    }
}
