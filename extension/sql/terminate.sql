--
-- A worker that is terminated or cancelled reports it; a caller that stops
-- reading lets the worker finish.
--
\set SHOW_CONTEXT never

-- pg_terminate_backend: the worker's FATAL arrives as an ERROR
SELECT pg_background_launch($$SELECT 'x' FROM pg_sleep(60)$$) AS pid \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT pg_terminate_backend(:pid);
SELECT * FROM pg_background_result(:pid) AS (x text);
-- the same, with its SQLSTATE
SELECT pg_background_launch($$SELECT 'x' FROM pg_sleep(60)$$) AS pid \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT pg_terminate_backend(:pid);
SELECT pgbg_try('SELECT * FROM pg_background_result(' || :pid || ') AS (x text)');

-- pg_cancel_backend
SELECT pg_background_launch($$SELECT 'x' FROM pg_sleep(60)$$) AS pid \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT pg_cancel_backend(:pid);
SELECT pgbg_try('SELECT * FROM pg_background_result(' || :pid || ') AS (x text)');

-- The caller's own statement is cancelled while it waits for the results:
-- the worker is let go, finishes and commits
CREATE TABLE pgbg_late (x text);
SELECT pg_background_launch(
    $$SELECT pg_sleep(0.5); INSERT INTO pgbg_late VALUES ('done')$$) AS pid \gset
SET statement_timeout = '100ms';
SELECT * FROM pg_background_result(:pid) AS (x text);
RESET statement_timeout;
SELECT regexp_replace(pgbg_try(
    'SELECT * FROM pg_background_result(' || :pid || ') AS (x text)'),
    'PID [0-9]+', 'PID N');
SELECT pgbg_wait_until('SELECT count(*) = 1 FROM pgbg_late');

-- The same inside a block that catches the error
SELECT pg_background_launch(
    $$SELECT pg_sleep(0.5); INSERT INTO pgbg_late VALUES ('done again')$$) AS pid \gset
SET pgbg.pid = :pid;
SET statement_timeout = '100ms';
DO $$
BEGIN
    BEGIN
        PERFORM * FROM pg_background_result(current_setting('pgbg.pid')::int)
            AS (x text);
    EXCEPTION WHEN query_canceled THEN
        RAISE NOTICE 'caught: %', SQLERRM;
    END;
END
$$;
RESET statement_timeout;
SELECT pgbg_wait_until('SELECT count(*) = 2 FROM pgbg_late');

-- The server is fine
SELECT * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (x int);
SELECT pgbg_wait_idle();
