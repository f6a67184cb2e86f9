//! Scenario checks written in Rust, where timing, concurrency or the server's own counters
//! decide: lab 2 proves the work was done, lab 3 holds and frees worker slots from other sessions.
//! What each one does is specified above its check in the lab's lab.toml.

use crate::checks::{CheckRun, Outcome};
use crate::sandbox::EXTENSION_SCHEMA;
use crate::server::{Server, RUNNER_DB};
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

/// How many calls lab 2's scenarios ask `compare_tools` for.
const LAB2_CALLS: i64 = 12;

/// What a scenario leaves to the next one on the same dataset: lab 3's slot holders, which
/// `exhausted` fills and keeps throughout and `slot_freed`, the check after it, takes over as
/// they are (filling every slot again would start a worker per slot). Dropped with the dataset.
#[derive(Default)]
pub struct Kept {
    holders: Option<SlotHolders>,
}

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

/// Every row's text values, NULL as an empty string.
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

/// The first value of the first row.
fn scalar(messages: &[SimpleQueryMessage]) -> Option<String> {
    rows(messages).into_iter().next()?.into_iter().next()
}

/// A student call that had to succeed but did not.
fn call_failed(err: StepError, what: &str) -> Outcome {
    match err {
        StepError::Timeout => Outcome::Timeout,
        err => Outcome::fail(format!("{what}: {}", err.describe())),
    }
}

/// A student call that had to raise an error: its SQLSTATE and message, or the failure to say
/// (`why` explains why an error was due when the call returned a value).
fn raised(
    result: Result<Vec<SimpleQueryMessage>, StepError>,
    why: &str,
) -> Result<(String, String), Outcome> {
    match result {
        Ok(messages) => Err(Outcome::fail(format!(
            "{why}, но функция вернула «{}» вместо ошибки",
            scalar(&messages).unwrap_or_default()
        ))),
        Err(StepError::Timeout) => Err(Outcome::Timeout),
        Err(StepError::Db { code, message, .. }) => Ok((code, message)),
        Err(err) => Err(Outcome::fail(err.describe())),
    }
}

/// Reads the result of the student's worker `pid` (which must be 42) and, once the student's
/// workers are gone, how many times the command tagged `tag` ran (which must be 1) and in which
/// backend (which must be `pid`). The result is read with the extension's function named by its
/// schema: the answer may have set its session's `search_path` to a function of its own.
fn result_and_runs(run: &mut CheckRun, pid: i32, tag: &str) -> Result<Result<(), Outcome>> {
    let read = run.student_sql(&format!(
        "SELECT * FROM {EXTENSION_SCHEMA}.pg_background_result({pid}) AS (x integer)"
    ));
    let values = match read {
        Ok(messages) => rows(&messages),
        Err(err) => {
            return Ok(Err(call_failed(
                err,
                &format!("чтение результата процесса {pid}"),
            )))
        }
    };
    if values != [vec!["42".to_string()]] {
        return Ok(Err(Outcome::fail(format!(
            "результат процесса {pid}: {values:?} вместо одной строки 42"
        ))));
    }
    wait_student_workers(run)?;
    let counted = run
        .checker_sql(&format!(
            "SELECT count(*), count(*) FILTER (WHERE pid = {pid}) \
             FROM lab_check.lab3_runs WHERE tag = '{tag}'"
        ))
        .map_err(|e| anyhow::anyhow!(e.describe()))?;
    let counted = rows(&counted).pop().unwrap_or_default();
    let (count, in_worker) = (
        counted.first().cloned().unwrap_or_default(),
        counted.get(1).cloned().unwrap_or_default(),
    );
    if count != "1" {
        return Ok(Err(Outcome::fail(format!(
            "команда должна была выполниться один раз, а выполнилась {count} раз(а): лишний \
             запуск pg_background_launch — это лишний процесс"
        ))));
    }
    if in_worker != "1" {
        return Ok(Err(Outcome::fail(format!(
            "команда выполнилась не в фоновом процессе {pid}, чей pid вернула функция: его \
             результат 42 получен от другой команды"
        ))));
    }
    Ok(Ok(()))
}

