//! Scenario checks written in Rust, where timing, concurrency or the server's own counters
//! decide: lab 2 proves the work was done, lab 3 holds and frees worker slots from other sessions.

use crate::checks::{CheckRun, Outcome};
use crate::server::Server;
use crate::session::StepError;
use anyhow::{Context, Result};
use postgres::SimpleQueryMessage;
use std::time::{Duration, Instant};

/// The scenarios a lab.toml may name.
pub const NAMES: &[&str] = &[
    "lab2_work_done",
    "lab2_wall_time",
    "lab3_free_slots",
    "lab3_slot_freed",
    "lab3_exhausted",
    "lab3_invalid_queue",
];

/// The database of the runner's own sessions (the slot filler): not the student's, whose
/// schema the student owns and could plant functions in.
const RUNNER_DB: &str = "labs_runner";

/// Runs scenario `name`.
pub fn run(name: &str, run: &mut CheckRun) -> Outcome {
    let outcome = match name {
        "lab2_work_done" => lab2_work_done(run),
        "lab2_wall_time" => lab2_wall_time(run),
        "lab3_free_slots" => lab3_free_slots(run),
        "lab3_slot_freed" => lab3_slot_freed(run),
        "lab3_exhausted" => lab3_exhausted(run),
        "lab3_invalid_queue" => lab3_invalid_queue(run),
        other => unreachable!("scenario `{other}` is validated in Lab::load"),
    };
    outcome.unwrap_or_else(|err| Outcome::Error(format!("сбой проверяющей программы: {err:#}")))
}

/// A student call that must succeed: its error becomes the check's failure.
fn called(
    result: Result<Vec<SimpleQueryMessage>, StepError>,
    what: &str,
) -> Result<Vec<String>, Outcome> {
    match result {
        Ok(messages) => Ok(first_row(&messages)),
        Err(StepError::Timeout) => Err(Outcome::Timeout),
        Err(err) => Err(Outcome::fail(format!("{what}: {}", err.describe()))),
    }
}

/// The text values of the first row, NULL as an empty string.
fn first_row(messages: &[SimpleQueryMessage]) -> Vec<String> {
    rows(messages).into_iter().next().unwrap_or_default()
}

/// Every row's text values.
fn rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<String>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Lab 3 with free slots: a pid whose result can be read, and no NOTICE.
fn lab3_free_slots(run: &mut CheckRun) -> Result<Outcome> {
    run.student.take_notices();
    let row = match called(
        run.student_sql("SELECT pg_background_launch_retry('SELECT 42')"),
        "вызов pg_background_launch_retry('SELECT 42')",
    ) {
        Ok(row) => row,
        Err(outcome) => return Ok(outcome),
    };
    let notices = run.student.take_notices();
    let Some(pid) = row.first().and_then(|p| p.parse::<i32>().ok()) else {
        return Ok(Outcome::fail("функция не вернула pid"));
    };
    let read = run.student_sql(&format!(
        "SELECT * FROM pg_background_result({pid}) AS (x integer)"
    ));
    let value = match called(read, &format!("чтение результата процесса {pid}"))
    {
        Ok(row) => row.first().cloned().unwrap_or_default(),
        Err(outcome) => return Ok(outcome),
    };
    if value != "42" {
        return Ok(Outcome::fail(format!(
            "результат процесса {pid}: «{value}» вместо 42"
        )));
    }
    if !notices.is_empty() {
        return Ok(Outcome::fail(format!(
            "при свободных слотах не должно быть сообщений, а было: {}",
            notices.join("; ")
        )));
    }
    Ok(Outcome::Pass(Some(format!(
        "процесс {pid} вернул 42, сообщений не было"
    ))))
}

/// Lab 3: every slot taken by other sessions, one freed after 300 ms: the wrapper succeeds after
/// at least one NOTICE, and not before the slot was freed.
fn lab3_slot_freed(run: &mut CheckRun) -> Result<Outcome> {
    let mut filler = SlotFiller::fill(run.server)?;
    run.student.take_notices();
    let start = Instant::now();
    let deadline = run.deadline;
    let student = &mut *run.student;
    let (result, ended, freed) = std::thread::scope(|scope| -> Result<_> {
        let call = scope.spawn(|| {
            let result = student.run("SELECT pg_background_launch_retry('SELECT 7')", deadline);
            (result, start.elapsed())
        });
        std::thread::sleep(Duration::from_millis(300));
        filler.free_one()?;
        let freed = start.elapsed();
        let (result, ended) = call.join().expect("the student's call does not panic");
        Ok((result, ended, freed))
    })?;
    run.student_ms += ended.as_millis() as u64;
    drop(filler);
    let notices = run.student.take_notices();
    let row = match called(result, "вызов pg_background_launch_retry('SELECT 7')") {
        Ok(row) => row,
        Err(outcome) => return Ok(outcome),
    };
    let Some(pid) = row.first().and_then(|p| p.parse::<i32>().ok()) else {
        return Ok(Outcome::fail("функция не вернула pid"));
    };
    if ended < freed {
        return Ok(Outcome::fail(format!(
            "функция вернула pid через {} мс, раньше, чем освободился слот ({} мс)",
            ended.as_millis(),
            freed.as_millis()
        )));
    }
    if notices.is_empty() {
        return Ok(Outcome::fail(
            "неудачные попытки не сопровождались сообщением NOTICE",
        ));
    }
    let read = run.student_sql(&format!(
        "SELECT * FROM pg_background_result({pid}) AS (x integer)"
    ));
    if let Err(outcome) = called(read, &format!("чтение результата процесса {pid}"))
    {
        return Ok(outcome);
    }
    Ok(Outcome::Pass(Some(format!(
        "слот освобождён через {} мс, функция дождалась его и вернула pid через {} мс; \
         сообщений NOTICE: {}",
        freed.as_millis(),
        ended.as_millis(),
        notices.len()
    ))))
}

