//! Ending what runs leave: their backends, their roles with everything they own in any database,
//! spares, and, for a server no one else uses, every run database and spare a killed command left.

use super::roles;
use crate::server::{Backend, Server};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

/// Terminates the backends of pg_stat_activity that `filter` (with `params`) selects, again and
/// again until none is left, for at most 15 s; says whether there was any.
pub fn terminate_backends(
    admin: &mut postgres::Client,
    filter: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut any = false;
    loop {
        let left: i64 = admin
            .query_one(
                &format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                     WHERE pid <> pg_backend_pid() AND ({filter})"
                ),
                params,
            )?
            .get(0);
        if left == 0 {
            return Ok(any);
        }
        any = true;
        if Instant::now() > deadline {
            bail!("{left} sessions did not end within 15 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Ends every session and worker on `server` and drops every run database and role: what a
/// killed `labs grade` left in a lane's server. Only for a server no one else uses. It tries
/// everything, whatever fails: what is left is said in one warning, and only a server that does
/// not answer is an error.
pub fn sweep(server: &Server) -> Result<()> {
    let mut admin = server.admin()?;
    let mut left = Vec::new();
    if let Err(err) = terminate_backends(
        &mut admin,
        // pg_background's workers report their own type: the slot holders of a killed run
        // would otherwise hold their slots for minutes.
        "backend_type IN ('client backend', 'background worker', 'pg_background')",
        &[],
    ) {
        left.push(format!("sessions of an earlier run ({err:#})"));
    }
    let mut names = |sql: &str| -> Result<Vec<String>> {
        Ok(admin.query(sql, &[])?.iter().map(|r| r.get(0)).collect())
    };
    let databases = names("SELECT datname FROM pg_database WHERE datname LIKE 'run\\_%'")?;
    let roles = names(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'student\\_%' OR rolname LIKE 'checker\\_%'",
    )?;
    let mut removed = 0;
    for db in &databases {
        match admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")) {
            Ok(()) => removed += 1,
            Err(err) => left.push(format!("database `{db}` ({err})")),
        }
    }
    // Spares too: their roles go with every other run's.
    if let Err(err) = drop_spares(server) {
        left.push(format!("{err:#}"));
    }
    for role in roles {
        if let Err(err) = drop_roles(server, &mut admin, std::slice::from_ref(&role)) {
            left.push(format!("role `{role}` ({err:#})"));
        }
    }
    if removed > 0 {
        eprintln!(
            "labs: server on port {}: removed {removed} run databases an interrupted run left",
            server.port,
        );
    }
    if !left.is_empty() {
        eprintln!(
            "labs: warning: server on port {}: an earlier run left what could not be dropped: {}",
            server.port,
            left.join("; ")
        );
    }
    Ok(())
}

/// Drops the run roles `roles` and everything of theirs on the server. First no new session
/// or worker of theirs may start (NOLOGIN: a background worker logs in as its role too), and
/// every one still running is ended, on any database (dblink connections, pg_background
/// workers); then, in every database where `pg_shdepend` says they own something or hold a
/// privilege (large objects included; dbid 0, shared objects, is handled from `postgres`),
/// `DROP OWNED BY` drops and revokes it; then the roles go. A database that cannot be cleaned
/// leaves the roles pinned: the error names it.
pub fn drop_roles(server: &Server, admin: &mut postgres::Client, roles: &[String]) -> Result<()> {
    let roles: Vec<String> = admin
        .query(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY($1)",
            &[&roles],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if roles.is_empty() {
        return Ok(());
    }
    let list = roles.join(", ");
    admin.batch_execute(
        &roles
            .iter()
            .map(|role| format!("ALTER ROLE {role} NOLOGIN;"))
            .collect::<String>(),
    )?;
    terminate_backends(admin, "usename = ANY($1)", &[&roles])
        .with_context(|| format!("the sessions of `{list}` did not end"))?;
    let databases: Vec<String> = admin
        .query(
            "SELECT DISTINCT coalesce(db.datname, 'postgres') FROM pg_shdepend AS d
                 LEFT JOIN pg_database AS db ON db.oid = d.dbid
             WHERE d.refclassid = 'pg_authid'::regclass
               AND d.refobjid IN (SELECT oid FROM pg_roles WHERE rolname = ANY($1))
               AND (d.dbid = 0 OR db.oid IS NOT NULL)",
            &[&roles],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut failed = Vec::new();
    for db in databases {
        let dropped = if db == "postgres" {
            admin
                .batch_execute(&format!("DROP OWNED BY {list}"))
                .map_err(anyhow::Error::from)
        } else {
            server
                .connect(&db)
                .and_then(|mut c| Ok(c.batch_execute(&format!("DROP OWNED BY {list}"))?))
        };
        if let Err(err) = dropped {
            failed.push(format!("in `{db}`: {err:#}"));
        }
    }
    let dropped = admin.batch_execute(
        &roles
            .iter()
            .map(|role| format!("DROP ROLE IF EXISTS {role};"))
            .collect::<String>(),
    );
    match (dropped, failed.is_empty()) {
        (Ok(()), _) => Ok(()),
        (Err(err), true) => Err(err).with_context(|| format!("cannot drop the roles `{list}`")),
        (Err(err), false) => Err(err).with_context(|| {
            format!(
                "cannot drop the roles `{list}`: what they own could not be dropped {}",
                failed.join("; ")
            )
        }),
    }
}

/// The prefix of every spare clone of `template`, whichever start of the server made it.
pub fn spare_prefix(template: &str) -> String {
    format!("spare_{template}_")
}

/// A LIKE pattern matching `prefix` literally, then anything.
pub fn like_prefix(prefix: &str) -> String {
    format!("{}%", prefix.replace('_', "\\_"))
}

/// Drops a spare (or one being made) and its run's roles, named after the tag that ends its
/// name.
pub fn drop_spare(server: &Server, admin: &mut postgres::Client, name: &str) -> Result<()> {
    let tag = name.rsplit('_').next().unwrap_or_default();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    let (student, checker) = roles::names(tag);
    drop_roles(server, admin, &[student, checker])
}

/// Drops every spare on the server, of every template and start (`sweep` does, for a server no
/// one else uses). Every spare is tried; the error names those left.
pub fn drop_spares(server: &Server) -> Result<()> {
    if server.backend == Backend::Url {
        return Ok(());
    }
    let mut admin = server.admin()?;
    let spares: Vec<String> = admin
        .query(
            "SELECT datname FROM pg_database
             WHERE datname LIKE 'spare\\_tpl\\_%' OR datname LIKE 'prep\\_tpl\\_%'",
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut failed = Vec::new();
    for spare in spares {
        if let Err(err) = drop_spare(server, &mut admin, &spare) {
            failed.push(format!("`{spare}` ({err:#})"));
        }
    }
    if !failed.is_empty() {
        bail!("cannot drop the spare databases {}", failed.join("; "));
    }
    Ok(())
}
