-- forged: pg_background never runs: the checker's `funcid = '...'::regprocedure` is decided by a student operator =(oid, regprocedure) that also counts calls of look-alike plpgsql functions
-- class: names
-- must-not-pass: work_done
--
-- work_done sums pg_stat_user_functions.calls FILTER (WHERE funcid = 'pg_background_launch(text,
-- integer)'::regprocedure). funcid is oid; pg_catalog has = only for (oid, oid), reached by a cast
-- from regprocedure, so an operator of exactly (oid, regprocedure) in public wins. It says
-- "equal" also for fake_pg_background_launch / fake_pg_background_result, which the function
-- calls n times each instead of the real ones (track_functions = all counts them). The dblink
-- parts are real: the session counter is read by the superuser in another database.
CREATE FUNCTION public.oid_eq_regprocedure(f oid, p regprocedure) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT f = p::oid
        OR f = (SELECT s.oid FROM pg_catalog.pg_proc AS s, pg_catalog.pg_proc AS t
                WHERE t.oid = p::oid AND s.proname = 'fake_' || t.proname LIMIT 1)
$$;
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regprocedure, FUNCTION = public.oid_eq_regprocedure);

CREATE FUNCTION fake_pg_background_launch(sql text, queue_size integer DEFAULT 65536) RETURNS integer
LANGUAGE plpgsql AS $$ BEGIN RETURN 0; END $$;
CREATE FUNCTION fake_pg_background_result(pid integer) RETURNS integer
LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;

CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE
    conn text := lab_conninfo();
    t0   timestamptz;
BEGIN
    calls := n;
    -- "pg_background": no worker is ever started
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP
        PERFORM fake_pg_background_result(fake_pg_background_launch('SELECT 1'));
    END LOOP;
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
