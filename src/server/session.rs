//! A database session whose every statement has a deadline (`statement_timeout` for the polite
//! case, then a cancel request, then `pg_terminate_backend` for SQL that ignores both) and whose
//! every step is bounded in bytes: it reaches the server through a relay (`relay`) that stops
//! any message, step or query's rows past their limits, and it keeps only so much of the
//! notices it gets.

mod relay;

pub use relay::Excess;
use relay::{Relay, MAX_MESSAGE, MAX_STEP_BYTES};

use crate::server::Server;
use anyhow::{Context, Result};
use postgres::{Client, NoTls, SimpleQueryMessage};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cancelled statement may take to stop before its backend is terminated.
const GRACE: Duration = Duration::from_secs(2);

/// The notices kept per session; an answer that raises more in a loop costs no more memory.
const MAX_NOTICES: usize = 1000;

/// The characters kept of each notice's message.
const NOTICE_CHARS: usize = 1000;

/// The bytes of notice text kept per session; past them, a notice keeps only its severity, so
/// that a check counting notices still counts them all (up to `MAX_NOTICES`).
const NOTICE_BYTES: usize = 1 << 20;

/// The rows `Session::run` returns at most: a step that brings more fails (`Excess::Rows`).
pub const MAX_ROWS: u64 = 10_000;

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
        /// The whole error as the server sent it (DETAIL, HINT, CONTEXT), for psql's form.
        db: Box<postgres::error::DbError>,
    },
    /// The session was lost (the backend was terminated, the server stopped).
    Lost(String),
    /// The server sent more than the runner receives (one message, a step's bytes, a query's
    /// rows); the session was closed and its backend terminated.
    TooMuch(Excess),
}

