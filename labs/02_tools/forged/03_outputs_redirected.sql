-- forged: the checker's lab_out_* tables are views the answer made in advance with perfect rows; the student steps' CREATE TABLE ... AS lands in another schema through the session's search_path
-- class: session
-- must-not-pass: shape, arithmetic, persistent_faster
--
-- The student steps run `CREATE TABLE lab_out_shape AS SELECT * FROM compare_tools(10)` (and
-- lab_out_arith, lab_out_speed) in the session the answer was loaded in; an unqualified CREATE
-- TABLE goes into the first schema of that session's search_path. set_config(..., false) at load
-- puts schema `forged` first, so the real outputs go there, while the checker (search_path
-- pg_catalog, public) reads public.lab_out_*: views with the rows it wants. compare_tools
-- returns one meaningless row and runs nothing.
CREATE SCHEMA forged;

CREATE VIEW public.lab_out_shape AS
SELECT * FROM (VALUES ('pg_background', 10), ('dblink', 10), ('dblink_persistent', 10)) AS v(tool, calls);
CREATE VIEW public.lab_out_arith AS
SELECT tool, 7 AS calls, ms AS total_ms, ms / 7 AS avg_ms
FROM (VALUES ('pg_background', 7.0::double precision), ('dblink', 70.0), ('dblink_persistent', 3.5)) AS v(tool, ms);
CREATE VIEW public.lab_out_speed AS
SELECT * FROM (VALUES ('pg_background', 20.0::double precision), ('dblink', 200.0),
                      ('dblink_persistent', 10.0)) AS v(tool, total_ms);

CREATE FUNCTION public.compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE sql
AS $$ SELECT 'nothing'::text, 0, -1::double precision, NULL::double precision $$;

SELECT set_config('search_path', 'forged, public', false);
