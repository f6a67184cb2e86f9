//! A run's sandbox: a fresh database cloned from the lab's template, a fresh unprivileged role
//! for the student's SQL and another for the checker's, all removed when the run ends; and
//! `Sandboxes`, what a command keeps of a server's sandboxes (templates, spares, drops in flight).

pub mod intact;
mod reaper;
mod roles;
mod spares;
mod templates;

pub use reaper::sweep;
pub use spares::{Prepared, Spares};

use crate::lab::{Dataset, Lab};
use crate::server::session::Session;
use crate::server::{Admin, Server};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The cluster-wide role that owns the lab objects in the templates.
pub const TEMPLATE_OWNER: &str = "labs_template_owner";

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

/// What a command keeps of one server's sandboxes: the templates it found or built, its warm
/// spares, and the sandboxes it is dropping in the background. Made once a command and server
/// (`Sandboxes::new`) and shared by the command's runs; when dropped, its warm spares are dropped
/// and every drop in flight is waited for, so declare it after the server it serves.
pub struct Sandboxes {
    server: Server,
    /// What the run roles' passwords are derived from (`roles::password`).
    key: String,
    /// The sandboxes being dropped in the background.
    dropping: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The warm spares: the template of each, with the sandbox and its sessions.
    warm: Mutex<Vec<(String, Prepared)>>,
    /// The templates found or built, by lab folder and dataset: every run needs its template
    /// twice (its sandbox, the next run's spare), and looking for it costs a session and a read
    /// of every extension's control file. A clone that fails forgets its template.
    templates: Mutex<BTreeMap<(PathBuf, String), String>>,
    /// Whether the url server's open databases were said (`warn_open_databases`).
    warned: AtomicBool,
}

impl Sandboxes {
    /// The sandboxes of `server` for this command: none yet.
    pub fn new(server: &Server) -> Sandboxes {
        Sandboxes {
            server: server.clone(),
            key: roles::key(server),
            dropping: Mutex::default(),
            warm: Mutex::default(),
            templates: Mutex::default(),
            warned: AtomicBool::new(false),
        }
    }

    /// The server the sandboxes live on.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// A run's sandbox with its checker's and student's sessions: a warm spare when there is
    /// one, else a new sandbox (`create`) and new sessions.
    pub fn ready(&self, lab: &Lab, dataset: &Dataset) -> Result<Prepared> {
        if let Some(warm) = self.take_warm(lab, dataset)? {
            return Ok(warm);
        }
        let sandbox = self.create(lab, dataset)?;
        if self.server.backend == crate::server::Backend::Url {
            self.warn_open_databases(&sandbox)?;
        }
        sandbox.with_sessions()
    }

