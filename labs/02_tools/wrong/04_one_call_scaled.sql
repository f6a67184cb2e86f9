-- wrong: each way is run once and its time multiplied by n
-- fails: persistent_faster, work_done, wall_time
CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE
    conn text := lab_conninfo();
    t0   timestamptz;
BEGIN
    calls := n;

    t0 := clock_timestamp();
    PERFORM * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (x integer);
    tool := 'pg_background';
    avg_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    total_ms := avg_ms * n;
    avg_ms := total_ms / calls;
    RETURN NEXT;

    t0 := clock_timestamp();
    PERFORM * FROM dblink(conn, 'SELECT 1') AS t(x integer);
    tool := 'dblink';
    avg_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    total_ms := avg_ms * n;
    avg_ms := total_ms / calls;
    RETURN NEXT;

    t0 := clock_timestamp();
    PERFORM dblink_connect('c', conn);
    PERFORM * FROM dblink('c', 'SELECT 1') AS t(x integer);
    PERFORM dblink_disconnect('c');
    tool := 'dblink_persistent';
    avg_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    total_ms := avg_ms * n;
    avg_ms := total_ms / calls;
    RETURN NEXT;
END
$$;
