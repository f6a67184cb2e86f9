--
-- Rows, command tags, several statements, streaming, autonomy, detach.
--
\set SHOW_CONTEXT never

-- Rows of various types come back through the column definition list
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT 1 AS i, 'two'::text AS t, 3.5::numeric AS n, DATE '2024-02-29' AS d,
             true AS b, NULL::int AS nul, ARRAY[1, 2] AS a,
             '{"k": [1, 2]}'::jsonb AS j, E'tab\there' AS esc$$))
    AS (i int, t text, n numeric, d date, b bool, nul int, a int[], j jsonb,
        esc text);

-- No rows
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT 1 WHERE false')) AS (x int);

-- Binary coercible types fit each other
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT 'abc'::varchar(10)$$)) AS (x text);
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT 'abc'::text$$)) AS (x varchar);

-- A command without rows yields its command tag
CREATE TABLE pgbg_t (id int PRIMARY KEY, note text);
SELECT * FROM pg_background_result(pg_background_launch(
    $$INSERT INTO pgbg_t VALUES (1, 'one')$$)) AS (result text);

-- Several statements: the command tags if no statement returns rows ...
SELECT * FROM pg_background_result(pg_background_launch(
    $$INSERT INTO pgbg_t VALUES (2, 'two'); UPDATE pgbg_t SET note = upper(note)$$))
    AS (result text);
-- ... else the rows of every statement that returns rows, in order
SELECT * FROM pg_background_result(pg_background_launch(
    $$SET LOCAL work_mem = '2MB';
      SELECT id, note FROM pgbg_t WHERE id = 1;
      DELETE FROM pgbg_t WHERE id = 2 RETURNING id, note$$))
    AS (id int, note text);
-- An empty string yields nothing
SELECT * FROM pg_background_result(pg_background_launch('')) AS (result text);
SELECT * FROM pg_background_result(pg_background_launch(' -- only a comment'))
    AS (result text);
-- Several statements are one transaction: an error undoes them all
SELECT * FROM pg_background_result(pg_background_launch(
    $$INSERT INTO pgbg_t VALUES (3, 'three'); SELECT 1 / 0$$)) AS (x int);
SELECT count(*) FROM pgbg_t WHERE id = 3;

-- A large result streams through the (default 64 kB) queue
SELECT count(*), sum(g), count(DISTINCT m)
FROM pg_background_result(pg_background_launch(
    'SELECT g, md5(g::text) FROM generate_series(1, 200000) g')) AS (g int, m text);

-- The worker commits by itself: the row survives the caller's ROLLBACK
BEGIN;
SELECT * FROM pg_background_result(pg_background_launch(
    $$INSERT INTO pgbg_t VALUES (10, 'autonomous')$$)) AS (result text);
ROLLBACK;
SELECT * FROM pgbg_t WHERE id = 10;

-- Launched in one transaction (even one rolled back), read in a later one
BEGIN;
SELECT pg_background_launch($$SELECT 'from a rolled back transaction'$$) AS pid \gset
ROLLBACK;
SELECT * FROM pg_background_result(:pid) AS (x text);

-- Detach: the worker goes on and commits, its output is discarded
SELECT pg_background_launch(
    $$SELECT pg_sleep(0.2); INSERT INTO pgbg_t VALUES (11, 'after detach')$$) AS pid \gset
SELECT pg_background_detach(:pid);
SELECT pgbg_wait_until('SELECT count(*) = 1 FROM pgbg_t WHERE id = 11');
-- ... even when its output did not fit the queue
SELECT pg_background_launch(
    $$SELECT g FROM generate_series(1, 100000) g;
      INSERT INTO pgbg_t VALUES (12, 'big output, detached')$$, 4096) AS pid \gset
SELECT pgbg_wait_event(:pid, 'MessageQueueSend');
SELECT pg_background_detach(:pid);
SELECT pgbg_wait_until('SELECT count(*) = 1 FROM pgbg_t WHERE id = 12');

-- A session that exits without reading (here the session is a worker)
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT pg_background_launch('SELECT pg_sleep(0.2);
                                   INSERT INTO pgbg_t VALUES (13, ''orphan'')') > 0$$))
    AS (launched bool);
SELECT pgbg_wait_until('SELECT count(*) = 1 FROM pgbg_t WHERE id = 13');

-- NOTICE and WARNING reach the caller when the results are read
SELECT * FROM pg_background_result(pg_background_launch(
    $q$DO $do$BEGIN
        RAISE NOTICE 'notice from worker';
        RAISE WARNING 'warning from worker';
    END
    $do$$q$)) AS (result text);

-- now() and statement_timestamp() are set in the worker
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT now() > '2020-01-01', statement_timestamp() >= now()$$))
    AS (a bool, b bool);

