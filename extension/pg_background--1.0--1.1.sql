/* extension/pg_background--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_background UPDATE TO '1.1'" to load this file. \quit

-- A worker of the second interface: its PID and a cookie that tells it from
-- a later worker with the same PID
CREATE TYPE pg_background_handle AS (pid pg_catalog.int4,
									 cookie pg_catalog.int8);

-- Start a worker that runs sql; queue_size 0 means
-- pg_background.default_queue_size
CREATE FUNCTION pg_background_launch_v2(sql pg_catalog.text,
										queue_size pg_catalog.int4 DEFAULT 0)
RETURNS pg_background_handle
AS 'MODULE_PATHNAME', 'pg_background_launch_v2'
LANGUAGE C STRICT;

-- Start a worker whose results are discarded
CREATE FUNCTION pg_background_submit_v2(sql pg_catalog.text,
										queue_size pg_catalog.int4 DEFAULT 0)
RETURNS pg_background_handle
AS 'MODULE_PATHNAME', 'pg_background_submit_v2'
LANGUAGE C STRICT;

-- Read the worker's output; call it with a column definition list
CREATE FUNCTION pg_background_result_v2(pid pg_catalog.int4,
										cookie pg_catalog.int8)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'pg_background_result_v2'
LANGUAGE C STRICT;

-- Stop listening to the worker; it keeps running and commits
CREATE FUNCTION pg_background_detach_v2(pid pg_catalog.int4,
										cookie pg_catalog.int8)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'pg_background_detach_v2'
LANGUAGE C STRICT;

-- Stop the worker; its transaction rolls back
CREATE FUNCTION pg_background_cancel_v2(pid pg_catalog.int4,
										cookie pg_catalog.int8)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'pg_background_cancel_v2'
LANGUAGE C STRICT;

-- Wait until the worker has exited
CREATE FUNCTION pg_background_wait_v2(pid pg_catalog.int4,
									  cookie pg_catalog.int8)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'pg_background_wait_v2'
LANGUAGE C STRICT;

-- The same, for at most timeout_ms milliseconds; true if it has exited
CREATE FUNCTION pg_background_wait_v2_timeout(pid pg_catalog.int4,
											  cookie pg_catalog.int8,
											  timeout_ms pg_catalog.int4)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'pg_background_wait_v2_timeout'
LANGUAGE C STRICT;

-- The workers this session launched, oldest first
CREATE FUNCTION pg_background_list_v2(OUT pid pg_catalog.int4,
									  OUT cookie pg_catalog.int8,
									  OUT launched_at pg_catalog.timestamptz,
									  OUT user_id pg_catalog.oid,
									  OUT queue_size pg_catalog.int4,
									  OUT state pg_catalog.text,
									  OUT sql_preview pg_catalog.text,
									  OUT last_error pg_catalog.text,
									  OUT consumed pg_catalog.bool)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'pg_background_list_v2'
LANGUAGE C STRICT;

-- This session's counters
CREATE FUNCTION pg_background_stats_v2(OUT workers_launched pg_catalog.int8,
									   OUT workers_completed pg_catalog.int8,
									   OUT workers_failed pg_catalog.int8,
									   OUT workers_canceled pg_catalog.int8,
									   OUT workers_active pg_catalog.int8,
									   OUT avg_run_time_ms pg_catalog.float8,
									   OUT max_workers pg_catalog.int4)
RETURNS pg_catalog.record
AS 'MODULE_PATHNAME', 'pg_background_stats_v2'
LANGUAGE C STRICT;

-- Nobody may use them unless granted, like the first interface
DO $$
DECLARE
	f text;
BEGIN
	FOREACH f IN ARRAY ARRAY[
		'pg_background_launch_v2(pg_catalog.text, pg_catalog.int4)',
		'pg_background_submit_v2(pg_catalog.text, pg_catalog.int4)',
		'pg_background_result_v2(pg_catalog.int4, pg_catalog.int8)',
		'pg_background_detach_v2(pg_catalog.int4, pg_catalog.int8)',
		'pg_background_cancel_v2(pg_catalog.int4, pg_catalog.int8)',
		'pg_background_wait_v2(pg_catalog.int4, pg_catalog.int8)',
		'pg_background_wait_v2_timeout(pg_catalog.int4, pg_catalog.int8, pg_catalog.int4)',
		'pg_background_list_v2()',
		'pg_background_stats_v2()']
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pgbackground_role', f);
	END LOOP;
END
$$;
