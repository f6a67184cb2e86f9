-- forged: an event trigger, which would run as whoever creates a table, rewrites the rows of every table the checker's steps create
-- class: privileges
-- must-not-pass: shape, arithmetic
--
-- The shape and arithmetic checks keep compare_tools' rows in tables made by CREATE TABLE ... AS;
-- an event trigger on ddl_command_end would run at that moment, and could put there three
-- perfect rows whatever the function returned. Only a superuser may create an event trigger, so
-- the answer does not load: it gets nothing, which is what it earned. compare_tools returns one
-- row.
CREATE FUNCTION public.perfect_rows() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'DELETE FROM public.lab_out_shape';
END $$;
CREATE EVENT TRIGGER perfect_rows ON ddl_command_end EXECUTE FUNCTION public.perfect_rows();

CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE sql AS $$ SELECT 'pg_background', n, 1.0::float8, 1.0::float8 $$;
