-- wrong: each way is run once and its time multiplied by n
-- fails: work_done, persistent_faster, wall_time
-- (Its one persistent query is timed over a connection opened beforehand, so it is stably cheaper
-- than a new connection: persistent_faster passes, and only the scaling is judged.)
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

    PERFORM dblink_connect('c', conn);
    t0 := clock_timestamp();
    PERFORM * FROM dblink('c', 'SELECT 1') AS t(x integer);
    tool := 'dblink_persistent';
    avg_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    total_ms := avg_ms * n;
    avg_ms := total_ms / calls;
    PERFORM dblink_disconnect('c');
    RETURN NEXT;
END
$$;
