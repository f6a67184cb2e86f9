-- forged: the command runs inline in the student's session, beside a probe worker that only answers 42 and whose pid is returned
-- class: session
-- must-not-pass: free_slots, slot_freed
--
-- Nothing is shadowed or reshaped, so the structure check has nothing to say: the result read by
-- the returned pid is a real worker's 42, and the command ran exactly once. What gives it away
-- is where it ran: lab_check.lab3_runs records the pid of the backend that wrote each row
-- (pg_backend_pid(), a column default the student's role cannot override), and it is the
-- student's session, not the worker.

CREATE FUNCTION pg_background_launch_retry(
    sql          text,
    queue_size   integer  DEFAULT 65536,
    max_attempts integer  DEFAULT 10,
    delay        interval DEFAULT '100 milliseconds'
) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    probe integer;
BEGIN
    FOR attempt IN 1..max_attempts LOOP
        BEGIN
            probe := pg_background_launch('SELECT 42', queue_size);
            EXECUTE sql;
            RETURN probe;
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
