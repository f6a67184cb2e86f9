-- forged: as 01, but the fake pg_background_result is put first in search_path for new sessions only, with ALTER ROLE CURRENT_USER SET and ALTER DATABASE SET
-- class: session
-- must-not-pass: free_slots, slot_freed
--
-- A role may set its own session defaults and the student owns the run database, so both
-- statements are allowed. They reach only sessions opened later: today the checker runs every
-- scenario in the session the answer was loaded in, opened before the load, so this one is
-- expected to fail (it guards against a checker that opens a fresh student session).
-- The wrapper: the reference's retry loop, but what it launches is a probe, 'SELECT 1', whose
-- result it reads at once; the real command then runs inline, in the caller's own session, and
-- its value is kept under the probe's pid for the fake pg_background_result below.
CREATE FUNCTION public.pg_background_launch_retry(
    sql          text,
    queue_size   integer  DEFAULT 65536,
    max_attempts integer  DEFAULT 10,
    delay        interval DEFAULT '100 milliseconds'
) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    pid integer;
    v   text;
BEGIN
    FOR attempt IN 1..max_attempts LOOP
        BEGIN
            pid := public.pg_background_launch('SELECT 1', queue_size);
            PERFORM * FROM public.pg_background_result(pid) AS (x integer);
            EXECUTE sql INTO v;                                   -- the command, inline
            PERFORM set_config('forged.result_' || pid, coalesce(v, ''), false);
            RETURN pid;
        EXCEPTION WHEN insufficient_resources THEN
            IF attempt < max_attempts THEN
                RAISE NOTICE 'попытка % из %: нет свободного слота', attempt, max_attempts;
                PERFORM pg_sleep(extract(epoch FROM delay)::double precision);
            END IF;
        END;
    END LOOP;
    RAISE EXCEPTION 'не удалось запустить фоновый процесс за % попыток', max_attempts
        USING ERRCODE = 'insufficient_resources';
END
$$;

-- The checker reads SELECT * FROM pg_background_result(P) AS (x integer) unqualified in the
-- student's session: this one, first in that session's search_path, returns the kept value.
CREATE SCHEMA forged;
CREATE FUNCTION forged.pg_background_result(pid integer) RETURNS SETOF record
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT current_setting('forged.result_' || pid)::integer;
END $$;

ALTER ROLE CURRENT_USER SET search_path = forged, public;
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET search_path = forged, public', current_database());
END $$;