/// Lab 3: every slot taken throughout, 3 attempts 50 ms apart: SQLSTATE 53000 naming the
/// attempts, after waiting, with no worker left behind.
fn lab3_exhausted(run: &mut CheckRun) -> Result<Outcome> {
    let filler = SlotFiller::fill(run.server)?;
    run.student.take_notices();
    let start = Instant::now();
    let result = run
        .student_sql("SELECT pg_background_launch_retry('SELECT 1', 65536, 3, '50 milliseconds')");
    let took = start.elapsed();
    drop(filler);
    let notices = run.student.take_notices();
    let left = student_workers(run)?;
    match result {
        Ok(messages) => Ok(Outcome::fail(format!(
            "все слоты были заняты, но функция вернула «{}» вместо ошибки",
            first_row(&messages).join(", ")
        ))),
        Err(StepError::Timeout) => Ok(Outcome::Timeout),
        Err(StepError::Db { code, message, .. }) => {
            if code != "53000" {
                return Ok(Outcome::fail(format!(
                    "ожидалась ошибка с SQLSTATE 53000, а получена {code}: {message}"
                )));
            }
            if !message.contains('3') {
                return Ok(Outcome::fail(format!(
                    "в сообщении об ошибке не сказано, сколько было попыток (3): «{message}»"
                )));
            }
            if took < Duration::from_millis(90) {
                return Ok(Outcome::fail(format!(
                    "ошибка пришла через {} мс: между тремя попытками нужно было дважды \
                     подождать по 50 мс",
                    took.as_millis()
                )));
            }
            if notices.len() < 2 {
                return Ok(Outcome::fail(format!(
                    "о неудачных попытках сообщено {} раз(а) через NOTICE, ожидалось не меньше 2",
                    notices.len()
                )));
            }
            if left > 0 {
                return Ok(Outcome::fail(format!(
                    "после ошибки остались работать фоновые процессы: {left}"
                )));
            }
            Ok(Outcome::Pass(Some(format!(
                "ошибка 53000 через {} мс: «{message}»",
                took.as_millis()
            ))))
        }
        Err(other) => Ok(Outcome::fail(other.describe())),
    }
}

/// Lab 3: an invalid queue size fails at once with the launch's own SQLSTATE, without NOTICE.
fn lab3_invalid_queue(run: &mut CheckRun) -> Result<Outcome> {
    run.student.take_notices();
    let start = Instant::now();
    let result = run.student_sql("SELECT pg_background_launch_retry('SELECT 1', 10)");
    let took = start.elapsed();
    let notices = run.student.take_notices();
    match result {
        Ok(messages) => Ok(Outcome::fail(format!(
            "размер очереди 10 байт недопустим, но функция вернула «{}»",
            first_row(&messages).join(", ")
        ))),
        Err(StepError::Timeout) => Ok(Outcome::Timeout),
        Err(StepError::Db { code, message, .. }) if code == "22023" => {
            if !notices.is_empty() || took >= Duration::from_millis(500) {
                return Ok(Outcome::fail(format!(
                    "ошибка пришла через {} мс после {} сообщений NOTICE: такую ошибку не \
                     повторяют",
                    took.as_millis(),
                    notices.len()
                )));
            }
            Ok(Outcome::Pass(Some(format!(
                "сразу же ошибка 22023: «{message}»"
            ))))
        }
        Err(err) => Ok(Outcome::fail(format!(
            "ожидалась ошибка 22023 от pg_background_launch, а получено: {}",
            err.describe()
        ))),
    }
}

