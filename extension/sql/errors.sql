--
-- Errors: the worker's come back with SQLSTATE, message, detail and hint;
-- misuse of the functions fails with its own SQLSTATE.
--
\set SHOW_CONTEXT never

-- queue_size out of range fails at once, before a worker is started
SELECT pg_background_launch('SELECT 1', 4095);
SELECT pg_background_launch('SELECT 1', 256 * 1024 * 1024 + 1);
SELECT pgbg_try($$SELECT pg_background_launch('SELECT 1', -1)$$);
-- the smallest queue works
SELECT * FROM pg_background_result(pg_background_launch('SELECT 42', 4096)) AS (x int);
-- NULL arguments give NULL (the functions are strict)
SELECT pg_background_launch(NULL) IS NULL AS launch_null,
       pg_background_launch('SELECT 1', NULL) IS NULL AS size_null;

-- An error keeps its SQLSTATE, message, detail and hint
SELECT * FROM pg_background_result(pg_background_launch(
    $q$DO $do$BEGIN
        RAISE EXCEPTION 'custom failure'
            USING ERRCODE = 'check_violation', DETAIL = 'Some detail.',
                  HINT = 'Some hint.';
    END
    $do$$q$)) AS (result text);
-- ... and gains a context line naming the worker
DO $body$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
    ctx text;
BEGIN
    PERFORM * FROM pg_background_result(pg_background_launch(
        $q$DO $do$BEGIN
            RAISE EXCEPTION 'custom failure'
                USING ERRCODE = 'check_violation', DETAIL = 'Some detail.',
                      HINT = 'Some hint.';
        END
        $do$$q$)) AS (result text);
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT,
        ctx = PG_EXCEPTION_CONTEXT;
    RAISE NOTICE 'sqlstate=%, message=%, detail=%, hint=%', st, msg, det, hnt;
    RAISE NOTICE 'context: %', regexp_replace(ctx, 'pid [0-9]+', 'pid N', 'g');
END
$body$;

-- Errors of parsing and planning come back the same way
SELECT * FROM pg_background_result(pg_background_launch('SELEC 1')) AS (x int);
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT * FROM pgbg_no_such_table')) AS (x int);

-- COPY and transaction control are refused by the worker (0A000), and
-- nothing of the string runs
CREATE TABLE pgbg_e (x int);
SELECT pgbg_try($$SELECT * FROM pg_background_result(pg_background_launch(
    'COPY pgbg_e TO STDOUT')) AS (x text)$$);
SELECT pgbg_try($$SELECT * FROM pg_background_result(pg_background_launch(
    'COPY pgbg_e FROM STDIN')) AS (x text)$$);
SELECT pgbg_try($$SELECT * FROM pg_background_result(pg_background_launch(
    'COPY pgbg_e TO ''/dev/null''')) AS (x text)$$);
SELECT * FROM pg_background_result(pg_background_launch(
    'INSERT INTO pgbg_e VALUES (1); BEGIN')) AS (x text);
SELECT s, pgbg_try(format(
    'SELECT * FROM pg_background_result(pg_background_launch(%L)) AS (x text)', s))
FROM unnest(ARRAY['BEGIN', 'START TRANSACTION', 'COMMIT', 'ROLLBACK',
                  'SAVEPOINT s', 'RELEASE SAVEPOINT s', 'ROLLBACK TO SAVEPOINT s',
                  'PREPARE TRANSACTION ''t''', 'COMMIT PREPARED ''t''',
                  'ROLLBACK PREPARED ''t''']) AS s;
SELECT count(*) FROM pgbg_e;

-- A process ID that is not one of this session's workers (42704)
SELECT * FROM pg_background_result(12345678) AS (x int);
SELECT pg_background_detach(12345678);
-- results can be read once
SELECT pg_background_launch('SELECT 1') AS pid \gset
SELECT * FROM pg_background_result(:pid) AS (x int);
SELECT regexp_replace(pgbg_try(
    'SELECT * FROM pg_background_result(' || :pid || ') AS (x int)'),
    'PID [0-9]+', 'PID N');
-- not after a detach
SELECT pg_background_launch('SELECT 1') AS pid \gset
SELECT pg_background_detach(:pid);
SELECT regexp_replace(pgbg_try(
    'SELECT * FROM pg_background_result(' || :pid || ') AS (x int)'),
    'PID [0-9]+', 'PID N');
SELECT regexp_replace(pgbg_try('SELECT pg_background_detach(' || :pid || ')'),
    'PID [0-9]+', 'PID N');
-- not after the worker's error was raised
SELECT pg_background_launch('SELECT 1 / 0') AS pid \gset
SELECT * FROM pg_background_result(:pid) AS (x int);
SELECT regexp_replace(pgbg_try(
    'SELECT * FROM pg_background_result(' || :pid || ') AS (x int)'),
    'PID [0-9]+', 'PID N');

-- The column definition list must match the rows (42804)
SELECT * FROM pg_background_result(pg_background_launch('SELECT 1, 2')) AS (a int);
SELECT * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (a int, b int);
SELECT * FROM pg_background_result(pg_background_launch($$SELECT 'x'::text$$)) AS (a int);
SELECT * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (a bigint);
SELECT * FROM pg_background_result(pg_background_launch(
    'INSERT INTO pgbg_e VALUES (2)')) AS (a int);
SELECT * FROM pg_background_result(pg_background_launch(
    'INSERT INTO pgbg_e VALUES (3)')) AS (a text, b text);
-- rows of different shapes from several statements
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT 1; SELECT 2, 3')) AS (a int);
-- a mismatch consumes the results
SELECT pg_background_launch('SELECT 1, 2') AS pid \gset
SELECT * FROM pg_background_result(:pid) AS (a int);
SELECT regexp_replace(pgbg_try(
    'SELECT * FROM pg_background_result(' || :pid || ') AS (a int, b int)'),
    'PID [0-9]+', 'PID N');
-- so does a value the column's type rejects
SELECT pg_background_launch($$SELECT 'abc'::text$$) AS pid \gset
SELECT * FROM pg_background_result(:pid) AS (a varchar(2));
SELECT regexp_replace(pgbg_try(
    'SELECT * FROM pg_background_result(' || :pid || ') AS (a text)'),
    'PID [0-9]+', 'PID N');

-- Without a column definition list PostgreSQL itself complains (42601)
SELECT * FROM pg_background_result(1);
-- Called where no row type is known: refused before reading anything
SELECT pg_background_launch('SELECT 7') AS pid \gset
SELECT pg_background_result(:pid);
SELECT * FROM pg_background_result(:pid) AS (x int);

SELECT pgbg_wait_idle();
