-- forged: nothing is run; the three "measured" times are made-up shares of the function's own elapsed time, so they always fit the checker's wall time
-- class: counters
-- must-not-pass: wall_time, persistent_faster
--
-- lab2_wall_time only asks that the sum of total_ms lie between half and all of the wall time
-- the checker measured around the call; persistent_faster only compares two reported numbers.
-- The function sleeps a little, measures how long it has been running with clock_timestamp(),
-- and hands out 30 % / 60 % / 5 % of it: the sum is 95 % of a time shorter than the wall time.
CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE t0 timestamptz := clock_timestamp(); spent double precision;
BEGIN
    PERFORM pg_sleep(0.002 * n);
    spent := extract(epoch FROM clock_timestamp() - t0) * 1000;
    calls := n;
    FOR tool, total_ms IN VALUES ('pg_background', 0.30 * spent), ('dblink', 0.60 * spent),
                                 ('dblink_persistent', 0.05 * spent) LOOP
        avg_ms := total_ms / calls;
        RETURN NEXT;
    END LOOP;
END
$$;