/// Lab 3 with free slots: a pid at once, without NOTICE, whose result reads, the command run once.
fn lab3_free_slots(run: &mut CheckRun) -> Result<Outcome> {
    run.student.take_notices();
    let call = run.student_sql(
        "SELECT public.pg_background_launch_retry($$INSERT INTO lab_check.lab3_runs(tag) \
         VALUES ('free_slots') RETURNING 42$$)",
    );
    let notices = run.student.take_notices();
    let pid = match call {
        Ok(messages) => scalar(&messages).and_then(|p| p.parse::<i32>().ok()),
        Err(err) => return Ok(call_failed(err, "вызов pg_background_launch_retry")),
    };
    let Some(pid) = pid else {
        return Ok(Outcome::fail("функция не вернула pid"));
    };
    if !notices.is_empty() {
        return Ok(Outcome::fail(format!(
            "при свободных слотах сообщений быть не должно, а было: {}",
            notices.join("; ")
        )));
    }
    if let Err(outcome) = result_and_runs(run, pid, "free_slots")? {
        return Ok(outcome);
    }
    Ok(Outcome::Pass(Some(format!(
        "вернула pid {pid}, результат 42, NOTICE: 0, команда выполнилась 1 раз"
    ))))
}

/// Lab 3: an invalid queue size fails at once with the launch's own SQLSTATE, without NOTICE.
fn lab3_invalid_queue(run: &mut CheckRun) -> Result<Outcome> {
    run.student.take_notices();
    let start = Instant::now();
    let result = run.student_sql("SELECT public.pg_background_launch_retry('SELECT 42', 10)");
    let took = start.elapsed().as_millis();
    let notices = run.student.take_notices().len();
    let left = wait_student_workers(run)?;
    let (code, message) = match raised(result, "размер очереди 10 байт недопустим")
    {
        Ok(error) => error,
        Err(outcome) => return Ok(outcome),
    };
    let detail = format!("ошибка {code} ({message}) через {took} мс, NOTICE: {notices}");
    if code == "22023" && notices == 0 && took < 500 && left == 0 {
        Ok(Outcome::Pass(Some(detail)))
    } else if left > 0 {
        Ok(Outcome::fail(format!(
            "{detail}; остались фоновые процессы: {left}"
        )))
    } else {
        Ok(Outcome::fail(detail))
    }
}

/// Lab 3: every slot held, one freed after about 300 ms: the wrapper returns after the slot was
/// freed (within 5 s), after at least one NOTICE, and the command ran once.
fn lab3_slot_freed(run: &mut CheckRun) -> Result<Outcome> {
    let mut holders = match run.kept.holders.take() {
        Some(holders) => holders,
        None => SlotHolders::fill(run.server)?,
    };
    run.student.take_notices();
    let noticed = run.student.notice_count();
    let start = Instant::now();
    let deadline = run.deadline;
    let student = &mut *run.student;
    let (call, returned, freed) = std::thread::scope(|scope| -> Result<_> {
        let call = scope.spawn(|| {
            let result = student.run(
                "SELECT public.pg_background_launch_retry($$INSERT INTO lab_check.lab3_runs(tag) \
                 SELECT 'slot_freed' FROM pg_sleep(0.2) RETURNING 42$$)",
                deadline,
            );
            (result, start.elapsed())
        });
        // About 300 ms in, and never before the wrapper has said of two failed attempts: on a
        // busy machine its attempts come later, and the slot waits for them (a wrapper that
        // tries once more after one long sleep finds it still taken).
        std::thread::sleep(Duration::from_millis(300));
        while noticed() < 2 && !call.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        holders.free_one()?;
        let freed = start.elapsed();
        let (result, returned) = call.join().expect("the student's call does not panic");
        Ok((result, returned, freed))
    })?;
    run.student_time += returned;
    let notices = run.student.take_notices().len();
    let pid = match call {
        Ok(messages) => scalar(&messages).and_then(|p| p.parse::<i32>().ok()),
        Err(err) => return Ok(call_failed(err, "вызов pg_background_launch_retry")),
    };
    let Some(pid) = pid else {
        return Ok(Outcome::fail("функция не вернула pid"));
    };
    let timing = format!(
        "вернула pid через {} мс после начала, слот освободился через {} мс; NOTICE: {notices}",
        returned.as_millis(),
        freed.as_millis()
    );
    if returned < freed {
        return Ok(Outcome::fail(format!(
            "{timing}: процесс запущен раньше, чем освободился слот"
        )));
    }
    if returned >= freed + Duration::from_secs(5) {
        return Ok(Outcome::fail(format!(
            "{timing}: слот был свободен, а обёртка ещё долго не запускала процесс"
        )));
    }
    if notices < 2 {
        return Ok(Outcome::fail(format!(
            "{timing}: до освобождения слота должно было быть хотя бы две неудачные попытки, и \
             о каждой — сообщение NOTICE"
        )));
    }
    if let Err(outcome) = result_and_runs(run, pid, "slot_freed")? {
        return Ok(outcome);
    }
    drop(holders);
    Ok(Outcome::Pass(Some(format!(
        "{timing}; результат 42; команда выполнилась 1 раз"
    ))))
}

