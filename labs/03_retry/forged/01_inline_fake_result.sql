-- forged: the command runs inline in the student's session, never in a worker; the checker's unqualified pg_background_result(P) is answered by a student function put first in the session's search_path
-- class: session
-- must-not-pass: free_slots, slot_freed
--
-- The scenarios read the worker's result in the student's own session, with that session's
-- search_path, and the answer is loaded in that very session: set_config(..., false) at load
-- makes the setting last for the session, so `pg_background_result` resolves to
-- forged.pg_background_result. The slot logic is real (a probe worker 'SELECT 1' is launched
-- and read), but the command itself is EXECUTEd by the wrapper in the caller's transaction.
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

SELECT set_config('search_path', 'forged, public', false);