    /// Says once, on a url server (whose databases are its owner's, not closed by the runner),
    /// which databases other than its own the run's student could connect to: there an answer
    /// could make objects that outlive the run until the run's end drops them, and sessions the
    /// run must end (README, the url backend).
    fn warn_open_databases(&self, sandbox: &Sandbox) -> Result<()> {
        if self.warned.load(Ordering::Relaxed) {
            return Ok(());
        }
        let open: Option<String> = sandbox
            .admin()
            .query_one(
                "SELECT string_agg(datname, ', ' ORDER BY datname) FROM pg_database
                 WHERE datname <> $2 AND datallowconn
                   AND has_database_privilege($1, datname, 'CONNECT')",
                &[&sandbox.student, &sandbox.db],
            )?
            .get(0);
        if let Some(open) = open {
            if !self.warned.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "labs: warning: on this url server a run's student role may connect to {open}: \
                     revoke CONNECT on them from PUBLIC (see the url backend in README.md)"
                );
            }
        }
        Ok(())
    }

    /// Takes a spare of the template of `lab` and `dataset`, made ready by an earlier run, or
    /// clones the template (building it first when missing) into a fresh database with fresh
    /// roles.
    pub fn create(&self, lab: &Lab, dataset: &Dataset) -> Result<Sandbox> {
        let template = self.template(lab, dataset)?;
        let mut admin = self.server.admin()?;
        match spares::claim(self, &mut admin, &template, lab, dataset)? {
            Some(tag) => Ok(self.of_run(lab, dataset, &tag, admin)),
            None => self.clone_new(lab, dataset, admin),
        }
    }

    /// Clones the template into a new run's database and makes the run's roles. Once the clone
    /// exists, it belongs to the sandbox, which drops it if the rest fails (say, the server's
    /// backends are restarted after a crash meanwhile).
    fn clone_new(&self, lab: &Lab, dataset: &Dataset, mut admin: Admin) -> Result<Sandbox> {
        let tag = roles::new_tag();
        let db = roles::run_db(lab, dataset, &tag);
        self.clone_template(&mut admin, lab, dataset, &db, roles::CLOSED)
            .with_context(|| format!("cannot create the run database `{db}`"))?;
        let sandbox = self.of_run(lab, dataset, &tag, admin);
        roles::set_up(&self.server, &self.key, &mut sandbox.admin(), &db, &tag)
            .with_context(|| format!("cannot create the run database `{db}`"))?;
        Ok(sandbox)
    }

    /// The sandbox of the run `tag`, whose database and roles are made.
    fn of_run(&self, lab: &Lab, dataset: &Dataset, tag: &str, admin: Admin) -> Sandbox {
        let (student, checker) = roles::names(tag);
        Sandbox {
            server: self.server.clone(),
            db: roles::run_db(lab, dataset, tag),
            student_password: roles::password(&self.key, &student),
            checker_password: roles::password(&self.key, &checker),
            student,
            checker,
            admin: Mutex::new(admin),
            exclusive: lab.exclusive,
            dropped: false,
        }
    }

    /// Drops the sandboxes of a finished run in the background, each in a thread of its own,
    /// while the next run starts: `settle` waits for them. A failure is said, not returned: the
    /// verdict stands, and what is left is swept like the leftovers of a killed run.
    pub fn drop_later(&self, sandboxes: Vec<Sandbox>) {
        let mut dropping = lock(&self.dropping);
        for sandbox in sandboxes {
            dropping.push(std::thread::spawn(move || {
                if let Err(err) = sandbox.drop_all() {
                    eprintln!("labs: {err:#}");
                }
            }));
        }
    }

    /// Waits until the sandboxes dropped in the background are gone: before a dataset that must
    /// run alone (a transaction of theirs would hold back its VACUUM), and when the command
    /// ends (`Drop`).
    pub fn settle(&self) {
        let mine = std::mem::take(&mut *lock(&self.dropping));
        for handle in mine {
            let _ = handle.join();
        }
    }
}

impl Drop for Sandboxes {
    /// Drops the warm spares and waits for every drop in flight.
    fn drop(&mut self) {
        self.drop_warm();
        self.settle();
    }
}

/// A mutex's guard, also when a panic elsewhere poisoned it (what it guards stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Sandbox {
    /// The sandbox with a new session of its checker's and one of its student's.
    fn with_sessions(self) -> Result<Prepared> {
        let sessions = (self.checker_session()?, self.student_session()?);
        Ok((self, sessions))
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
        let ended = reaper::terminate_backends(
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
        reaper::terminate_backends(
            &mut admin,
            "datname = $1 OR usename = $2 OR usename = $3",
            &[&self.db, &self.student, &self.checker],
        )
        .with_context(|| format!("the sessions of the run `{}` did not end", self.db))?;
        Ok(())
    }

    /// The run's superuser session (a panic elsewhere while it was held leaves it usable).
    fn admin(&self) -> MutexGuard<'_, Admin> {
        lock(&self.admin)
    }

    /// Ends the run's sessions and drops its database and roles.
    pub fn drop_all(mut self) -> Result<()> {
        self.dropped = true;
        self.cleanup()
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
        reaper::drop_roles(
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