impl StepError {
    /// A Russian sentence for the student.
    pub fn describe(&self) -> String {
        match self {
            StepError::Timeout => "не уложилось в отведённое время и было прервано".into(),
            StepError::Db { code, message, .. } => format!("ошибка {code}: {message}"),
            StepError::Lost(why) => format!("сеанс с сервером оборвался ({why})"),
            StepError::TooMuch(Excess::Message) => format!(
                "ответ прислал проверяющему одно сообщение больше {} МБ (уведомление, строку или \
                 сообщение об ошибке) и был остановлен",
                MAX_MESSAGE >> 20
            ),
            StepError::TooMuch(Excess::Bytes) => format!(
                "ответ прислал проверяющему больше {} МБ (уведомления, строки или сообщение об \
                 ошибке) и был остановлен",
                MAX_STEP_BYTES >> 20
            ),
            StepError::TooMuch(Excess::Rows) => {
                format!("запрос вернул проверяющему больше {MAX_ROWS} строк и был остановлен")
            }
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
    notices: Arc<Mutex<Notices>>,
    server: Server,
    /// The relay the client reaches the server through; dropped after the client (field order).
    relay: Relay,
}

/// The notices a session kept, and the bytes of their text.
#[derive(Default)]
struct Notices {
    list: Vec<String>,
    bytes: usize,
}

impl Notices {
    /// Keeps a notice, its message cut to `NOTICE_CHARS` characters, or only its severity once
    /// `NOTICE_BYTES` are kept.
    fn keep(&mut self, severity: &str, message: &str) {
        if self.list.len() >= MAX_NOTICES {
            return;
        }
        let text = if self.bytes >= NOTICE_BYTES {
            format!("{severity}: …")
        } else {
            let mut text = format!("{severity}: ");
            match message.char_indices().nth(NOTICE_CHARS) {
                Some((cut, _)) => {
                    text.push_str(&message[..cut]);
                    text.push('…');
                }
                None => text.push_str(message),
            }
            text
        };
        self.bytes += text.len();
        self.list.push(text);
    }
}

impl Session {
    /// Connects with `config` (one TCP host) through a relay of its own, collecting the notices
    /// the server sends.
    pub fn connect(config: postgres::Config, server: &Server) -> Result<Session> {
        let user = config.get_user().unwrap_or_default().to_string();
        let target = match (config.get_hosts(), config.get_ports()) {
            ([postgres::config::Host::Tcp(host)], ports) => {
                (host.clone(), ports.first().copied().unwrap_or(5432))
            }
            _ => anyhow::bail!("a session connects to one TCP host"),
        };
        let relay = Relay::start(target).context("cannot start the session's relay")?;
        let mut relayed = postgres::Config::new();
        relayed
            .host(&relay.addr().ip().to_string())
            .port(relay.addr().port())
            .user(&user)
            .ssl_mode(postgres::config::SslMode::Disable);
        if let Some(password) = config.get_password() {
            relayed.password(password);
        }
        if let Some(dbname) = config.get_dbname() {
            relayed.dbname(dbname);
        }
        if let Some(name) = config.get_application_name() {
            relayed.application_name(name);
        }
        if let Some(options) = config.get_options() {
            relayed.options(options);
        }
        if let Some(timeout) = config.get_connect_timeout() {
            relayed.connect_timeout(*timeout);
        }
        let notices = Arc::new(Mutex::new(Notices::default()));
        let sink = Arc::clone(&notices);
        relayed.notice_callback(move |notice| {
            if let Ok(mut kept) = sink.lock() {
                kept.keep(notice.severity(), notice.message());
            }
        });
        let mut client = relayed
            .connect(NoTls)
            .with_context(|| format!("cannot connect to the lab server as `{user}`"))?;
        let pid = client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
        Ok(Session {
            client,
            pid,
            timeout_for: None,
            notices,
            server: server.clone(),
            relay,
        })
    }

    /// How many notices have arrived since they were last taken, readable from another thread
    /// while a statement of this session runs.
    pub fn notice_count(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let notices = Arc::clone(&self.notices);
        move || notices.lock().map(|kept| kept.list.len()).unwrap_or(0)
    }

    /// Takes the notices received so far.
    pub fn take_notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .map(|mut kept| std::mem::take(&mut *kept).list)
            .unwrap_or_default()
    }

    /// Runs `sql` as one simple-query batch that must end by `deadline` and return at most
    /// `MAX_ROWS` rows (more fail the step: `Excess::Rows`).
    pub fn run(
        &mut self,
        sql: &str,
        deadline: Instant,
    ) -> Result<Vec<SimpleQueryMessage>, StepError> {
        self.guarded(deadline, MAX_ROWS, |client| client.simple_query(sql))
    }

    /// Runs `sql` like `run`, discarding its rows as they arrive (no memory for a flood of them,
    /// and no limit on their number: only on their bytes).
    pub fn execute(&mut self, sql: &str, deadline: Instant) -> Result<(), StepError> {
        self.guarded(deadline, u64::MAX, |client| client.batch_execute(sql))
    }

    /// Runs `step` on the client under `statement_timeout`, with a watchdog that cancels it at
    /// `deadline` and terminates its backend when the cancel is ignored, receiving at most
    /// `max_rows` rows and the relay's bytes; past them, the relay has closed the connection and
    /// the backend is terminated.
    fn guarded<T>(
        &mut self,
        deadline: Instant,
        max_rows: u64,
        step: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StepError> {
        if let Some(excess) = self.relay.refused() {
            return Err(StepError::TooMuch(excess));
        }
        self.relay.begin_step(max_rows);
        let result = self.deadlined(deadline, step);
        self.relay.end_step();
        match self.relay.refused() {
            None => result,
            Some(excess) => {
                if let Ok(mut admin) = self.server.admin() {
                    let _ = admin.execute("SELECT pg_terminate_backend($1)", &[&self.pid]);
                }
                Err(StepError::TooMuch(excess))
            }
        }
    }

    /// Runs `step` under `statement_timeout` and the watchdog (`guarded`).
    fn deadlined<T>(
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

    /// The type OIDs of the columns `sql` returns, as its preparation says under `deadline`
    /// (none when it does not prepare): what psql aligns a table's columns by.
    pub fn column_types(&mut self, sql: &str, deadline: Instant) -> Vec<u32> {
        self.guarded(deadline, 0, |client| client.prepare(sql))
            .map(|s| s.columns().iter().map(|c| c.type_().oid()).collect())
            .unwrap_or_default()
    }

    /// Whether the connection is gone (the relay closes it past its limits).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed() || self.relay.refused().is_some()
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
            db: Box::new(db.clone()),
        };
    }
    if watchdog_fired {
        return StepError::Timeout;
    }
    StepError::Lost(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the relay adds to a round trip, on the lab server of `LABS_HOME` (started first with
    /// `labs server start`): `LABS_HOME=... cargo test --release --bin labs relay_overhead --
    /// --ignored --nocapture`.
    #[test]
    #[ignore]
    fn relay_overhead() {
        let home = crate::server::home::Home::resolve().unwrap();
        let server = Server::load(&home).unwrap().expect("a started lab server");
        let mut config = postgres::Config::new();
        config
            .host(&server.host)
            .port(server.port)
            .user(&server.superuser)
            .password(&server.password)
            .dbname("postgres");
        let rounds = 5000;
        let median = |mut times: Vec<f64>| {
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        };
        let mut direct = config.connect(NoTls).unwrap();
        let mut relayed = Session::connect(config, &server).unwrap();
        let deadline = Instant::now() + Duration::from_secs(600);
        let (mut plain, mut raw, mut step) = (Vec::new(), Vec::new(), Vec::new());
        let micros = |start: Instant| start.elapsed().as_secs_f64() * 1e6;
        for _ in 0..rounds {
            let start = Instant::now();
            direct.simple_query("SELECT 1").unwrap();
            plain.push(micros(start));
            let start = Instant::now();
            relayed.client.simple_query("SELECT 1").unwrap();
            raw.push(micros(start));
            let start = Instant::now();
            relayed.run("SELECT 1", deadline).unwrap();
            step.push(micros(start));
        }
        let (plain, raw, step) = (median(plain), median(raw), median(step));
        println!(
            "SELECT 1, median of {rounds}: direct {plain:.0} µs; through the relay {raw:.0} µs \
             (+{:.0} µs); a Session::run step (relay, watchdog, limits) {step:.0} µs",
            raw - plain
        );
    }
}
