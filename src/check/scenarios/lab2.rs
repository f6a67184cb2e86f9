//! Lab 2's scenarios: the server's counters prove that `compare_tools` did the work it reports,
//! and the times it reports add up to the wall time the checker measured.

use super::{call_failed, rows, Scenario};
use crate::check::{CheckRun, Outcome};
use crate::sandbox::EXTENSION_SCHEMA;
use anyhow::Result;
use std::time::{Duration, Instant};

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "lab2_work_done",
        judge: lab2_work_done,
    },
    Scenario {
        name: "lab2_wall_time",
        judge: lab2_wall_time,
    },
];

/// How many calls lab 2's scenarios ask `compare_tools` for.
const LAB2_CALLS: i64 = 12;

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
