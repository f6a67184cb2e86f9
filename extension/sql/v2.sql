--
-- The second interface: handles, submit, result, detach, cancel, wait,
-- list, statistics, and its settings and errors.
--
\set SHOW_CONTEXT never

-- Run a statement; report SQLSTATE, message and hint, without PIDs and
-- cookies, instead of failing (cancels included)
CREATE FUNCTION pgbg_try_v2(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    msg text;
    hint text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS OR query_canceled THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    -- (PostgreSQL 17 and later give the unit of a setting's bounds too)
    RETURN regexp_replace(regexp_replace(regexp_replace(
        SQLSTATE || ': ' || msg || CASE WHEN hint <> '' THEN ' HINT: ' || hint ELSE '' END,
        'PID [0-9]+', 'PID N', 'g'), 'cookie [0-9]+', 'cookie C', 'g'),
        '\(([0-9-]+)(?: [A-Za-z]+)? \.\. ([0-9]+)(?: [A-Za-z]+)?\)', '(\1 .. \2)');
END
$$;

-- The session's workers without what changes from run to run
CREATE VIEW pgbg_list AS
SELECT user_id::regrole AS usr, queue_size, state, sql_preview, last_error,
       consumed
FROM pgbg_workers();

CREATE TABLE pgbg_v2 (x text);

-- Nothing launched yet
SELECT * FROM pgbg_workers();
SELECT workers_launched, workers_completed, workers_failed, workers_canceled,
       workers_active, avg_execution_ms, max_workers
FROM pg_background_stats_v2();

-- launch_v2 returns a handle; result_v2 reads the rows, once
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          'SELECT g, g * 2 FROM generate_series(1, 3) g') AS h) s \gset
SELECT pg_typeof(pg_background_launch_v2('SELECT 1')) AS handle_type;
SELECT :pid > 0 AS pid_ok, :cookie > 0 AS cookie_ok;
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (a int, b int);
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (a int)',
                          :pid, :cookie));
-- (the unread worker may or may not have finished by now)
SELECT usr, queue_size, state IN ('running', 'stopped') AS state_ok, sql_preview,
       last_error, consumed
FROM pgbg_list;

-- A command: its tag; an error: raised with its SQLSTATE, and kept
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          $$INSERT INTO pgbg_v2 VALUES ('launched')$$) AS h) s \gset
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (tag text);
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT 1 / 0') AS h) s \gset
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x int)',
                          :pid, :cookie));
SELECT state, last_error, consumed FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;

-- The error is known before the results are read, once the worker is gone
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT * FROM pgbg_no_such_table') AS h) s \gset
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT state, last_error, consumed FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x int)',
                          :pid, :cookie));

-- submit_v2: the results are discarded, reading them is 0A000
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_submit_v2(
          $$INSERT INTO pgbg_v2 VALUES ('submitted'); SELECT g FROM generate_series(1, 100000) g$$,
          4096) AS h) s \gset
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x int)',
                          :pid, :cookie));
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result(%s) AS (x int)', :pid));
-- It never waits for a reader, even with a tiny queue
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT state, last_error, consumed FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;
SELECT * FROM pgbg_v2 ORDER BY x;
-- A submitted error is kept too
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_submit_v2($$SELECT 'x'::int$$) AS h) s \gset
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT state, last_error, consumed FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;

-- detach_v2: the worker keeps running and commits; a second detach does nothing
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          $$SELECT pg_sleep(0.2); INSERT INTO pgbg_v2 VALUES ('detached')$$) AS h) s \gset
SELECT pg_background_detach_v2(:pid, :cookie);
SELECT pgbg_try_v2(format('SELECT pg_background_detach_v2(%s, %s)', :pid, :cookie));
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x int)',
                          :pid, :cookie));
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT state, last_error, consumed FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;
SELECT count(*) FROM pgbg_v2 WHERE x = 'detached';

-- wait_v2_timeout: false while the worker runs, true once it has exited
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          $$INSERT INTO pgbg_v2 VALUES ('canceled'); SELECT pg_sleep(60)$$) AS h) s \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT pg_background_wait_v2_timeout(:pid, :cookie, 0);
SELECT pg_background_wait_v2_timeout(:pid, :cookie, 50);
SELECT pgbg_try_v2(format('SELECT pg_background_wait_v2_timeout(%s, %s, -1)',
                          :pid, :cookie));
SELECT state FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;

-- cancel_v2: the worker stops, its transaction rolls back
SELECT pg_background_cancel_v2(:pid, :cookie);
SELECT pg_background_wait_v2_timeout(:pid, :cookie, 60000);
SELECT state, consumed FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;
SELECT count(*) FROM pgbg_v2 WHERE x = 'canceled';
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x int)',
                          :pid, :cookie));
