/* extension/pg_background--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_background" to load this file. \quit

-- Start a background worker that runs sql; returns the worker's PID
CREATE FUNCTION pg_background_launch(sql pg_catalog.text,
									 queue_size pg_catalog.int4 DEFAULT 65536)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'pg_background_launch'
LANGUAGE C STRICT;

-- Read the worker's output; call it with a column definition list
CREATE FUNCTION pg_background_result(pid pg_catalog.int4)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'pg_background_result'
LANGUAGE C STRICT;

-- Stop listening to the worker; it keeps running and commits
CREATE FUNCTION pg_background_detach(pid pg_catalog.int4)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'pg_background_detach'
LANGUAGE C STRICT;

-- Nobody may start workers unless granted
REVOKE ALL ON FUNCTION pg_background_launch(pg_catalog.text, pg_catalog.int4)
	FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_background_result(pg_catalog.int4) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_background_detach(pg_catalog.int4) FROM PUBLIC;

-- The role to grant to whoever may use the extension.  Roles are cluster
-- wide and outlive DROP EXTENSION, so it may exist already.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
				   WHERE rolname = 'pgbackground_role') THEN
		CREATE ROLE pgbackground_role NOLOGIN;
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION pg_background_launch(pg_catalog.text, pg_catalog.int4)
	TO pgbackground_role;
GRANT EXECUTE ON FUNCTION pg_background_result(pg_catalog.int4)
	TO pgbackground_role;
GRANT EXECUTE ON FUNCTION pg_background_detach(pg_catalog.int4)
	TO pgbackground_role;
