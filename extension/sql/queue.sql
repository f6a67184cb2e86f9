--
-- A result larger than the queue: the worker waits until the caller reads.
--
\set SHOW_CONTEXT never

SELECT pg_background_launch('SELECT g FROM generate_series(1, 100000) g', 4096)
    AS pid \gset
SELECT pgbg_wait_event(:pid, 'MessageQueueSend');
SELECT backend_type, wait_event_type, wait_event
FROM pg_stat_activity WHERE pid = :pid;
SELECT count(*), sum(g) FROM pg_background_result(:pid) AS (g int);

-- The smallest queue still carries everything
SELECT count(*), sum(g) FROM pg_background_result(pg_background_launch(
    'SELECT g FROM generate_series(1, 1000) g', 4096)) AS (g int);
-- So does a small queue with rows larger than it
SELECT count(*), sum(length(t)) FROM pg_background_result(pg_background_launch(
    $$SELECT repeat('x', 100000) || g FROM generate_series(1, 10) g$$, 4096))
    AS (t text);
-- And a large one
SELECT count(*), sum(g) FROM pg_background_result(pg_background_launch(
    'SELECT g FROM generate_series(1, 100000) g', 16 * 1024 * 1024)) AS (g int);

-- Terminated while blocked on the full queue: the rows already queued come
-- through, then the lost connection is reported
SELECT pg_background_launch('SELECT g FROM generate_series(1, 100000) g', 4096)
    AS pid \gset
SELECT pgbg_wait_event(:pid, 'MessageQueueSend');
SELECT pg_terminate_backend(:pid);
SELECT pgbg_wait_until('SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = '
                       || :pid);
SELECT regexp_replace(pgbg_try(
    'SELECT count(*) FROM pg_background_result(' || :pid || ') AS (g int)'),
    'PID [0-9]+', 'PID N');

SELECT pgbg_wait_idle();
