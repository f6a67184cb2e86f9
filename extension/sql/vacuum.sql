--
-- A single utility statement runs at top level, outside a transaction
-- block: VACUUM works, even when launched from a procedure.
--
\set SHOW_CONTEXT never

CREATE TABLE pgbg_vac (x int) WITH (autovacuum_enabled = off);
INSERT INTO pgbg_vac SELECT generate_series(1, 1000);
SELECT relpages FROM pg_class WHERE relname = 'pgbg_vac';
SELECT * FROM pg_background_result(pg_background_launch('VACUUM pgbg_vac'))
    AS (result text);
SELECT relpages > 0 AS vacuumed FROM pg_class WHERE relname = 'pgbg_vac';

-- A procedure cannot VACUUM itself, but its worker can
CREATE PROCEDURE pgbg_vac_proc() LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    DELETE FROM pgbg_vac WHERE x <= 500;
    COMMIT;
    SELECT result INTO r
    FROM pg_background_result(pg_background_launch('VACUUM (ANALYZE) pgbg_vac'))
        AS (result text);
    RAISE NOTICE 'worker says %', r;
END
$$;
CALL pgbg_vac_proc();
SELECT reltuples FROM pg_class WHERE relname = 'pgbg_vac';

-- Among several statements VACUUM fails, as in a multi-statement query
SELECT * FROM pg_background_result(pg_background_launch(
    'VACUUM pgbg_vac; SELECT 1')) AS (x int);
SELECT pgbg_wait_idle();
