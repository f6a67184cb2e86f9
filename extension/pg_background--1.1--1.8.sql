/* extension/pg_background--1.1--1.8.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_background UPDATE TO '1.8'" to load this file. \quit

-- queue_size 0 means pg_background.default_queue_size, as in the second
-- interface
CREATE OR REPLACE FUNCTION pg_background_launch(sql pg_catalog.text,
												queue_size pg_catalog.int4 DEFAULT 0)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'pg_background_launch'
LANGUAGE C STRICT;

-- The list takes the caller's column definition list:
-- SELECT * FROM pg_background_list_v2() AS (pid int4, cookie int8,
--   launched_at timestamptz, user_id oid, queue_size int4, state text,
--   sql_preview text, last_error text, consumed bool)
DROP FUNCTION pg_background_list_v2();
CREATE FUNCTION pg_background_list_v2()
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'pg_background_list_v2'
LANGUAGE C STRICT;

-- The counters have a type of their own
DROP FUNCTION pg_background_stats_v2();
CREATE TYPE pg_background_stats AS (workers_launched pg_catalog.int8,
									workers_completed pg_catalog.int8,
									workers_failed pg_catalog.int8,
									workers_canceled pg_catalog.int8,
									workers_active pg_catalog.int4,
									avg_execution_ms pg_catalog.float8,
									max_workers pg_catalog.int4);
CREATE FUNCTION pg_background_stats_v2()
RETURNS pg_background_stats
AS 'MODULE_PATHNAME', 'pg_background_stats_v2'
LANGUAGE C STRICT;

-- Cancel the worker's statement; end the worker if it has not stopped
-- after grace_ms milliseconds (at most an hour)
CREATE FUNCTION pg_background_cancel_v2_grace(pid pg_catalog.int4,
											  cookie pg_catalog.int8,
											  grace_ms pg_catalog.int4)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'pg_background_cancel_v2_grace'
LANGUAGE C STRICT;

-- A worker's last progress report
CREATE TYPE pg_background_progress AS (progress_pct pg_catalog.int4,
									   progress_msg pg_catalog.text);

-- Called by the worker's own SQL: report its progress (0 to 100 percent)
CREATE FUNCTION pg_background_progress(pct pg_catalog.int4,
									   msg pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'pg_background_progress'
LANGUAGE C;

-- The worker's last progress report, NULL until it has reported
CREATE FUNCTION pg_background_get_progress_v2(pid pg_catalog.int4,
											  cookie pg_catalog.int8)
RETURNS pg_background_progress
AS 'MODULE_PATHNAME', 'pg_background_get_progress_v2'
LANGUAGE C STRICT;

--
-- Privileges.  The functions and types that run and watch workers are
-- granted to a role, never to PUBLIC.  The three functions below manage
-- that: they run as the extension's owner with a fixed search_path, so only
-- the owner (and superusers) may call them, and they find the extension's
-- objects in the catalog, wherever the extension lives.
--

-- Let role_name run and watch workers; false and a NOTICE if that fails.
-- print_commands raises each GRANT as a NOTICE before it runs.
CREATE FUNCTION grant_pg_background_privileges(role_name pg_catalog.text,
											   print_commands pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'grant_pg_background_privileges'
LANGUAGE C STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Take that back
CREATE FUNCTION revoke_pg_background_privileges(role_name pg_catalog.text,
												print_commands pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'revoke_pg_background_privileges'
LANGUAGE C STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Drop the role pgbackground_role, which DROP EXTENSION leaves behind
-- (roles belong to the cluster): its privileges here are revoked first
CREATE FUNCTION pg_background_drop_executor_role()
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'pg_background_drop_executor_role'
LANGUAGE C STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Nothing of the extension is PUBLIC's; pgbackground_role gets the rest
DO $$
DECLARE
	member record;
BEGIN
	FOR member IN
		SELECT d.classid, d.objid
		FROM pg_catalog.pg_depend d
		JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
		LEFT JOIN pg_catalog.pg_type t
			   ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = d.objid
		WHERE e.extname = 'pg_background' AND d.deptype = 'e'
		  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
		  AND d.classid IN ('pg_catalog.pg_proc'::pg_catalog.regclass,
							'pg_catalog.pg_type'::pg_catalog.regclass)
		  -- array types (members since PostgreSQL 17) follow their element type
		  AND t.typcategory IS DISTINCT FROM 'A'
	LOOP
		IF member.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass THEN
			EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC',
									  member.objid::pg_catalog.regprocedure);
		ELSE
			EXECUTE pg_catalog.format('REVOKE ALL ON TYPE %s FROM PUBLIC',
									  member.objid::pg_catalog.regtype);
		END IF;
	END LOOP;
	IF NOT grant_pg_background_privileges('pgbackground_role') THEN
		RAISE EXCEPTION 'could not grant the use of pg_background to pgbackground_role';
	END IF;
END
$$;
