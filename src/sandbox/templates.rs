//! The labs' templates: a database a lab and dataset, built once per server from the lab's
//! setup and cloned for every run; a template is renamed whenever what it is built from changes.

use super::reaper::{drop_spare, like_prefix, spare_prefix};
use super::{lock, Sandboxes, JUDGE_ROLE, TEMPLATE_OWNER};
use crate::lab::{Dataset, Lab};
use crate::server::{Admin, Server};
use anyhow::{Context, Result};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

/// Clones `template` into a new database `name`, with `options` of CREATE DATABASE. A file copy
/// clones a template of tens of megabytes several times faster than the WAL strategy
/// PostgreSQL 15 defaults to (its checkpoint is cheap with fsync off); 14 knows only the file
/// copy and no STRATEGY option.
fn clone(admin: &mut postgres::Client, template: &str, name: &str, options: &str) -> Result<()> {
    let version: i32 = admin
        .query_one("SELECT current_setting('server_version_num')::int", &[])?
        .get(0);
    let strategy = if version >= 150000 {
        " STRATEGY = FILE_COPY"
    } else {
        ""
    };
    admin.batch_execute(&format!(
        "CREATE DATABASE {name} TEMPLATE {template}{strategy}{options}"
    ))?;
    Ok(())
}

/// The extensions every run database has, created in the templates by the superuser in a
/// schema of the superuser's (the student's role does not own them, cannot drop them and
/// cannot add to their schema).
const EXTENSIONS: &str = "CREATE SCHEMA extensions;
    GRANT USAGE ON SCHEMA extensions TO PUBLIC;
    CREATE EXTENSION pg_background SCHEMA extensions;
    CREATE EXTENSION dblink SCHEMA extensions;";

/// What a template and its spares hold: 3 since the extensions live in their own schema and
/// the template keeps what the judge verifies the run database against. A change renames every
/// template, so that the old ones and their spares, which a run could not use, are dropped as
/// stale.
const SPARE_FORMAT: u32 = 3;

/// The name of the template of `lab` and `dataset`: it changes whenever the setup, the
/// parameters, the lab's version, the versions of the extensions, what the structure check
/// records or the spares' format change, so a stale template is never used.
fn template_name(lab: &Lab, dataset: &Dataset, setup: &str, extensions: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        SPARE_FORMAT,
        super::intact::record(),
        lab.version,
        setup,
        &lab.prepare,
        format!("{:?}", dataset.params),
        EXTENSIONS,
        extensions,
    )
        .hash(&mut hasher);
    format!(
        "{}{:08x}",
        template_prefix(lab, dataset),
        hasher.finish() as u32
    )
}

/// What the names of every template of `lab` and `dataset`, whatever their version, begin with.
fn template_prefix(lab: &Lab, dataset: &Dataset) -> String {
    format!("tpl_lab{}_{}_", lab.number, dataset.name)
}

impl Sandboxes {
    /// The key of `lab` and `dataset` in the templates found or built.
    fn known_key(lab: &Lab, dataset: &Dataset) -> (PathBuf, String) {
        (lab.dir.clone(), dataset.name.clone())
    }

    /// Clones the template of `lab` and `dataset` like `clone`, forgetting the template when the
    /// clone fails (someone may have dropped it).
    pub(super) fn clone_template(
        &self,
        admin: &mut postgres::Client,
        lab: &Lab,
        dataset: &Dataset,
        name: &str,
        options: &str,
    ) -> Result<()> {
        let template = self.template(lab, dataset)?;
        clone(admin, &template, name, options).inspect_err(|_| {
            lock(&self.templates).remove(&Sandboxes::known_key(lab, dataset));
        })
    }

    /// Returns the template database of `lab` and `dataset`, building it when missing: the
    /// dataset's parameters become settings `lab.<name>`, setup.sql runs as the template owner
    /// role, and the finished database is renamed into place so that no one clones a half-built
    /// one.
    pub fn template(&self, lab: &Lab, dataset: &Dataset) -> Result<String> {
        let key = Sandboxes::known_key(lab, dataset);
        if let Some(name) = lock(&self.templates).get(&key) {
            return Ok(name.clone());
        }
        let name = find_or_build_template(&self.server, lab, dataset)?;
        lock(&self.templates).insert(key, name.clone());
        Ok(name)
    }
}

