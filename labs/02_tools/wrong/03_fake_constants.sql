-- wrong: typical figures returned without running anything
-- fails: work_done, persistent_faster, wall_time
CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE sql
AS $$
    SELECT t.tool, n, t.per_call * n, t.per_call
    FROM (VALUES ('pg_background', 0.9::double precision),
                 ('dblink', 6.5),
                 ('dblink_persistent', 0.15)) AS t(tool, per_call)
$$;
