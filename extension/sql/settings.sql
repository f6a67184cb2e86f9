--
-- The worker runs with the caller's settings.
--
\set SHOW_CONTEXT never

CREATE SCHEMA pgbg_s;
CREATE TABLE pgbg_s.only_here (x text);
INSERT INTO pgbg_s.only_here VALUES ('found through search_path');

SET search_path = pgbg_s, public;
SET work_mem = '7MB';
SET DateStyle = 'SQL, DMY';
SET statement_timeout = '10min';
SET pgbg.custom_setting = 'custom value';
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT current_setting('search_path'), current_setting('work_mem'),
             current_setting('DateStyle'), current_setting('statement_timeout'),
             current_setting('pgbg.custom_setting')$$))
    AS (search_path text, work_mem text, datestyle text, statement_timeout text,
        custom text);
SELECT * FROM pg_background_result(pg_background_launch('SELECT x FROM only_here'))
    AS (x text);
-- Dates travel as text, written and read in the same DateStyle
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT DATE '2024-01-31', TIMESTAMP '2024-01-31 12:34:56', d::text
      FROM (SELECT DATE '2024-01-31' AS d) s$$))
    AS (d date, ts timestamp, as_text text);
RESET search_path;
RESET DateStyle;
RESET statement_timeout;

-- SET LOCAL in the caller's transaction counts too
BEGIN;
SET LOCAL work_mem = '9MB';
SELECT * FROM pg_background_result(pg_background_launch('SHOW work_mem')) AS (x text);
COMMIT;

-- A SET in the worker stays in the worker
SELECT * FROM pg_background_result(pg_background_launch(
    $$SET work_mem = '1MB'; SHOW work_mem$$)) AS (x text);
SHOW work_mem;
RESET work_mem;

-- statement_timeout applies to the worker's statements
SET statement_timeout = '100ms';
SELECT pg_background_launch($$SELECT 'x' FROM pg_sleep(10)$$) AS pid \gset
RESET statement_timeout;
SELECT * FROM pg_background_result(:pid) AS (x text);

-- The caller's client_encoding does not garble the rows
SET client_encoding = 'LATIN1';
SELECT x = chr(233) AS same, length(x)
FROM pg_background_result(pg_background_launch('SELECT chr(233)')) AS (x text);
RESET client_encoding;

-- The caller's transaction characteristics stay with the caller, the
-- defaults for new transactions come along
CREATE TABLE pgbg_ro (x int);
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT * FROM pg_background_result(pg_background_launch(
    $$INSERT INTO pgbg_ro VALUES (1);
      SELECT current_setting('transaction_read_only'),
             current_setting('transaction_isolation')$$)) AS (ro text, iso text);
COMMIT;
SET default_transaction_read_only = on;
SELECT * FROM pg_background_result(pg_background_launch(
    'INSERT INTO pgbg_ro VALUES (2)')) AS (result text);
RESET default_transaction_read_only;
SELECT x FROM pgbg_ro;

-- pg_background.text_transfer = on sends every column as text instead of
-- as a datum image; the values are the same
SET pg_background.text_transfer = on;
SELECT pgbg_types_round_trip() AS identical;
SELECT * FROM pg_background_result(pg_background_launch(
    'SHOW pg_background.text_transfer')) AS (x text);
-- A worker defines our settings only if its SQL calls our functions, and
-- reads text_transfer from the placeholder that holds the caller's value
-- (or its own SET): a date written as text in the worker's DateStyle is
-- read in ours, an image is not
SELECT * FROM pg_background_result(pg_background_launch(
    $$SET DateStyle = 'German'; SELECT date '2020-01-02'$$)) AS (d date);
RESET pg_background.text_transfer;
SELECT * FROM pg_background_result(pg_background_launch(
    $$SET DateStyle = 'German'; SELECT date '2020-01-02'$$)) AS (d date);
SELECT * FROM pg_background_result(pg_background_launch(
    $$SET pg_background.text_transfer = on; SET DateStyle = 'German';
      SELECT date '2020-01-02'$$)) AS (d date);
-- Our functions in the worker's SQL define the settings there, taking over
-- the caller's values
SET pg_background.max_workers = 7;
SELECT * FROM pg_background_result(pg_background_launch(
    $$SELECT max_workers, current_setting('pg_background.max_workers')
      FROM pg_background_stats_v2()$$)) AS (m int4, s text);
RESET pg_background.max_workers;

SELECT pgbg_wait_idle();
