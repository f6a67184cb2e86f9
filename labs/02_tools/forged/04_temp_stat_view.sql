-- forged: a view the checker reads runs a student function as the checker, which creates a TEMP VIEW pg_stat_user_functions in the checker's session; work_done then reads made-up pg_background counts
-- class: privileges
-- must-not-pass: work_done
--
-- As in 03, set_config(search_path) at load sends the student steps' CREATE TABLE ... AS into
-- schema `forged`, so the checker's `FROM lab_out_shape` reads public.lab_out_shape, a view of
-- the student's over a function. Functions in a view run as whoever queries it: here the checker,
-- in its own long-lived session. It creates pg_temp.pg_stat_user_functions (the student owns the
-- database and grants TEMP to everyone): pg_temp is searched before pg_catalog for relations, so
-- work_done's later `FROM pg_stat_user_functions` reads 12 launches and 12 results. No worker is
-- ever started; the dblink parts are real (the session counter is read by the superuser).
DO $$ BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
END $$;
CREATE SCHEMA forged;

CREATE FUNCTION public.shape_rows()
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role('pg_read_all_data', 'MEMBER') AND to_regclass('pg_temp.pg_stat_user_functions') IS NULL THEN
        CREATE TEMP VIEW pg_stat_user_functions AS
        SELECT f::oid AS funcid, 12::bigint AS calls
        FROM (VALUES ('public.pg_background_launch(text,integer)'::regprocedure),
                     ('public.pg_background_result(integer)'::regprocedure)) AS v(f);
    END IF;
    RETURN QUERY EXECUTE 'SELECT * FROM forged.lab_out_shape';
END $$;
CREATE VIEW public.lab_out_shape AS SELECT * FROM public.shape_rows();
-- the other two outputs pass through unchanged
CREATE FUNCTION public.out_rows(t text)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE format('SELECT * FROM forged.%I', t); END $$;
CREATE VIEW public.lab_out_arith AS SELECT * FROM public.out_rows('lab_out_arith');
CREATE VIEW public.lab_out_speed AS SELECT * FROM public.out_rows('lab_out_speed');

CREATE FUNCTION public.compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE
    conn text := lab_conninfo();
    t0   timestamptz;
BEGIN
    calls := n;
    -- "pg_background": nothing at all, just a plausible time
    t0 := clock_timestamp();
    PERFORM pg_sleep(0.0005 * n);
    tool := 'pg_background';
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    avg_ms := total_ms / calls;
    RETURN NEXT;

    -- dblink: real, n new connections (the server's session counter must see them)
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP
        PERFORM * FROM dblink(conn, 'SELECT 1') AS t(x integer);
    END LOOP;
    tool := 'dblink';
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    avg_ms := total_ms / calls;
    RETURN NEXT;

    -- dblink_persistent: real, one connection
    t0 := clock_timestamp();
    PERFORM dblink_connect('forged_persistent', conn);
    FOR i IN 1..n LOOP
        PERFORM * FROM dblink('forged_persistent', 'SELECT 1') AS t(x integer);
    END LOOP;
    PERFORM dblink_disconnect('forged_persistent');
    tool := 'dblink_persistent';
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    avg_ms := total_ms / calls;
    RETURN NEXT;
END
$$;

SELECT set_config('search_path', 'forged, public', false);
