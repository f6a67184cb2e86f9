//! Lab 3's scenarios: the retrying wrapper with free slots, with every slot held by sleeping
//! workers of the runner's own, with one freed while it waits, and with an invalid queue size.

use super::holders::SlotHolders;
use super::{call_failed, raised, rows, scalar, wait_student_workers, Scenario};
use crate::check::{CheckRun, Outcome};
use crate::sandbox::EXTENSION_SCHEMA;
use anyhow::Result;
use std::time::{Duration, Instant};

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "lab3_free_slots",
        judge: lab3_free_slots,
    },
    Scenario {
        name: "lab3_slot_freed",
        judge: lab3_slot_freed,
    },
    Scenario {
        name: "lab3_exhausted",
        judge: lab3_exhausted,
    },
    Scenario {
        name: "lab3_invalid_queue",
        judge: lab3_invalid_queue,
    },
];

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
    // The launches the call made itself, counted in its own transaction as lab 2 counts its
    // calls (the student's role counts every call; one that raised is not counted): a probe
    // launch before the real one is a second launch whatever the timing, while the leaked
    // worker it started may not be in pg_stat_activity yet when the rows are counted.
    let launches = [
        "pg_background_launch(pg_catalog.text,pg_catalog.int4)",
        "pg_background_launch_v2(pg_catalog.text,pg_catalog.int4)",
        "pg_background_submit_v2(pg_catalog.text,pg_catalog.int4)",
    ]
    .map(|function| {
        format!(
            "coalesce(pg_catalog.pg_stat_get_xact_function_calls(\
             '{EXTENSION_SCHEMA}.{function}'::pg_catalog.regprocedure), 0)"
        )
    })
    .join(" + ");
    let call = run.student_sql(&format!(
        "BEGIN;
         SELECT public.pg_background_launch_retry($$INSERT INTO lab_check.lab3_runs(tag) \
             VALUES ('free_slots') RETURNING 42$$);
         SELECT {launches};
         COMMIT"
    ));
    let notices = run.student.take_notices();
    let values = match call {
        Ok(messages) => rows(&messages),
        Err(err) => {
            // The transaction the error left open would fail every later statement.
            let _ = run.student.run("ROLLBACK", run.deadline);
            return Ok(call_failed(err, "вызов pg_background_launch_retry"));
        }
    };
    let value = |i: usize| {
        values
            .get(i)
            .and_then(|row| row.first())
            .and_then(|v| v.parse().ok())
    };
    let (Some(pid), launched) = (value(0).map(|p: i64| p as i32), value(1).unwrap_or(0)) else {
        return Ok(Outcome::fail("функция не вернула pid"));
    };
    if !notices.is_empty() {
        return Ok(Outcome::fail(format!(
            "при свободных слотах сообщений быть не должно, а было: {}",
            notices.join("; ")
        )));
    }
    if launched != 1 {
        return Ok(Outcome::fail(format!(
            "при свободных слотах функция должна запустить один процесс, а запустила {launched}: \
             лишний запуск pg_background_launch — это лишний процесс"
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
    let mut holders = match run.kept.take::<SlotHolders>() {
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
        // The moment the checker begins to free the slot: the worker may exit and its slot be
        // taken before pg_terminate_backend has even returned, so a later moment would make a
        // wrapper that waited correctly look as if it launched before the slot was free.
        let freed = start.elapsed();
        holders.free_one()?;
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
        run.kept.put(holders);
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
