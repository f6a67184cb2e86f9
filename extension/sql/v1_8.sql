--
-- What version 1.8 adds to the second interface: the list with the
-- caller's column definition list, the statistics type, detach and
-- consumed results, wrong cookies, cancel with a grace period, progress
-- reports, and the first interface's queue_size 0.
--
\set SHOW_CONTEXT never
SELECT pg_postmaster_start_time() AS postmaster_started \gset

-- The types and the signatures
SELECT pg_get_function_identity_arguments(p.oid) AS args,
       pg_get_function_result(p.oid) AS result, p.proname
FROM pg_proc p
WHERE p.proname IN ('pg_background_launch', 'pg_background_list_v2',
                    'pg_background_stats_v2', 'pg_background_cancel_v2_grace',
                    'pg_background_progress', 'pg_background_get_progress_v2')
ORDER BY p.proname;
SELECT t.typname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
WHERE t.typname IN ('pg_background_handle', 'pg_background_stats',
                    'pg_background_progress')
ORDER BY t.typname, a.attnum;

-- queue_size 0 (the default) of the first interface is
-- pg_background.default_queue_size too
SET pg_background.default_queue_size = '16kB';
SELECT pg_background_launch('SELECT 7') AS pid \gset
SELECT queue_size FROM pgbg_workers() WHERE pid = :pid;
SELECT * FROM pg_background_result(:pid) AS (x int);
RESET pg_background.default_queue_size;

-- list_v2 takes the caller's column definition list: without one, with
-- another number of columns or another type, it fails and says how to call it
SELECT pgbg_try_v2('SELECT * FROM pg_background_list_v2()');
SELECT pgbg_try_v2('SELECT * FROM pg_background_list_v2() AS (pid int4)');
SELECT pgbg_try_v2($$SELECT * FROM pg_background_list_v2()
    AS (pid int4, cookie int8, launched_at timestamptz, user_id oid, queue_size int4,
        state text, sql_preview text, last_error text, consumed int4)$$);
SELECT pgbg_try_v2($$SELECT * FROM pg_background_list_v2()
    AS (pid int8, cookie int8, launched_at timestamptz, user_id oid, queue_size int4,
        state text, sql_preview text, last_error text, consumed bool)$$);
-- The names are the caller's
SELECT count(*) > 0 AS listed FROM pg_background_list_v2()
    AS (a int4, b int8, c timestamptz, d oid, e int4, f text, g text, h text, i bool);

-- stats_v2 returns pg_background_stats
SELECT pg_typeof(pg_background_stats_v2());
SELECT pg_typeof(workers_active) AS active, pg_typeof(avg_execution_ms) AS avg
FROM pg_background_stats_v2();

-- A wrong cookie for a running worker says that the cookie is wrong
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT pg_sleep(60)') AS h) s \gset
SELECT pgbg_try_v2(format('SELECT pg_background_wait_v2_timeout(%s, %s, 0)',
                          :pid, :cookie + 1));
-- Detaching a canceled worker is not an error; reading it says why not
SELECT pg_background_cancel_v2(:pid, :cookie);
SELECT pg_background_detach_v2(:pid, :cookie);
SELECT pgbg_try(format('SELECT * FROM pg_background_result_v2(%s, %s) AS (x text)',
                       :pid, :cookie)) ~ 'already consumed' AS consumed_error;
DO $$
DECLARE
    h pg_background_handle;
    detail text;
BEGIN
    -- detached, then read: consumed, because it was detached
    h := pg_background_launch_v2('SELECT 1');
    PERFORM pg_background_detach_v2(h.pid, h.cookie);
    BEGIN
        PERFORM * FROM pg_background_result_v2(h.pid, h.cookie) AS (x int);
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
        RAISE NOTICE 'detached: %', detail;
    END;
    -- read twice: consumed, because it was read
    h := pg_background_launch_v2('SELECT 1');
    PERFORM * FROM pg_background_result_v2(h.pid, h.cookie) AS (x int);
    BEGIN
        PERFORM * FROM pg_background_result_v2(h.pid, h.cookie) AS (x int);
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
        RAISE NOTICE 'read: %', detail;
    END;
    -- a worker that has stopped can be detached, and again
    PERFORM pg_background_wait_v2(h.pid, h.cookie);
    PERFORM pg_background_detach_v2(h.pid, h.cookie);
    PERFORM pg_background_detach_v2(h.pid, h.cookie);
    RAISE NOTICE 'detached a stopped worker twice';
END
$$;