-- The worker is easy to spot in pg_stat_activity
SELECT pg_background_launch($$SELECT 'slept' FROM pg_sleep(0.5)$$) AS pid \gset
SELECT pgbg_wait_event(:pid, 'PgSleep');
SELECT backend_type, application_name, state, query, usename = current_user
FROM pg_stat_activity WHERE pid = :pid;
SELECT * FROM pg_background_result(:pid) AS (x text);
SELECT * FROM pg_background_result(pg_background_launch('SHOW application_name'))
    AS (x text);

-- Values of every kind arrive intact (they travel as datum images; pseudo
-- types such as anonymous records as text)
CREATE TYPE pgbg_mood AS ENUM ('sad', 'happy');
CREATE TYPE pgbg_pair AS (a int, b text);
CREATE DOMAIN pgbg_pos AS int CHECK (VALUE > 0);
CREATE TABLE pgbg_types (
    b bool, c "char", i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
    n numeric(10,2), t text, vc varchar(10), bp char(5), nm name, by bytea,
    d date, ts timestamp, tz timestamptz, iv interval, u uuid, j jsonb,
    a int[], ta text[], e pgbg_mood, p pgbg_pair, r int4range, dm pgbg_pos,
    compressed text, external text, nul int, pt point, ip inet);
INSERT INTO pgbg_types VALUES (
    true, 'x', -2, 4, 8000000000, 1.5, 2.25e300, 12345678.91, 'héllo', 'vc',
    'ab', 'nm', '\xdeadbeef', '2024-02-29', '2024-02-29 12:34:56.789',
    '2024-02-29 12:34:56.789+03', '1 day 2 hours',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2]}', '{1,NULL,3}',
    '{"a","b c"}', 'happy', ROW(1, 'x'), '[1,5)', 7, repeat('abc', 100000),
    (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 500) g),
    NULL, '(1.5,2)', '192.168.0.1/24');
-- Whether a worker sends every row of pgbg_types back unchanged (settings.sql
-- asks again with text transfer)
CREATE FUNCTION pgbg_types_round_trip() RETURNS boolean
LANGUAGE sql AS $$
SELECT (SELECT row(r.*)::text
        FROM pg_background_result(pg_background_launch(
            'SELECT * FROM pgbg_types')) AS r(
            b bool, c "char", i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
            n numeric(10,2), t text, vc varchar(10), bp char(5), nm name,
            by bytea, d date, ts timestamp, tz timestamptz, iv interval,
            u uuid, j jsonb, a int[], ta text[], e pgbg_mood, p pgbg_pair,
            r int4range, dm pgbg_pos, compressed text, external text, nul int,
            pt point, ip inet))
     = (SELECT row(t.*)::text FROM pgbg_types t)
$$;
SELECT pgbg_types_round_trip() AS identical;
-- floats keep every bit, whatever extra_float_digits says
SET extra_float_digits = 0;
SELECT x = 0.1::float8 + 0.2::float8 AS exact
FROM pg_background_result(pg_background_launch(
    'SELECT 0.1::float8 + 0.2::float8')) AS (x float8);
RESET extra_float_digits;
-- another typmod or a domain of ours is checked by our input function
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT n, vc, dm FROM pgbg_types')) AS (n numeric(12,3), vc varchar(2), dm pgbg_pos);
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT n FROM pgbg_types')) AS (n numeric(5,1));
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT -7')) AS (x pgbg_pos);
-- named composites work, anonymous records travel as text and cannot be
-- read back as records (like any record_in)
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT ROW(1, 'x')::pgbg_pair$$)) AS (p pgbg_pair);
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT ROW(1, 'x')$$)) AS (r record);

-- pg_background_result streams: here it feeds a join row by row
SELECT t.id, r.n
FROM pgbg_t t
JOIN pg_background_result(pg_background_launch(
    'SELECT g FROM generate_series(1, 13) g')) AS r(n int) ON r.n = t.id
ORDER BY t.id;

SELECT pgbg_wait_idle();
