-- forged: views named like the checker's output tables, in a schema the student's session searches first, show three perfect rows
-- class: relations
-- must-not-pass: shape, arithmetic
--
-- The student steps make public.lab_out_shape and public.lab_out_arith with CREATE TABLE ... AS;
-- a checker that named them without a schema, in a session whose search_path the answer set,
-- would read these views instead of what compare_tools returned (one wrong row).
CREATE SCHEMA mine;
CREATE VIEW mine.lab_out_shape AS
SELECT * FROM (VALUES ('pg_background', 10, 5.0::float8, 0.5::float8),
                      ('dblink', 10, 60.0::float8, 6.0::float8),
                      ('dblink_persistent', 10, 2.0::float8, 0.2::float8))
              AS v(tool, calls, total_ms, avg_ms);
CREATE VIEW mine.lab_out_arith AS
SELECT tool, 7 AS calls, total_ms, total_ms / 7 AS avg_ms FROM mine.lab_out_shape;
SELECT set_config('search_path', 'mine, public, extensions', false);

CREATE FUNCTION public.compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE sql AS $$ SELECT 'pg_background', 0, 0::float8, 0::float8 $$;