/// Lab 2: the server's counters prove the work was done: `n` + 1 new connections (dblink's
/// new connection per call, and the persistent one), and at least 3n committed transactions in
/// the database (one per worker and per dblink query).
fn lab2_work_done(run: &mut CheckRun) -> Result<Outcome> {
    const N: i64 = 30;
    let before = counters(run)?;
    let result = run.student_sql(&format!(
        "SELECT tool, calls, total_ms, avg_ms FROM compare_tools({N})"
    ));
    if let Err(outcome) = called(result, &format!("вызов compare_tools({N})")) {
        return Ok(outcome);
    }
    // Exiting backends flush their statistics as they go: wait until the figures settle.
    let wanted_sessions = N + 1;
    let wanted_xacts = 3 * N;
    let settle = Instant::now() + Duration::from_secs(3);
    let (sessions, xacts) = loop {
        let now = counters(run)?;
        let delta = (now.0 - before.0, now.1 - before.1);
        if (delta.0 >= wanted_sessions && delta.1 >= wanted_xacts) || Instant::now() > settle {
            break delta;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let detail = format!(
        "за вызов compare_tools({N}) открыто соединений: {sessions} (ожидалось {wanted_sessions}), \
         зафиксировано транзакций: {xacts} (ожидалось не меньше {wanted_xacts})"
    );
    if sessions == wanted_sessions && xacts >= wanted_xacts {
        Ok(Outcome::Pass(Some(detail)))
    } else {
        Ok(Outcome::fail(detail))
    }
}

/// The run database's (sessions, committed transactions) counters, read fresh.
fn counters(run: &mut CheckRun) -> Result<(i64, i64)> {
    let messages = run
        .checker_sql(
            "SELECT pg_stat_clear_snapshot();
             SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .map_err(|e| anyhow::anyhow!(e.describe()))?;
    let row = rows(&messages).into_iter().last().unwrap_or_default();
    let number = |i: usize| row.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok((number(0), number(1)))
}

/// Lab 2: the times the function reports fit inside the wall time the checker measured.
fn lab2_wall_time(run: &mut CheckRun) -> Result<Outcome> {
    const N: i64 = 10;
    let start = Instant::now();
    let result = run.student_sql(&format!("SELECT tool, total_ms FROM compare_tools({N})"));
    let wall_ms = start.elapsed().as_secs_f64() * 1000.0;
    let messages = match result {
        Ok(messages) => messages,
        Err(StepError::Timeout) => return Ok(Outcome::Timeout),
        Err(err) => {
            return Ok(Outcome::fail(format!(
                "вызов compare_tools({N}): {}",
                err.describe()
            )))
        }
    };
    let mut sum = 0.0;
    for row in rows(&messages) {
        let total: f64 = row.get(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        if total.is_nan() || total <= 0.0 {
            return Ok(Outcome::fail(format!(
                "у инструмента «{}» total_ms = {}: время должно быть больше нуля",
                row.first().cloned().unwrap_or_default(),
                row.get(1).cloned().unwrap_or_default()
            )));
        }
        sum += total;
    }
    let detail = format!("сумма total_ms = {sum:.1} мс, а весь вызов занял {wall_ms:.1} мс");
    if sum <= wall_ms {
        Ok(Outcome::Pass(Some(detail)))
    } else {
        Ok(Outcome::fail(detail))
    }
}

/// The student's background workers still running, after up to a second for them to exit.
fn student_workers(run: &mut CheckRun) -> Result<i64> {
    let mut admin = run.server.connect("postgres")?;
    let until = Instant::now() + Duration::from_secs(1);
    loop {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE usename = $1 AND backend_type <> 'client backend'",
                &[&run.sandbox.student],
            )?
            .get(0);
        if left == 0 || Instant::now() > until {
            return Ok(left);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sessions of the runner that hold every free background worker slot with sleeping workers.
struct SlotFiller {
    client: postgres::Client,
    pids: Vec<i32>,
}

impl SlotFiller {
    /// Launches sleeping workers until the server refuses one for want of a slot.
    fn fill(server: &Server) -> Result<SlotFiller> {
        let mut admin = server.connect("postgres")?;
        if admin
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname = $1",
                &[&RUNNER_DB],
            )?
            .is_none()
        {
            admin.batch_execute(&format!("CREATE DATABASE {RUNNER_DB}"))?;
        }
        let mut client = server.connect(RUNNER_DB)?;
        client.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_background")?;
        let mut filler = SlotFiller {
            client,
            pids: Vec::new(),
        };
        for _ in 0..1024 {
            match filler
                .client
                .query_one("SELECT pg_background_launch('SELECT pg_sleep(600)')", &[])
            {
                Ok(row) => filler.pids.push(row.get(0)),
                Err(err) if err.code().is_some_and(|c| c.code() == "53000") => return Ok(filler),
                Err(err) => return Err(err).context("cannot fill the worker slots"),
            }
        }
        anyhow::bail!("the server took 1024 workers without running out of slots")
    }

    /// Ends one of the sleeping workers, so that its slot frees.
    fn free_one(&mut self) -> Result<()> {
        if let Some(pid) = self.pids.pop() {
            self.client
                .execute("SELECT pg_terminate_backend($1)", &[&pid])?;
        }
        Ok(())
    }
}

impl Drop for SlotFiller {
    fn drop(&mut self) {
        let pids = std::mem::take(&mut self.pids);
        let _ = self.client.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
            &[&pids],
        );
    }
}
