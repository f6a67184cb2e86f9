//! Spare sandboxes, made while a run works so that the next run finds one ready: cold ones (a
//! closed database any later command on the server takes) and warm ones (kept in this command
//! with their sessions open).

use super::reaper::{drop_spare, like_prefix, spare_prefix};
use super::{lock, roles, Sandbox, Sandboxes};
use crate::lab::{Dataset, Lab};
use crate::server::session::Session;
use crate::server::{Backend, Server};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// How a run leaves a spare sandbox of each template of its lab for the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spares {
    /// A database closed to connections and named `spare_*`, which any later run on the server
    /// takes, in this process or another (`labs check` after `labs check`).
    Cold,
    /// A sandbox kept in this command with its sessions open: the next run of the lab takes it
    /// as it is, with nothing to rename and no session to start (some 30 ms a dataset while
    /// lanes grade). For `labs grade`, whose lanes' servers are its own; what is left is dropped
    /// with the `Sandboxes`, and a killed grader's leftovers are swept when its lanes start again.
    Warm,
}

/// A sandbox with its checker's and its student's sessions.
pub type Prepared = (Sandbox, (Session, Session));

/// What names the start of a server a spare was made for: its `lab_conninfo()` names the
/// server's address, and its roles' passwords come from the superuser's, so a spare made before
/// a restart that moved either would not work; `spare_<template>_<start>_<tag>`.
fn start_key(server: &Server, key: &str) -> String {
    let (host, port) = server.address_inside();
    let digest = Sha256::digest(format!("{host}\0{port}\0{key}").as_bytes());
    digest[..3].iter().map(|b| format!("{b:02x}")).collect()
}

/// Takes a spare of `template` made for this start of the server for a run of `lab` and
/// `dataset`, if there is one: renamed into place and opened for connections; returns its tag,
/// which names its roles. Two runs may race for one spare; the loser clones.
pub fn claim(
    sandboxes: &Sandboxes,
    admin: &mut postgres::Client,
    template: &str,
    lab: &Lab,
    dataset: &Dataset,
) -> Result<Option<String>> {
    let prefix = sandboxes.spare_prefix(template);
    let spare: Option<String> = admin
        .query_opt(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 LIMIT 1",
            &[&like_prefix(&prefix)],
        )?
        .map(|row| row.get(0));
    let Some(spare) = spare else {
        return Ok(None);
    };
    let tag = spare[prefix.len()..].to_string();
    let db = roles::run_db(lab, dataset, &tag);
    if admin
        .batch_execute(&format!("ALTER DATABASE {spare} RENAME TO {db}"))
        .is_err()
    {
        return Ok(None);
    }
    admin.batch_execute(&format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true"))?;
    Ok(Some(tag))
}

impl Sandboxes {
    /// The prefix of the spares of `template` made for this start of the server.
    fn spare_prefix(&self, template: &str) -> String {
        format!("{}{}_", spare_prefix(template), self.start_key())
    }

    /// The prefix of the spares of `template` this start of the server is making.
    fn preparing_prefix(&self, template: &str) -> String {
        format!("prep_{template}_{}_", self.start_key())
    }

    /// What names this start of the server (`start_key`).
    fn start_key(&self) -> String {
        start_key(&self.server, &self.key)
    }

    /// Takes the warm spare of the template of `lab` and `dataset`, if there is one whose
    /// sessions still answer; one whose sessions do not is dropped.
    pub(super) fn take_warm(&self, lab: &Lab, dataset: &Dataset) -> Result<Option<Prepared>> {
        let template = self.template(lab, dataset)?;
        let found = {
            let mut warm = lock(&self.warm);
            let at = warm.iter().position(|(t, _)| *t == template);
            at.map(|i| warm.swap_remove(i).1)
        };
        let Some((sandbox, (mut checker, mut student))) = found else {
            return Ok(None);
        };
        let alive = |session: &mut Session| session.client.simple_query("").is_ok();
        if alive(&mut checker) && alive(&mut student) {
            Ok(Some((sandbox, (checker, student))))
        } else {
            drop((checker, student));
            self.drop_later(vec![sandbox]);
            Ok(None)
        }
    }

    /// Drops the warm spares in the background (`settle` waits for them): when their sessions
    /// may have died with the server's backends, and when the command ends.
    pub fn drop_warm(&self) {
        let warm = std::mem::take(&mut *lock(&self.warm));
        self.drop_later(warm.into_iter().map(|(_, (sandbox, _))| sandbox).collect());
    }

    /// Makes a spare of every template of `lab` that has none, for the next run to take: made
    /// while this run's student SQL runs, the clone (some 300 files), the run's roles and, warm,
    /// its sessions cost the next run nothing. A cold spare is made ready as
    /// `prep_<template>_<start>_<tag>`, then closed to connections (ALLOW_CONNECTIONS false) and
    /// renamed `spare_<template>_<start>_<tag>`: no one can connect to it until a run takes it,
    /// and only its run knows its roles' passwords; the spares an earlier start of the server
    /// left are dropped. A warm one is made as its run's database. Only on servers the runner
    /// owns: a url server keeps nothing of ours.
    pub fn make_spares(&self, lab: &Lab, spares: Spares) -> Result<()> {
        let server = &self.server;
        if server.backend == Backend::Url || server.password.is_empty() {
            return Ok(());
        }
        if spares == Spares::Warm {
            for dataset in &lab.datasets {
                let template = self.template(lab, dataset)?;
                if !lock(&self.warm).iter().any(|(t, _)| *t == template) {
                    let prepared = self
                        .clone_new(lab, dataset, server.admin()?)
                        .and_then(Sandbox::with_sessions)
                        .with_context(|| format!("cannot make a spare of `{template}`"))?;
                    lock(&self.warm).push((template, prepared));
                }
            }
            return Ok(());
        }
        let mut admin = server.admin()?;
        for dataset in &lab.datasets {
            let template = self.template(lab, dataset)?;
            let (prefix, preparing) = (
                self.spare_prefix(&template),
                self.preparing_prefix(&template),
            );
            let spares: Vec<String> = admin
                .query(
                    "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname LIKE $2",
                    &[
                        &like_prefix(&spare_prefix(&template)),
                        &like_prefix(&format!("prep_{template}_")),
                    ],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect();
            let earlier = spares
                .iter()
                .filter(|name| !name.starts_with(&prefix) && !name.starts_with(&preparing));
            for other in earlier {
                // Best effort: another command may be taking it right now.
                let _ = drop_spare(server, &mut admin, other);
            }
            if spares.iter().any(|name| name.starts_with(&prefix)) {
                continue;
            }
            let tag = roles::new_tag();
            let preparing = format!("{preparing}{tag}");
            self.clone_template(&mut admin, lab, dataset, &preparing, roles::CLOSED)
                .and_then(|()| roles::set_up(server, &self.key, &mut admin, &preparing, &tag))
                .and_then(|()| {
                    admin.batch_execute(&format!(
                        "ALTER DATABASE {preparing} WITH ALLOW_CONNECTIONS false"
                    ))?;
                    // Waits (PostgreSQL does, up to 5 s) for set_up's session to end.
                    admin.batch_execute(&format!(
                        "ALTER DATABASE {preparing} RENAME TO {prefix}{tag}"
                    ))?;
                    Ok(())
                })
                .with_context(|| format!("cannot make a spare of `{template}`"))?;
        }
        Ok(())
    }
}