/// `Sandboxes::template` without the command's memory of templates.
fn find_or_build_template(server: &Server, lab: &Lab, dataset: &Dataset) -> Result<String> {
    let setup = lab.read("setup.sql")?;
    let mut admin = server.admin()?;
    let extensions: String = admin
        .query_one(
            "SELECT coalesce(string_agg(name || ' ' || default_version, ', ' ORDER BY name), '')
             FROM pg_available_extensions WHERE name IN ('pg_background', 'dblink')",
            &[],
        )?
        .get(0);
    let name = template_name(lab, dataset, &setup, &extensions);
    let exists = |admin: &mut postgres::Client| -> Result<bool> {
        Ok(admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
            .is_some())
    };
    if exists(&mut admin)? {
        return Ok(name);
    }
    // One builder at a time on this server; the others wait and then find it built.
    let _building = TemplateLock::take(server)?;
    if exists(&mut admin)? {
        return Ok(name);
    }
    eprintln!(
        "labs: building the template of lab {} dataset `{}` (once per server)",
        lab.number, dataset.name
    );
    let building = format!("{name}_building");
    admin.batch_execute(&format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{TEMPLATE_OWNER}') THEN
                 CREATE ROLE {TEMPLATE_OWNER} NOLOGIN;
             END IF;
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{JUDGE_ROLE}') THEN
                 CREATE ROLE {JUDGE_ROLE} NOLOGIN;
             END IF;
         END $$;"
    ))?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))?;
    // Owned by the superuser: REASSIGN OWNED in a clone also moves shared objects, and the
    // template database itself must never pass to a student.
    admin.batch_execute(&format!("CREATE DATABASE {building}"))?;
    // No run's role may connect while it is built: what it left there (a large object, say)
    // would be in every clone.
    admin.batch_execute(&format!(
        "REVOKE CONNECT, TEMPORARY ON DATABASE {building} FROM PUBLIC"
    ))?;
    let mut settings = String::new();
    for (key, value) in &dataset.params {
        let value = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        settings.push_str(&format!(
            "SET lab.{key} = '{}';\n",
            value.replace('\'', "''")
        ));
    }
    let mut build = server.connect(&building)?;
    build.batch_execute(&format!(
        "ALTER SCHEMA public OWNER TO {TEMPLATE_OWNER};\n{settings}SET ROLE {TEMPLATE_OWNER};"
    ))?;
    build.batch_execute(&setup).with_context(|| {
        format!(
            "the setup of lab {} (`{}`) failed on dataset `{}`",
            lab.number,
            lab.file("setup.sql").display(),
            dataset.name
        )
    })?;
    build.batch_execute("RESET ROLE")?;
    if let Some(prepare) = &lab.prepare {
        build.batch_execute(prepare).with_context(|| {
            format!(
                "the `prepare` of lab {} failed on dataset `{}`",
                lab.number, dataset.name
            )
        })?;
    }
    build.batch_execute(EXTENSIONS).with_context(|| {
        format!(
            "cannot create pg_background and dblink in the template of lab {}",
            lab.number
        )
    })?;
    // Frozen and analysed, so that every clone starts from the same, stable table sizes.
    build.batch_execute("VACUUM (FREEZE, ANALYZE)")?;
    // What the judge compares every run database with before it trusts it (`intact`).
    build
        .batch_execute(&super::intact::record())
        .context("cannot record the template's structure")?;
    drop(build);
    // Every run's starting point, which no one but the superuser connects to.
    admin.batch_execute(&format!(
        "ALTER DATABASE {building} RENAME TO {name};
         ALTER DATABASE {name} WITH IS_TEMPLATE true;"
    ))?;
    drop_stale_templates(server, &mut admin, lab, dataset, &name);
    Ok(name)
}

/// The template builder's advisory lock, held in the runner's own database (no student's
/// session can take it there) until dropped, also when the build fails: a session that cannot
/// say it let go is closed, which lets go too.
struct TemplateLock(Option<Admin>);

impl TemplateLock {
    fn take(server: &Server) -> Result<TemplateLock> {
        let mut session = server.runner()?;
        session.execute("SELECT pg_advisory_lock(hashtext('labs_template'))", &[])?;
        Ok(TemplateLock(Some(session)))
    }
}

impl Drop for TemplateLock {
    fn drop(&mut self) {
        if let Some(mut session) = self.0.take() {
            let unlocked =
                session.execute("SELECT pg_advisory_unlock(hashtext('labs_template'))", &[]);
            if unlocked.is_err() {
                session.discard();
            }
        }
    }
}

/// Drops the templates of the same lab and dataset that an earlier version of the lab built,
/// and their spares: no run clones or takes them any more, and lab 1's take tens of megabytes
/// each. Best effort: a template that is being cloned right now stays until the next build.
fn drop_stale_templates(
    server: &Server,
    admin: &mut postgres::Client,
    lab: &Lab,
    dataset: &Dataset,
    name: &str,
) {
    let stale_spares = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname NOT LIKE $2",
            &[
                &like_prefix(&format!("spare_{}", template_prefix(lab, dataset))),
                &like_prefix(&spare_prefix(name)),
            ],
        )
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .unwrap_or_else(|_| Vec::new());
    for old in stale_spares {
        let _ = drop_spare(server, admin, &old);
    }
    let pattern = like_prefix(&template_prefix(lab, dataset));
    let stale = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2 \
             AND datname NOT LIKE '%\\_building'",
            &[&pattern, &name],
        )
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .unwrap_or_else(|_| Vec::new());
    for old in stale {
        // Two queries: a batch of both would run in one transaction, which DROP DATABASE refuses.
        let dropped = admin
            .batch_execute(&format!("ALTER DATABASE {old} WITH IS_TEMPLATE false"))
            .and_then(|_| admin.batch_execute(&format!("DROP DATABASE {old}")));
        if dropped.is_err() {
            let _ = admin.batch_execute(&format!("ALTER DATABASE {old} WITH IS_TEMPLATE true"));
        }
    }
}