-- Cancelling again, or cancelling a worker that ended, changes nothing
SELECT pg_background_cancel_v2(:pid, :cookie);
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT 1') AS h) s \gset
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT pg_background_cancel_v2(:pid, :cookie);
SELECT state, consumed FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;
-- ... and its results can still be read
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (x int);

-- A wrong cookie is 55000 with a hint; an unknown PID is 42704
SELECT pgbg_try_v2(format('SELECT pg_background_wait_v2(%s, %s)', :pid, :cookie + 1));
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x int)',
                          :pid, :cookie + 1));
SELECT pgbg_try_v2(format('SELECT pg_background_detach_v2(%s, %s)', :pid, :cookie + 1));
SELECT pgbg_try_v2(format('SELECT pg_background_cancel_v2(%s, %s)', :pid, :cookie + 1));
SELECT pgbg_try_v2('SELECT pg_background_wait_v2(0, 1)');
SELECT pgbg_try_v2('SELECT pg_background_wait_v2_timeout(0, 1, 10)');
SELECT pgbg_try_v2('SELECT pg_background_cancel_v2(0, 1)');

-- queue_size: 0 is pg_background.default_queue_size, else checked as in v1
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT 1', 5000) AS h) s \gset
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (x int);
SET pg_background.default_queue_size = '8kB';
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT 2') AS h) s \gset
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (x int);
SELECT queue_size FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;
RESET pg_background.default_queue_size;
SHOW pg_background.default_queue_size;
SELECT pgbg_try_v2('SET pg_background.default_queue_size = 10');
SELECT pgbg_try_v2($$SELECT pg_background_launch_v2('SELECT 1', 10)$$);
SELECT pgbg_try_v2($$SELECT pg_background_submit_v2('SELECT 1', -1)$$);

-- sql_preview keeps the first 120 characters
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          'SELECT ' || repeat('1 + ', 40) || '1') AS h) s \gset
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (x int);
SELECT length(sql_preview), sql_preview FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;

-- pg_background.max_workers: running workers per session, 54000 beyond
SHOW pg_background.max_workers;
SET pg_background.max_workers = 2;
SELECT pg_background_launch_v2('SELECT pg_sleep(60)') AS h1 \gset
SELECT pg_background_submit_v2('SELECT pg_sleep(60)') AS h2 \gset
SELECT pgbg_try_v2($$SELECT pg_background_launch_v2('SELECT 1')$$);
SELECT pgbg_try_v2($$SELECT pg_background_submit_v2('SELECT 1')$$);
-- The first interface is not limited by it
SELECT * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (x int);
SELECT pg_background_cancel_v2((:'h1'::pg_background_handle).pid,
                               (:'h1'::pg_background_handle).cookie);
SELECT pg_background_cancel_v2((:'h2'::pg_background_handle).pid,
                               (:'h2'::pg_background_handle).cookie);
SELECT pg_background_wait_v2((:'h1'::pg_background_handle).pid,
                             (:'h1'::pg_background_handle).cookie);
SELECT pg_background_wait_v2((:'h2'::pg_background_handle).pid,
                             (:'h2'::pg_background_handle).cookie);
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT 3') AS h) s \gset
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (x int);
RESET pg_background.max_workers;
SELECT pgbg_try_v2('SET pg_background.max_workers = 0');

-- pg_background.worker_timeout: a worker that runs longer is stopped
SET pg_background.worker_timeout = '200ms';
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          $$INSERT INTO pgbg_v2 VALUES ('timed out'); SELECT 'x' FROM pg_sleep(60)$$) AS h) s \gset
SELECT pgbg_try_v2(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x text)',
                          :pid, :cookie));
SELECT state, last_error FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_submit_v2('SELECT pg_sleep(60)') AS h) s \gset
SELECT pg_background_wait_v2_timeout(:pid, :cookie, 60000);
SELECT state, last_error FROM pgbg_workers()
WHERE pid = :pid AND cookie = :cookie;
-- ... and one that is quick enough is not (it applies to the first
-- interface too)
SET pg_background.worker_timeout = '60s';
SELECT * FROM pg_background_result(pg_background_launch('SELECT 4')) AS (x int);
RESET pg_background.worker_timeout;
SELECT count(*) FROM pgbg_v2 WHERE x = 'timed out';

-- The whole session: every worker, oldest first, and the counters
SELECT pgbg_wait_idle();
SELECT * FROM pgbg_list;
SELECT workers_launched, workers_completed, workers_failed, workers_canceled,
       workers_active, avg_execution_ms > 0 AS avg_known, max_workers
FROM pg_background_stats_v2();

-- Without pgbackground_role: permission denied
CREATE ROLE regress_pgbg_v2_nopriv NOLOGIN;
SET ROLE regress_pgbg_v2_nopriv;
SELECT pg_background_launch_v2('SELECT 1');
SELECT pg_background_list_v2();
SELECT pg_background_stats_v2();
RESET ROLE;
DROP ROLE regress_pgbg_v2_nopriv;