-- cancel_v2_grace: a worker that honours the cancel stops within the
-- grace period and rolls back ...
CREATE TABLE pgbg_grace (x text);
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          $$INSERT INTO pgbg_grace VALUES ('canceled'); SELECT pg_sleep(60)$$) AS h) s \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_background_cancel_v2_grace(:pid, :cookie, 60000);
SELECT clock_timestamp() - :'t0'::timestamptz < interval '30 s' AS before_grace_ended;
SELECT pg_background_wait_v2_timeout(:pid, :cookie, 0) AS exited;
SELECT state, consumed FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;
SELECT count(*) FROM pgbg_grace;
-- ... one that catches the cancel is ended when the grace period is over
-- (a SIGTERM: the server does not restart, see the end)
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2($w$
    DO $do$
    BEGIN
        INSERT INTO pgbg_grace VALUES ('stubborn');
        LOOP
            BEGIN
                PERFORM pg_sleep(60);
            EXCEPTION WHEN query_canceled THEN
                RAISE NOTICE 'cancel ignored';
            END;
        END LOOP;
    END
    $do$$w$) AS h) s \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_background_cancel_v2_grace(:pid, :cookie, 300);
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '300 ms' AS waited_the_grace;
SELECT pg_background_wait_v2_timeout(:pid, :cookie, 60000) AS exited;
SELECT state FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;
SELECT count(*) FROM pgbg_grace;
-- A grace beyond an hour is an hour; a negative one is an error; a worker
-- that ended keeps its state
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT pg_sleep(60)') AS h) s \gset
SELECT pgbg_try_v2(format('SELECT pg_background_cancel_v2_grace(%s, %s, -1)', :pid, :cookie));
SELECT pg_background_cancel_v2_grace(:pid, :cookie, 2147483647);
SELECT state FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT 1') AS h) s \gset
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT pg_background_cancel_v2_grace(:pid, :cookie, 0);
SELECT state FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (x int);

-- Progress: NULL until the worker reports (it waits for our lock first),
-- then its last report
SELECT pg_advisory_lock(4218);
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2($w$
    DO $do$
    BEGIN
        PERFORM pg_advisory_lock(4218);
        PERFORM pg_background_progress(10);
        PERFORM pg_background_progress(50, 'half way');
        PERFORM pg_sleep(60);
    END
    $do$$w$) AS h) s \gset
SELECT pgbg_wait_event(:pid, 'advisory');
SELECT pg_background_get_progress_v2(:pid, :cookie) IS NULL AS none_yet;
SELECT pg_advisory_unlock(4218);
SELECT pgbg_wait_until(format(
    'SELECT (pg_background_get_progress_v2(%s, %s)).progress_pct = 50', :pid, :cookie));
SELECT * FROM pg_background_get_progress_v2(:pid, :cookie);
-- The last report outlives the worker's segment
SELECT pg_background_cancel_v2(:pid, :cookie);
SELECT * FROM pg_background_get_progress_v2(:pid, :cookie);
-- A submitted worker's report is kept after it ended
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_submit_v2(
          $$SELECT pg_background_progress(100, 'done')$$) AS h) s \gset
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT * FROM pg_background_get_progress_v2(:pid, :cookie);
-- Without a message; a long message keeps its first 255 bytes, whole
-- characters only
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          $$DO 'BEGIN PERFORM pg_background_progress(0, repeat(''я'', 200)); END'$$) AS h) s \gset
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (tag text);
SELECT progress_pct, length(progress_msg) AS chars, octet_length(progress_msg) AS bytes
FROM pg_background_get_progress_v2(:pid, :cookie);
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          $$DO 'BEGIN PERFORM pg_background_progress(5, NULL); END'$$) AS h) s \gset
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (tag text);
SELECT * FROM pg_background_get_progress_v2(:pid, :cookie);
-- Out of range, NULL, or outside a worker: errors
SELECT pgbg_try_v2($$SELECT r.* FROM pg_background_launch_v2('SELECT pg_background_progress(101)::text') h,
    LATERAL pg_background_result_v2(h.pid, h.cookie) AS r(v text)$$);
SELECT pgbg_try_v2($$SELECT r.* FROM pg_background_launch_v2('SELECT pg_background_progress(NULL)::text') h,
    LATERAL pg_background_result_v2(h.pid, h.cookie) AS r(v text)$$);
SELECT pgbg_try_v2('SELECT pg_background_progress(50)');
SELECT pgbg_try_v2('SELECT pg_background_get_progress_v2(0, 1)');

-- A worker that catches the cancel and commits within the grace period is
-- stopped, not canceled: its state says what became of it
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2($w$
    DO $do$
    BEGIN
        BEGIN
            PERFORM pg_sleep(60);
        EXCEPTION WHEN query_canceled THEN
            NULL;
        END;
        INSERT INTO pgbg_grace VALUES ('caught the cancel');
    END
    $do$$w$) AS h) s \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT pg_background_cancel_v2_grace(:pid, :cookie, 60000);
SELECT state, consumed FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;
SELECT x FROM pgbg_grace;

-- A detached worker's end is still known: the segment is kept until it ends
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2(
          'SELECT pg_advisory_lock(4218); SELECT 1 / 0') AS h) s \gset
