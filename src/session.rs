//! A database session whose every statement has a deadline: `statement_timeout` for the polite
//! case, then a cancel request, then `pg_terminate_backend` for SQL that ignores both.

use crate::server::Server;
use anyhow::{Context, Result};
use postgres::{Client, NoTls, SimpleQueryMessage};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cancelled statement may take to stop before its backend is terminated.
const GRACE: Duration = Duration::from_secs(2);

/// The notices kept per session; an answer that raises more in a loop costs no more memory.
const MAX_NOTICES: usize = 1000;

/// Why a statement did not finish.
#[derive(Debug, Clone)]
pub enum StepError {
    /// It ran past its deadline and was cancelled or its session ended.
    Timeout,
    /// PostgreSQL raised an error.
    Db {
        code: String,
        message: String,
        /// 1-based character position in the statement text, when PostgreSQL gave one.
        position: Option<usize>,
    },
    /// The session was lost (the backend was terminated, the server stopped).
    Lost(String),
}

impl StepError {
    /// A Russian sentence for the student.
    pub fn describe(&self) -> String {
        match self {
            StepError::Timeout => "не уложилось в отведённое время и было прервано".into(),
            StepError::Db { code, message, .. } => format!("ошибка {code}: {message}"),
            StepError::Lost(why) => format!("сеанс с сервером оборвался ({why})"),
        }
    }
}

/// A connection, its backend's pid, and the notices it received.
pub struct Session {
    pub client: Client,
    pub pid: i32,
    /// The deadline `statement_timeout` was last set for: the statements of one check share a
    /// deadline, so it is set once a check (later statements get a little more than is left,
    /// and the watchdog cancels them on time).
    timeout_for: Option<Instant>,
    notices: Arc<Mutex<Vec<String>>>,
    server: Server,
}

impl Session {
    /// Connects with `config`, collecting the notices the server sends.
    pub fn connect(mut config: postgres::Config, server: &Server) -> Result<Session> {
        let notices = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&notices);
        config.notice_callback(move |notice| {
            if let Ok(mut list) = sink.lock() {
                if list.len() >= MAX_NOTICES {
                    return;
                }
                list.push(format!("{}: {}", notice.severity(), notice.message()));
            }
        });
        let user = config.get_user().unwrap_or_default().to_string();
        let mut client = config
            .connect(NoTls)
            .with_context(|| format!("cannot connect to the lab server as `{user}`"))?;
        let pid = client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
        Ok(Session {
            client,
            pid,
            timeout_for: None,
            notices,
            server: server.clone(),
        })
    }

    /// Takes the notices received so far.
    pub fn take_notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .map(|mut list| std::mem::take(&mut *list))
            .unwrap_or_default()
    }

    /// Runs `sql` as one simple-query batch that must end by `deadline`.
    pub fn run(
        &mut self,
        sql: &str,
        deadline: Instant,
    ) -> Result<Vec<SimpleQueryMessage>, StepError> {
        self.guarded(deadline, |client| client.simple_query(sql))
    }

    /// Runs `sql` like `run`, discarding its rows as they arrive (no memory for a flood of them).
    pub fn execute(&mut self, sql: &str, deadline: Instant) -> Result<(), StepError> {
        self.guarded(deadline, |client| client.batch_execute(sql))
    }

    /// Runs `step` on the client under `statement_timeout`, with a watchdog that cancels it at
    /// `deadline` and terminates its backend when the cancel is ignored.
    fn guarded<T>(
        &mut self,
        deadline: Instant,
        step: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StepError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StepError::Timeout);
        }
        if self.timeout_for != Some(deadline) {
            self.client
                .batch_execute(&format!(
                    "SET statement_timeout = {}",
                    left.as_millis().max(1)
                ))
                .map_err(|e| classify(&e, false))?;
            self.timeout_for = Some(deadline);
        }
        let (done, watched) = mpsc::channel::<()>();
        let token = self.client.cancel_token();
        let (server, pid) = (self.server.clone(), self.pid);
        let watchdog = std::thread::spawn(move || {
            if watched.recv_timeout(left).is_ok() {
                return false;
            }
            let _ = token.cancel_query(NoTls);
            if watched.recv_timeout(GRACE).is_ok() {
                return true;
            }
            if let Ok(mut admin) = server.connect("postgres") {
                let _ = admin.execute("SELECT pg_terminate_backend($1)", &[&pid]);
            }
            true
        });
        let result = step(&mut self.client);
        let _ = done.send(());
        let fired = watchdog.join().unwrap_or(true);
        result.map_err(|e| classify(&e, fired))
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// Sorts an error into timeout, database error or lost session.
fn classify(err: &postgres::Error, watchdog_fired: bool) -> StepError {
    if let Some(db) = err.as_db_error() {
        let code = db.code().code().to_string();
        if code == "57014" || (watchdog_fired && code.starts_with("57P")) {
            return StepError::Timeout;
        }
        let position = match db.position() {
            Some(postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
            _ => None,
        };
        return StepError::Db {
            code,
            message: db.message().to_string(),
            position,
        };
    }
    if watchdog_fired {
        return StepError::Timeout;
    }
    StepError::Lost(err.to_string())
}