/// Lab 3: every slot held throughout, 3 attempts 50 ms apart: SQLSTATE 53000 whose message
/// names the 3 attempts, after 90 ms to 5 s, and no worker left. The holders stay for
/// `slot_freed`: the student's role cannot end the superuser's workers, and with every slot
/// held no worker of the student's can have started, so they still hold every slot.
fn lab3_exhausted(run: &mut CheckRun) -> Result<Outcome> {
    let holders = SlotHolders::fill(run.server)?;
    run.student.take_notices();
    let start = Instant::now();
    let result = run.student_sql(
        "SELECT public.pg_background_launch_retry('SELECT 42', 65536, 3, '50 milliseconds')",
    );
    let took = start.elapsed();
    let notices = run.student.take_notices().len();
    let left = wait_student_workers(run)?;
    if left == 0 {
        run.kept.holders = Some(holders);
    } else {
        drop(holders);
    }
    let (code, message) = match raised(result, "все слоты были заняты") {
        Ok(error) => error,
        Err(outcome) => return Ok(outcome),
    };
    let detail = format!(
        "ошибка {code} ({message}) через {} мс; NOTICE: {notices}; процессов студента осталось: \
         {left}",
        took.as_millis()
    );
    let names_three = has_number(&message, 3);
    let waited = took >= Duration::from_millis(90) && took < Duration::from_secs(5);
    // Three attempts fail, and each but the last is followed by a NOTICE and a wait (a NOTICE
    // after the last is allowed): the count does not depend on the machine's speed.
    let retried = (2..=3).contains(&notices);
    if code == "53000" && names_three && waited && retried && left == 0 {
        Ok(Outcome::Pass(Some(detail)))
    } else {
        let mut why = Vec::new();
        if code != "53000" {
            why.push("нужен SQLSTATE 53000".to_string());
        }
        if !names_three {
            why.push("в сообщении не названо число попыток (3)".to_string());
        }
        if !waited {
            why.push("между тремя попытками нужно дважды подождать по 50 мс".to_string());
        }
        if !retried {
            why.push(format!(
                "после каждой неудачной попытки, кроме последней, нужен NOTICE: при трёх \
                 попытках их 2 (или 3), а было {notices}"
            ));
        }
        Ok(Outcome::fail(format!("{detail}: {}", why.join("; "))))
    }
}

/// Whether `text` contains `n` as a number of its own (not as a digit of another number).
fn has_number(text: &str, n: u32) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|word| word == n.to_string())
}