SELECT pg_advisory_lock(4218);
SELECT pg_background_detach_v2(:pid, :cookie);
SELECT pg_advisory_unlock(4218);
SELECT pg_background_wait_v2(:pid, :cookie);
SELECT state, last_error, consumed FROM pgbg_workers() WHERE pid = :pid AND cookie = :cookie;

-- Detaching or canceling a worker while its results are being read (here
-- by a domain's check of a column) is refused: the rows live in its segment
CREATE FUNCTION pgbg_let_go(v text, how text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    h pg_background_handle := current_setting('pgbg.handle')::pg_background_handle;
BEGIN
    IF v = 'row 1' THEN
        CASE how
            WHEN 'detach' THEN PERFORM pg_background_detach(h.pid);
            WHEN 'detach_v2' THEN PERFORM pg_background_detach_v2(h.pid, h.cookie);
            ELSE PERFORM pg_background_cancel_v2(h.pid, h.cookie);
        END CASE;
    END IF;
    RETURN true;
END
$$;
CREATE DOMAIN pgbg_detaching AS text CHECK (pgbg_let_go(VALUE, 'detach'));
CREATE DOMAIN pgbg_detaching_v2 AS text CHECK (pgbg_let_go(VALUE, 'detach_v2'));
CREATE DOMAIN pgbg_canceling AS text CHECK (pgbg_let_go(VALUE, 'cancel'));
DO $$
DECLARE
    d text;
    h pg_background_handle;
BEGIN
    FOREACH d IN ARRAY ARRAY['pgbg_detaching', 'pgbg_detaching_v2', 'pgbg_canceling'] LOOP
        -- 20,000 rows through a 4 kB queue: the worker is still running
        h := pg_background_launch_v2(
            $q$SELECT 'row ' || g, repeat('y', 100) FROM generate_series(1, 20000) g$q$,
            4096);
        PERFORM set_config('pgbg.handle', h::text, false);
        BEGIN
            EXECUTE format('SELECT count(*) FROM pg_background_result_v2(%s, %s) AS (a %s, b text)',
                           h.pid, h.cookie, d);
            RAISE NOTICE '%: read', d;
        EXCEPTION WHEN object_in_use THEN
            RAISE NOTICE '%: %', d, regexp_replace(SQLERRM, 'PID [0-9]+', 'PID N');
        END;
        PERFORM pg_background_wait_v2(h.pid, h.cookie);
    END LOOP;
END
$$;

-- A session holds the segments of at most 64 workers (running, unread, or
-- detached and not ended): unread results cannot pin shared memory without end
SELECT count(pg_background_launch('SELECT 1', 4096)) FROM generate_series(1, 64);
SELECT pgbg_try_v2($$SELECT pg_background_launch('SELECT 1', 4096)$$);
SELECT pgbg_try_v2($$SELECT pg_background_submit_v2('SELECT 1')$$);
SELECT count(pg_background_detach(pid)) FROM pgbg_workers() WHERE NOT consumed;
SELECT * FROM pg_background_result(pg_background_launch('SELECT 65')) AS (x int);

-- In the select list: an error that names the function and says how to call it
SELECT pgbg_try_v2('SELECT pg_background_list_v2()');
SELECT (h).pid AS pid, (h).cookie AS cookie
FROM (SELECT pg_background_launch_v2('SELECT 1') AS h) s \gset
SELECT pgbg_try_v2(format('SELECT pg_background_result_v2(%s, %s)', :pid, :cookie));
SELECT * FROM pg_background_result_v2(:pid, :cookie) AS (x int);

-- The settings: defaults, bounds, and any user may set them
SELECT name, setting, unit, min_val, max_val, context
FROM pg_settings WHERE name LIKE 'pg\_background.%' ORDER BY name;
CREATE ROLE regress_pgbg_anyone NOLOGIN;
SET ROLE regress_pgbg_anyone;
SET pg_background.max_workers = 1000;
SET pg_background.default_queue_size = '4kB';
SET pg_background.worker_timeout = '1min';
SELECT current_setting('pg_background.max_workers') AS max_workers,
       current_setting('pg_background.default_queue_size') AS queue,
       current_setting('pg_background.worker_timeout') AS timeout;
SELECT pgbg_try_v2('SET pg_background.max_workers = 1001');
SELECT pgbg_try_v2($$SET pg_background.default_queue_size = '4095B'$$);
SELECT pgbg_try_v2($$SET pg_background.default_queue_size = '257MB'$$);
SELECT pgbg_try_v2('SET pg_background.worker_timeout = -1');
RESET ROLE;
RESET pg_background.max_workers;
RESET pg_background.default_queue_size;
RESET pg_background.worker_timeout;
DROP ROLE regress_pgbg_anyone;

-- No call above made the postmaster restart the backends
SELECT pg_postmaster_start_time() = :'postmaster_started'::timestamptz AS no_restart;
SELECT pgbg_wait_idle();
