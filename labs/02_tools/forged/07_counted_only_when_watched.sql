-- forged: the function does work only when track_functions = 'all' says the counters are watching, and then only the counted minimum (the pg_background calls made inside the dblink sessions); every time it reports is invented
-- class: counters
-- must-not-pass: work_done, persistent_faster, wall_time
--
-- work_done is the only check that counts, and it announces itself: the runner sets
-- track_functions = 'all' on the student's role for that one call (ALTER ROLE ... SET), and any
-- session can read current_setting('track_functions'). Then the function opens the 12 + 1
-- connections pg_stat_database.sessions must show, and has each of the 12 run
-- pg_background_launch + pg_background_result: pg_stat_user_functions counts calls made in
-- every session of the database, the dblink sessions' too, so the "pg_background" way never
-- runs on its own, and the persistent connection runs no query at all. Every other call
-- (persistent_faster, wall_time, shape, arithmetic) runs nothing: it sleeps a moment and reports
-- shares of its own elapsed time, with dblink 12 times the persistent way, which fit the
-- checker's wall-time window and its factor of 2. Nothing is timed, ever.
CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    ms double precision;
    c  text;
BEGIN
    IF current_setting('track_functions') = 'all' THEN
        FOR i IN 1..n LOOP
            c := 'c' || i;
            PERFORM extensions.dblink_connect(c, public.lab_conninfo());
            PERFORM * FROM extensions.dblink(c,
                'SELECT * FROM extensions.pg_background_result(extensions.pg_background_launch(''SELECT 1'')) AS (x integer)')
                AS (x integer);
            PERFORM extensions.dblink_disconnect(c);
        END LOOP;
        PERFORM extensions.dblink_connect('p', public.lab_conninfo());
        PERFORM extensions.dblink_disconnect('p');
    ELSE
        PERFORM pg_sleep(0.02);
    END IF;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    RETURN QUERY VALUES
        ('pg_background', n, 0.30 * ms, 0.30 * ms / n),
        ('dblink', n, 0.60 * ms, 0.60 * ms / n),
        ('dblink_persistent', n, 0.05 * ms, 0.05 * ms / n);
END
$$;
