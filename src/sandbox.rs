//! A run's sandbox: a fresh database cloned from the lab's template, a fresh unprivileged role
//! for the student's SQL and another for the checker's, all removed when the run ends.

use crate::lab::{Dataset, Lab};
use crate::server::{Admin, Server};
use crate::session::Session;
use anyhow::{bail, Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The cluster-wide role that owns the lab objects in the templates.
const TEMPLATE_OWNER: &str = "labs_template_owner";

/// The cluster-wide role every run's checker role is a member of: what a lab's `prepare` grants
/// the judge (its records in `lab_check`) it grants to this role, which no student ever is.
pub const JUDGE_ROLE: &str = "labs_judge";

/// The schema of the extensions in every run database: owned by the superuser, so no role that
/// runs student code can put an object there; the runner names what it calls there by it.
pub const EXTENSION_SCHEMA: &str = "extensions";

/// The settings of every judge session, given as startup options, which outrank whatever the
/// student set for the database: names resolve in pg_catalog alone (pg_temp last, and it is the
/// judge's own), a table that row-level security would filter is an error rather than fewer rows,
/// and `= NULL` means what the standard says.
const JUDGE_OPTIONS: &str = "-c search_path=pg_catalog,pg_temp -c row_security=off \
    -c transform_null_equals=off -c lock_timeout=5s -c max_parallel_workers_per_gather=0 \
    -c jit=off -c default_transaction_read_only=off";

/// The student's background workers in pg_stat_activity: every backend of the role `$1` but
/// its client sessions.
const STUDENT_WORKERS: &str = "usename = $1 AND backend_type <> 'client backend'";

/// One run's database and roles.
pub struct Sandbox {
    server: Server,
    /// The run's database.
    pub db: String,
    /// The student's role: LOGIN, not superuser, owns the database, may use pg_background.
    pub student: String,
    student_password: String,
    /// The checker's role: LOGIN, not superuser; reads and writes every table, so that checks
    /// can record and reset state, but gains nothing if a check calls the student's objects.
    pub checker: String,
    checker_password: String,
    /// The superuser's session that made the run and ends it, kept for the run's length so
    /// that counting and ending the student's workers after every check costs no new session.
    admin: Mutex<Admin>,
    /// Whether the lab counts the server's worker slots (it holds them all while it runs).
    exclusive: bool,
    dropped: bool,
}

impl Sandbox {
    /// A run's sandbox with its checker's and student's sessions: a warm spare of this process
    /// when there is one, else a new sandbox (`create`) and new sessions.
    pub fn ready(server: &Server, lab: &Lab, dataset: &Dataset) -> Result<Prepared> {
        if let Some(warm) = take_warm(server, lab, dataset)? {
            return Ok(warm);
        }
        let sandbox = Sandbox::create(server, lab, dataset)?;
        if server.backend == crate::server::Backend::Url {
            sandbox.warn_open_databases()?;
        }
        sandbox.with_sessions()
    }

    /// Says once a command, on a url server (whose databases are its owner's, not closed by the
    /// runner), which databases other than its own the run's student could connect to: there
    /// an answer could make objects that outlive the run until the run's end drops them, and
    /// sessions the run must end (README, the url backend).
    fn warn_open_databases(&self) -> Result<()> {
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if WARNED.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let open: Option<String> = self
            .admin()
            .query_one(
                "SELECT string_agg(datname, ', ' ORDER BY datname) FROM pg_database
                 WHERE datname <> $2 AND datallowconn
                   AND has_database_privilege($1, datname, 'CONNECT')",
                &[&self.student, &self.db],
            )?
            .get(0);
        if let Some(open) = open {
            if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!(
                    "labs: warning: on this url server a run's student role may connect to {open}: \
                     revoke CONNECT on them from PUBLIC (see the url backend in README.md)"
                );
            }
        }
        Ok(())
    }

    /// The sandbox with a new session of its checker's and one of its student's.
    fn with_sessions(self) -> Result<Prepared> {
        let sessions = (self.checker_session()?, self.student_session()?);
        Ok((self, sessions))
    }

    /// Takes a spare of the template of `lab` and `dataset`, made ready by an earlier run, or
    /// clones the template (building it first when missing) into a fresh database with fresh
    /// roles.
    pub fn create(server: &Server, lab: &Lab, dataset: &Dataset) -> Result<Sandbox> {
        let template = ensure_template(server, lab, dataset)?;
        let mut admin = server.admin()?;
        match claim_spare(&mut admin, &template, lab, dataset)? {
            Some(tag) => Ok(Sandbox::of_run(server, lab, dataset, &tag, admin)),
            None => Sandbox::clone_new(server, lab, dataset, admin),
        }
    }

    /// Clones the template into a new run's database and makes the run's roles. Once the clone
    /// exists, it belongs to the sandbox, which drops it if the rest fails (say, the server's
    /// backends are restarted after a crash meanwhile).
    fn clone_new(
        server: &Server,
        lab: &Lab,
        dataset: &Dataset,
        mut admin: Admin,
    ) -> Result<Sandbox> {
        let tag = new_tag();
        let db = run_db(lab, dataset, &tag);
        clone_template(&mut admin, server, lab, dataset, &db, CLOSED)
            .with_context(|| format!("cannot create the run database `{db}`"))?;
        let sandbox = Sandbox::of_run(server, lab, dataset, &tag, admin);
        set_up(server, &mut sandbox.admin(), &db, &tag)
            .with_context(|| format!("cannot create the run database `{db}`"))?;
        Ok(sandbox)
    }

    /// The sandbox of the run `tag`, whose database and roles are made.
    fn of_run(server: &Server, lab: &Lab, dataset: &Dataset, tag: &str, admin: Admin) -> Sandbox {
        Sandbox {
            server: server.clone(),
            db: run_db(lab, dataset, tag),
            student: format!("student_{tag}"),
            student_password: role_password(server, &format!("student_{tag}")),
            checker: format!("checker_{tag}"),
            checker_password: role_password(server, &format!("checker_{tag}")),
            admin: Mutex::new(admin),
            exclusive: lab.exclusive,
            dropped: false,
        }
    }

    /// A session in the run's database as the student's role, over TCP with its password.
    pub fn student_session(&self) -> Result<Session> {
        Session::connect(
            self.config(&self.student, &self.student_password),
            &self.server,
        )
    }

    /// A session in the run's database as the checker's role, the judge: no superuser, it
    /// reads every table and writes only the lab's records (`lab_check`), and runs nothing the
    /// student wrote. Its names resolve in pg_catalog alone (`JUDGE_OPTIONS`), so no function or
    /// operator of the student's can stand in for a built-in one; it never waits long for a
    /// lock, never takes a worker slot for a parallel plan (lab 3 counts the slots), and is
    /// never JIT-compiled (a misestimated join over 100k rows once spent 300 ms compiling a
    /// 20 ms query).
    pub fn checker_session(&self) -> Result<Session> {
        let mut config = self.config(&self.checker, &self.checker_password);
        config
            .options(JUDGE_OPTIONS)
            .application_name("labs checker");
        let mut session = Session::connect(config, &self.server)?;
        // The judge relies on these: a session that lost them is the runner's fault, and no
        // check may run in it.
        let row = session.client.query_one(
            "SELECT current_setting('search_path'), current_setting('row_security')",
            &[],
        )?;
        let settings: (String, String) = (row.get(0), row.get(1));
        if settings != ("pg_catalog,pg_temp".into(), "off".into()) {
            bail!(
                "the judge's session has search_path `{}` and row_security `{}`",
                settings.0,
                settings.1
            );
        }
        Ok(session)
    }

    fn config(&self, role: &str, password: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host(&self.server.host)
            .port(self.server.port)
            .user(role)
            .password(password)
            .dbname(&self.db)
            .application_name("labs")
            .connect_timeout(Duration::from_secs(10));
        config
    }

    /// The student's background workers still running after waiting up to `limit` for them
    /// to exit.
    pub fn student_workers(&self, limit: Duration) -> Result<i64> {
        let mut admin = self.admin();
        let until = Instant::now() + limit;
        loop {
            let left: i64 = admin
                .query_one(
                    &format!("SELECT count(*) FROM pg_stat_activity WHERE {STUDENT_WORKERS}"),
                    &[&self.student],
                )?
                .get(0);
            if left == 0 || Instant::now() > until {
                return Ok(left);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Ends every backend of the student's but their session `keep`: the background workers
    /// they left running (detached ones, say) and the connections their code opened (dblink),
    /// either of which could change the database while the judge reads it; waits until they
    /// are gone, so that the next check starts with every worker slot it had. A worker leaves
    /// pg_stat_activity a moment before the postmaster frees its slot, hence the short grace
    /// after the last one, paid only when there was one and only by a lab that counts the
    /// slots: in the others it is usually a worker whose result was read, exiting on its own,
    /// and a slot freed a moment later changes nothing.
    pub fn end_student_backends(&self, keep: i32) -> Result<()> {
        let mut admin = self.admin();
        let ended = terminate_backends(
            &mut admin,
            "usename = $1 AND pid <> $2",
            &[&self.student, &keep],
        )
        .with_context(|| format!("the backends of the run `{}` did not end", self.db))?;
        if ended && self.exclusive {
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Ends every session and background worker of the run (the student's may have left some),
    /// waiting until they are gone.
    pub fn end_sessions(&self) -> Result<()> {
        let mut admin = self.admin();
        terminate_backends(
            &mut admin,
            "datname = $1 OR usename = $2 OR usename = $3",
            &[&self.db, &self.student, &self.checker],
        )
        .with_context(|| format!("the sessions of the run `{}` did not end", self.db))?;
        Ok(())
    }

    /// The run's superuser session (a panic elsewhere while it was held leaves it usable).
    fn admin(&self) -> MutexGuard<'_, Admin> {
        self.admin
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends the run's sessions and drops its database and roles.
    pub fn drop_all(mut self) -> Result<()> {
        self.dropped = true;
        self.cleanup()
    }

    /// Drops the sandboxes of a finished run in the background, each in a thread of its own,
    /// while the next run starts: `settle` waits for them. A failure is said, not returned: the
    /// verdict stands, and what is left is swept like the leftovers of a killed run.
    pub fn drop_later(server: &Server, sandboxes: Vec<Sandbox>) {
        let mut dropping = dropping();
        for sandbox in sandboxes {
            let handle = std::thread::spawn(move || {
                if let Err(err) = sandbox.drop_all() {
                    eprintln!("labs: {err:#}");
                }
            });
            dropping.push((server.key(), handle));
        }
    }

    /// Ends the run's sessions and drops its database and roles; once more with a new superuser
    /// session if that fails, since the run's own may have died with every backend of a server
    /// that crashed, which takes a moment to accept connections again (at most 5 s are waited).
    fn cleanup(&self) -> Result<()> {
        let Err(first) = self.drop_run() else {
            return Ok(());
        };
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            match self.server.admin() {
                Ok(fresh) => {
                    *self.admin() = fresh;
                    return self.drop_run();
                }
                Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(250)),
                Err(_) => return Err(first),
            }
        }
    }

    fn drop_run(&self) -> Result<()> {
        self.end_sessions()?;
        let mut admin = self.admin();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .with_context(|| format!("cannot drop the run database `{}`", self.db))?;
        drop_roles(
            &self.server,
            &mut admin,
            &[self.student.clone(), self.checker.clone()],
        )
        .with_context(|| format!("cannot drop the run `{}`", self.db))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.dropped {
            if let Err(err) = self.cleanup() {
                eprintln!("labs: {err:#}");
            }
        }
    }
}

/// The runs being dropped in the background, with the server of each (`server_key`).
static DROPPING: Mutex<Vec<(String, std::thread::JoinHandle<()>)>> = Mutex::new(Vec::new());

fn dropping() -> MutexGuard<'static, Vec<(String, std::thread::JoinHandle<()>)>> {
    DROPPING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until the runs dropped in the background on `server` are gone: before a dataset that
/// must run alone (a transaction of theirs would hold back its VACUUM), and before the server
/// itself stops or the command ends (`server::Running` waits when dropped).
pub fn settle(server: &Server) {
    let key = server.key();
    let mine = take_where(&mut dropping(), |(k, _)| *k == key);
    for (_, handle) in mine {
        let _ = handle.join();
    }
}

/// Terminates the backends of pg_stat_activity that `filter` (with `params`) selects, again and
/// again until none is left, for at most 15 s; says whether there was any.
fn terminate_backends(
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
fn drop_roles(server: &Server, admin: &mut postgres::Client, roles: &[String]) -> Result<()> {
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

/// The settings of a run's roles, made right after them: a run's sessions and workers may
/// write at most 1 GB of temporary files each (lab 1's tables, all its data, take tens of
/// megabytes; a correct answer's 100k-row UPDATEs and sorts spill none), and a session left
/// idle in a transaction for 2 minutes (longer than any check's time limit) or idle for 30
/// minutes (longer than a warm spare waits for its run) is ended by the server itself, so that
/// none outlives its run even when the runner is killed. `temp_file_limit` is a superuser's
/// setting: the student cannot lift it.
pub fn run_role_settings(roles: &[&str]) -> String {
    roles
        .iter()
        .map(|role| {
            format!(
                "ALTER ROLE {role} SET temp_file_limit = '1GB';
                 ALTER ROLE {role} SET idle_in_transaction_session_timeout = '2min';
                 ALTER ROLE {role} SET idle_session_timeout = '30min';\n"
            )
        })
        .collect()
}

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

/// The prefix of the spare clones of `template`: `spare_<template>_<tag>`.
fn spare_prefix(template: &str) -> String {
    format!("spare_{template}_")
}

/// A LIKE pattern matching `prefix` literally, then anything.
fn like_prefix(prefix: &str) -> String {
    format!("{}%", prefix.replace('_', "\\_"))
}

/// A new random tag, which names a run's database and roles.
fn new_tag() -> String {
    Alphanumeric
        .sample_string(&mut rand::thread_rng(), 10)
        .to_lowercase()
}

/// The run database of `lab` and `dataset` with `tag`.
fn run_db(lab: &Lab, dataset: &Dataset, tag: &str) -> String {
    format!("run_{}_{}_{tag}", lab.number, dataset.name)
}

/// The password of a run's role: derived from the superuser's password and the role's name,
/// so that a run taking a spare made by another process knows it, and no one without the
/// superuser's password can work it out (the student learns only their own, from
/// `lab_conninfo()`). A server without a superuser's password (a url server that trusts its
/// clients) gets no spares, and a key of this process's own instead.
fn role_password(server: &Server, role: &str) -> String {
    static PROCESS_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let key = if server.password.is_empty() {
        PROCESS_KEY.get_or_init(|| Alphanumeric.sample_string(&mut rand::thread_rng(), 32))
    } else {
        &server.password
    };
    let digest = Sha256::digest(format!("{key}\0{role}").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// PBKDF2 iterations of the checker role's SCRAM secret. PostgreSQL's 4096 make a guessable
/// password costly to find from its secret; a run's password is 96 random-looking bits, which
/// no number of guesses finds, while each of the checker's sessions paid 2–3 ms of the
/// runner's CPU for the 4096 (5 ms while lanes grade). The student's role keeps PostgreSQL's
/// own secret: lab 2 measures what a new dblink connection with it costs (`lab_conninfo()`).
const CHECKER_SCRAM_ITERATIONS: u32 = 16;

/// The SCRAM-SHA-256 secret of `password` (RFC 5802, 7677), in the form `CREATE ROLE ...
/// PASSWORD` stores as it is: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
/// `password` is ASCII, which SASLprep leaves as it is.
fn scram_secret(password: &str) -> String {
    scram_secret_salted(password, &rand::random())
}

fn scram_secret_salted(password: &str, salt: &[u8; 16]) -> String {
    use base64::engine::{general_purpose::STANDARD, Engine};
    use hmac::{Hmac, KeyInit, Mac};
    let hmac = |key: &[u8], parts: &[&[u8]]| -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    };
    let mut u = hmac(password.as_bytes(), &[salt, &1u32.to_be_bytes()]);
    let mut salted = u.clone();
    for _ in 1..CHECKER_SCRAM_ITERATIONS {
        u = hmac(password.as_bytes(), &[&u]);
        salted.iter_mut().zip(&u).for_each(|(s, x)| *s ^= x);
    }
    let stored = Sha256::digest(hmac(&salted, &[b"Client Key"]));
    let server = hmac(&salted, &[b"Server Key"]);
    format!(
        "SCRAM-SHA-256${CHECKER_SCRAM_ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored),
        STANDARD.encode(server)
    )
}

/// The sessions a run's student role may have at once (its own, lab 2's fresh one, dblink's):
/// an answer cannot take every connection of the server.
const STUDENT_CONNECTIONS: u32 = 20;

/// How a run's database is cloned: closed to connections until `set_up` has taken the right
/// to connect from PUBLIC, so that no other run's role ever gets in.
const CLOSED: &str = " ALLOW_CONNECTIONS = false";

/// Makes the roles of the run `tag` and gives them the database `db` (cloned `CLOSED`), then
/// opens it: the student's role owns it and every lab object in it, may use pg_background
/// (found through its `search_path`, which ends in the extensions' schema) and has
/// `lab_conninfo()`; the checker's may connect, read every table and write the lab's records.
fn set_up(server: &Server, admin: &mut postgres::Client, db: &str, tag: &str) -> Result<()> {
    let (student, checker) = (format!("student_{tag}"), format!("checker_{tag}"));
    let sp = role_password(server, &student);
    admin.batch_execute(&format!(
        "CREATE ROLE {student} LOGIN PASSWORD '{sp}' NOSUPERUSER NOCREATEDB NOCREATEROLE
             CONNECTION LIMIT {STUDENT_CONNECTIONS};
         ALTER ROLE {student} SET search_path = \"$user\", public, {EXTENSION_SCHEMA};
         ALTER ROLE {student} SET track_functions = 'all';
         CREATE ROLE {checker} LOGIN PASSWORD '{cs}' NOSUPERUSER NOCREATEDB NOCREATEROLE
             IN ROLE {JUDGE_ROLE}, pg_read_all_data, pg_read_all_stats;
         ALTER DATABASE {db} OWNER TO {student};
         REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;
         GRANT CONNECT, CREATE ON DATABASE {db} TO {checker};",
        cs = scram_secret(&role_password(server, &checker)),
    ))?;
    admin.batch_execute(&run_role_settings(&[&student, &checker]))?;
    admin.batch_execute(&format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true"))?;
    let mut run = server.connect(db)?;
    let (host, port) = server.address_inside();
    // The database's name is read when called: a spare is renamed when a run takes it.
    run.batch_execute(&format!(
        "REASSIGN OWNED BY {TEMPLATE_OWNER} TO {student};
         GRANT pgbackground_role TO {student};
         CREATE FUNCTION public.lab_conninfo() RETURNS text LANGUAGE sql STABLE
             RETURN 'host={host} port={port} dbname=' || current_database()
                    || ' user={student} password={sp}';
         GRANT EXECUTE ON FUNCTION public.lab_conninfo() TO {student};"
    ))
    .with_context(|| format!("cannot prepare the run database `{db}`"))?;
    Ok(())
}

/// Takes a spare of `template` for a run of `lab` and `dataset`, if there is one: renamed into
/// place and opened for connections; returns its tag, which names its roles. Two runs may race
/// for one spare; the loser clones.
fn claim_spare(
    admin: &mut postgres::Client,
    template: &str,
    lab: &Lab,
    dataset: &Dataset,
) -> Result<Option<String>> {
    let prefix = spare_prefix(template);
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
    let db = run_db(lab, dataset, &tag);
    if admin
        .batch_execute(&format!("ALTER DATABASE {spare} RENAME TO {db}"))
        .is_err()
    {
        return Ok(None);
    }
    admin.batch_execute(&format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true"))?;
    Ok(Some(tag))
}

/// How a run leaves a spare sandbox of each template of its lab for the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spares {
    /// A database closed to connections and named `spare_*`, which any later run on the server
    /// takes, in this process or another (`labs check` after `labs check`).
    Cold,
    /// A sandbox kept in this process with its sessions open: the next run of the lab takes it
    /// as it is, with nothing to rename and no session to start (some 30 ms a dataset while
    /// lanes grade). For `labs grade`, whose lanes' servers are its own; `drop_warm` drops
    /// what is left, and a killed grader's leftovers are swept when its lanes start again.
    Warm,
}

/// A sandbox with its checker's and its student's sessions.
pub type Prepared = (Sandbox, (Session, Session));

/// The warm spares of this process: the server (`Server::key`), the template, the sandbox.
static WARM: Mutex<Vec<(String, String, Prepared)>> = Mutex::new(Vec::new());

fn warm() -> MutexGuard<'static, Vec<(String, String, Prepared)>> {
    WARM.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes this process's warm spare of the template of `lab` and `dataset`, if it has one whose
/// sessions still answer; one whose sessions do not is dropped.
fn take_warm(server: &Server, lab: &Lab, dataset: &Dataset) -> Result<Option<Prepared>> {
    let template = ensure_template(server, lab, dataset)?;
    let key = server.key();
    let found = {
        let mut warm = warm();
        let at = warm
            .iter()
            .position(|(k, t, _)| *k == key && *t == template);
        at.map(|i| warm.swap_remove(i).2)
    };
    let Some((sandbox, (mut checker, mut student))) = found else {
        return Ok(None);
    };
    let alive = |session: &mut Session| session.client.simple_query("").is_ok();
    if alive(&mut checker) && alive(&mut student) {
        Ok(Some((sandbox, (checker, student))))
    } else {
        drop((checker, student));
        Sandbox::drop_later(server, vec![sandbox]);
        Ok(None)
    }
}

/// Drops the warm spares of `server` in the background (`settle` waits for them).
pub fn drop_warm(server: &Server) {
    let key = server.key();
    let mine = take_where(&mut warm(), |(k, _, _)| *k == key);
    Sandbox::drop_later(
        server,
        mine.into_iter()
            .map(|(_, _, (sandbox, _))| sandbox)
            .collect(),
    );
}

/// Takes the entries of `list` that `is_mine` picks, leaving the others in their order.
fn take_where<T>(list: &mut Vec<T>, is_mine: impl Fn(&T) -> bool) -> Vec<T> {
    let (mine, others) = std::mem::take(list).into_iter().partition(|e| is_mine(e));
    *list = others;
    mine
}

/// Makes a spare of every template of `lab` that has none, for the next run to take: made
/// while this run's student SQL runs, the clone (some 300 files), the run's roles and, warm,
/// its sessions cost the next run nothing. A cold spare is made ready as
/// `prep_<template>_<tag>`, then closed to connections (ALLOW_CONNECTIONS false) and renamed
/// `spare_<template>_<tag>`: no one can connect to it until a run takes it, and only its run
/// knows its roles' passwords. A warm one is made as its run's database. Only on servers the
/// runner owns: a url server keeps nothing of ours.
pub fn make_spares(server: &Server, lab: &Lab, spares: Spares) -> Result<()> {
    if server.backend == crate::server::Backend::Url || server.password.is_empty() {
        return Ok(());
    }
    if spares == Spares::Warm {
        let key = server.key();
        for dataset in &lab.datasets {
            let template = ensure_template(server, lab, dataset)?;
            if !warm().iter().any(|(k, t, _)| *k == key && *t == template) {
                let prepared = Sandbox::clone_new(server, lab, dataset, server.admin()?)
                    .and_then(Sandbox::with_sessions)
                    .with_context(|| format!("cannot make a spare of `{template}`"))?;
                warm().push((key.clone(), template, prepared));
            }
        }
        return Ok(());
    }
    let mut admin = server.admin()?;
    for dataset in &lab.datasets {
        let template = ensure_template(server, lab, dataset)?;
        let prefix = spare_prefix(&template);
        let have = admin
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname LIKE $1",
                &[&like_prefix(&prefix)],
            )?
            .is_some();
        if !have {
            let tag = new_tag();
            let preparing = format!("prep_{template}_{tag}");
            clone_template(&mut admin, server, lab, dataset, &preparing, CLOSED)
                .and_then(|()| set_up(server, &mut admin, &preparing, &tag))
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
    }
    Ok(())
}

/// Drops a spare (or one being made) and its run's roles, named after the tag that ends its
/// name.
fn drop_spare(server: &Server, admin: &mut postgres::Client, name: &str) -> Result<()> {
    let tag = name.rsplit('_').next().unwrap_or_default();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    drop_roles(
        server,
        admin,
        &[format!("student_{tag}"), format!("checker_{tag}")],
    )
}

/// Drops every spare on a server that has just started: a spare's `lab_conninfo()` names the
/// port of the start it was made in. Every spare is tried; the error names those left.
pub fn drop_spares(server: &Server) -> Result<()> {
    if server.backend == crate::server::Backend::Url {
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
        crate::intact::record(),
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

/// The templates this process has found or built, by server, lab and dataset: every run needs
/// its template twice (its sandbox, the next run's spare), and looking for it costs a session
/// and a read of every extension's control file. A clone that fails forgets its template.
static KNOWN_TEMPLATES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The key of `lab` and `dataset` on `server` in `KNOWN_TEMPLATES`.
fn known_key(server: &Server, lab: &Lab, dataset: &Dataset) -> String {
    format!("{} {} {}", server.key(), lab.dir.display(), dataset.name)
}

fn known_templates() -> MutexGuard<'static, BTreeMap<String, String>> {
    KNOWN_TEMPLATES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Clones the template of `lab` and `dataset` like `clone`, forgetting the template when the
/// clone fails (someone may have dropped it).
fn clone_template(
    admin: &mut postgres::Client,
    server: &Server,
    lab: &Lab,
    dataset: &Dataset,
    name: &str,
    options: &str,
) -> Result<()> {
    let template = ensure_template(server, lab, dataset)?;
    clone(admin, &template, name, options).inspect_err(|_| {
        known_templates().remove(&known_key(server, lab, dataset));
    })
}

/// Returns the template database of `lab` and `dataset`, building it when missing: the dataset's
/// parameters become settings `lab.<name>`, setup.sql runs as the template owner role, and the
/// finished database is renamed into place so that no one clones a half-built one.
pub fn ensure_template(server: &Server, lab: &Lab, dataset: &Dataset) -> Result<String> {
    let key = known_key(server, lab, dataset);
    if let Some(name) = known_templates().get(&key) {
        return Ok(name.clone());
    }
    let name = find_or_build_template(server, lab, dataset)?;
    known_templates().insert(key, name.clone());
    Ok(name)
}

/// `ensure_template` without the process's memory of templates.
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
        .batch_execute(&crate::intact::record())
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

#[cfg(test)]
mod tests {
    use super::scram_secret_salted;

    #[test]
    fn scram_secret_is_what_pbkdf2_gives() {
        // Python: hashlib.pbkdf2_hmac('sha256', password, salt, 16), then HMAC "Client Key"
        // (hashed: StoredKey) and "Server Key".
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            scram_secret_salted("0123456789abcdef01234567", &salt),
            "SCRAM-SHA-256$16:AAECAwQFBgcICQoLDA0ODw==\
             $thgQ6b1YruRMxqzXI61i6ln4TcHN0lJ9P8tgi8aTMEQ=\
             :Sz6twCQPAwk1khj4i06/lQeW1V8aJ97macUUOBSMm4g="
        );
    }
}