/// Lab 2: the server's counters prove the work was done: a new student session runs
/// `compare_tools(12)`; it must open 12 + 1 connections (counted by `pg_stat_database.sessions`,
/// which does not count background workers) and call `pg_background_launch` and
/// `pg_background_result` 12 times each itself. Those calls are the session's own, read in the
/// same transaction (`pg_stat_get_xact_function_calls`; the student's role counts its calls for
/// the whole run, so the counted call looks like any other): calls made inside the dblink
/// sessions it opens do not count for the pg_background way.
fn lab2_work_done(run: &mut CheckRun) -> Result<Outcome> {
    let db = run.sandbox.db.clone();
    let ours = [run.student.pid, run.checker.pid];
    let mut admin = run.server.admin()?;
    wait_no_backends(&mut admin, &db, &ours, Duration::from_secs(10))?;
    let before = sessions(&mut admin, &db)?;
    let mut fresh = run.sandbox.student_session()?;
    let start = Instant::now();
    let calls = |function: &str| {
        format!(
            "pg_catalog.pg_stat_get_xact_function_calls(\
             '{EXTENSION_SCHEMA}.{function}'::pg_catalog.regprocedure)"
        )
    };
    let call = fresh.run(
        &format!(
            "BEGIN;
             SELECT * FROM public.compare_tools({LAB2_CALLS});
             SELECT {}, {};
             COMMIT",
            calls("pg_background_launch(pg_catalog.text,pg_catalog.int4)"),
            calls("pg_background_result(pg_catalog.int4)")
        ),
        run.deadline,
    );
    run.student_time += start.elapsed();
    drop(fresh);
    let counted = match call {
        Ok(messages) => rows(&messages).pop().unwrap_or_default(),
        Err(err) => {
            return Ok(call_failed(
                err,
                &format!("вызов compare_tools({LAB2_CALLS})"),
            ))
        }
    };
    let value = |i: usize| -> i64 { counted.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let (launches, results) = (value(0), value(1));
    // Exiting backends flush their statistics as they go.
    wait_no_backends(&mut admin, &db, &ours, Duration::from_secs(10))?;
    let opened = sessions(&mut admin, &db)? - before - 1;
    let detail = format!(
        "открыто соединений: {opened} (ожидалось {}); сама функция вызвала \
         pg_background_launch {launches} раз, pg_background_result — {results} раз (ожидалось \
         {LAB2_CALLS} и {LAB2_CALLS})",
        LAB2_CALLS + 1
    );
    if opened == LAB2_CALLS + 1 && launches == LAB2_CALLS && results == LAB2_CALLS {
        Ok(Outcome::Pass(Some(detail)))
    } else {
        Ok(Outcome::fail(detail))
    }
}

/// The number of sessions ever opened to `db`, read fresh.
fn sessions(admin: &mut postgres::Client, db: &str) -> Result<i64> {
    admin.batch_execute("SELECT pg_stat_clear_snapshot()")?;
    Ok(admin
        .query_one(
            "SELECT sessions FROM pg_stat_database WHERE datname = $1",
            &[&db],
        )?
        .get(0))
}

/// Waits until `db` has no backend but `ours`.
fn wait_no_backends(
    admin: &mut postgres::Client,
    db: &str,
    ours: &[i32],
    limit: Duration,
) -> Result<()> {
    let until = Instant::now() + limit;
    loop {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> ALL($2) AND pid <> pg_backend_pid()",
                &[&db, &ours],
            )?
            .get(0);
        if left == 0 {
            return Ok(());
        }
        if Instant::now() > until {
            anyhow::bail!("{left} backends of `{db}` did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Lab 2: the times the function reports add up to most of, and no more than, the wall time the
/// checker measured: 0.5 W <= sum(total_ms) <= W.
fn lab2_wall_time(run: &mut CheckRun) -> Result<Outcome> {
    let start = Instant::now();
    let result = run.student_sql(&format!(
        "SELECT tool, total_ms FROM public.compare_tools({LAB2_CALLS})"
    ));
    let wall_ms = start.elapsed().as_secs_f64() * 1000.0;
    let messages = match result {
        Ok(messages) => messages,
        Err(err) => {
            return Ok(call_failed(
                err,
                &format!("вызов compare_tools({LAB2_CALLS})"),
            ))
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
    let detail =
        format!("сумма total_ms: {sum:.1} мс, время вызова по часам проверяющего: {wall_ms:.1} мс");
    if sum <= wall_ms && sum >= 0.5 * wall_ms {
        Ok(Outcome::Pass(Some(detail)))
    } else {
        Ok(Outcome::fail(detail))
    }
}

/// The student's background workers still running after up to 2 s for them to exit.
fn wait_student_workers(run: &mut CheckRun) -> Result<i64> {
    run.sandbox.student_workers(Duration::from_secs(2))
}

/// Sleeping workers of the runner's own that hold every free background worker slot.
struct SlotHolders {
    client: postgres::Client,
    pids: Vec<i32>,
}

impl SlotHolders {
    /// Launches sleeping workers until the server refuses one for want of a slot.
    fn fill(server: &Server) -> Result<SlotHolders> {
        // The runner's database, where no student connects, is made when the server starts;
        // a server no command of this version started yet may lack it.
        let mut client = server.connect(RUNNER_DB).or_else(|_| {
            crate::server::ensure_runner_db(server)?;
            server.connect(RUNNER_DB)
        })?;
        client.batch_execute(
            "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_background",
        )?;
        // Holders left by a run that was killed (a worker outlives its session) would hold
        // their slots for minutes; this run has the server's slots to itself (`exclusive`), so
        // any there are stale.
        let mut holders = SlotHolders {
            client,
            pids: Vec::new(),
        };
        let stale: Vec<i32> = holders
            .client
            .query(
                "SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database() AND backend_type = 'pg_background'",
                &[],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if !stale.is_empty() {
            holders.pids = stale;
            holders.end_all();
            // A worker leaves pg_stat_activity a moment before the postmaster frees its slot.
            std::thread::sleep(Duration::from_millis(100));
        }
        // A worker that has just ended (the student's, in the check before) holds its slot a
        // moment after it has left pg_stat_activity, longer on a busy machine; a slot freed
        // after the fill would let the student's launch through (pg_background_launch waits
        // for its session's ending workers). So the slots are full once no other worker runs
        // and the server has refused a holder three times in a row, 100 ms apart; a worker
        // that keeps running (one the student's code left) is waited for 3 s at most.
        let settle = Instant::now() + Duration::from_secs(3);
        let mut refusals = 0;
        while refusals < 3 && !(refusals > 0 && Instant::now() >= settle) {
            if holders.pids.len() >= 1024 {
                anyhow::bail!("the server took 1024 workers without running out of slots");
            }
            if Instant::now() < settle && holders.others_running()? {
                refusals = 0;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            match holders
                .client
                .query_one("SELECT pg_background_launch('SELECT pg_sleep(600)')", &[])
            {
                Ok(row) => {
                    holders.pids.push(row.get(0));
                    refusals = 0;
                }
                Err(err) if err.code().is_some_and(|c| c.code() == "53000") => {
                    refusals += 1;
                    if refusals < 3 {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                Err(err) => return Err(err).context("cannot fill the worker slots"),
            }
        }
        Ok(holders)
    }

    /// Whether a pg_background worker other than the holders runs on the server.
    fn others_running(&mut self) -> Result<bool> {
        Ok(self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                                WHERE backend_type = 'pg_background' AND pid <> ALL($1))",
                &[&self.pids],
            )?
            .get(0))
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

impl Drop for SlotHolders {
    /// Ends every holder, so that the next check finds its slots free.
    fn drop(&mut self) {
        self.end_all();
    }
}

impl SlotHolders {
    /// Ends every holder and waits (at most 5 s) until they are gone.
    fn end_all(&mut self) {
        let pids = std::mem::take(&mut self.pids);
        let _ = self.client.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
            &[&pids],
        );
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let left = self
                .client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                    &[&pids],
                )
                .map(|row| row.get::<_, i64>(0))
                .unwrap_or(0);
            if left == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::has_number;

    #[test]
    fn numbers_stand_alone() {
        assert!(has_number("за 3 попытки", 3));
        assert!(has_number("attempts: 3", 3));
        assert!(!has_number("за 13 попыток", 3));
        assert!(!has_number("code 53000", 3));
    }
}
