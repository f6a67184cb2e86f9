--
-- Install the extension and the helpers the other tests use.
--
CREATE EXTENSION pg_background;

-- The functions are not executable by PUBLIC, only through the role
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'pgbackground_role';
CREATE VIEW pgbg_privileges AS
SELECT p.proname,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
       has_function_privilege('pgbackground_role', p.oid, 'EXECUTE') AS role_exec
FROM pg_proc p
WHERE p.proname LIKE 'pg\_background\_%'
ORDER BY 1;
SELECT * FROM pgbg_privileges;

-- The role survives DROP EXTENSION, and a new CREATE EXTENSION reuses it
DROP EXTENSION pg_background;
SELECT count(*) FROM pg_roles WHERE rolname = 'pgbackground_role';
CREATE EXTENSION pg_background;
SELECT count(*) FROM pg_roles WHERE rolname = 'pgbackground_role';

-- The session's workers: pg_background_list_v2 with its column definition
-- list (a function, not a view, so that DROP EXTENSION does not need it gone)
CREATE FUNCTION pgbg_workers()
RETURNS TABLE (pid int4, cookie int8, launched_at timestamptz, user_id oid,
               queue_size int4, state text, sql_preview text, last_error text,
               consumed bool)
LANGUAGE sql AS $$
SELECT * FROM pg_background_list_v2()
    AS (pid int4, cookie int8, launched_at timestamptz, user_id oid,
        queue_size int4, state text, sql_preview text, last_error text,
        consumed bool)
$$;

-- Wait (at most timeout seconds) until a query returns true
CREATE FUNCTION pgbg_wait_until(cond text, timeout float8 DEFAULT 60)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => timeout);
    ok boolean;
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        EXECUTE cond INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;

-- Wait (at most timeout seconds) until no pg_background worker is running
CREATE FUNCTION pgbg_wait_idle(timeout float8 DEFAULT 60) RETURNS boolean
LANGUAGE sql AS $$
SELECT pgbg_wait_until($q$SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity
                                            WHERE backend_type = 'pg_background')$q$,
                       timeout)
$$;

-- Wait (at most timeout seconds) until a process shows the wait event
CREATE FUNCTION pgbg_wait_event(p int, event text, timeout float8 DEFAULT 60)
RETURNS boolean
LANGUAGE sql AS $$
SELECT pgbg_wait_until(format($q$SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                                               WHERE pid = %s AND wait_event = %L)$q$,
                              p, event),
                       timeout)
$$;

-- Evaluate an expression that launches a worker, retrying for up to 60
-- seconds while no worker slot (53000) or session slot (54000) is free;
-- returns its value as text
CREATE FUNCTION pgbg_launch_retry(expr text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '60 seconds';
    result text;
BEGIN
    LOOP
        BEGIN
            EXECUTE 'SELECT (' || expr || ')::text' INTO result;
            RETURN result;
        EXCEPTION WHEN insufficient_resources OR program_limit_exceeded THEN
            IF clock_timestamp() > deadline THEN
                RAISE;
            END IF;
            PERFORM pg_sleep(0.01);
        END;
    END LOOP;
END
$$;

-- Run a statement, report its SQLSTATE and message instead of failing
CREATE FUNCTION pgbg_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Mappings of dynamic shared memory segments in this backend (Linux only;
-- 0 where /proc cannot be read)
CREATE FUNCTION pgbg_dsm_mappings() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    maps text;
BEGIN
    maps := pg_read_file('/proc/self/maps');
    RETURN (SELECT count(*) FROM regexp_split_to_table(maps, E'\n') AS l
            WHERE l ~ '(/PostgreSQL\.[0-9]+|pg_dynshmem/mmap\.[0-9]+)');
EXCEPTION WHEN OTHERS THEN
    RETURN 0;
END
$$;

-- Launch workers running pg_sleep until no slot is left; return their PIDs
-- once all of them are visibly sleeping
CREATE FUNCTION pgbg_fill_slots() RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
    pids int[] := '{}';
    p int;
BEGIN
    LOOP
        BEGIN
            pids := pids || pg_background_launch('SELECT pg_sleep(300)');
        EXCEPTION WHEN insufficient_resources THEN
            EXIT;
        END;
        IF cardinality(pids) > 1000 THEN
            RAISE EXCEPTION 'more than 1000 workers started';
        END IF;
    END LOOP;
    FOREACH p IN ARRAY pids LOOP
        IF NOT pgbg_wait_event(p, 'PgSleep') THEN
            RAISE EXCEPTION 'worker did not start sleeping';
        END IF;
    END LOOP;
    RETURN pids;
END
$$;

-- Terminate and forget workers started by pgbg_fill_slots
CREATE FUNCTION pgbg_release_slots(pids int[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    p int;
BEGIN
    FOREACH p IN ARRAY pids LOOP
        PERFORM pg_terminate_backend(p);
        PERFORM pg_background_detach(p);
    END LOOP;
    RETURN pgbg_wait_idle();
END
$$;

-- How many workers can run at once (remembered for the leak checks)
CREATE TABLE pgbg_capacity (slots int);
SELECT pgbg_wait_idle();
DO $$
DECLARE
    pids int[] := pgbg_fill_slots();
BEGIN
    INSERT INTO pgbg_capacity VALUES (cardinality(pids));
    PERFORM pgbg_release_slots(pids);
END
$$;
SELECT slots > 0 AS some_slots FROM pgbg_capacity;

-- Can all slots be filled again?  (Workers that just exited may still hold
-- a slot for a moment, so try a few times.)
CREATE FUNCTION pgbg_capacity_ok() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    want int := (SELECT slots FROM pgbg_capacity);
    pids int[];
BEGIN
    FOR attempt IN 1..10 LOOP
        PERFORM pgbg_wait_idle();
        pids := pgbg_fill_slots();
        PERFORM pgbg_release_slots(pids);
        IF cardinality(pids) >= want THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.5);
    END LOOP;
    RETURN false;
END
$$;
